"""smtpd_reject_unknown_sender_domain, smtpd_reject_unknown_recipient_domain
and smtpd_reject_unknown_helo_hostname (Postfix's
reject_unknown_sender_domain, reject_unknown_recipient_domain and
reject_unknown_helo_hostname, the HELO name refused with
unknown_hostname_reject_code 4.7.1), driven
with smtplib against a local unbound serving test zones: a domain with an
MX, with only an A or only an AAAA record is accepted; one that does not
exist or has none of them is refused with unknown_address_reject_code (450
4.1.8 for a sender, 4.1.2 for a recipient by default, 550 5.1.8 when set
so); a null MX (RFC 7505) with 550 5.7.27 (sender) or 556 5.1.10
(recipient); DNS trouble with 450 whatever the code; the null sender,
trusted clients (for the sender), our own domains (for the recipient) and
the parameters left off are never checked."""

import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Unbound, have  # noqa: E402
from postern_test import Instance, free_port  # noqa: E402

SOA = "@ IN SOA ns.example. admin.example. 1 3600 600 86400 60\n@ IN NS ns.example.\n"
ZONES = {
    "mx.example": SOA + "@ IN MX 10 mail.mx.example.\nmail IN A 192.0.2.25\n",
    "aonly.example": SOA + "@ IN A 192.0.2.26\n",
    "v6only.example": SOA + "@ IN AAAA 2001:db8::26\n",
    "nullmx.example": SOA + "@ IN MX 0 .\n",
    "nodata.example": SOA + '@ IN TXT "no mail here"\n',
}
SERVICES = {
    "check": "-o smtpd_reject_unknown_sender_domain=yes",
    "check550": "-o smtpd_reject_unknown_sender_domain=yes -o unknown_address_reject_code=550",
    "trusted": "-o smtpd_reject_unknown_sender_domain=yes -o mynetworks=127.0.0.0/8",
    "off": "",
    "recipient": "-o smtpd_reject_unknown_recipient_domain=yes -o mynetworks=127.0.0.0/8",
    "helo": "-o smtpd_reject_unknown_helo_hostname=yes",
    "helo550": "-o smtpd_reject_unknown_helo_hostname=yes -o unknown_hostname_reject_code=550",
    "helotrusted": "-o smtpd_reject_unknown_helo_hostname=yes -o mynetworks=127.0.0.0/8",
}


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class AddressDomainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound(ZONES, refused=["broken.example"])
        cls.ports = {name: free_port() for name in SERVICES}
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
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

    def rcpt(self, service, sender, rcpt="x@relay.test"):
        with smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail(sender)[0], 250)
            code, text = c.rcpt(rcpt)
            if code == 250:
                self.assertEqual(c.rcpt("y@relay.test")[0], 250)  # the verdict is kept
            return code, text.decode()

    def test_domains_that_take_mail(self):
        for sender in ("a@mx.example", "a@MX.example", "a@aonly.example", "a@v6only.example", ""):
            self.assertEqual(self.rcpt("check", sender)[0], 250, sender)

    def test_unknown_domains(self):
        for sender in ("a@nope.mx.example", "a@nodata.example"):
            self.assertEqual(self.rcpt("check", sender), (
                450, "4.1.8 <%s>: Sender address rejected: Domain not found" % sender))
            self.assertEqual(self.rcpt("check550", sender), (
                550, "5.1.8 <%s>: Sender address rejected: Domain not found" % sender))
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.1.8 "
                           "<a@nope.mx.example>: Sender address rejected: Domain not found; "
                           "from=<a@nope.mx.example> to=<x@relay.test> proto=ESMTP "
                           "helo=<client.outside.test>")

    def test_null_mx(self):
        self.assertEqual(self.rcpt("check", "a@nullmx.example"), (
            550, "5.7.27 <a@nullmx.example>: Sender address rejected: Domain nullmx.example "
                 "does not accept mail (nullMX)"))

    def test_dns_trouble_defers(self):
        for service in ("check", "check550"):
            self.assertEqual(self.rcpt(service, "a@broken.example"), (
                450, "4.1.8 <a@broken.example>: Sender address rejected: Domain not found"))
        self.inst.wait_log("sender domain broken.example: MX lookup failed")

    def test_not_checked(self):
        self.assertEqual(self.rcpt("trusted", "a@nope.mx.example")[0], 250)
        self.assertEqual(self.rcpt("off", "a@nope.mx.example")[0], 250)
        # The recipient's own checks come first.
        code, text = self.rcpt("check", "a@nope.mx.example", rcpt="x@elsewhere.test")
        self.assertEqual((code, text), (554, "5.7.1 <x@elsewhere.test>: Relay access denied"))

    def recipient(self, rcpt):
        """The reply to RCPT on the recipient-checking service (a trusted client)."""
        with smtplib.SMTP("127.0.0.1", self.ports["recipient"], timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("a@anywhere.test")[0], 250)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def test_recipient_domains(self):
        for rcpt in ("b@mx.example", "b@aonly.example", "b@v6only.example"):
            self.assertEqual(self.recipient(rcpt)[0], 250, rcpt)
        for rcpt in ("b@nope.mx.example", "b@nodata.example"):
            self.assertEqual(self.recipient(rcpt), (
                450, "4.1.2 <%s>: Recipient address rejected: Domain not found" % rcpt))
        self.assertEqual(self.recipient("b@nullmx.example"), (
            556, "5.1.10 <b@nullmx.example>: Recipient address rejected: Domain "
                 "nullmx.example does not accept mail (nullMX)"))
        self.assertEqual(self.recipient("b@broken.example"), (
            450, "4.1.2 <b@broken.example>: Recipient address rejected: Domain not found"))
        self.inst.wait_log("recipient domain broken.example: MX lookup failed")
        # Our own domain is not in this DNS, and is never looked up.
        self.assertEqual(self.recipient("root@mx.example.test")[0], 250)
        # Left off, an unknown recipient domain goes on (relayed for a trusted client).
        with smtplib.SMTP("127.0.0.1", self.ports["trusted"], timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("a@mx.example")[0], 250)
            self.assertEqual(c.rcpt("b@nope.mx.example")[0], 250)

    def helo(self, service, name):
        """The reply to RCPT after HELO name."""
        with smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30) as c:
            c.ehlo(name)
            self.assertEqual(c.mail("a@mx.example")[0], 250)
            code, text = c.rcpt("x@relay.test")
            return code, text.decode()

    def test_helo_names(self):
        for name in ("mx.example", "aonly.example", "v6only.example", "nullmx.example",
                     "[127.0.0.1]"):
            self.assertEqual(self.helo("helo", name)[0], 250, name)
        self.assertEqual(self.helo("helo", "nope.mx.example"), (
            450, "4.7.1 <nope.mx.example>: Helo command rejected: Host not found"))
        self.assertEqual(self.helo("helo550", "nodata.example"), (
            550, "5.7.1 <nodata.example>: Helo command rejected: Host not found"))
        self.assertEqual(self.helo("helo550", "broken.example"), (
            450, "4.7.1 <broken.example>: Helo command rejected: Host not found"))
        self.assertEqual(self.helo("helotrusted", "nope.mx.example")[0], 250)
        self.assertEqual(self.helo("off", "nope.mx.example")[0], 250)


if __name__ == "__main__":
    unittest.main()
