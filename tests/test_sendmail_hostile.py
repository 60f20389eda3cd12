"""Local submission against a hostile or unlucky caller: postdrop killed by
a signal half-way through a message, run with umask 0, a small
RLIMIT_FSIZE or closed standard descriptors, and sendmail given NUL bytes
next to the "." line. Whatever happens, maildrop/ holds either a complete
drop file or nothing, and what is queued is the whole message."""

import os
import resource
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, wait_for  # noqa: E402
from test_sendmail import EX_DATAERR, EX_TEMPFAIL, PICKUP, LocalSubmission, drop_file  # noqa: E402


class PostdropHostileTest(LocalSubmission, unittest.TestCase):
    """master is stopped: what postdrop leaves in maildrop/ stays there."""

    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(services=[PICKUP])
        cls.inst.start()
        cls.inst.stop()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def setUp(self):
        self.maildrop = self.queue_dir("maildrop")
        for name in os.listdir(self.maildrop):
            os.unlink(os.path.join(self.maildrop, name))

    def postdrop(self, preexec_fn=None, **kwargs):
        return subprocess.Popen([self.inst.program("postdrop"), "-c", self.inst.etc],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=preexec_fn, **kwargs)

    def temp_files(self):
        return [n for n in os.listdir(self.maildrop) if n.startswith("tmp.")]

    def test_signal_mid_message_leaves_no_partial_file(self):
        data = drop_file("alice@example.test", ["bob@example.test"],
                         b"Subject: token-signal\r\n\r\n" + b"x" * 100000 + b"\r\n", uid=os.getuid())
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            # umask 0 changes nothing: the unfinished file is the writer's alone.
            proc = self.postdrop(preexec_fn=lambda: os.umask(0))
            proc.stdin.write(data[:len(data) // 2])
            proc.stdin.flush()
            names = wait_for(self.temp_files, what="postdrop's temporary file")
            st = os.lstat(os.path.join(self.maildrop, names[0]))
            self.assertEqual(st.st_mode & 0o7777, 0o600)
            proc.send_signal(sig)
            proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, -sig)
            self.assertEqual(os.listdir(self.maildrop), [], "after signal %d" % sig)

    def test_umask_zero_gives_the_usual_mode(self):
        data = drop_file("alice@example.test", ["bob@example.test"],
                         b"Subject: token-umask\r\n\r\nbody\r\n", uid=os.getuid())
        proc = self.postdrop(preexec_fn=lambda: os.umask(0))
        _, err = proc.communicate(data, timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        (name,) = os.listdir(self.maildrop)
        self.assertRegex(name, r"^[0-9A-F]{16}$")
        self.assertEqual(os.lstat(os.path.join(self.maildrop, name)).st_mode & 0o7777, 0o644)

    def test_small_file_size_limit_fails_cleanly(self):
        def small_fsize():
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        data = drop_file("alice@example.test", ["bob@example.test"],
                         b"Subject: token-fsize\r\n\r\n" + b"y" * 50000 + b"\r\n", uid=os.getuid())
        proc = self.postdrop(preexec_fn=small_fsize)
        _, err = proc.communicate(data, timeout=30)
        # Not killed by SIGXFSZ half-way: a temporary failure, said so, nothing left.
        self.assertEqual(proc.returncode, EX_TEMPFAIL, err)
        self.assertIn(b"File too large", err)
        self.assertEqual(os.listdir(self.maildrop), [])

    def test_closed_standard_descriptors(self):
        content = b"Subject: token-closed\r\n\r\nbody\r\n"
        data = drop_file("alice@example.test", ["bob@example.test"], content, uid=os.getuid())

        def close_out_err():
            os.close(1)
            os.close(2)
        proc = subprocess.Popen([self.inst.program("postdrop"), "-c", self.inst.etc],
                                stdin=subprocess.PIPE, preexec_fn=close_out_err)
        proc.communicate(data, timeout=30)
        self.assertEqual(proc.returncode, 0)
        (name,) = os.listdir(self.maildrop)
        with open(os.path.join(self.maildrop, name), "rb") as f:
            written = f.read()
        # The whole drop file, and nothing else (no message text on a reused fd 1 or 2).
        self.assertTrue(written.startswith(b"POSTERN-DROP 1\n"))
        self.assertIn(content, written)
        self.assertEqual(written.count(b"POSTERN-DROP"), 1)
        os.unlink(os.path.join(self.maildrop, name))

        # A closed stdin is no message: refused (empty input, 65; or, when
        # the program is set-gid, 75: glibc itself opens a write-only
        # /dev/full there), and nothing is left.
        proc = subprocess.Popen([self.inst.program("postdrop"), "-c", self.inst.etc],
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=lambda: os.close(0))
        _, err = proc.communicate(timeout=30)
        self.assertIn(proc.returncode, (EX_DATAERR, EX_TEMPFAIL), err)
        self.assertEqual(os.listdir(self.maildrop), [])


class SendmailNulTest(LocalSubmission, unittest.TestCase):
    def setUp(self):
        self.inst = Instance(services=[PICKUP])
        self.addCleanup(self.inst.cleanup)
        self.inst.start()

    def test_dot_followed_by_nul_does_not_end_the_message(self):
        body = b"Subject: token-nul\n\nfirst\n.\0hidden\nlast line\n.\nnot part of it\n"
        self.send_ok("bob@example.test", data=body)
        _, _, rcpts, content = self.wait_queued("token-nul")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        self.assertIn(b"\r\nfirst\r\n.\0hidden\r\nlast line\r\n", content)
        self.assertNotIn(b"not part of it", content)


if __name__ == "__main__":
    unittest.main()
