"""One smtp process goes on resolving after look-ups that went unanswered:
libunbound keeps resending queries the client has given up on, and they
raised the forwarder's retransmit time until it counted as down and held
libunbound's few outgoing ports, so mail to a good domain right after mail
to a domain with black-holed MX hosts was delayed or deferred (SERVFAIL)
until the process was recycled. Against a local unbound that never answers
for a black-holed zone, a good domain is delivered to at once after rounds
of black-holed look-ups in the same smtp process."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (Unbound, free_port_on, have, maildir_messages,  # noqa: E402
                        make_receiver, sender_params, submit)

DNS_TIMEOUT = 2  # dns_query_timeout, seconds
BLACK_HOLED = 49
GOOD_DOMAINS = 4

ZONE = "$ORIGIN example.\n" + """$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
mx.hosts IN A 127.0.0.3
""" + "".join("bad%d IN MX 10 h%d-%d.void.example.\n" % (r, r, i)
              for r in range(3) for i in range(BLACK_HOLED)) + \
    "".join("good%d IN MX 10 mx%d.hosts.example.\nmx%d.hosts IN A 127.0.0.3\n" % (i, i, i)
            for i in range(GOOD_DOMAINS))


@unittest.skipUnless(have("unbound"), "unbound missing")
class SmtpDnsRecoverTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        self.dns = Unbound({"example": ZONE}, dropped=["void.example"], log_queries=True)
        self.addCleanup(self.dns.stop)
        goods = ["good%d.example" % i for i in range(GOOD_DOMAINS)]
        self.recv, self.vmail = make_receiver(self, "127.0.0.3", self.port, goods,
                                              ["u@" + d for d in goods])
        # One smtp process for every delivery (not recycled while idle),
        # with room for every MX host; deferred mail is not retried during
        # the test.
        params = sender_params(self.dns, self.port, dns_query_timeout="%ds" % DNS_TIMEOUT,
                               smtp_mx_address_limit=str(BLACK_HOLED + 1), max_idle="1h",
                               minimal_backoff_time="1h", maximal_backoff_time="1h")
        self.send = Instance(params=params, services=[
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "smtp unix - n n - 1 smtp",
            "pickup unix n - n 60 1 pickup",
        ])
        self.addCleanup(self.send.cleanup)
        self.send.start()

    def deliver(self, rcpt, limit):
        """Submit to rcpt and wait for qmgr's line about it; returns (line,
        seconds it took), failing if that is more than limit."""
        start = time.monotonic()
        submit(self.send, "s@out.sender.test", [rcpt], b"Subject: dns recover\n\nx\n")
        self.send.wait_log("to=<%s>" % rcpt, timeout=limit + 60)
        took = time.monotonic() - start
        lines = [l for l in self.send.read_log().splitlines()
                 if "to=<%s>" % rcpt in l]
        self.assertLess(took, limit, lines[0])
        return lines[0], took

    def test_good_domains_after_black_holed_ones(self):
        for r in range(3):
            line, _ = self.deliver("u@bad%d.example" % r, 2 * DNS_TIMEOUT + 4)
            self.assertRegex(line, r"dsn=4.4.3, status=deferred \(DNS lookups for the MX "
                             r"hosts of bad%d.example took too long" % r)
            # The good domain right after: its look-ups are answered at
            # once, not queued behind or failed for the abandoned ones.
            good = "u@good%d.example" % r
            line, took = self.deliver(good, DNS_TIMEOUT)
            self.assertRegex(line, r"relay=mx%d.hosts.example\[127.0.0.3\]:\d+, .*status=sent"
                             % r)
        # After a pause in which libunbound would have gone on resending the
        # abandoned queries and marked the forwarder down.
        time.sleep(20)
        good = "u@good%d.example" % (GOOD_DOMAINS - 1)
        line, took = self.deliver(good, DNS_TIMEOUT)
        self.assertRegex(line, r"status=sent")
        for r in range(GOOD_DOMAINS):
            rcpt = "u@good%d.example" % r
            wait_for(lambda: maildir_messages(self.vmail, rcpt), timeout=30,
                     what="delivery to %s" % rcpt)


if __name__ == "__main__":
    unittest.main()
