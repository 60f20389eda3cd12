"""Remote delivery: Postern's smtp client against another Postern instance
and against scripted servers, routed through a local unbound serving test
zones: MX preference and fallback, A-only domains, null MX, NXDOMAIN,
SERVFAIL, 4xx/5xx answers, dropped and stalled connections, malformed
replies."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, Unbound, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
multi IN MX 10 mx1.hosts.example.
multi IN MX 10 mx2.hosts.example.
multi IN MX 20 mx3.hosts.example.
dead IN MX 5 dead.hosts.example.
dead IN MX 10 mx1.hosts.example.
aonly IN A 127.0.0.3
nullmx IN MX 0 .
mx1.hosts IN A 127.0.0.3
mx2.hosts IN A 127.0.0.3
mx3.hosts IN A 127.0.0.3
dead.hosts IN A 127.0.0.9
flaky IN A 127.0.0.4
picky IN A 127.0.0.5
dropper IN A 127.0.0.6
overlong IN A 127.0.0.7
garbage IN A 127.0.0.8
mixed IN A 127.0.0.10
silent IN A 127.0.0.11
stall IN A 127.0.0.12
"""


def log_lines(inst, pattern):
    return [l for l in inst.read_log().splitlines() if re.search(pattern, l)]


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class SmtpRoutingTest(InstanceTestCase):
    def setUp(self):
        self.dns = Unbound({"example": ZONE}, refused=["refused.example"])
        self.addCleanup(self.dns.stop)
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")

    def sender(self, **extra):
        inst = Instance(params=sender_params(self.dns, self.port, **extra),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst

    def test_mx_routing(self):
        recv, vmail = make_receiver(self, "127.0.0.3", self.port,
                                    ["multi.example", "dead.example", "aonly.example"],
                                    ["u@multi.example", "u@dead.example", "u@aonly.example",
                                     "bounces@aonly.example"])
        send = self.sender()
        submit(send, "bounces@aonly.example",
               ["u@multi.example", "u@dead.example", "u@aonly.example", "x@nullmx.example",
                "x@nx.example"],
               b"Subject: routed\n\nhello over MX\n")
        # A notice only goes out once no recipient is pending: SERVFAIL apart.
        submit(send, "bounces@aonly.example", ["y@refused.example"], b"Subject: later\n\nx\n")
        for user in ("u@multi.example", "u@dead.example", "u@aonly.example"):
            wait_for(lambda: maildir_messages(vmail, user), timeout=30,
                     what="delivery to " + user)
            msg = maildir_messages(vmail, user)[0]
            self.assertIn(b"hello over MX", msg)
            self.assertIn(b"Subject: routed", msg)
        send.wait_log("to=<y@refused.example>", timeout=30)
        lines = "\n".join(log_lines(send, r"to=<"))
        # MX routing, with the dead preferred MX skipped for the next one.
        self.assertRegex(lines, r"to=<u@multi.example>, relay=mx[123].hosts.example\[127.0.0.3\]:%d, "
                         r"delay=\d+, tls=[^,]*, dsn=2.0.0, status=sent \(250" % self.port)
        self.assertRegex(lines, r"to=<u@dead.example>, relay=mx1.hosts.example\[127.0.0.3\]:%d.*"
                         r"status=sent" % self.port)
        self.assertIn("connect to dead.hosts.example[127.0.0.9]:%d" % self.port, send.read_log())
        self.assertRegex(lines, r"to=<u@aonly.example>, relay=aonly.example\[127.0.0.3\].*status=sent")
        self.assertRegex(lines, r"to=<x@nullmx.example>, relay=none.*dsn=5.1.10, status=bounced "
                         r"\(Domain nullmx.example does not accept mail")
        self.assertRegex(lines, r"to=<x@nx.example>, relay=none.*status=bounced \(Host or domain "
                         r"name not found")
        self.assertRegex(lines, r"to=<y@refused.example>, relay=none.*dsn=4.4.3, status=deferred")
        # The sender gets one failure notice naming both bounced recipients.
        wait_for(lambda: maildir_messages(vmail, "bounces@aonly.example"), timeout=30,
                 what="the bounce notice")
        notice = maildir_messages(vmail, "bounces@aonly.example")[0]
        self.assertIn(b"x@nullmx.example", notice)
        self.assertIn(b"5.1.10", notice)
        self.assertIn(b"x@nx.example", notice)
        # The SERVFAIL recipient stays queued, deferred.
        self.assertGreaterEqual(len(log_lines(send, r"to=<y@refused.example>.*deferred")), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
