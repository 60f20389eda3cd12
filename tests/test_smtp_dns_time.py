"""How long the smtp client's DNS work for one destination may take, against
a local unbound that never answers for a black-holed zone: a domain whose
50 MX hosts but one are black-holed is delivered to, or deferred (4.4.3,
"DNS lookups for the MX hosts of DOMAIN took too long"), within twice
dns_query_timeout and not after one time-out per MX host; only as many MX
hosts are looked up as smtp_mx_address_limit allows; and under DANE,
servers whose TLSA records go unanswered share one time budget."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, Unbound, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

DNS_TIMEOUT = 2  # dns_query_timeout, seconds
BLACK_HOLED = 50

SOA = """$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
"""

ZONE = "$ORIGIN example.\n" + SOA + "ns IN A 127.0.0.1\nmx.hosts IN A 127.0.0.3\n" + \
    "goodfirst IN MX 10 mx.hosts.example.\n" + \
    "".join("goodfirst IN MX 20 h%d.void.example.\n" % i for i in range(BLACK_HOLED)) + \
    "".join("goodlast IN MX 10 h%d.void.example.\n" % i for i in range(BLACK_HOLED)) + \
    "goodlast IN MX 20 mx.hosts.example.\n"

# Ten MX hosts whose addresses are validated and whose TLSA records are
# black-holed (the test's dropped zones name each _port._tcp.mxN).
DANE_HOSTS = 10
DANE_ZONE = "$ORIGIN dane.example.\n" + SOA + "ns IN A 127.0.0.1\n" + \
    "".join("slow IN MX 10 mx%d.dane.example.\nmx%d IN A 127.0.0.3\n" % (i, i)
            for i in range(DANE_HOSTS))


def log_lines(inst, pattern):
    return [l for l in inst.read_log().splitlines() if re.search(pattern, l)]


@unittest.skipUnless(have("unbound") and have("ldns-signzone"), "unbound or ldnsutils missing")
class SmtpDnsTimeTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3")
        self.dns = Unbound({"example": ZONE, "dane.example": DANE_ZONE},
                           signed=["dane.example"],
                           dropped=["void.example"] + [
                               "_%d._tcp.mx%d.dane.example" % (self.port, i)
                               for i in range(DANE_HOSTS)],
                           log_queries=True)
        self.addCleanup(self.dns.stop)
        self.recv, self.vmail = make_receiver(
            self, "127.0.0.3", self.port, ["goodfirst.example", "goodlast.example"],
            ["u@goodfirst.example", "u@goodlast.example"])

    def sender(self, **extra):
        params = {"dns_query_timeout": "%ds" % DNS_TIMEOUT}
        params.update(extra)
        inst = Instance(params=sender_params(self.dns, self.port, **params),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst

    def black_holed_asked(self):
        return sum(self.dns.queried("h%d.void.example." % i) for i in range(BLACK_HOLED))

    def outcome(self, send, rcpt, limit):
        """Submit to rcpt, wait for qmgr's line about it; returns (line,
        seconds it took), failing if that is more than limit."""
        start = time.monotonic()
        submit(send, "s@out.sender.test", [rcpt], b"Subject: dns time\n\nx\n")
        # Well past the limit, so a slow result fails on the time, not here.
        send.wait_log("to=<%s>" % rcpt, timeout=limit + 60)
        took = time.monotonic() - start
        line = log_lines(send, "to=<%s>" % re.escape(rcpt))[0]
        self.assertLess(took, limit, line)
        return line, took

    def test_good_best_mx_among_black_holed_ones(self):
        send = self.sender()
        # One round of address look-ups: the good host's answer comes at
        # once, the four black-holed hosts asked with it time out once.
        line, took = self.outcome(send, "u@goodfirst.example", 2 * DNS_TIMEOUT + 4)
        self.assertRegex(line, r"relay=mx.hosts.example\[127.0.0.3\]:\d+, .*status=sent")
        wait_for(lambda: maildir_messages(self.vmail, "u@goodfirst.example"), timeout=30,
                 what="delivery to u@goodfirst.example")
        # smtp_mx_address_limit (5) places: the good host and four others.
        self.assertEqual(self.black_holed_asked(), 4)

    def test_black_holed_best_mx_hosts_defer_in_bounded_time(self):
        send = self.sender()
        line, took = self.outcome(send, "u@goodlast.example", 2 * DNS_TIMEOUT + 4)
        self.assertRegex(line, r"relay=none, .*dsn=4.4.3, status=deferred \(DNS lookups for "
                         r"the MX hosts of goodlast.example took too long \(no answer for 5 "
                         r"of 5 hosts asked\)\)")
        self.assertGreaterEqual(took, DNS_TIMEOUT)
        self.assertEqual(self.black_holed_asked(), 5)
        self.assertFalse(self.dns.queried("mx.hosts.example."))
        # With a limit that would take in the good host, rounds of address
        # look-ups go on only while twice dns_query_timeout lasts.
        send2 = self.sender(smtp_mx_address_limit=str(BLACK_HOLED + 1))
        line, took = self.outcome(send2, "u@goodlast.example", 2 * DNS_TIMEOUT + 4)
        self.assertRegex(line, r"dsn=4.4.3, status=deferred \(DNS lookups for the MX hosts of "
                         r"goodlast.example took too long \(no answer for \d+ of \d+ hosts "
                         r"asked; \d+ not asked in time\)\)")

    def test_black_holed_tlsa_records_share_one_budget(self):
        send = self.sender(smtp_tls_security_level="dane",
                           smtp_mx_address_limit=str(DANE_HOSTS))
        # One time-out per server would be DANE_HOSTS * DNS_TIMEOUT (20s):
        # TLSA look-ups of one delivery get twice dns_query_timeout.
        line, took = self.outcome(send, "u@slow.dane.example", 2 * DNS_TIMEOUT + 4)
        self.assertRegex(line, r"relay=mx\d.dane.example\[127.0.0.3\]:\d+, .*dsn=4.7.5, "
                         r"status=deferred \(TLSA lookup of _\d+._tcp.mx\d.dane.example: no "
                         r"time left for TLSA lookups in this delivery\)")
        timed_out = log_lines(send, r"postern/smtp\[.*TLSA lookup of .* timed out")
        no_time = log_lines(send, r"postern/smtp\[.*no time left for TLSA lookups")
        self.assertLessEqual(len(timed_out), 2)
        self.assertEqual(len(timed_out) + len(no_time), DANE_HOSTS)


if __name__ == "__main__":
    unittest.main()
