"""A real filter through the milter protocol: OpenDKIM (Debian opendkim).

One opendkim signs mail for example.test (key made by opendkim-genkey in
the test) as smtpd receives it; the signed message as queued, and as
delivered by qmgr and local into a Maildir, is then sent through a second
smtpd service whose milter is another opendkim in verify mode (the public
key comes from a TestPublicKeys file instead of DNS); it must report
dkim=pass. A message changed after signing must not
pass. The same signer also runs as non_smtpd_milters for sendmail."""

import os
import re
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, wait_for  # noqa: E402
from test_milter import find_queued, queue_files, wait_listening  # noqa: E402

OPENDKIM = shutil.which("opendkim") or "/usr/sbin/opendkim"
GENKEY = shutil.which("opendkim-genkey") or "/usr/sbin/opendkim-genkey"
PICKUP = "pickup unix n - n 60 1 pickup"


def public_key_line(txt_path):
    """The genkey .txt (a BIND record) as a TestPublicKeys line."""
    with open(txt_path) as f:
        text = f.read()
    data = "".join(re.findall(r'"([^"]*)"', text))
    return "test._domainkey.example.test " + data + "\n"


@unittest.skipUnless(os.path.exists(OPENDKIM) and os.path.exists(GENKEY),
                     "opendkim and opendkim-tools are not installed (scripts/install-deps.sh)")
class OpenDkimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.vport = free_port(), free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "example.test, example.org",
            "smtpd_error_sleep_time": "0s",
        }, services=[PICKUP])
        base = cls.inst.base
        keys = os.path.join(base, "keys")
        os.makedirs(keys)
        subprocess.run([GENKEY, "-D", keys, "-d", "example.test", "-s", "test"], check=True,
                       capture_output=True, timeout=120)
        with open(os.path.join(keys, "public"), "w") as f:
            f.write(public_key_line(os.path.join(keys, "test.txt")))
        cls.sign_port, cls.verify_port = free_port(), free_port()
        cls.procs = []
        common = ("Background no\nSyslog no\nRequireSafeKeys no\nUMask 000\n"
                  "Canonicalization relaxed/simple\nAuthservID postern-test\n")
        sign_conf = os.path.join(base, "sign.conf")
        with open(sign_conf, "w") as f:
            f.write(common + "Mode s\nDomain example.test\nSelector test\n"
                    "KeyFile %s\nSocket inet:%d@127.0.0.1\nPidFile %s/sign.pid\n"
                    "InternalHosts 127.0.0.1\n" % (
                        os.path.join(keys, "test.private"), cls.sign_port, base))
        verify_conf = os.path.join(base, "verify.conf")
        with open(verify_conf, "w") as f:
            f.write(common + "Mode v\nTestPublicKeys %s\nSocket inet:%d@127.0.0.1\n"
                    "PidFile %s/verify.pid\nInternalHosts -\nAlwaysAddARHeader yes\n" % (
                        os.path.join(keys, "public"), cls.verify_port, base))
        for conf in (sign_conf, verify_conf):
            cls.procs.append(subprocess.Popen([OPENDKIM, "-f", "-x", conf],
                                              stdout=subprocess.DEVNULL,
                                              stderr=open(conf + ".err", "w")))
        sign = "inet:127.0.0.1:%d" % cls.sign_port
        verify = "inet:127.0.0.1:%d" % cls.verify_port
        wait_listening(sign)
        wait_listening(verify)
        cls.inst.services += [
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters=%s" % (cls.port, sign),
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters=%s" % (cls.vport, verify),
        ]
        cls.inst.params["non_smtpd_milters"] = sign
        cls.inst.write_config()
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            for p in cls.procs:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()

    def verify(self, content):
        """Send queued content through the verifying service; its A-R header."""
        before = set(queue_files(self.inst))
        with smtplib.SMTP("127.0.0.1", self.vport, timeout=30) as c:
            c.sendmail("sender@example.test", ["bob@example.org"], content)
        new = wait_for(lambda: set(queue_files(self.inst)) - before, what="verified copy")
        env, rcpts, verified = queue_files(self.inst)[new.pop()]
        head = verified.split(b"\r\n\r\n", 1)[0].decode()
        head = head.replace("\r\n\t", " ").replace("\r\n ", " ")
        return " ".join(line for line in head.split("\r\n")
                        if line.startswith("Authentication-Results:"))

    def test_sign_then_verify(self):
        msg = (b"From: Sender <sender@example.test>\r\nTo: bob@example.org\r\n"
               b"Subject: token-dkim\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
               b"Message-ID: <dkim-1@example.test>\r\n\r\nA signed message.\r\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail("sender@example.test", ["bob@example.org"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-dkim\r\n")
        self.assertRegex(content, rb"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; "
                                  rb"d=example.test;")
        # The signature was inserted above the rest, and the rest is unchanged.
        self.assertTrue(content.endswith(msg[:-len(b"\r\nA signed message.\r\n")] +
                                         b"\r\nA signed message.\r\n"))
        prefix = "%s: milter inet:127.0.0.1:%d: EOM: " % (qid, self.sign_port)
        self.inst.wait_log(prefix)
        self.assertRegex(self.inst.read_log(), re.escape(prefix) + "(continue|accept), 1 edit;")
        # The exact queued bytes (what local or smtp delivery sends) verify.
        self.assertIn("dkim=pass", self.verify(content))
        # A changed body fails.
        tampered = content.replace(b"A signed message.", b"A changed message.")
        ar = self.verify(tampered)
        self.assertIn("dkim=fail", ar)

    def test_delivered_message_verifies(self):
        port = free_port()
        inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "smtpd_milters": "inet:127.0.0.1:%d" % self.sign_port,
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
        ])
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(["alice@example.test"])
        inst.start()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.sendmail("sender@example.test", ["alice@example.test"],
                       b"From: sender@example.test\r\nTo: alice@example.test\r\n"
                       b"Subject: token-delivered\r\n\r\nDelivered and still signed.\r\n")
        new = os.path.join(vmail, "example.test", "alice", "Maildir", "new")
        wait_for(lambda: os.path.isdir(new) and os.listdir(new), timeout=30,
                 what="the message in the Maildir")
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            delivered = f.read()
        self.assertIn(b"Delivered-To: alice@example.test\n", delivered)
        self.assertIn(b"DKIM-Signature: v=1;", delivered)
        # The Maildir file has LF line ends; on the wire they are CRLF again.
        self.assertIn("dkim=pass", self.verify(delivered.replace(b"\n", b"\r\n")))

    def test_sendmail_mail_is_signed(self):
        msg = (b"From: sender@example.test\nTo: bob@example.org\nSubject: token-dkimlocal\n\n"
               b"Signed by pickup's milter.\n")
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc, "-f",
                                 "sender@example.test", "bob@example.org"], input=msg,
                                capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        qid, env, rcpts, content = find_queued(self.inst, "token-dkimlocal", timeout=20)
        self.assertIn(b"DKIM-Signature: v=1;", content)
        self.assertIn("dkim=pass", self.verify(content))


if __name__ == "__main__":
    unittest.main()
