"""STARTTLS in the smtp client: opportunistic TLS to a receiver with a
self-signed certificate, the verify level (refused without a trust anchor,
accepted with the certificate as CAfile and a matching name), a TLS policy
table per destination (match= for verify and secure, protocols=, ciphers=,
bad entries deferring), DANE-EE with TLSA records in a DNSSEC-signed zone
served by a local unbound (a matching record delivers, a mismatching one
defers) for MX and for [host] next hops, and a client certificate seen by
the receiving smtpd (smtpd_tls_ask_ccert) and by a milter there."""

import hashlib
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, make_ca, make_ca_dir, wait_for  # noqa: E402
from postern_test import make_cert as make_issued_cert  # noqa: E402
from mail_peers import (SENDER_SERVICES, Unbound, free_port_on, have,  # noqa: E402
                        make_cert, maildir_messages, make_receiver, sender_params, submit)
from test_milter import start_filter, wait_listening  # noqa: E402

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
tlsmay IN MX 10 tlshost.example.
tlsverify IN MX 10 tlshost.example.
wrongname IN MX 10 other.example.
suffix IN MX 10 tlshost.example.
badpolicy IN MX 10 tlshost.example.
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
alias IN CNAME mx
unusable IN A 127.0.0.3
_{port}._tcp.unusable IN TLSA 1 1 1 {good}
bad IN MX 10 mx.bad.dane.example.
mx.bad IN A 127.0.0.3
_{port}._tcp.mx.bad IN TLSA 3 1 1 {wrong}
"""

DOMAINS = ["tlsmay.example", "tlsverify.example", "wrongname.example", "dane.example",
           "bad.dane.example", "tlshost.example", "suffix.example", "badpolicy.example",
           "viacname.example", "unusable.example", "withport.example", "bare.example"]


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def result(inst, rcpt):
    """The sender's log lines for rcpt's outcome. qmgr logs an outcome when
    the agent reports it, which may be after the receiver has the mail:
    wait for one."""
    inst.wait_log("to=<%s>" % rcpt, timeout=30)
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

    def table(self, inst, name, text):
        path = os.path.join(inst.etc, name)
        with open(path, "w") as f:
            f.write(text)
        inst.mailctl("map", "build", path, check=True)
        return path + ".lmdb"

    def policy_table(self, inst, text):
        return self.table(inst, "tls_policy", text)

    def restart_receiver(self, **params):
        self.recv.stop()
        self.recv.master_out.close()
        self.recv.params.update(params)
        self.recv.write_config()
        self.recv.start()

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
                         r"(?m)relay=tlshost.example\[127.0.0.3\]:\d+, delay=\d+, dsn=2.0.0, status=sent "
                         r"\(.*\), tls=TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), untrusted$")
        self.assertRegex(result(send, "u@tlsverify.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\[127.0.0.3\]"
                         r":\d+ failed: server certificate not verified: self-signed")
        self.assertEqual(maildir_messages(self.vmail, "u@tlsverify.example"), [])
        # The receiver saw TLS.
        self.assertRegex(self.recv.read_log(), r"TLS|tls")

    def test_policy_key_as_written(self):
        # A [host]:port next hop is looked up as written first, then as the
        # bare host, as in Postfix.
        send = self.sender()
        send.params["transport_maps"] = self.table(
            send, "transport",
            "withport.example smtp:[tlshost.example]:%d\n"
            "bare.example smtp:[tlshost.example]\n" % self.port)
        send.params["smtp_tls_policy_maps"] = self.policy_table(
            send, "[tlshost.example]:%d verify\ntlshost.example may\n" % self.port)
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@withport.example"], b"Subject: port\n\nx\n")
        submit(send, "s@out.sender.test", ["u@bare.example"], b"Subject: bare\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@bare.example"), timeout=30,
                 what="delivery under the bare host's policy")
        send.wait_log("to=<u@withport.example>", timeout=30)
        self.assertRegex(result(send, "u@bare.example"), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*, untrusted$")
        self.assertRegex(result(send, "u@withport.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\[127.0.0.3\]"
                         r":\d+ failed: server certificate not verified")
        self.assertEqual(maildir_messages(self.vmail, "u@withport.example"), [])

    def test_verify_with_trust_anchor(self):
        send = self.sender(smtp_tls_security_level="verify", smtp_tls_CAfile=self.cert)
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: ok\n\nx\n")
        submit(send, "s@out.sender.test", ["u@wrongname.example"], b"Subject: name\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsverify.example"), timeout=30,
                 what="verified delivery")
        send.wait_log("to=<u@wrongname.example>", timeout=30)
        self.assertRegex(result(send, "u@tlsverify.example"), r"(?m)status=sent .*, tls=.*bits\), verified$")
        self.assertRegex(result(send, "u@wrongname.example"),
                         r"status=deferred \(TLS with other.example.*not verified")

    def test_verify_with_ca_directory(self):
        """smtp_tls_CApath: a hashed directory (as Debian's /etc/ssl/certs)
        holds the trust anchor instead of a CA file."""
        send = self.sender(smtp_tls_security_level="verify")
        send.params["smtp_tls_CApath"] = make_ca_dir(os.path.join(send.etc, "certs"),
                                                     [self.cert])
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: ok\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsverify.example"), timeout=30,
                 what="delivery verified through the CA directory")
        self.assertRegex(result(send, "u@tlsverify.example"),
                         r"(?m)status=sent .*, tls=.*bits\), verified$")

    def test_ca_directory_that_is_not_one(self):
        missing = "/nonexistent/postern-test-certs"
        send = self.sender(smtp_tls_security_level="verify", smtp_tls_CApath=missing)
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: no\n\nx\n")
        send.wait_log("TLS unavailable in the smtp client: CA directory %s: "
                      "No such file or directory" % missing, timeout=30)
        self.assertRegex(result(send, "u@tlsverify.example"), r"status=deferred")
        self.assertEqual(maildir_messages(self.vmail, "u@tlsverify.example"), [])

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
        self.assertRegex(result(send, "u@dane.example"), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*bits\), dane$")
        self.assertRegex(result(send, "u@bad.dane.example"),
                         r"status=deferred \(TLS with mx.bad.dane.example\[127.0.0.3\]:\d+ "
                         r"failed: server certificate not matched by its TLSA records")
        self.assertEqual(maildir_messages(self.vmail, "u@bad.dane.example"), [])
        # Without DNSSEC, dane falls back to opportunistic TLS.
        self.assertRegex(result(send, "u@tlsmay.example"), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*, untrusted$")

    def test_dane_host_nexthop(self):
        # RFC 7672 2.2.2: a [host] next hop whose address records are
        # validated gets DANE from _port._tcp.host; an unsigned one falls
        # back to opportunistic TLS, and says so.
        send = self.sender(smtp_tls_security_level="dane")
        send.params["transport_maps"] = self.table(
            send, "transport",
            "dane.example smtp:[mx.dane.example]\n"
            "bad.dane.example smtp:[mx.bad.dane.example]:%d\n"
            "tlsmay.example smtp:[tlshost.example]\n"
            "viacname.example smtp:[alias.dane.example]\n"
            "unusable.example smtp:[unusable.dane.example]\n" % self.port)
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@dane.example"], b"Subject: dane\n\nx\n")
        submit(send, "s@out.sender.test", ["u@viacname.example"], b"Subject: cname\n\nx\n")
        submit(send, "s@out.sender.test", ["u@unusable.example"], b"Subject: pkix\n\nx\n")
        submit(send, "s@out.sender.test", ["u@bad.dane.example"], b"Subject: bad\n\nx\n")
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: insecure\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@dane.example"), timeout=30,
                 what="DANE delivery to a [host] next hop")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsmay.example"), timeout=30,
                 what="delivery to an unsigned [host] under dane")
        send.wait_log("to=<u@bad.dane.example>", timeout=30)
        log = send.read_log()
        self.assertRegex(result(send, "u@dane.example"),
                         r"(?m)relay=mx.dane.example\[127.0.0.3\]:\d+, .*dsn=2.0.0, status=sent "
                         r"\(.*\), tls=.*bits\), dane$")
        self.assertIn("mx.dane.example[127.0.0.3]:%d: DANE applies: 1 usable TLSA record at "
                      "_%d._tcp.mx.dane.example" % (self.port, self.port), log)
        # A [host] that is a CNAME: the TLSA records of the expanded name.
        wait_for(lambda: maildir_messages(self.vmail, "u@viacname.example"), timeout=30,
                 what="DANE delivery to a CNAME [host]")
        self.assertRegex(result(send, "u@viacname.example"),
                         r"(?m)relay=alias.dane.example\[127.0.0.3\]:\d+, .*dsn=2.0.0, status=sent "
                         r"\(.*\), tls=.*bits\), dane$")
        self.assertIn("alias.dane.example[127.0.0.3]:%d: DANE applies: 1 usable TLSA record at "
                      "_%d._tcp.mx.dane.example" % (self.port, self.port), send.read_log())
        # Validated TLSA records none of which SMTP can use (PKIX-EE):
        # TLS is required, without authentication (RFC 7672 2.2).
        wait_for(lambda: maildir_messages(self.vmail, "u@unusable.example"), timeout=30,
                 what="delivery with unusable TLSA records")
        self.assertRegex(result(send, "u@unusable.example"),
                         r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*bits\), untrusted$")
        self.assertIn("unusable.dane.example[127.0.0.3]:%d: no usable TLSA records at "
                      "_%d._tcp.unusable.dane.example; TLS required without authentication"
                      % (self.port, self.port), send.read_log())
        self.assertRegex(result(send, "u@bad.dane.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with mx.bad.dane.example"
                         r"\[127.0.0.3\]:\d+ failed: server certificate not matched by its "
                         r"TLSA records")
        self.assertEqual(maildir_messages(self.vmail, "u@bad.dane.example"), [])
        self.assertRegex(result(send, "u@tlsmay.example"), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*, untrusted$")
        self.assertIn("tlshost.example[127.0.0.3]:%d: DANE does not apply (the address records "
                      "of tlshost.example are not DNSSEC-validated); using opportunistic TLS"
                      % self.port, log)

    def test_dane_only(self):
        # dane-only (policy table or smtp_tls_security_level): DANE or
        # nothing; where dane falls back to opportunistic TLS, it defers.
        send = self.sender()
        send.params["transport_maps"] = self.table(
            send, "transport",
            "dane.example smtp:[mx.dane.example]\n"
            "tlsmay.example smtp:[tlshost.example]\n"
            "unusable.example smtp:[unusable.dane.example]\n")
        send.params["smtp_tls_policy_maps"] = self.policy_table(
            send, "mx.dane.example dane-only\ntlshost.example dane-only\n"
                  "unusable.dane.example dane-only\n")
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@dane.example"], b"Subject: dane\n\nx\n")
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: unsigned\n\nx\n")
        submit(send, "s@out.sender.test", ["u@unusable.example"], b"Subject: pkix\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@dane.example"), timeout=30,
                 what="delivery under dane-only")
        send.wait_log("to=<u@tlsmay.example>", timeout=30)
        send.wait_log("to=<u@unusable.example>", timeout=30)
        self.assertRegex(result(send, "u@dane.example"), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*bits\), dane$")
        self.assertRegex(result(send, "u@tlsmay.example"),
                         r"dsn=4.7.5, status=deferred \(tlshost.example\[127.0.0.3\]:\d+: DANE "
                         r"is required \(dane-only\) but cannot be used: the address records "
                         r"of tlshost.example are not DNSSEC-validated\)")
        self.assertRegex(result(send, "u@unusable.example"),
                         r"dsn=4.7.5, status=deferred \(.*DANE is required \(dane-only\) but "
                         r"cannot be used: no usable TLSA records at")
        self.assertEqual(maildir_messages(self.vmail, "u@tlsmay.example"), [])
        self.assertEqual(maildir_messages(self.vmail, "u@unusable.example"), [])

    def test_policy_match_and_bad_entries(self):
        # The receiver's certificate names tlshost.example, issued by a
        # test CA the sender trusts.
        ca_dir = tempfile.mkdtemp(prefix="ca-", dir=self.recv.base)
        ca = make_ca(ca_dir)
        cert_dir = tempfile.mkdtemp(prefix="server-", dir=self.recv.base)
        cert, key = make_issued_cert(cert_dir, "tlshost.example", ca=ca)
        self.restart_receiver(smtpd_tls_cert_file=cert, smtpd_tls_key_file=key)
        send = self.sender(smtp_tls_CAfile=ca[0])
        send.params["smtp_tls_policy_maps"] = self.policy_table(
            send,
            "wrongname.example verify match=tlshost.example\n"
            "tlsmay.example verify match=nexthop:dot-nexthop\n"
            "suffix.example verify match=.example\n"
            "tlshost.example secure\n"
            "tlsverify.example secure\n"
            "badpolicy.example verify match=hostname protocols=>=TLSv1.9\n"
            "dane.example encrypt colour=blue\n")
        send.write_config()
        send.start()
        good = ["u@wrongname.example", "u@suffix.example", "u@tlshost.example"]
        bad = ["u@tlsmay.example", "u@tlsverify.example"]
        broken = ["u@badpolicy.example", "u@dane.example"]
        for rcpt in good + bad + broken:
            submit(send, "s@out.sender.test", [rcpt], b"Subject: match\n\nx\n")
        for rcpt in good:
            wait_for(lambda r=rcpt: maildir_messages(self.vmail, r), timeout=30,
                     what="verified delivery to " + rcpt)
            self.assertRegex(result(send, rcpt), r"(?m)dsn=2.0.0, status=sent \(.*\), tls=.*bits\), verified$")
        for rcpt in bad + broken:
            send.wait_log("to=<%s>" % rcpt, timeout=30)
            self.assertEqual(maildir_messages(self.vmail, rcpt), [])
        # verify with match=nexthop:dot-nexthop: the MX's name is not enough.
        self.assertRegex(result(send, "u@tlsmay.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\S+ failed: "
                         r"server certificate not verified")
        # secure: nexthop and dot-nexthop by default.
        self.assertRegex(result(send, "u@tlsverify.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\S+ failed: "
                         r"server certificate not verified")
        table = send.params["smtp_tls_policy_maps"]
        self.assertRegex(result(send, "u@badpolicy.example"),
                         r"dsn=4.7.5, status=deferred \(smtp_tls_policy_maps %s: bad entry for "
                         r"\"badpolicy.example\" .*protocols=: unknown TLS protocol "
                         r"\">=TLSv1.9\"" % table)
        self.assertRegex(result(send, "u@dane.example"),
                         r"status=deferred \(smtp_tls_policy_maps %s: bad entry for "
                         r"\"dane.example\" .*unknown attribute \"colour\"" % table)
        self.assertIn("deferring mail for badpolicy.example", send.read_log())
        # mailctl check names the source file and line of each bad entry.
        check = send.mailctl("check")
        source = table[:-len(".lmdb")]
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn('%s:6: error: smtp_tls_policy_maps: entry for "badpolicy.example": '
                      'protocols=: unknown TLS protocol ">=TLSv1.9"' % source, check.stdout)
        self.assertIn('%s:7: error: smtp_tls_policy_maps: entry for "dane.example": unknown '
                      'attribute "colour"' % source, check.stdout)
        self.assertNotIn("%s:1:" % source, check.stdout)

    def test_protocols(self):
        # A receiver that speaks at most TLS 1.2.
        self.restart_receiver(smtpd_tls_protocols="<=TLSv1.2")
        # smtp_tls_ciphers for every destination without a ciphers= of its own.
        send = self.sender(smtp_tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256")
        send.params["smtp_tls_policy_maps"] = self.policy_table(
            send,
            "tlsmay.example encrypt protocols=>=TLSv1.3\n"
            "tlsverify.example encrypt protocols=!TLSv1 !TLSv1.1 ciphers=high\n"
            "suffix.example encrypt\n")
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: 1.3\n\nx\n")
        submit(send, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: 1.2\n\nx\n")
        submit(send, "s@out.sender.test", ["u@suffix.example"], b"Subject: ciphers\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@suffix.example"), timeout=30,
                 what="delivery with smtp_tls_ciphers")
        self.assertRegex(result(send, "u@suffix.example"),
                         r"tls=TLSv1\.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 ")
        wait_for(lambda: maildir_messages(self.vmail, "u@tlsverify.example"), timeout=30,
                 what="delivery over TLS 1.2")
        send.wait_log("to=<u@tlsmay.example>", timeout=30)
        self.assertRegex(result(send, "u@tlsverify.example"),
                         r"(?m)dsn=2.0.0, status=sent \(.*\), "
                         r"tls=TLSv1\.2 with cipher \S+ \(\d+/\d+ bits\), untrusted$")
        self.assertRegex(result(send, "u@tlsmay.example"),
                         r"dsn=4.7.5, status=deferred \(TLS with tlshost.example\S+ failed: "
                         r"TLS handshake")
        self.assertEqual(maildir_messages(self.vmail, "u@tlsmay.example"), [])

    def test_client_certificate(self):
        # A client certificate issued by a test CA that the receiver
        # trusts, and a self-signed one it does not.
        ca_dir = tempfile.mkdtemp(prefix="ca-", dir=self.recv.base)
        ca = make_ca(ca_dir)
        client_dir = tempfile.mkdtemp(prefix="client-", dir=self.recv.base)
        ccert, ckey = make_issued_cert(client_dir, "client.sender.test", ca=ca)
        other_dir = tempfile.mkdtemp(prefix="other-", dir=self.recv.base)
        ocert, okey = make_cert(other_dir, "other.sender.test")
        for d in (ca_dir, client_dir, other_dir):
            os.chmod(d, 0o755)
        sock_dir = tempfile.mkdtemp(prefix="milter-", dir=self.recv.base)
        os.chmod(sock_dir, 0o777)
        spec = "unix:" + os.path.join(sock_dir, "m.sock")
        proc, events = start_filter(self.recv.base, "m", ["-n"], spec)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.kill)
        wait_listening(spec)
        self.restart_receiver(smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=ca[0],
                              smtpd_milters=spec)
        send = self.sender(smtp_tls_cert_file=ccert, smtp_tls_key_file=ckey)
        send.start()
        submit(send, "s@out.sender.test", ["u@tlsmay.example"], b"Subject: cert\n\nx\n")
        msgs = wait_for(lambda: maildir_messages(self.vmail, "u@tlsmay.example"), timeout=30,
                        what="delivery with a client certificate")
        self.assertIn(b'(Client CN "client.sender.test", Issuer "Postern Test CA" '
                      b'(verified OK))', msgs[0])
        self.assertRegex(self.recv.read_log(),
                         r'TLS established: TLSv1\.[23] .*client certificate '
                         r'CN="client.sender.test" issuer CN="Postern Test CA" \(verified\)')
        with open(events) as f:
            ev = f.read()
        self.assertIn("helo macro {cert_subject}=client.sender.test", ev)
        self.assertIn("helo macro {cert_issuer}=Postern Test CA", ev)
        self.assertRegex(ev, r"helo macro \{tls_version\}=TLSv1\.[23]")
        # A certificate the receiver cannot verify is still taken, as such.
        other = self.sender(smtp_tls_cert_file=ocert, smtp_tls_key_file=okey)
        other.start()
        submit(other, "s@out.sender.test", ["u@tlsverify.example"], b"Subject: other\n\nx\n")
        msgs = wait_for(lambda: maildir_messages(self.vmail, "u@tlsverify.example"), timeout=30,
                        what="delivery with an unverified client certificate")
        self.assertIn(b'(Client CN "other.sender.test", Issuer "other.sender.test" '
                      b'(not verified))', msgs[0])
        # Without a client certificate nothing is noted.
        plain = self.sender()
        plain.start()
        submit(plain, "s@out.sender.test", ["u@wrongname.example"], b"Subject: none\n\nx\n")
        msgs = wait_for(lambda: maildir_messages(self.vmail, "u@wrongname.example"), timeout=30,
                        what="delivery without a client certificate")
        self.assertIn(b"(using TLSv1.", msgs[0])
        self.assertNotIn(b"Client CN", msgs[0])

if __name__ == "__main__":
    unittest.main(verbosity=2)
