"""A real filter: spamass-milter with SpamAssassin's spamd (Debian
spamass-milter, spamassassin, spamd, spamc). The GTUBE test message is
rejected at the end of DATA with spamass-milter's reply; an ordinary
message is queued with SpamAssassin's X-Spam-* headers added.

Slow (spamd compiles its rules at start): labelled "slow" in ctest. Set
POSTERN_SKIP_SLOW=1 to skip it (`make check` runs it otherwise)."""

import os
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, wait_for  # noqa: E402
from test_milter import find_queued, queue_files, received_header, wait_listening  # noqa: E402

SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"
MILTER = shutil.which("spamass-milter") or "/usr/sbin/spamass-milter"
SPAMC = shutil.which("spamc") or "/usr/bin/spamc"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@unittest.skipIf(os.environ.get("POSTERN_SKIP_SLOW"), "POSTERN_SKIP_SLOW is set")
@unittest.skipUnless(all(os.path.exists(p) for p in (SPAMD, MILTER, SPAMC)),
                     "spamass-milter, spamd or spamc not installed (scripts/install-deps.sh)")
class SpamassMilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "example.test",
            "smtpd_error_sleep_time": "0s",
        })
        base = cls.inst.base
        cls.spamd_port, cls.milter_port = free_port(), free_port()
        cls.procs = []
        # -L: local tests only (no DNS, no network); one child is enough.
        cls.procs.append(subprocess.Popen(
            [SPAMD, "-L", "--listen", "127.0.0.1:%d" % cls.spamd_port, "-m", "1",
             "--min-children", "1", "--pidfile", os.path.join(base, "spamd.pid"),
             "-s", "stderr"] + (["-u", "nobody"] if os.geteuid() == 0 else []),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "spamd.err"), "w")))
        wait_listening("inet:127.0.0.1:%d" % cls.spamd_port, timeout=120)
        # -r -1: reject what SpamAssassin calls spam; spamc options after "--".
        cls.procs.append(subprocess.Popen(
            [MILTER, "-p", "inet:%d@127.0.0.1" % cls.milter_port, "-r", "-1", "--",
             "-d", "127.0.0.1", "-p", str(cls.spamd_port)],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "milter.err"), "w")))
        spec = "inet:127.0.0.1:%d" % cls.milter_port
        wait_listening(spec)
        cls.inst.services.append("127.0.0.1:%d inet n - n - - smtpd" % cls.port)
        cls.inst.params["smtpd_milters"] = spec
        cls.inst.params["milter_content_timeout"] = "120s"
        cls.inst.write_config()
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            for p in reversed(cls.procs):
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def test_gtube_is_rejected(self):
        msg = ("From: spammer@example.test\r\nTo: bob@example.test\r\nSubject: token-gtube\r\n"
               "\r\n%s\r\n" % GTUBE).encode()
        before = set(queue_files(self.inst))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as c:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                c.sendmail("spammer@example.test", ["bob@example.test"], msg)
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertIn(b"Blocked by SpamAssassin", cm.exception.smtp_error)
        self.assertEqual(set(queue_files(self.inst)), before)
        self.inst.wait_log("milter-reject: END-OF-MESSAGE")

    def test_ham_is_tagged_and_queued(self):
        msg = (b"From: friend@example.test\r\nTo: bob@example.test\r\nSubject: token-ham\r\n"
               b"Date: Mon, 30 Nov 2026 12:00:00 +0000\r\nMessage-ID: <ham@example.test>\r\n"
               b"\r\nLunch tomorrow at noon?\r\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as c:
            c.sendmail("friend@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-ham", timeout=60)
        head, body = content.split(b"\r\n\r\n", 1)
        self.assertIn(b"\r\nX-Spam-Status: No", head)
        self.assertIn(b"\r\nX-Spam-Checker-Version: SpamAssassin", head)
        self.assertEqual(body, b"Lunch tomorrow at noon?\r\n")
        self.assertTrue(content.startswith(received_header(content)))


if __name__ == "__main__":
    unittest.main()
