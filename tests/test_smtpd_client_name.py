"""The client's name from the DNS (smtpd_peername_lookup) and
smtpd_reject_unknown_client_hostname / smtpd_reject_unknown_reverse_client_hostname
(Postfix's reject_unknown_client_hostname and
reject_unknown_reverse_client_hostname), driven with smtplib from several
loopback addresses against a local unbound serving their reverse zone: a
PTR name that resolves back is the client's name in the log; an address
without a PTR record, or whose PTR names do not resolve back, is "unknown"
and refused at RCPT with unknown_client_reject_code 4.7.25 (450 by
default, 550 when set so) where asked; DNS trouble answers 450 whatever the
code; trusted clients and services without the checks are not refused."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Unbound, have  # noqa: E402
from postern_test import Instance, free_port  # noqa: E402

SOA = "@ IN SOA ns.example. admin.example. 1 3600 600 86400 60\n@ IN NS ns.example.\n"
ZONES = {
    "0.0.127.in-addr.arpa": SOA + "\n".join([
        "2 IN PTR good.client.example.",      # resolves back
        "3 IN PTR liar.client.example.",      # resolves elsewhere
        # 4: no PTR record
        "5 IN PTR host.broken.example.",      # its A lookup fails
        # 6: the PTR lookup fails (refused below)
        "7 IN PTR liar.client.example.",      # the second name resolves back
        "7 IN PTR seven.client.example.",
    ]) + "\n",
    "client.example": SOA + "\n".join([
        "good IN A 127.0.0.2",
        "liar IN A 192.0.2.99",
        "seven IN A 127.0.0.7",
    ]) + "\n",
}
SERVICES = {
    "client": "-o smtpd_reject_unknown_client_hostname=yes",
    "client550": "-o smtpd_reject_unknown_client_hostname=yes -o unknown_client_reject_code=550",
    "reverse": "-o smtpd_reject_unknown_reverse_client_hostname=yes",
    "reverse550": "-o smtpd_reject_unknown_reverse_client_hostname=yes "
                  "-o unknown_client_reject_code=550",
    "trusted": "-o smtpd_reject_unknown_client_hostname=yes -o mynetworks=127.0.0.0/8",
    "off": "",
}

REVERSE = "Client host rejected: cannot find your reverse hostname, [%s]"
FORWARD = "Client host rejected: cannot find your hostname, [%s]"


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class ClientNameTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound(ZONES, refused=["broken.example", "6.0.0.127.in-addr.arpa"])
        cls.ports = {name: free_port() for name in SERVICES}
        cls.inst = Instance(params={
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "yes",
            "smtpd_error_sleep_time": "0s",
            "dns_forwarders": cls.dns.forwarder(),
            "dns_hosts_file": "",
            "dns_query_timeout": "5s",
        }, services=["127.0.0.1:%d inet n - n - - smtpd %s" % (cls.ports[name], options)
                     for name, options in SERVICES.items()])
        try:
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            cls.dns.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.dns.stop()

    def rcpt(self, service, source):
        """The reply to RCPT from the loopback address source."""
        with smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30,
                          source_address=(source, 0)) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("a@sender.test")[0], 250)
            code, text = c.rcpt("x@relay.test")
            return code, text.decode()

    def test_verified_name(self):
        for service in ("client", "client550", "reverse"):
            self.assertEqual(self.rcpt(service, "127.0.0.2")[0], 250, service)
        self.inst.wait_log("connect from good.client.example[127.0.0.2]")
        # Of several PTR names, the one that resolves back.
        self.assertEqual(self.rcpt("client", "127.0.0.7")[0], 250)
        self.inst.wait_log("connect from seven.client.example[127.0.0.7]")

    def test_name_that_does_not_resolve_back(self):
        addr = "127.0.0.3"
        self.assertEqual(self.rcpt("client", addr), (450, "4.7.25 " + FORWARD % addr))
        self.assertEqual(self.rcpt("client550", addr), (550, "5.7.25 " + FORWARD % addr))
        # It has a reverse name, which is all the reverse check asks.
        self.assertEqual(self.rcpt("reverse550", addr)[0], 250)
        self.inst.wait_log("connect from unknown[127.0.0.3]")
        self.inst.wait_log("[127.0.0.3]: hostname liar.client.example does not resolve to this "
                           "address")

    def test_no_reverse_name(self):
        addr = "127.0.0.4"
        self.assertEqual(self.rcpt("client", addr), (450, "4.7.25 " + REVERSE % addr))
        self.assertEqual(self.rcpt("client550", addr), (550, "5.7.25 " + REVERSE % addr))
        self.assertEqual(self.rcpt("reverse", addr), (450, "4.7.25 " + REVERSE % addr))
        self.assertEqual(self.rcpt("reverse550", addr), (550, "5.7.25 " + REVERSE % addr))
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.4]: 550 5.7.25 " +
                           REVERSE % addr + "; from=<a@sender.test> to=<x@relay.test> "
                           "proto=ESMTP helo=<client.outside.test>")

    def test_dns_trouble_defers(self):
        # The PTR name's address lookup fails: never a permanent refusal.
        addr = "127.0.0.5"
        self.assertEqual(self.rcpt("client550", addr), (450, "4.7.25 " + FORWARD % addr))
        self.assertEqual(self.rcpt("reverse550", addr)[0], 250)
        self.inst.wait_log("[127.0.0.5]: hostname host.broken.example cannot be resolved now")
        # The PTR lookup itself fails.
        addr = "127.0.0.6"
        self.assertEqual(self.rcpt("client550", addr), (450, "4.7.25 " + REVERSE % addr))
        self.assertEqual(self.rcpt("reverse550", addr), (450, "4.7.25 " + REVERSE % addr))
        self.inst.wait_log("[127.0.0.6]: reverse lookup of 6.0.0.127.in-addr.arpa failed")

    def test_not_checked(self):
        for addr in ("127.0.0.3", "127.0.0.4", "127.0.0.6"):
            self.assertEqual(self.rcpt("trusted", addr)[0], 250, addr)
            self.assertEqual(self.rcpt("off", addr)[0], 250, addr)


if __name__ == "__main__":
    unittest.main()
