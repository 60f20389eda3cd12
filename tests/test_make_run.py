"""`make run`'s instance script: it writes a working configuration, starts
master in the foreground with every built service, prints where to
connect, and Ctrl-C (SIGINT) stops everything, leaving no process."""

import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import BIN, processes_mentioning, wait_for  # noqa: E402

SOURCE = os.environ.get("POSTERN_SOURCE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")


class MakeRunTest(unittest.TestCase):
    def test_run_and_ctrl_c(self):
        base = tempfile.mkdtemp(prefix="postern-run-")
        self.addCleanup(shutil.rmtree, base, True)
        offset = random.randrange(20000, 30000)
        env = dict(os.environ, POSTERN_RUN_DIR=base, POSTERN_PORT_OFFSET=str(offset))
        build = os.path.dirname(os.path.abspath(BIN))
        out = open(os.path.join(base, "out.txt"), "w+")
        proc = subprocess.Popen(["sh", os.path.join(SOURCE, "scripts", "run-instance.sh"), build],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

        def text():
            out.flush()
            with open(os.path.join(base, "out.txt")) as f:
                return f.read()
        try:
            wait_for(lambda: "started (version" in text() or proc.poll() is not None,
                     timeout=60, what="instance to start")
            self.assertIsNone(proc.poll(), text())
            self.assertIn("demo@example.test", text())
            with open(os.path.join(base, "demo-password")) as f:
                self.assertGreaterEqual(len(f.read().strip()), 12)
            self.assertTrue(os.path.exists(os.path.join(base, "etc", "tls", "cert.pem")))
            check = subprocess.run([os.path.join(BIN, "mailctl"), "-c",
                                    os.path.join(base, "etc"), "check"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            if os.path.exists(os.path.join(BIN, "smtpd")):
                port = 2525 + offset
                self.assertIn("127.0.0.1:%d" % port, text())
                with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
                    self.assertEqual(c.ehlo()[0], 250)
            if os.path.exists(os.path.join(BIN, "auth")):
                # The demo account works on submission, with STARTTLS.
                import ssl
                ctx = ssl.create_default_context(
                    cafile=os.path.join(base, "etc", "tls", "cert.pem"))
                ctx.check_hostname = False
                with open(os.path.join(base, "demo-password")) as f:
                    password = f.read().strip()
                with smtplib.SMTP("127.0.0.1", 2587 + offset, timeout=20) as c:
                    c.starttls(context=ctx)
                    c.login("demo@example.test", password)
                    # an address extension and a virtual alias, both demo's: two
                    # recipients, two copies
                    refused = c.sendmail("demo@example.test",
                                         ["demo+tag@example.test", "postmaster@example.test"],
                                         "Subject: demo\r\n\r\nhello\r\n")
                    self.assertEqual(refused, {})
                if os.path.exists(os.path.join(BIN, "qmgr")):
                    new = os.path.join(base, "mail", "example.test", "demo", "Maildir", "new")
                    wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 2,
                             timeout=30, what="the demo message in its Maildir, twice")
                    if os.path.exists(os.path.join(BIN, "pop3d")):
                        # ... and can be read over POP3 (plain text from loopback).
                        import poplib
                        p = poplib.POP3("127.0.0.1", 2110 + offset, timeout=20)
                        p.user("demo@example.test")
                        p.pass_(password)
                        self.assertIn(b"Subject: demo", b"\n".join(p.retr(1)[1]))
                        p.quit()
                        p = poplib.POP3_SSL("127.0.0.1", 2995 + offset, timeout=20,
                                            context=ctx)
                        p.user("demo@example.test")
                        p.pass_(password)
                        self.assertEqual(p.stat()[0], 2)
                        p.quit()
            # Ctrl-C reaches the foreground process group.
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
            wait_for(lambda: processes_mentioning(os.path.join(base, "etc")) == [],
                     timeout=20, what="every process to exit")
            self.assertIn("stopped", text())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            for pid in processes_mentioning(os.path.join(base, "etc")):
                os.kill(pid, signal.SIGKILL)
            out.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
