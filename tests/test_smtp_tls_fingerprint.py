"""The fingerprint TLS level in the smtp client, as Postfix's: a TLS policy
table entry "fingerprint match=..." delivers to a server whose (self-signed,
unverifiable, wrongly named) certificate or public key has one of the
listed digests (sha256 unless digest= says otherwise), and defers with
4.7.5 and both of the server's digests in the reason when none matches;
a fingerprint of the wrong size is a bad entry (deferred, and reported by
mailctl check). With smtp_tls_security_level = fingerprint, table entries
give the fingerprints and next hops without one are deferred."""

import hashlib
import os
import ssl
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
tlshost IN A 127.0.0.3
other IN A 127.0.0.3
byname IN MX 10 other.example.
pkey IN MX 10 other.example.
wrong IN MX 10 tlshost.example.
md5 IN MX 10 tlshost.example.
short IN MX 10 tlshost.example.
noentry IN MX 10 tlshost.example.
"""

DOMAINS = ["hostport.example", "byname.example", "pkey.example", "wrong.example",
           "md5.example", "short.example", "noentry.example"]


def colons(digest):
    return ":".join("%02X" % b for b in digest)


def cert_fingerprint(cert, digest="sha256"):
    """The fingerprint of the whole certificate: the digest of its DER form."""
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return colons(hashlib.new(digest, der).digest())


def pkey_fingerprint(cert, digest="sha256"):
    """The fingerprint of the certificate's public key: the digest of its
    DER SubjectPublicKeyInfo."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return colons(hashlib.new(digest, der).digest())


def result(inst, rcpt):
    """The sender's log lines for rcpt's outcome (waiting for one)."""
    inst.wait_log("to=<%s>" % rcpt, timeout=30)
    return "\n".join(l for l in inst.read_log().splitlines() if "to=<%s>" % rcpt in l)


@unittest.skipUnless(have("unbound"), "unbound missing")
class SmtpTlsFingerprintTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        # A self-signed certificate for tlshost.example: never verified.
        self.recv, self.vmail = make_receiver(
            self, "127.0.0.3", self.port, DOMAINS, ["u@" + d for d in DOMAINS],
            extra_params={"smtpd_tls_security_level": "may"}, tls_name="tlshost.example")
        self.cert = self.recv.params["smtpd_tls_cert_file"]
        self.dns = Unbound({"example": ZONE})
        self.addCleanup(self.dns.stop)

    def sender(self, policy, **extra):
        inst = Instance(params=sender_params(self.dns, self.port, **extra),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.params["transport_maps"] = self.table(
            inst, "transport", "hostport.example smtp:[tlshost.example]:%d\n" % self.port)
        inst.params["smtp_tls_policy_maps"] = self.table(inst, "tls_policy", policy)
        inst.write_config()
        inst.start()
        return inst

    def table(self, inst, name, text):
        path = os.path.join(inst.etc, name)
        with open(path, "w") as f:
            f.write(text)
        inst.mailctl("map", "build", path, check=True)
        return path + ".lmdb"

    def delivered(self, send, rcpt):
        wait_for(lambda: maildir_messages(self.vmail, rcpt), timeout=30,
                 what="delivery to " + rcpt)
        self.assertRegex(result(send, rcpt),
                         r"(?m)dsn=2.0.0, status=sent \(.*\), "
                         r"tls=TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), fingerprint$")

    def deferred(self, send, rcpt):
        log = result(send, rcpt)
        self.assertEqual(maildir_messages(self.vmail, rcpt), [])
        return log

    def test_policy_table(self):
        cert_fp = cert_fingerprint(self.cert)
        pkey_fp = pkey_fingerprint(self.cert)
        other = colons(hashlib.sha256(b"another server").digest())
        md5_fp = cert_fingerprint(self.cert, "md5")
        send = self.sender(
            # As ported from Postfix: the key as written, the level, and
            # the fingerprints in match= attributes on continuation lines.
            "[tlshost.example]:%d fingerprint\n"
            "    match=%s\n"
            "    match=%s\n"
            # The certificate names tlshost.example, not other.example:
            # names are not checked.
            "byname.example fingerprint match=%s|%s\n"
            # A public key fingerprint, without colons, in lower case.
            "pkey.example fingerprint match=%s\n"
            "wrong.example fingerprint match=%s\n"
            "md5.example fingerprint digest=md5 match=%s\n"
            # An md5 fingerprint where sha256 is expected: a bad entry.
            "short.example fingerprint match=%s\n"
            % (self.port, other, cert_fp, other, cert_fp,
               pkey_fp.replace(":", "").lower(), other, md5_fp, md5_fp))
        rcpts = ["u@" + d for d in DOMAINS]
        for rcpt in rcpts:
            submit(send, "s@out.sender.test", [rcpt], b"Subject: fingerprint\n\nx\n")
        for rcpt in ["u@hostport.example", "u@byname.example", "u@pkey.example",
                     "u@md5.example"]:
            self.delivered(send, rcpt)
        # No match: TLS fails, the mail waits, and the reason shows what
        # the server has.
        log = self.deferred(send, "u@wrong.example")
        self.assertIn("dsn=4.7.5, status=deferred (TLS with tlshost.example[127.0.0.3]:%d "
                      "failed: server certificate not matched by fingerprint: its sha256 "
                      "fingerprint is %s, its public key's %s)" % (self.port, cert_fp, pkey_fp),
                      log)
        log = self.deferred(send, "u@short.example")
        table = send.params["smtp_tls_policy_maps"]
        self.assertRegex(log, r"dsn=4.7.5, status=deferred \(smtp_tls_policy_maps %s: bad entry "
                              r"for \"short.example\" .*: fingerprint %s has 16 bytes, not the "
                              r"32 of a sha256 digest \(is it md5\? then digest=md5\)\)"
                         % (table, md5_fp))
        # Without an entry, smtp_tls_security_level (may) applies.
        wait_for(lambda: maildir_messages(self.vmail, "u@noentry.example"), timeout=30,
                 what="delivery under may")
        self.assertRegex(result(send, "u@noentry.example"), r"(?m)status=sent .*, untrusted$")
        # mailctl check reports the bad entry at its line, and only it.
        check = send.mailctl("check")
        source = table[:-len(".lmdb")]
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn('%s:8: error: smtp_tls_policy_maps: entry for "short.example": '
                      'fingerprint %s has 16 bytes' % (source, md5_fp), check.stdout)
        self.assertEqual(check.stdout.count(source), 1, check.stdout)

    def test_security_level(self):
        # smtp_tls_security_level = fingerprint: the fingerprints come from
        # the table; a next hop without an entry cannot be authenticated.
        send = self.sender("[tlshost.example]:%d fingerprint match=%s\n"
                           % (self.port, pkey_fingerprint(self.cert)),
                           smtp_tls_security_level="fingerprint")
        submit(send, "s@out.sender.test", ["u@hostport.example"], b"Subject: entry\n\nx\n")
        submit(send, "s@out.sender.test", ["u@noentry.example"], b"Subject: none\n\nx\n")
        self.delivered(send, "u@hostport.example")
        log = self.deferred(send, "u@noentry.example")
        self.assertIn("status=deferred (smtp_tls_security_level = fingerprint: the "
                      "fingerprint level needs fingerprints (match=))", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
