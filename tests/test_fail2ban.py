"""Log watchers written for Postfix and Dovecot read Postern's log:
fail2ban's stock postfix filter (Debian package), with only its daemon
name pointed at Postern, finds the abusive client in a relay attempt, a
refused client (access table) and a failed AUTH, and nothing in a normal
session; its stock dovecot filter finds a POP3 client that failed to log
in, and not one that logged in."""

import base64
import os
import poplib
import shutil
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402

FILTER = 'postfix[mode=aggressive, _daemon="postern/\\w+"]'
POP3_FILTER = 'dovecot[_daemon="postern/pop3d"]'


@unittest.skipUnless(shutil.which("fail2ban-regex"), "fail2ban is not installed")
class Fail2banTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.pop = free_port()
        while self.pop == self.port:
            self.pop = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_tls_auth_only_exempt": "127.0.0.0/8",
            "smtpd_error_sleep_time": "0s",
            "smtpd_peername_lookup": "no",
            "pop3d_tls_cert_file": "",
            "pop3d_tls_auth_only_exempt": "127.0.0.0/8",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                     "127.0.0.1:%d inet n n n - - pop3d" % self.pop,
                     "auth unix y postern-auth n - - auth"], start=False)
        self.inst.params["smtpd_client_access_maps"] = "lmdb:%s/client.lmdb" % self.inst.etc
        self.inst.add_vmail(["alice@example.test"], password="right password")
        self.client_table("")
        self.inst.start()

    def client_table(self, text):
        path = os.path.join(self.inst.etc, "client")
        with open(path, "w") as f:
            f.write(text)
        self.inst.mailctl("map", "build", path, check=True)

    def hits(self, filter_spec=FILTER):
        """The addresses fail2ban finds in the log so far, one per match."""
        out = subprocess.run(["fail2ban-regex", "-o", "ip", self.inst.logfile, filter_spec],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.split()

    def test_abuse_is_found_and_normal_mail_is_not(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.sendmail("someone@outside.test", ["alice@example.test"],
                                        "Subject: fine\r\n\r\nbody\r\n"), {})
            c.login("alice@example.test", "right password")
        self.inst.wait_log("sasl_method=PLAIN")
        self.assertEqual(self.hits(), [])

        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            c.mail("someone@outside.test")
            self.assertEqual(c.rcpt("victim@elsewhere.test")[0], 554)  # relay denied
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            bad = base64.b64encode(b"\0alice@example.test\0wrong password").decode()
            self.assertEqual(c.docmd("AUTH PLAIN " + bad)[0], 535)
        self.client_table("127.0.0.1 REJECT\n")
        time.sleep(1.1)  # a running smtpd looks for a rebuilt table once a second
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            c.mail("someone@outside.test")
            self.assertEqual(c.rcpt("x@relay.test")[0], 554)  # Client host rejected
        self.inst.wait_log("Client host rejected")
        self.assertEqual(self.hits(), ["127.0.0.1"] * 3, self.inst.read_log())


    def test_failed_pop3_login_is_found(self):
        p = poplib.POP3("127.0.0.1", self.pop, timeout=30)
        p.user("alice@example.test")
        p.pass_("right password")
        p.quit()
        self.inst.wait_log("result=ok")
        p = poplib.POP3("127.0.0.1", self.pop, timeout=30)
        p.user("alice@example.test")
        with self.assertRaises(poplib.error_proto):
            p.pass_("wrong password")
        p.quit()
        self.inst.wait_log("pop3-login: Disconnected (auth failed, 1 attempts in ")
        self.assertEqual(self.hits(POP3_FILTER), ["127.0.0.1"], self.inst.read_log())


if __name__ == "__main__":
    unittest.main()
