"""smtpd's DNS blocklists (smtpd_dnsbl_sites, smtpd_dnsbl_timeout,
smtpd_dnsbl_reply_code), driven with smtplib against a local unbound that
serves test blocklist zones: a listed client is refused at RCPT with the
site's TXT text and Postfix's reply and log line, a site that does not list
it or whose answer misses the filter lets the mail through, ranges and sets
in filters, trusted clients (mynetworks, AUTH) never looked up, a site
that fails (SERVFAIL), one that never answers and a missing resolver only
logged, the recipient's own checks first, a 4NN reply code, and bad
entries named by mailctl check and ignored by smtpd. The replies'
templates: an rbl_reply_maps entry per site (${name?text}, ${name:text},
a 4NN code, the recipient of each RCPT), default_rbl_reply set in
main.conf, bad templates logged and replaced by the default, and
smtpd_reject_footer after them."""

import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Unbound, have  # noqa: E402
from postern_test import Instance, free_port  # noqa: E402

SOA = "@ IN SOA ns.example. admin.example. 1 3600 600 86400 60\n@ IN NS ns.example.\n"
ZONES = {
    # Lists 127.0.0.1 with a reason.
    "bl.example": SOA + '1.0.0.127 IN A 127.0.0.2\n1.0.0.127 IN TXT "Listed for testing, see '
                     'http://bl.example/?127.0.0.1"\n',
    # Lists others, not 127.0.0.1 (NXDOMAIN for it).
    "clean.example": SOA + "2.0.0.127 IN A 127.0.0.2\n",
    # Answers 127.0.0.10 for 127.0.0.1, without a TXT record.
    "ten.example": SOA + "1.0.0.127 IN A 127.0.0.10\n",
    # Lists 127.0.0.1; only the trusted-client service names it.
    "trusted.example": SOA + "1.0.0.127 IN A 127.0.0.2\n",
}
PASSWORD = "dnsbl test password"
LISTED = ("5.7.1 Service unavailable; Client host [127.0.0.1] blocked using bl.example; "
          "Listed for testing, see http://bl.example/?127.0.0.1")

# One smtpd service per configuration: name -> its -o overrides.
SERVICES = {
    "listed": "-o smtpd_dnsbl_sites=bl.example",
    "auth": "-o smtpd_dnsbl_sites=bl.example -o smtpd_sasl_auth_enable=yes "
            "-o smtpd_tls_auth_only_exempt=127.0.0.0/8",
    "clean": "-o smtpd_dnsbl_sites=clean.example",
    "order": "-o smtpd_dnsbl_sites=bl..test,clean.example,ten.example=127.0.0.[2..9],bl.example",
    "mismatch": "-o smtpd_dnsbl_sites=ten.example=127.0.0.[2..9]",
    "range": "-o smtpd_dnsbl_sites=ten.example=127.0.0.[9..11]",
    "set": "-o smtpd_dnsbl_sites=ten.example=127.[0;1].0.[2;10;12]",
    "trusted": "-o smtpd_dnsbl_sites=trusted.example -o mynetworks=127.0.0.0/8",
    "broken": "-o smtpd_dnsbl_sites=broken.example -o smtpd_dnsbl_timeout=3s",
    "silent": "-o smtpd_dnsbl_sites=silent.example,clean.example -o smtpd_dnsbl_timeout=2s",
    "defer": "-o smtpd_dnsbl_sites=bl.example -o smtpd_dnsbl_reply_code=450",
    "noresolver": "-o smtpd_dnsbl_sites=bl.example -o dns_forwarders=not-an-address",
}


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class DnsblTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound(ZONES, refused=["broken.example"], dropped=["silent.example"],
                          log_queries=True)
        cls.ports = {name: free_port() for name in SERVICES}
        services = ["127.0.0.1:%d inet n - n - - smtpd %s" % (cls.ports[name], options)
                    for name, options in SERVICES.items()]
        services.append("auth unix y postern-auth n - - auth")
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
            "dns_forwarders": cls.dns.forwarder(),
            "dns_hosts_file": "",
            "smtpd_dnsbl_timeout": "10s",
        }, services=services)
        try:
            cls.inst.mailctl("user", "add", "alice@example.test", input=PASSWORD + "\n",
                             check=True)
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.dns.stop()

    def connect(self, service):
        c = smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30)
        self.addCleanup(c.close)
        c.ehlo("client.outside.test")
        return c

    def rcpt(self, service, rcpt="a@relay.test", sender="someone@outside.test"):
        """(code, text) of RCPT TO in a fresh session."""
        c = self.connect(service)
        code, text = c.mail(sender)
        self.assertEqual(code, 250, text)
        code, text = c.rcpt(rcpt)
        c.quit()
        return code, text.decode()

    def queue_files(self):
        found = []
        for sub in ("incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(os.path.join(self.inst.spool, sub)):
                found += files
        return found

    def test_listed_client_refused_with_txt_and_logged(self):
        queued_before = self.queue_files()
        c = self.connect("listed")
        self.assertEqual(c.mail("someone@outside.test")[0], 250)
        code, text = c.rcpt("listed-a@relay.test")
        self.assertEqual((code, text.decode()), (554, LISTED))
        # The verdict stands for the session: the next recipient and the
        # next transaction are refused the same way.
        code, text = c.rcpt("listed-b@relay.test")
        self.assertEqual((code, text.decode()), (554, LISTED))
        self.assertEqual(c.rset()[0], 250)
        self.assertEqual(c.mail("other@outside.test")[0], 250)
        code, text = c.rcpt("listed-c@relay.test")
        self.assertEqual((code, text.decode()), (554, LISTED))
        code, text = c.docmd("DATA")
        self.assertEqual((code, text.decode()), (554, "5.5.1 Error: no valid recipients"))
        c.quit()
        self.inst.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 " + LISTED +
            "; from=<someone@outside.test> to=<listed-a@relay.test> proto=ESMTP "
            "helo=<client.outside.test>")
        self.inst.wait_log("from=<other@outside.test> to=<listed-c@relay.test> proto=ESMTP")
        # One reject line per refusal.
        log = self.inst.read_log()
        for rcpt in ("listed-a", "listed-b", "listed-c"):
            self.assertEqual(len(re.findall(r"reject: RCPT .*to=<%s@relay\.test>" % rcpt, log)),
                             1, log)
        self.assertEqual(self.queue_files(), queued_before)
        self.assertTrue(self.dns.queried("1.0.0.127.bl.example."))

    def test_recipient_checks_come_first(self):
        # An unknown user and a relay attempt keep their own replies.
        code, text = self.rcpt("listed", rcpt="nobody-here@mx.example.test")
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith("5.1.1 "), text)
        code, text = self.rcpt("listed", rcpt="x@elsewhere.test")
        self.assertEqual((code, text), (554, "5.7.1 <x@elsewhere.test>: Relay access denied"))

    def test_site_not_listing_accepts(self):
        self.assertEqual(self.rcpt("clean"), (250, "2.1.5 Ok"))
        self.assertTrue(self.dns.queried("1.0.0.127.clean.example."))

    def test_first_listing_site_in_order_and_bad_entry_ignored(self):
        # bl..test is ignored (with a warning), clean.example does not list the
        # client and ten.example's answer misses the filter: bl.example decides.
        self.assertEqual(self.rcpt("order"), (554, LISTED))
        self.inst.wait_log('smtpd_dnsbl_sites: ignoring "bl..test": empty label in the domain')

    def test_filter_mismatch_accepts(self):
        self.assertEqual(self.rcpt("mismatch"), (250, "2.1.5 Ok"))
        self.assertTrue(self.dns.queried("1.0.0.127.ten.example."))

    def test_filter_range_and_set_refuse(self):
        # ten.example has no TXT record: the reply ends with the site.
        refusal = (554, "5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                        "ten.example")
        self.assertEqual(self.rcpt("range"), refusal)
        self.assertEqual(self.rcpt("set"), refusal)

    def test_mynetworks_client_not_looked_up(self):
        self.assertEqual(self.rcpt("trusted"), (250, "2.1.5 Ok"))
        self.assertEqual(self.rcpt("trusted", rcpt="x@elsewhere.test"), (250, "2.1.5 Ok"))
        # Every other test's look-ups are logged by now (the listed test
        # proves they are); none was for this site.
        self.rcpt("clean")
        time.sleep(0.5)
        self.assertFalse(self.dns.queried("1.0.0.127.trusted.example."), self.dns.log())

    def test_authenticated_client_accepted(self):
        self.assertEqual(self.rcpt("auth"), (554, LISTED))
        c = self.connect("auth")
        self.assertTrue(c.has_extn("auth"))
        c.login("alice@example.test", PASSWORD)
        self.assertEqual(c.mail("alice@example.test")[0], 250)
        code, text = c.rcpt("a@relay.test")
        self.assertEqual((code, text.decode()), (250, "2.1.5 Ok"))
        code, text = c.data(b"Subject: from a listed address\r\n\r\nbody\r\n")
        self.assertEqual(code, 250, text)
        c.quit()

    def test_broken_site_logged_and_accepted(self):
        started = time.monotonic()
        self.assertEqual(self.rcpt("broken"), (250, "2.1.5 Ok"))
        self.assertLess(time.monotonic() - started, 10)
        self.inst.wait_log("unknown[127.0.0.1]: DNS blocklist broken.example not checked: "
                           "lookup of 1.0.0.127.broken.example failed")

    def test_silent_site_times_out_and_accepts(self):
        started = time.monotonic()
        self.assertEqual(self.rcpt("silent"), (250, "2.1.5 Ok"))
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 8)
        self.inst.wait_log("unknown[127.0.0.1]: DNS blocklist silent.example not checked: "
                           "lookup of 1.0.0.127.silent.example failed: DNS query for "
                           "1.0.0.127.silent.example timed out")
        self.assertTrue(self.dns.queried("1.0.0.127.silent.example."))

    def test_no_resolver_accepts(self):
        self.assertEqual(self.rcpt("noresolver"), (250, "2.1.5 Ok"))
        self.inst.wait_log("DNS unavailable: ")
        self.inst.wait_log("unknown[127.0.0.1]: DNS blocklist bl.example not checked: "
                           "resolver setting not-an-address")

    def test_reply_code_450_defers(self):
        code, text = self.rcpt("defer")
        self.assertEqual((code, text), (450, "4" + LISTED[1:]))
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 "
                           "Service unavailable; Client host [127.0.0.1] blocked using bl.example")


REPLY_ZONES = dict(ZONES, **{
    # List 127.0.0.1, each with its own rbl_reply_maps entry or none.
    "plain.example": SOA + '1.0.0.127 IN A 127.0.0.2\n1.0.0.127 IN TXT "Plain reason"\n',
    "bad.example": SOA + "1.0.0.127 IN A 127.0.0.2\n",
    "badcode.example": SOA + "1.0.0.127 IN A 127.0.0.2\n",
})
# rbl_reply_maps: site -> template.
RBL_REPLY = {
    "bl.example": "550 5.7.2 <$recipient>: $client_address is listed by $rbl_domain"
                  "${rbl_reason?: $rbl_reason}${rbl_reason:.}",
    "ten.example": "451 Try later: $rbl_class [$rbl_what] via $rbl_domain"
                   "${rbl_reason?; $rbl_reason}${rbl_reason:, no reason given}",
    "bad.example": "554 Blocked by $nosuch",
    "badcode.example": "250 Fine by $rbl_domain",
}
DEFAULT_RBL_REPLY = ("$rbl_code 5.7.9 Rejected: $rbl_class [$rbl_what] in $rbl_domain"
                     "${rbl_reason?: $rbl_reason} (helo $helo_name, sender $sender_name at "
                     "$sender_domain, client $client)")
REPLY_SERVICES = {
    "custom": "-o smtpd_dnsbl_sites=bl.example",
    "soft": "-o smtpd_dnsbl_sites=ten.example=127.0.0.10",
    "default": "-o smtpd_dnsbl_sites=plain.example",
    "bad": "-o smtpd_dnsbl_sites=bad.example",
    "badcode": "-o smtpd_dnsbl_sites=badcode.example",
    "builtin": "-o smtpd_dnsbl_sites=plain.example -o default_rbl_reply=$rbl_code",
    "footer": "-o smtpd_dnsbl_sites=bl.example -o smtpd_reject_footer=Contact_$client_address",
}


def default_reply(site, reason=None):
    return ("5.7.9 Rejected: Client host [127.0.0.1] in %s%s (helo client.outside.test, "
            "sender someone at outside.test, client unknown[127.0.0.1])"
            % (site, ": " + reason if reason else ""))


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class DnsblReplyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Unbound(REPLY_ZONES)
        cls.ports = {name: free_port() for name in REPLY_SERVICES}
        try:
            cls.inst = Instance(params={
                "relay_domains": "relay.test",
                "mynetworks": "192.0.2.0/24",  # loopback is not trusted
                "smtpd_peername_lookup": "no",
                "smtpd_error_sleep_time": "0s",
                "dns_forwarders": cls.dns.forwarder(),
                "dns_hosts_file": "",
                "rbl_reply_maps": "texthash:${config_directory}/rbl_reply",
                "default_rbl_reply": DEFAULT_RBL_REPLY,
            }, services=["127.0.0.1:%d inet n - n - - smtpd %s" % (cls.ports[name], options)
                         for name, options in REPLY_SERVICES.items()])
        except BaseException:
            cls.dns.stop()
            raise
        try:
            with open(os.path.join(cls.inst.etc, "rbl_reply"), "w") as f:
                for site, template in RBL_REPLY.items():
                    f.write("%s %s\n" % (site, template))
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.dns.stop()

    def rcpt(self, service, rcpts=("a@relay.test",)):
        """[(code, text)] of each RCPT TO in one fresh session."""
        c = smtplib.SMTP("127.0.0.1", self.ports[service], timeout=30)
        self.addCleanup(c.close)
        c.ehlo("client.outside.test")
        code, text = c.mail("someone@outside.test")
        self.assertEqual(code, 250, text)
        replies = []
        for rcpt in rcpts:
            code, text = c.rcpt(rcpt)
            replies.append((code, text.decode()))
        c.quit()
        return replies

    def test_table_template_per_recipient(self):
        listed = ("5.7.2 <%s>: 127.0.0.1 is listed by bl.example: Listed for testing, see "
                  "http://bl.example/?127.0.0.1")
        self.assertEqual(self.rcpt("custom", ("a@relay.test", "b@relay.test")),
                         [(550, listed % "a@relay.test"), (550, listed % "b@relay.test")])
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 " +
                           listed % "b@relay.test" + "; from=<someone@outside.test> "
                           "to=<b@relay.test> proto=ESMTP helo=<client.outside.test>")

    def test_table_template_with_4nn_code(self):
        self.assertEqual(self.rcpt("soft"), [(451, "4.7.1 Try later: Client host [127.0.0.1] "
                                                   "via ten.example, no reason given")])

    def test_default_rbl_reply_from_main_conf(self):
        self.assertEqual(self.rcpt("default"),
                         [(554, default_reply("plain.example", "Plain reason"))])

    def test_bad_table_template_logged_and_default_used(self):
        self.assertEqual(self.rcpt("bad"), [(554, default_reply("bad.example"))])
        table = "texthash:%s/rbl_reply" % self.inst.etc
        self.inst.wait_log('warning: rbl_reply_maps %s: bad.example: bad RBL reply template '
                           '"554 Blocked by $nosuch": unknown variable $nosuch; '
                           'default_rbl_reply is used' % table)
        self.assertEqual(self.rcpt("badcode"), [(554, default_reply("badcode.example"))])
        self.inst.wait_log('warning: rbl_reply_maps %s: badcode.example: bad RBL reply template '
                           '"250 Fine by $rbl_domain": the reply does not start with a 4NN or '
                           '5NN code and a space; default_rbl_reply is used' % table)

    def test_mailctl_check_tries_the_table_templates(self):
        # The two bad entries of the table are named, the good ones not.
        table = "texthash:%s/rbl_reply" % self.inst.etc
        result = self.inst.mailctl("check")
        self.assertEqual(result.returncode, 0, result.stdout)
        found = re.findall(r"main\.conf:\d+: warning: rbl_reply_maps: (\S+): the template "
                           r"for (\S+), (.*) \(smtpd would send default_rbl_reply instead\)",
                           result.stdout)
        self.assertEqual(sorted(found), [
            (table, "bad.example", '"554 Blocked by $nosuch": unknown variable $nosuch'),
            (table, "badcode.example", '"250 Fine by $rbl_domain": the reply does not start '
                                       "with a 4NN or 5NN code and a space")], result.stdout)

    def test_bad_default_logged_and_builtin_used(self):
        self.assertEqual(self.rcpt("builtin"), [
            (554, "5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                  "plain.example; Plain reason")])
        self.inst.wait_log('warning: default_rbl_reply: bad RBL reply template "$rbl_code": '
                           "the reply does not start with a 4NN or 5NN code and a space; "
                           "the built-in reply is used")

    def test_reject_footer_follows(self):
        self.assertEqual(self.rcpt("footer"), [
            (550, "5.7.2 <a@relay.test>: 127.0.0.1 is listed by bl.example: Listed for "
                  "testing, see http://bl.example/?127.0.0.1\n5.7.2 Contact_127.0.0.1")])


class DnsblCheckTest(unittest.TestCase):
    def test_mailctl_check_names_bad_entries(self):
        inst = Instance(params={
            "smtpd_dnsbl_sites": "zen.example=127.0.0.[2..11], bl.example=127.0.0.[9..2]",
            "smtpd_dnsbl_reply_code": "250",
        }, services=["smtp inet n - n - - smtpd"])
        self.addCleanup(inst.cleanup)
        main = os.path.join(inst.etc, "main.conf")
        lines = open(main).read().splitlines()
        sites_line = 1 + next(i for i, l in enumerate(lines)
                              if l.startswith("smtpd_dnsbl_sites"))
        code_line = 1 + next(i for i, l in enumerate(lines)
                             if l.startswith("smtpd_dnsbl_reply_code"))
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn('%s:%d: error: smtpd_dnsbl_sites: "bl.example=127.0.0.[9..2]": filter '
                      "range ends before it starts" % (main, sites_line), result.stdout)
        self.assertNotIn('"zen.example', result.stdout)
        self.assertIn("%s:%d: error: smtpd_dnsbl_reply_code = 250: expected 4NN or 5NN"
                      % (main, code_line), result.stdout)
        # The default template is fine; a broken one is a warning.
        self.assertNotIn("default_rbl_reply", result.stdout)

    def test_mailctl_check_tries_default_rbl_reply(self):
        for template, why in (("$rbl_code blocked by $rbl_domian", "rbl_domian"),
                              ("Blocked: $rbl_domain", "4NN or 5NN code")):
            inst = Instance(params={"default_rbl_reply": template},
                            services=["smtp inet n - n - - smtpd"])
            self.addCleanup(inst.cleanup)
            result = inst.mailctl("check")
            self.assertEqual(result.returncode, 0, result.stdout)
            self.assertRegex(result.stdout, r"main\.conf:\d+: warning: default_rbl_reply: .*%s"
                             % why)
            self.assertIn("smtpd would send Postfix's built-in reply instead", result.stdout)


if __name__ == "__main__":
    unittest.main()
