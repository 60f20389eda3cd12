"""smtp_destination_rate_delay (Postfix's TRANSPORT_destination_rate_delay):
deliveries to one next hop go one at a time, each starting no sooner than
the delay after the previous one ended, while mail for another next hop
is not held up; without a delay the same messages go at once."""

import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import ipc_record  # noqa: E402
from mail_peers import RecordingServer  # noqa: E402
from postern_test import IS_ROOT, Instance, free_port, wait_for  # noqa: E402

DELAY = 2


class TimedServer(RecordingServer):
    """A RecordingServer that notes when each message's MAIL came."""

    def __init__(self, address, port):
        self.mail_times = []
        super().__init__(address, port, rcpt_reply=self._rcpt)

    def _rcpt(self, cmd):
        with self.lock:
            self.mail_times.append(time.monotonic())
        return "250 2.1.5 ok"


class RateDelayTest(unittest.TestCase):
    def setUp(self):
        self.slow_port, self.fast_port = free_port(), free_port()
        self.slow = TimedServer("127.0.0.1", self.slow_port)
        self.fast = TimedServer("127.0.0.1", self.fast_port)
        self.addCleanup(self.slow.stop)
        self.addCleanup(self.fast.stop)

    def start(self, delay):
        inst = Instance(params={
            "myhostname": "mx.example.test",
            "mydestination": "mx.example.test",
            "relay_domains": "slow.test, fast.test",
            "smtp_destination_rate_delay": "%ds" % delay,
            "smtp_tls_security_level": "none",
            "minimal_backoff_time": "300s",
        }, services=["qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp"])
        self.addCleanup(inst.cleanup)
        transport = os.path.join(inst.etc, "transport")
        with open(transport, "w") as f:
            f.write("slow.test smtp:[127.0.0.1]:%d\nfast.test smtp:[127.0.0.2]:%d\n"
                    % (self.slow_port, self.fast_port))
        inst.params["transport_maps"] = "texthash:" + transport
        inst.write_config()
        inst.start()
        return inst

    def wakeup(self, inst):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(os.path.join(inst.spool, "public", "qmgr"))
            s.sendall(ipc_record("wakeup"))

    def queue(self, inst, rcpt):
        # Written as the queue's owner (when the suite runs as root).
        owner = {"user": "postern", "group": "postern"} if IS_ROOT else {}
        subprocess.run([inst.program("svc_queue_writer"), "-s", "sender@mx.example.test",
                        "-r", rcpt, "-m", "Subject: paced\r\n\r\nbody\r\n", inst.spool],
                       check=True, capture_output=True, **owner)

    def test_delay_spaces_one_next_hop(self):
        # The second server listens on 127.0.0.2: a next hop of its own.
        self.fast.stop()
        self.fast = TimedServer("127.0.0.2", self.fast_port)
        inst = self.start(DELAY)
        for n in range(3):
            self.queue(inst, "user%d@slow.test" % n)
        self.queue(inst, "other@fast.test")
        start = time.monotonic()
        self.wakeup(inst)
        wait_for(lambda: self.slow.done() == 3, timeout=30, what="three paced deliveries")
        wait_for(lambda: self.fast.done() == 1, timeout=10, what="the other next hop's mail")
        # One at a time, DELAY apart (the timer works in whole seconds).
        self.assertEqual(self.slow.max, 1)
        gaps = [b - a for a, b in zip(self.slow.mail_times, self.slow.mail_times[1:])]
        self.assertEqual(len(gaps), 2)
        for gap in gaps:
            self.assertGreaterEqual(gap, DELAY - 0.5, gaps)
            self.assertLess(gap, DELAY + 3, gaps)
        # The other next hop did not wait behind them.
        self.assertLess(self.fast.mail_times[0] - start, DELAY, self.fast.mail_times)
        self.assertRegex(inst.read_log(), r"to=<user2@slow.test>.*status=sent")

    def test_no_delay(self):
        inst = self.start(0)
        for n in range(3):
            self.queue(inst, "user%d@slow.test" % n)
        self.wakeup(inst)
        wait_for(lambda: self.slow.done() == 3, timeout=30, what="three deliveries")
        spread = self.slow.mail_times[-1] - self.slow.mail_times[0]
        self.assertLess(spread, DELAY - 0.5, self.slow.mail_times)


if __name__ == "__main__":
    unittest.main()
