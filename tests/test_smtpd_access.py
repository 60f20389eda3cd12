"""smtpd's access tables (smtpd_client_access_maps, smtpd_helo_access_maps,
smtpd_sender_access_maps, smtpd_recipient_access_maps; access(5)), driven
with smtplib: each key form (client address and prefix, client name, HELO
name and parent domain, address, address without its extension, domain,
parent domain, local part@, the null sender <>), each action (OK, REJECT,
DEFER, numeric replies with and without an enhanced code, DUNNO, HOLD,
DISCARD, PREPEND, WARN, DEFER_IF_PERMIT, DEFER_IF_REJECT, FILTER, REDIRECT, BCC),
the order of the checks, the reply codes, a broken action and a
table that cannot be read, the reject log line in Postfix's form, a
cidr: table of client networks, and relay_recipient_maps."""

import json
import os
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402
from test_sendmail import read_queue_file  # noqa: E402

MESSAGE = "From: someone@outside.test\r\nSubject: access\r\n\r\nbody\r\n"


class AccessTest(InstanceTestCase):
    PEERNAME_LOOKUP = "no"

    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": self.PEERNAME_LOOKUP,
            "recipient_delimiter": "+",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port], start=False)
        for kind in ("client", "helo", "sender", "recipient"):
            self.inst.params["smtpd_%s_access_maps" % kind] = "lmdb:%s/%s.lmdb" % (
                self.inst.etc, kind)
            self.table(kind, "")
        self.inst.write_config()
        self.inst.start()

    def table(self, kind, text):
        path = os.path.join(self.inst.etc, kind)
        with open(path, "w") as f:
            f.write(text)
        self.inst.mailctl("map", "build", path, check=True)
        if self.inst.proc:
            time.sleep(1.1)  # a running smtpd looks for a rebuilt table once a second

    def rcpt(self, rcpt, sender="someone@outside.test", helo="client.outside.test"):
        """The reply to RCPT TO (code, text) in a fresh session."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo(helo)
            code, text = c.mail(sender)
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def assertRefused(self, reply, code, text):
        self.assertEqual(reply, (code, text))

    def queued(self, subdir):
        return sorted(os.listdir(os.path.join(self.inst.spool, subdir)))

    def test_client_address_prefix_and_reject_log_line(self):
        self.table("client", "127.0.0 REJECT go away\n")
        self.assertRefused(self.rcpt("a@relay.test"), 554,
                           "5.7.1 <unknown[127.0.0.1]>: Client host rejected: go away")
        self.inst.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <unknown[127.0.0.1]>: "
            "Client host rejected: go away; from=<someone@outside.test> to=<a@relay.test> "
            "proto=ESMTP helo=<client.outside.test>")
        # The whole address is looked up before its prefixes.
        self.table("client", "127.0.0.1 OK\n127.0.0 REJECT\n")
        self.assertEqual(self.rcpt("a@relay.test")[0], 250)
        self.table("client", "127 DEFER\n")
        self.assertRefused(self.rcpt("a@relay.test"), 450,
                           "4.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied")

    def test_sender_key_forms(self):
        self.table("sender", "\n".join([
            "spammer@bad.test   REJECT",
            "bad2.test          DEFER try later",
            "bad3.test          550 5.7.0 Not from there",
            "info@              451 Busy",
            "plus@ok.test       521 No",
            "<>                 REJECT no bounces here",
        ]) + "\n")
        cases = [
            ("spammer@bad.test", 554,
             "5.7.1 <spammer@bad.test>: Sender address rejected: Access denied"),
            ("Spammer@BAD.test", 554,  # the domain is kept in lower case
             "5.7.1 <Spammer@bad.test>: Sender address rejected: Access denied"),
            ("x@bad2.test", 450, "4.7.1 <x@bad2.test>: Sender address rejected: try later"),
            ("x@mail.bad3.test", 550,
             "5.7.0 <x@mail.bad3.test>: Sender address rejected: Not from there"),
            ("info@anywhere.test", 451, "4.7.1 <info@anywhere.test>: Sender address rejected: Busy"),
            ("plus+tag@ok.test", 521, "5.7.1 <plus+tag@ok.test>: Sender address rejected: No"),
            ("", 554, "5.7.1 <>: Sender address rejected: no bounces here"),
        ]
        for sender, code, text in cases:
            self.assertRefused(self.rcpt("a@relay.test", sender=sender), code, text)
        self.assertEqual(self.rcpt("a@relay.test", sender="other@ok.test")[0], 250)
        self.assertEqual(self.rcpt("a@relay.test", sender="x@notbad3.test")[0], 250)

    def test_long_text_keeps_the_reply_short(self):
        self.table("sender", "long@bad.test REJECT %s\n" % ("x" * 1000))
        code, text = self.rcpt("a@relay.test", sender="long@bad.test")
        self.assertEqual(code, 554)
        self.assertTrue(text.startswith("5.7.1 <long@bad.test>: Sender address rejected: xxx"))
        self.assertLessEqual(len("554 " + text) + 2, 512)  # RFC 5321 4.5.3.1.5

    def test_recipient_dunno_and_order(self):
        self.table("recipient", "vip@relay.test DUNNO\nrelay.test REJECT closed\n")
        self.assertEqual(self.rcpt("vip@relay.test")[0], 250)
        self.assertRefused(self.rcpt("other@relay.test"), 554,
                           "5.7.1 <other@relay.test>: Recipient address rejected: closed")
        # OK from an earlier check (the client) ends the checks.
        self.table("client", "127.0.0.1 OK\n")
        self.assertEqual(self.rcpt("other@relay.test")[0], 250)
        # The recipient's own checks come first: relay control is not lifted.
        self.assertEqual(self.rcpt("x@elsewhere.test")[0], 554)
        self.table("recipient", "elsewhere.test OK\n")
        self.assertRefused(self.rcpt("x@elsewhere.test"), 554,
                           "5.7.1 <x@elsewhere.test>: Relay access denied")

    def test_helo_name_and_parent_domain(self):
        self.table("helo", "helo.test REJECT\n")
        self.assertRefused(self.rcpt("a@relay.test", helo="bad.helo.test"), 554,
                           "5.7.1 <bad.helo.test>: Helo command rejected: Access denied")
        self.assertEqual(self.rcpt("a@relay.test", helo="good.example")[0], 250)

    def test_hold_and_discard(self):
        self.table("sender", "holdme@outside.test HOLD for review\n"
                             "dropme@outside.test DISCARD\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            self.assertEqual(c.sendmail("holdme@outside.test", ["a@relay.test"], MESSAGE), {})
            self.assertEqual(c.sendmail("dropme@outside.test", ["a@relay.test"], MESSAGE), {})
        held = self.queued("hold")
        self.assertEqual(len(held), 1)
        self.assertEqual(self.queued("incoming"), [])
        listing = json.loads(self.inst.mailctl("--json", "queue", "list", check=True).stdout)
        self.assertEqual(listing["count"], 1)
        shown = self.inst.mailctl("queue", "show", held[0], check=True).stdout
        self.assertIn("<holdme@outside.test>: Sender address triggers HOLD action: for review",
                      shown)
        # Logged when triggered, in Postfix's form (pflogsumm counts these).
        self.inst.wait_log(": discard: RCPT from unknown[127.0.0.1]: <dropme@outside.test>: "
                           "Sender address triggers DISCARD action; from=<dropme@outside.test> "
                           "to=<a@relay.test> proto=ESMTP helo=<")
        self.inst.wait_log(": hold: RCPT from unknown[127.0.0.1]: <holdme@outside.test>: "
                           "Sender address triggers HOLD action: for review; "
                           "from=<holdme@outside.test> to=<a@relay.test> proto=ESMTP helo=<")
        self.inst.wait_log("removed: discarded at END-OF-MESSAGE: <dropme@outside.test>")
        self.inst.wait_log("nrcpt=1 (queued, on hold)")

    def test_header_warn_and_conditional_actions(self):
        self.table("sender", "\n".join([
            "tagged@outside.test    PREPEND X-Access-Tag: tagged here",
            "watched@outside.test   WARN watch this sender",
            "maybe@outside.test     DEFER_IF_PERMIT 4.7.0 not yet",
            "unsure@outside.test    DEFER_IF_REJECT",
            "filtered@outside.test  FILTER smtp:[127.0.0.1]:10025",
            "redirected@outside.test  REDIRECT elsewhere@outside.test",
        ]) + "\n")
        self.table("recipient", "closed@relay.test REJECT closed\n")
        # PREPEND goes on with the checks; the field heads the queued message.
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            self.assertEqual(c.sendmail("tagged@outside.test", ["a@relay.test"], MESSAGE), {})
        (name,) = self.queued("incoming")
        content = read_queue_file(os.path.join(self.inst.spool, "incoming", name))[2]
        self.assertTrue(content.startswith(b"X-Access-Tag: tagged here\r\nReceived: "))
        # DEFER_IF_PERMIT defers what the later checks accept, not what
        # they refuse; DEFER_IF_REJECT defers what they refuse.
        self.assertRefused(self.rcpt("a@relay.test", sender="maybe@outside.test"), 450,
                           "4.7.0 <maybe@outside.test>: Sender address rejected: not yet")
        self.assertRefused(self.rcpt("closed@relay.test", sender="maybe@outside.test"), 554,
                           "5.7.1 <closed@relay.test>: Recipient address rejected: closed")
        self.assertEqual(self.rcpt("a@relay.test", sender="unsure@outside.test")[0], 250)
        self.assertRefused(self.rcpt("closed@relay.test", sender="unsure@outside.test"), 450,
                           "4.7.1 <unsure@outside.test>: Sender address rejected: Service "
                           "unavailable")
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 "
                           "<unsure@outside.test>: Sender address rejected: Service "
                           "unavailable; from=<unsure@outside.test> to=<closed@relay.test>")
        # WARN logs; FILTER is logged (test_content_filter.py follows the
        # mail).
        self.assertEqual(self.rcpt("a@relay.test", sender="watched@outside.test")[0], 250)
        self.inst.wait_log("NOQUEUE: warn: RCPT from unknown[127.0.0.1]: watch this sender; "
                           "from=<watched@outside.test> to=<a@relay.test> proto=ESMTP helo=<")
        self.assertEqual(self.rcpt("a@relay.test", sender="filtered@outside.test")[0], 250)
        self.inst.wait_log("NOQUEUE: filter: RCPT from unknown[127.0.0.1]: "
                           "<filtered@outside.test>: Sender address triggers FILTER action: "
                           "smtp:[127.0.0.1]:10025; from=<filtered@outside.test>")

    def test_redirect_and_bcc(self):
        """REDIRECT sends the message to its address instead of every
        recipient (and past a FILTER, which it overrides, as in Postfix);
        BCC adds its address with NOTIFY=NEVER; both logged when triggered,
        in Postfix's form."""
        self.table("sender", "\n".join([
            "redirected@outside.test  REDIRECT elsewhere@relay.test",
            "copied@outside.test      BCC archive@relay.test",
            "both@outside.test        FILTER smtp:[127.0.0.1]:10025",
            "bad@outside.test         REDIRECT not an address",
        ]) + "\n")
        self.table("recipient", "a@relay.test REDIRECT quarantine@relay.test\n")

        def send(sender, rcpts):
            before = set(self.queued("incoming"))
            with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
                self.assertEqual(c.sendmail(sender, rcpts, MESSAGE), {})
            (name,) = set(self.queued("incoming")) - before
            env, queued, _ = read_queue_file(os.path.join(self.inst.spool, "incoming", name))
            return env, [(r["address"], r.get("notify", "")) for r in queued]

        env, rcpts = send("redirected@outside.test", ["b@relay.test", "c@relay.test"])
        self.assertEqual(rcpts, [("elsewhere@relay.test", "")])
        self.assertRegex(self.inst.read_log(),
                         r"NOQUEUE: redirect: RCPT from \S+\[127\.0\.0\.1\]: "
                         r"<redirected@outside\.test>: Sender address triggers REDIRECT "
                         r"action: elsewhere@relay\.test; from=<redirected@outside\.test> "
                         r"to=<b@relay\.test> proto=ESMTP helo=<")
        env, rcpts = send("copied@outside.test", ["b@relay.test"])
        self.assertEqual(rcpts, [("b@relay.test", ""), ("archive@relay.test", "NEVER")])
        self.assertRegex(self.inst.read_log(),
                         r"NOQUEUE: bcc: RCPT from \S+: <copied@outside\.test>: "
                         r"Sender address triggers BCC action: archive@relay\.test")
        # A recipient's REDIRECT overrides the sender's FILTER.
        env, rcpts = send("both@outside.test", ["b@relay.test", "a@relay.test"])
        self.assertEqual(rcpts, [("quarantine@relay.test", "")])
        self.assertFalse(env.get("filter"))
        # Not an address: a warning, and nothing changes.
        env, rcpts = send("bad@outside.test", ["b@relay.test"])
        self.assertEqual(rcpts, [("b@relay.test", "")])
        self.inst.wait_log("bad@outside.test: REDIRECT: REDIRECT requires one address "
                           "user@domain; ignored")

    def test_broken_action_and_unreadable_table(self):
        self.table("recipient", "a@relay.test FROBNICATE\n")
        self.assertRefused(self.rcpt("a@relay.test"), 451,
                           "4.3.5 <a@relay.test>: Recipient address rejected: "
                           "Server configuration error")
        self.inst.wait_log('unknown action "FROBNICATE"')
        # A table that cannot be opened (here: never built).
        self.inst.params["smtpd_helo_access_maps"] = "lmdb:%s/missing.lmdb" % self.inst.etc
        self.inst.write_config()
        self.inst.mailctl("reload", check=True)
        wait_for(lambda: self.rcpt("b@relay.test")[0] == 451, timeout=10,
                 what="the reloaded smtpd")
        self.assertRefused(self.rcpt("b@relay.test"), 451,
                           "4.3.0 <client.outside.test>: Helo command rejected: "
                           "Temporary lookup failure")

    def test_reply_codes(self):
        self.inst.params["access_map_reject_code"] = "550"
        self.inst.params["access_map_defer_code"] = "451"
        self.inst.write_config()
        self.inst.mailctl("reload", check=True)
        self.table("sender", "a@bad.test REJECT\nb@bad.test DEFER\n")
        wait_for(lambda: self.rcpt("a@relay.test", sender="a@bad.test")[0] == 550,
                 timeout=10, what="the reloaded smtpd")
        self.assertEqual(self.rcpt("a@relay.test", sender="b@bad.test")[0], 451)

    def test_mailctl_check(self):
        self.assertEqual(self.inst.mailctl("check").returncode, 0,
                         self.inst.mailctl("check").stdout)
        self.inst.params["smtpd_sender_access_maps"] = "lmdb:%s/nothere.lmdb" % self.inst.etc
        self.inst.params["access_map_reject_code"] = "250"
        self.inst.write_config()
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        out = result.stdout + result.stderr
        self.assertRegex(out, r"main\.conf:\d+: .*nothere\.lmdb.*build it with mailctl map build")
        self.assertRegex(out, r"main\.conf:\d+: .*access_map_reject_code = 250: not a 4NN or "
                              r"5NN reply code")


class AccessByNameTest(AccessTest):
    """The client's verified name (localhost for 127.0.0.1) and its parents."""
    PEERNAME_LOOKUP = "yes"

    def test_client_name(self):
        self.table("client", "localhost REJECT by name\n")
        self.assertRefused(self.rcpt("a@relay.test"), 554,
                           "5.7.1 <localhost[127.0.0.1]>: Client host rejected: by name")

    # The address tests of the base class assume no name.
    test_client_address_prefix_and_reject_log_line = None
    test_sender_key_forms = None
    test_recipient_dunno_and_order = None
    test_helo_name_and_parent_domain = None
    test_hold_and_discard = None
    test_header_warn_and_conditional_actions = None
    test_broken_action_and_unreadable_table = None
    test_reply_codes = None
    test_long_text_keeps_the_reply_short = None
    test_mailctl_check = None


class CidrAccessTest(InstanceTestCase):
    """A cidr: client access table (cidr_table(5)): the first network that
    holds the client address decides; mailctl check names a bad line."""

    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port], start=False)
        self.path = os.path.join(self.inst.etc, "client.cidr")
        with open(self.path, "w") as f:
            f.write("# loopback clients\n127.0.0.3 OK\n127.0.0.0/8 REJECT cidr says no\n"
                    "[::1]/128 REJECT\n")
        self.inst.params["smtpd_client_access_maps"] = "cidr:" + self.path
        self.inst.write_config()
        self.inst.start()

    def rcpt(self, source):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30,
                          source_address=(source, 0)) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            code, text = c.rcpt("a@relay.test")
            return code, text.decode()

    def test_first_network_decides(self):
        self.assertEqual(self.rcpt("127.0.0.1"), (
            554, "5.7.1 <unknown[127.0.0.1]>: Client host rejected: cidr says no"))
        self.assertEqual(self.rcpt("127.0.0.3")[0], 250)

    def test_mailctl_check_names_the_line(self):
        with open(self.path, "a") as f:
            f.write("10.0.0.0/40 OK\n")
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('client.cidr, line 5: bad network "10.0.0.0/40"',
                      result.stdout + result.stderr)


class RelayRecipientTest(InstanceTestCase):
    """relay_recipient_maps: only listed addresses in relay_domains (the
    address, without its extension, or @domain), from any client; a table
    that cannot be read defers."""

    def setUp(self):
        self.port, self.trusted = free_port(), free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test open.test unlisted.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
            "recipient_delimiter": "+",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                     "127.0.0.1:%d inet n - n - - smtpd -o mynetworks=127.0.0.0/8"
                     % self.trusted], start=False)
        self.path = os.path.join(self.inst.etc, "relay_recipients")
        with open(self.path, "w") as f:
            f.write("user@relay.test   x\n@open.test   x\n")
        self.inst.mailctl("map", "build", self.path, check=True)
        self.inst.params["relay_recipient_maps"] = "lmdb:%s.lmdb" % self.path
        self.inst.write_config()
        self.inst.start()

    def rcpt(self, address, port=None):
        with smtplib.SMTP("127.0.0.1", port or self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            code, text = c.rcpt(address)
            return code, text.decode()

    def test_listed_addresses_only(self):
        for address in ("user@relay.test", "USER@Relay.Test", "user+tag@relay.test",
                        "anyone@open.test"):
            self.assertEqual(self.rcpt(address)[0], 250, address)
        unknown = ("550", "5.1.1 <%s>: Recipient address rejected: User unknown in relay "
                   "recipient table")
        for address in ("nobody@relay.test", "user@unlisted.test"):
            for port in (self.port, self.trusted):
                self.assertEqual(self.rcpt(address, port),
                                 (int(unknown[0]), unknown[1] % address))
        self.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 "
                           "<nobody@relay.test>: Recipient address rejected: User unknown "
                           "in relay recipient table")
        # Other domains are not affected.
        self.assertEqual(self.rcpt("x@elsewhere.test", self.trusted)[0], 250)

    def test_unreadable_table_defers(self):
        os.unlink(self.path + ".lmdb")
        time.sleep(1.1)  # a running smtpd looks at its tables at most once a second
        self.assertEqual(self.rcpt("user@relay.test"),
                         (451, "4.3.0 <user@relay.test>: Temporary lookup failure"))


if __name__ == "__main__":
    unittest.main()
