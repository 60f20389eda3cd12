"""hopcount_limit on mail from sendmail, as Postfix's cleanup applies it
to local submissions: a message that already carries that many Received
headers is a mail loop; pickup queues nothing for its recipients and
returns it to the sender in a delivery status notification with status
5.4.6 (none with NOTIFY=NEVER), or with soft_bounce keeps it on hold.
A message under the limit, and any message with hopcount_limit = 0, is
queued as usual. Folded lines and the body do not count."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, wait_for  # noqa: E402
from test_pickup_checks import PickupQueue  # noqa: E402
from test_sendmail import PICKUP  # noqa: E402

SENDER, RCPT = "alice@example.test", "bob@example.test"


def message(token, hops):
    received = b"".join(b"Received: from hop%d.example by hop%d.example; "
                        b"Mon, 30 Nov 2026 10:00:00 +0000\n" % (i, i + 1) for i in range(hops))
    # Neither a folded "Received:" nor one in the body is a hop.
    return (received + b"Subject: %s\n Received: folded, not a hop\n\n"
            b"Received: in the body\n" % token.encode())


class PickupHopsTest(PickupQueue, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(params={"hopcount_limit": "4"}, services=[PICKUP])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_under_the_limit_is_queued(self):
        self.send_ok("-f", SENDER, RCPT, data=message("token-h3", 3))
        qid, env, rcpts, content = self.wait_queued("token-h3")
        self.assertEqual(env["sender"], SENDER)
        self.assertEqual(self.addresses(rcpts), [RCPT])
        # pickup's own Received header makes four; still queued.
        self.assertEqual(len(self.header(content, "Received")), 4)

    def test_loop_is_returned_with_5_4_6(self):
        self.send_ok("-f", SENDER, RCPT, data=message("token-h4", 4))
        qid, env, rcpts, notice = self.notification("token-h4")
        self.assertEqual(self.addresses(rcpts), [SENDER])
        self.assertIn(b"Status: 5.4.6", notice)
        self.assertIn(b"too many hops (4 Received headers)", notice)
        self.maildrop_empty()
        # Nothing else was queued for the message: the notice is all.
        self.assertEqual(len(self.in_queue("incoming", "token-h4")), 1)
        self.inst.wait_log("reject: mail forwarding loop: too many hops (4 Received headers); "
                           "from=<%s>" % SENDER)

    def test_notify_never_returns_nothing(self):
        self.send_ok("-f", SENDER, "-N", "never", RCPT, data=message("token-hn", 9))
        self.inst.wait_log("too many hops (9 Received headers); from=<%s>" % SENDER)
        self.maildrop_empty()
        self.assertEqual(self.in_queue("incoming", "token-hn"), [])


class PickupHopsOffTest(PickupQueue, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(params={"hopcount_limit": "0"}, services=[PICKUP])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_no_limit(self):
        self.send_ok("-f", SENDER, RCPT, data=message("token-off", 80))
        qid, env, rcpts, content = self.wait_queued("token-off")
        self.assertEqual(self.addresses(rcpts), [RCPT])


class PickupHopsSoftBounceTest(PickupQueue, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(params={"hopcount_limit": "2", "soft_bounce": "yes"},
                            services=[PICKUP])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_loop_is_held(self):
        self.send_ok("-f", SENDER, RCPT, data=message("token-soft", 2))
        found = wait_for(lambda: self.in_queue("hold", "token-soft"), timeout=15,
                         what="the looping message on hold")
        qid, env, rcpts, content = found[0]
        self.assertEqual(self.addresses(rcpts), [RCPT])
        self.assertIn("5.4.6 mail forwarding loop", env.get("hold_reason", ""))
        self.inst.wait_log("held instead of returned (soft_bounce)")
        self.assertEqual([n for n in self.in_queue("incoming", "token-soft")
                          if n[1]["sender"] == ""], [])


if __name__ == "__main__":
    unittest.main()
