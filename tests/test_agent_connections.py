"""qmgr keeps its connection to a delivery agent for the next delivery:
the agent serves later requests on it (logged with -v), an agent that
ends the connection (max_use) or is killed while it waits costs no
delivery (qmgr tries once more on a new connection, and nothing is
deferred), and mail keeps flowing; driven with smtplib into a virtual
user's Maildir."""

import os
import signal
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, processes_mentioning, wait_for  # noqa: E402


def argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0]
    except OSError:
        return b""


class AgentConnectionTest(InstanceTestCase):
    def start(self, local_options=""):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                     "qmgr unix n - n 300 1 qmgr",
                     "local unix - n n - - local " + local_options], start=False)
        vmail = self.inst.add_vmail(["alice@example.test"])
        self.inst.start()
        self.new = os.path.join(vmail, "example.test", "alice", "Maildir", "new")

    def send_and_wait(self, count):
        """Send count messages one at a time, each delivered before the next."""
        for i in range(count):
            with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
                c.sendmail("sender@outside.test", ["alice@example.test"],
                           "Subject: %d\r\n\r\nbody\r\n" % i)
            wait_for(lambda: os.path.isdir(self.new) and len(os.listdir(self.new)) > i,
                     timeout=30, what="message %d delivered" % i)

    def assertNothingFailed(self):
        log = self.inst.read_log()
        self.assertNotIn("delivery agent", log)
        self.assertNotIn("status=deferred", log)

    def test_connection_is_kept(self):
        self.start("-v")
        self.send_and_wait(3)
        self.inst.wait_log("request 2 on this connection")
        self.assertNothingFailed()

    def test_agent_that_ends_the_connection(self):
        # Each local process serves one request, then ends (and its connection).
        self.start("-o max_use=1")
        self.send_and_wait(4)
        self.assertNothingFailed()

    def test_agent_killed_while_waiting(self):
        self.start()
        self.send_and_wait(1)
        # The file is in the Maildir before local reports to qmgr: wait
        # for the end of the attempt, so that local is idle, waiting.
        self.inst.wait_log(": removed", timeout=30)
        pids = [p for p in processes_mentioning(self.inst.etc) if argv0(p) == b"local"]
        self.assertTrue(pids, "a local process waits on the kept connection")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.send_and_wait(2)
        self.assertNothingFailed()


if __name__ == "__main__":
    unittest.main()
