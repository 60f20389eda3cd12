"""STARTTLS in the smtp client: opportunistic TLS to a receiver with a
self-signed certificate, the verify level (refused without a trust anchor,
accepted with the certificate as CAfile and a matching name), a TLS policy
table per destination, and DANE-EE with TLSA records in a DNSSEC-signed
zone served by a local unbound (a matching record delivers, a mismatching
one defers)."""

import hashlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, Unbound, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
tlsmay IN MX 10 tlshost.example.
tlsverify IN MX 10 tlshost.example.
wrongname IN MX 10 other.example.
tlshost IN A 127.0.0.3
other IN A 127.0.0.3
"""

DANE_ZONE = """$ORIGIN dane.example.
$TTL 300
@ IN SOA ns.dane.example. admin.dane.example. 1 3600 600 86400 300
@ IN NS ns.dane.example.
ns IN A 127.0.0.1
@ IN MX 10 mx.dane.example.
mx IN A 127.0.0.3
_{port}._tcp.mx IN TLSA 3 1 1 {good}
bad IN MX 10 mx.bad.dane.example.
mx.bad IN A 127.0.0.3
_{port}._tcp.mx.bad IN TLSA 3 1 1 {wrong}
"""

DOMAINS = ["tlsmay.example", "tlsverify.example", "wrongname.example", "dane.example",
           "bad.dane.example"]


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def result(inst, rcpt):
    return "\n".join(l for l in inst.read_log().splitlines() if "to=<%s>" % rcpt in l)


@unittest.skipUnless(have("unbound") and have("ldns-signzone"), "unbound or ldnsutils missing")
class SmtpTlsTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        self.recv, self.vmail = make_receiver(
            self, "127.0.0.3", self.port, DOMAINS, ["u@" + d for d in DOMAINS],
            extra_params={"smtpd_tls_security_level": "may"}, tls_name="tlshost.example")
        self.cert = self.recv.params["smtpd_tls_cert_file"]
        good = spki_sha256(self.cert)
        wrong = hashlib.sha256(b"not the key").hexdigest()
        self.dns = Unbound({"example": ZONE,
                            "dane.example": DANE_ZONE.format(port=self.port, good=good,
                                                             wrong=wrong)},
                           signed=["dane.example"])
        self.addCleanup(self.dns.stop)

    def sender(self, **extra):
        inst = Instance(params=sender_params(self.dns, self.port, **extra),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        return inst

    def policy_table(self, inst, text):
        path = os.path.join(inst.etc, "tls_policy")
        with open(path, "w") as f:
            f.write(text)
        inst.mailctl("map", "build", path, check=True)
        return path + ".lmdb"

    def test_may_and_verify(self):
        send = self.sender()
        send.params["smtp_tls_policy_maps"] = self.policy_table(
            send, "tlsverify.example verify\n")
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: may\n\nx\n")
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: verify\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsmay.example"), timeout=30,
                 what="delivery under may")
        send.wait_log("to=<u@tlsverify.example>", timeout=30)
        self.assertRegex(result(send, "u@tlsmay.example"),
                         r"relay=tlshost.example\[127.0.0.3\]:\d+, delay=\d+, tls=TLSv1\.[23] "
                         r"with cipher \S+ \(\d+/\d+ bits\), untrusted, dsn=2.0.0, status=sent")
        self.assertRegex(result(send, "u@tlsverify.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\[127.0.0.3\]"
                         r":\d+ failed: server certificate not verified: self-signed")
        self.assertEqual(maildir_messages(self.vmail, "u@tlsverify.example"), [])
        # The receiver saw TLS.
        self.assertRegex(self.recv.read_log(), r"TLS|tls")

    def test_verify_with_trust_anchor(self):
        send = self.sender(smtp_tls_security_level="verify", smtp_tls_CAfile=self.cert)
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: ok\n\nx\n")
        submit(send, "s@out.sender.test", ["u@wrongname.example"], b"Subject: name\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsverify.example"), timeout=30,
                 what="verified delivery")
        send.wait_log("to=<u@wrongname.example>", timeout=30)
        self.assertRegex(result(send, "u@tlsverify.example"), r"bits\), verified, .*status=sent")
        self.assertRegex(result(send, "u@wrongname.example"),
                         r"status=deferred \(TLS with other.example.*not verified")

    def test_dane(self):
        send = self.sender(smtp_tls_security_level="dane")
        send.start()
        submit(send, "s@out.sender.test", ["u@dane.example"], b"Subject: dane\n\nx\n")
        submit(send, "s@out.sender.test", ["u@bad.dane.example"], b"Subject: bad\n\nx\n")
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: insecure\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@dane.example"), timeout=30,
                 what="DANE delivery")
        send.wait_log("to=<u@bad.dane.example>", timeout=30)
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsmay.example"), timeout=30,
                 what="delivery to an unsigned domain under dane")
        self.assertRegex(result(send, "u@dane.example"), r"bits\), dane, dsn=2.0.0, status=sent")
        self.assertRegex(result(send, "u@bad.dane.example"),
                         r"status=deferred \(TLS with mx.bad.dane.example\[127.0.0.3\]:\d+ "
                         r"failed: server certificate not matched by its TLSA records")
        self.assertEqual(maildir_messages(self.vmail, "u@bad.dane.example"), [])
        # Without DNSSEC, dane falls back to opportunistic TLS.
        self.assertRegex(result(send, "u@tlsmay.example"), r"untrusted, dsn=2.0.0, status=sent")


if __name__ == "__main__":
    unittest.main(verbosity=2)
