"""smtpd's domain blocklists (smtpd_rhsbl_client_sites,
smtpd_rhsbl_reverse_client_sites, smtpd_rhsbl_helo_sites,
smtpd_rhsbl_sender_sites, smtpd_rhsbl_recipient_sites: Postfix's
reject_rhsbl_*), driven with smtplib from several loopback addresses
against a local unbound that serves a test domain blocklist and the
loopback reverse zone: a listed sender domain, HELO name, verified client
name, unverified PTR name and recipient domain are refused at RCPT with
Postfix's reply and the site's TXT text; a listed recipient does not stop
another one; verdicts are kept for the session or the transaction as
they should be; a filter that the answer misses lets the mail through; a
site that fails (SERVFAIL) or never answers is only logged; trusted
clients, an access table's OK, the null sender, address literals and
names without a dot are never looked up; bad entries are named by
mailctl check; an rbl_reply_maps template names the list, the sender and
each recipient."""

import os
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Unbound, have  # noqa: E402
from postern_test import Instance, free_port  # noqa: E402

SOA = "@ IN SOA ns.example. admin.example. 1 3600 600 86400 60\n@ IN NS ns.example.\n"
SENDER_TXT = "Sender domain listed, see http://dbl.example/listed.test"
ZONES = {
    # The domain blocklist: names listed under it, not reversed.
    "dbl.example": SOA + "\n".join([
        "listed.test IN A 127.0.1.2",
        'listed.test IN TXT "%s"' % SENDER_TXT,
        "bad-helo.test IN A 127.0.1.2",
        'bad-helo.test IN TXT "HELO name listed"',
        "host.badclient.example IN A 127.0.1.2",
        'host.badclient.example IN TXT "Client name listed"',
        "liar.badptr.example IN A 127.0.1.2",
        'liar.badptr.example IN TXT "PTR name listed"',
        "listed-rcpt.test IN A 127.0.1.2",
        'listed-rcpt.test IN TXT "Recipient domain listed"',
        # Answers 127.0.0.3, without a TXT record.
        "three.test IN A 127.0.0.3",
        # Outside 127.0.0.0/8: lists nothing without a filter that allows it.
        "odd.test IN A 10.0.0.2",
    ]) + "\n",
    "0.0.127.in-addr.arpa": SOA + "\n".join([
        "2 IN PTR host.badclient.example.",  # resolves back: the verified name
        "3 IN PTR liar.badptr.example.",     # resolves elsewhere: unverified
    ]) + "\n",
    "badclient.example": SOA + "host IN A 127.0.0.2\n",
    "badptr.example": SOA + "liar IN A 192.0.2.99\n",
}

# One smtpd service per configuration: name -> its -o overrides.
SERVICES = {
    "sender": "-o smtpd_rhsbl_sender_sites=dbl.example",
    "helo": "-o smtpd_rhsbl_helo_sites=dbl.example",
    "client": "-o smtpd_rhsbl_client_sites=dbl.example",
    "reverse": "-o smtpd_rhsbl_reverse_client_sites=dbl.example",
    "recipient": "-o smtpd_rhsbl_recipient_sites=dbl.example",
    "all": "-o smtpd_rhsbl_client_sites=dbl.example "
           "-o smtpd_rhsbl_reverse_client_sites=dbl.example "
           "-o smtpd_rhsbl_helo_sites=dbl.example -o smtpd_rhsbl_sender_sites=dbl.example "
           "-o smtpd_rhsbl_recipient_sites=dbl.example",
    "filter": "-o smtpd_rhsbl_sender_sites=dbl.example=127.0.0.2",
    "nofilter": "-o smtpd_rhsbl_sender_sites=dbl.example",
    "oddfilter": "-o smtpd_rhsbl_sender_sites=dbl..test,dbl.example=10.0.0.[1..3]",
    "broken": "-o smtpd_rhsbl_sender_sites=broken.example,dbl.example=127.0.1.2 "
              "-o smtpd_dnsbl_timeout=3s",
    "silent": "-o smtpd_rhsbl_helo_sites=silent.example -o smtpd_dnsbl_timeout=2s",
    "trusted": "-o smtpd_rhsbl_sender_sites=dbl.example "
               "-o smtpd_rhsbl_helo_sites=dbl.example -o mynetworks=127.0.0.0/8",
    "defer": "-o smtpd_rhsbl_sender_sites=dbl.example -o smtpd_dnsbl_reply_code=450",
    "template": "-o smtpd_rhsbl_sender_sites=dbl.example -o smtpd_rhsbl_helo_sites=dbl.example "
                "-o rbl_reply_maps=texthash:${config_directory}/rbl_reply",
}
RBL_REPLY = ("dbl.example 550 5.7.1 $rbl_class <$rbl_what> from $sender_name at $sender_domain "
             "to $recipient_name at $recipient_domain: listed by $rbl_domain"
             "${rbl_reason?: $rbl_reason}\n")


def refusal(what, name, site="dbl.example", reason=None, code="5.7.1"):
    text = "%s Service unavailable; %s [%s] blocked using %s" % (code, what, name, site)
    return text + ("; " + reason if reason else "")


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class RhsblTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound(ZONES, refused=["broken.example"], dropped=["silent.example"],
                          log_queries=True)
        cls.ports = {name: free_port() for name in list(SERVICES) + ["access"]}
        try:
            cls.inst = Instance(params={
                "mydestination": "mx.example.test",
                "relay_domains": "relay.test, listed-rcpt.test",
                "mynetworks": "192.0.2.0/24",  # loopback is not trusted
                "smtpd_peername_lookup": "yes",
                "smtpd_error_sleep_time": "0s",
                "dns_forwarders": cls.dns.forwarder(),
                "dns_hosts_file": "",
                "dns_query_timeout": "5s",
                "smtpd_dnsbl_timeout": "10s",
            }, services=["127.0.0.1:%d inet n - n - - smtpd %s" % (cls.ports[name], options)
                         for name, options in SERVICES.items()])
        except BaseException:
            cls.dns.stop()
            raise
        try:
            # An access table's OK for 127.0.0.9 skips the lists.
            cidr = os.path.join(cls.inst.etc, "client.cidr")
            with open(cidr, "w") as f:
                f.write("127.0.0.9 OK\n")
            with open(os.path.join(cls.inst.etc, "rbl_reply"), "w") as f:
                f.write(RBL_REPLY)
            cls.inst.services.append(
                "127.0.0.1:%d inet n - n - - smtpd -o smtpd_rhsbl_sender_sites=dbl.example "
                "-o smtpd_client_access_maps=cidr:%s" % (cls.ports["access"], cidr))
            cls.inst.write_config()
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.dns.stop()

    def connect(self, service, source="127.0.0.1", helo="client.outside.test"):
        c = smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30,
                         source_address=(source, 0))
        self.addCleanup(c.close)
        c.ehlo(helo)
        return c

    def rcpt(self, service, sender="someone@outside.test", rcpt="a@relay.test",
             source="127.0.0.1", helo="client.outside.test"):
        """(code, text) of RCPT TO in a fresh session."""
        c = self.connect(service, source, helo)
        code, text = c.mail(sender)
        self.assertEqual(code, 250, text)
        code, text = c.rcpt(rcpt)
        c.quit()
        return code, text.decode()

    def test_listed_sender_domain_refused_with_txt_and_logged(self):
        listed = refusal("Sender address", "spam@listed.test", reason=SENDER_TXT)
        c = self.connect("sender")
        self.assertEqual(c.mail("spam@listed.test")[0], 250)
        code, text = c.rcpt("a@relay.test")
        self.assertEqual((code, text.decode()), (554, listed))
        # The verdict stands for the transaction; the next one has its own.
        code, text = c.rcpt("b@relay.test")
        self.assertEqual((code, text.decode()), (554, listed))
        self.assertEqual(c.rset()[0], 250)
        self.assertEqual(c.mail("someone@clean.test")[0], 250)
        code, text = c.rcpt("c@relay.test")
        self.assertEqual((code, text.decode()), (250, "2.1.5 Ok"))
        c.quit()
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 " + listed +
                           "; from=<spam@listed.test> to=<a@relay.test> proto=ESMTP "
                           "helo=<client.outside.test>")
        self.assertTrue(self.dns.queried("listed.test.dbl.example."))
        self.assertTrue(self.dns.queried("clean.test.dbl.example."))

    def test_listed_helo_refused(self):
        listed = refusal("Helo command", "Bad-Helo.test", reason="HELO name listed")
        c = self.connect("helo", helo="Bad-Helo.test")
        self.assertEqual(c.mail("someone@outside.test")[0], 250)
        code, text = c.rcpt("a@relay.test")
        self.assertEqual((code, text.decode()), (554, listed))
        # Kept for the session's next transaction...
        self.assertEqual(c.rset()[0], 250)
        self.assertEqual(c.mail("other@outside.test")[0], 250)
        code, text = c.rcpt("b@relay.test")
        self.assertEqual((code, text.decode()), (554, listed))
        # ... until another HELO name is given.
        self.assertEqual(c.ehlo("good-helo.test")[0], 250)
        self.assertEqual(c.mail("other@outside.test")[0], 250)
        code, text = c.rcpt("c@relay.test")
        self.assertEqual((code, text.decode()), (250, "2.1.5 Ok"))
        c.quit()
        self.assertTrue(self.dns.queried("good-helo.test.dbl.example."))

    def test_helo_not_looked_up_without_dot_or_as_literal(self):
        self.assertEqual(self.rcpt("helo", helo="localhost")[0], 250)
        self.assertEqual(self.rcpt("helo", helo="[127.0.0.1]")[0], 250)
        self.assertEqual(self.rcpt("helo", helo="127.0.0.1")[0], 250)
        self.rcpt("helo", helo="marker-helo.test")
        time.sleep(0.5)
        log = self.dns.log()
        self.assertTrue(self.dns.queried("marker-helo.test.dbl.example."), log)
        self.assertNotIn("localhost.dbl.example", log)
        self.assertNotIn("127.0.0.1.dbl.example", log)

    def test_listed_client_name_refused(self):
        self.assertEqual(self.rcpt("client", source="127.0.0.2"), (
            554, refusal("Client host", "host.badclient.example", reason="Client name listed")))
        self.inst.wait_log("NOQUEUE: reject: RCPT from host.badclient.example[127.0.0.2]: 554 ")
        # Its unverified name is the same, but that list is not set here.
        self.assertEqual(self.rcpt("reverse", source="127.0.0.2")[0], 554)
        # A client without a verified name is not looked up ("unknown").
        self.assertEqual(self.rcpt("client", source="127.0.0.3")[0], 250)
        self.assertEqual(self.rcpt("client", source="127.0.0.1")[0], 250)
        self.assertFalse(self.dns.queried("unknown.dbl.example."))

    def test_listed_reverse_client_name_refused(self):
        self.assertEqual(self.rcpt("reverse", source="127.0.0.3"), (
            554, refusal("Unverified Client host", "liar.badptr.example",
                         reason="PTR name listed")))
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.3]: 554 5.7.1 "
                           "Service unavailable; Unverified Client host [liar.badptr.example]")
        # No PTR name: nothing to look up.
        self.assertEqual(self.rcpt("reverse", source="127.0.0.4")[0], 250)

    def test_listed_recipient_domain_refused_another_accepted(self):
        c = self.connect("recipient")
        self.assertEqual(c.mail("someone@outside.test")[0], 250)
        code, text = c.rcpt("victim@listed-rcpt.test")
        self.assertEqual((code, text.decode()), (554, refusal(
            "Recipient address", "victim@listed-rcpt.test", reason="Recipient domain listed")))
        code, text = c.rcpt("a@relay.test")
        self.assertEqual((code, text.decode()), (250, "2.1.5 Ok"))
        code, text = c.data(b"Subject: rhsbl\r\n\r\nbody\r\n")
        self.assertEqual(code, 250, text)
        c.quit()
        self.inst.wait_log("to=<victim@listed-rcpt.test> proto=ESMTP")

    def test_lists_in_order_and_verdicts_kept(self):
        # The client's name decides before the HELO name and the sender.
        self.assertEqual(
            self.rcpt("all", sender="spam@listed.test", source="127.0.0.2",
                      helo="bad-helo.test"),
            (554, refusal("Client host", "host.badclient.example", reason="Client name listed")))
        self.assertEqual(
            self.rcpt("all", sender="spam@listed.test", helo="bad-helo.test"),
            (554, refusal("Helo command", "bad-helo.test", reason="HELO name listed")))
        # The sender's verdict goes with its transaction; the recipient's
        # with its recipient.
        c = self.connect("all")
        self.assertEqual(c.mail("spam@listed.test")[0], 250)
        self.assertEqual(c.rcpt("a@relay.test")[0], 554)
        self.assertEqual(c.rset()[0], 250)
        self.assertEqual(c.mail("someone@outside.test")[0], 250)
        self.assertEqual(c.rcpt("x@listed-rcpt.test")[0], 554)
        self.assertEqual(c.rcpt("a@relay.test")[0], 250)
        c.quit()

    def test_filter_missed_accepts(self):
        # three.test answers 127.0.0.3: no filter lists it, =127.0.0.2 does not.
        self.assertEqual(self.rcpt("filter", sender="a@three.test"), (250, "2.1.5 Ok"))
        self.assertTrue(self.dns.queried("three.test.dbl.example."))
        self.assertEqual(self.rcpt("nofilter", sender="a@three.test"),
                         (554, refusal("Sender address", "a@three.test")))
        # An answer outside 127.0.0.0/8 lists only through a filter that
        # allows it; the bad entry is left out with a warning.
        self.assertEqual(self.rcpt("nofilter", sender="a@odd.test")[0], 250)
        self.assertEqual(self.rcpt("oddfilter", sender="a@odd.test"),
                         (554, refusal("Sender address", "a@odd.test")))
        self.inst.wait_log('smtpd_rhsbl_sender_sites: ignoring "dbl..test": empty label in '
                           "the domain")

    def test_broken_site_logged_and_accepted(self):
        started = time.monotonic()
        self.assertEqual(self.rcpt("broken", sender="a@three.test"), (250, "2.1.5 Ok"))
        self.assertLess(time.monotonic() - started, 10)
        self.inst.wait_log("unknown[127.0.0.1]: DNS blocklist broken.example not checked: "
                           "lookup of three.test.broken.example failed")
        # A later site in the list still decides.
        self.assertEqual(self.rcpt("broken", sender="spam@listed.test")[0], 554)

    def test_silent_site_times_out_and_accepts(self):
        started = time.monotonic()
        self.assertEqual(self.rcpt("silent", helo="quiet.test"), (250, "2.1.5 Ok"))
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 8)
        self.inst.wait_log("unknown[127.0.0.1]: DNS blocklist silent.example not checked: "
                           "lookup of quiet.test.silent.example failed: DNS query for "
                           "quiet.test.silent.example timed out")

    def test_trusted_access_ok_and_null_sender_not_looked_up(self):
        self.assertEqual(self.rcpt("trusted", sender="a@trusted-sender.test",
                                   helo="trusted-helo.test"), (250, "2.1.5 Ok"))
        self.assertEqual(self.rcpt("trusted", sender="spam@listed.test",
                                   helo="bad-helo.test"), (250, "2.1.5 Ok"))
        self.assertEqual(self.rcpt("access", sender="a@access-ok.test",
                                   source="127.0.0.9"), (250, "2.1.5 Ok"))
        self.assertEqual(self.rcpt("access", sender="spam@listed.test", source="127.0.0.9"),
                         (250, "2.1.5 Ok"))
        # Without the OK the same service looks the sender up.
        self.assertEqual(self.rcpt("access", sender="spam@listed.test")[0], 554)
        self.assertEqual(self.rcpt("sender", sender=""), (250, "2.1.5 Ok"))
        self.assertEqual(self.rcpt("sender", sender="a@[127.0.0.1]"), (250, "2.1.5 Ok"))
        self.rcpt("sender", sender="a@marker-sender.test")
        wait = time.monotonic() + 10
        while not self.dns.queried("marker-sender.test.dbl.example.") and time.monotonic() < wait:
            time.sleep(0.1)
        log = self.dns.log()
        self.assertTrue(self.dns.queried("marker-sender.test.dbl.example."), log)
        for name in ("trusted-sender.test", "trusted-helo.test", "access-ok.test"):
            self.assertNotIn(name, log)
        self.assertNotIn("127.0.0.1].dbl.example", log)

    def test_reply_code_450_defers(self):
        self.assertEqual(self.rcpt("defer", sender="spam@listed.test"), (450, refusal(
            "Sender address", "spam@listed.test", reason=SENDER_TXT, code="4.7.1")))

    def test_reply_template_names_sender_and_each_recipient(self):
        c = self.connect("template")
        self.assertEqual(c.mail("spam@listed.test")[0], 250)
        for rcpt in ("a@relay.test", "b@relay.test"):
            code, text = c.rcpt(rcpt)
            self.assertEqual((code, text.decode()), (
                550, "5.7.1 Sender address <spam@listed.test> from spam at listed.test to %s "
                     "at relay.test: listed by dbl.example: %s" % (rcpt[0], SENDER_TXT)))
        c.quit()
        self.assertEqual(self.rcpt("template", sender="", helo="bad-helo.test"), (
            550, "5.7.1 Helo command <bad-helo.test> from <> at  to a at relay.test: listed "
                 "by dbl.example: HELO name listed"))


class RhsblCheckTest(unittest.TestCase):
    def test_mailctl_check_names_bad_entries(self):
        inst = Instance(params={
            "smtpd_rhsbl_sender_sites": "dbl.example=127.0.1.[2..11], bad=127.0.0.[9..2]",
            "smtpd_rhsbl_helo_sites": "helo..example",
            "smtpd_rhsbl_client_sites": "dbl.example",
        }, services=["smtp inet n - n - - smtpd"])
        self.addCleanup(inst.cleanup)
        main = os.path.join(inst.etc, "main.conf")
        lines = open(main).read().splitlines()

        def line_of(name):
            return 1 + next(i for i, l in enumerate(lines) if l.startswith(name + " "))

        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('%s:%d: error: smtpd_rhsbl_sender_sites: "bad=127.0.0.[9..2]": filter '
                      "range ends before it starts" % (main, line_of("smtpd_rhsbl_sender_sites")),
                      result.stdout)
        self.assertIn('%s:%d: error: smtpd_rhsbl_helo_sites: "helo..example": empty label in '
                      "the domain" % (main, line_of("smtpd_rhsbl_helo_sites")), result.stdout)
        self.assertNotIn('"dbl.example', result.stdout)
        self.assertNotIn("smtpd_rhsbl_client_sites", result.stdout)


if __name__ == "__main__":
    unittest.main()
