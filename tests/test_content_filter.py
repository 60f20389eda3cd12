"""content_filter, the access action FILTER and receive_override_options, as
an amavis set-up uses them: smtpd (and pickup) send every message to an
external filter over SMTP through a master.conf transport; the filter (a
Python SMTP server here, which adds a header field as amavis does) gives
it back to a second smtpd with -o content_filter= and
receive_override_options, which delivers it. Checked: one copy in the
mailbox, with the filter's header; virtual aliases expanded after the
filter (no_address_mappings before it); unknown recipients let through
behind the filter (no_unknown_recipient_checks) and bounced at delivery;
a filter that is down defers and a flush delivers once it is up; FILTER
from an access table; mailctl queue show and mailctl check."""
import os
import re
import smtplib
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import ScriptedServer, maildir_messages, submit  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402


class Filter:
    """An after-queue content filter: takes a message by SMTP, adds
    X-Filtered, hands it back to the re-injection port with the same
    envelope and only then answers 250 (as amavis does)."""

    def __init__(self, port, reinject_port):
        self.reinject_port = reinject_port
        self.lock = threading.Lock()
        self.seen = []  # (sender, recipients)
        self.server = ScriptedServer("127.0.0.1", port, self._session)

    def _session(self, peer, n):
        peer.send("220 filter ESMTP\r\n")
        sender, rcpts = None, []
        while True:
            cmd = peer.line()
            verb = cmd[:4].upper()
            if verb == "EHLO":
                peer.send("250-filter\r\n250 PIPELINING\r\n")
            elif verb == "HELO":
                peer.send("250 filter\r\n")
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                peer.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                data = "X-Filtered: by the test filter\r\n" + peer.data() + "\r\n"
                with self.lock:
                    self.seen.append((sender, list(rcpts)))
                try:
                    with smtplib.SMTP("127.0.0.1", self.reinject_port, timeout=20) as c:
                        c.sendmail(sender, rcpts, data.encode())
                    peer.send("250 2.0.0 ok: filtered and passed on\r\n")
                except (smtplib.SMTPException, OSError) as e:
                    peer.send("451 4.3.0 re-injection failed: %s\r\n" % str(e)[:100])
            elif verb == "RSET":
                peer.send("250 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 no\r\n")

    def recipients_seen(self):
        with self.lock:
            return [r for _, rcpts in self.seen for r in rcpts]

    def stop(self):
        self.server.stop()


class ContentFilterTest(InstanceTestCase):
    def setUp(self):
        self.mx, self.plain, self.back, self.filter_port = (free_port(), free_port(),
                                                            free_port(), free_port())
        self.inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "virtual_alias_maps": "inline:{alias@example.test=user@example.test}",
            "mynetworks": "127.0.0.0/8",
            "content_filter": "scan:[127.0.0.1]:%d" % self.filter_port,
            # Addresses are mapped behind the filter (amavis's README).
            "receive_override_options": "no_address_mappings",
            "smtpd_error_sleep_time": "0s",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.mx,
            # No filter here, except for the senders the access table names.
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
            "-o smtpd_sender_access_maps=texthash:${config_directory}/senders" % self.plain,
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
            "-o receive_override_options=no_header_body_checks,no_unknown_recipient_checks,"
            "no_milters" % self.back,
            "scan unix - - n - 2 smtp",
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "smtp unix - - n - - smtp",
            "pickup unix n - n 60 1 pickup",
        ], start=False)
        checks = os.path.join(self.inst.etc, "header_checks")
        with open(checks, "w") as f:
            f.write("/^X-Filtered:/ REJECT filtered mail met header_checks\n")
        os.chmod(checks, 0o644)
        self.inst.params["header_checks"] = "regexp:" + checks
        senders = os.path.join(self.inst.etc, "senders")
        with open(senders, "w") as f:
            f.write("filtered@outside.test FILTER scan:[127.0.0.1]:%d\n" % self.filter_port)
        os.chmod(senders, 0o644)
        self.vmail = self.inst.add_vmail(["user@example.test", "other@example.test"])
        self.inst.start()

    def start_filter(self):
        f = Filter(self.filter_port, self.back)
        self.addCleanup(f.stop)
        return f

    def delivered(self, address, count):
        wait_for(lambda: len(maildir_messages(self.vmail, address)) >= count, timeout=30,
                 what="%d message(s) for %s" % (count, address))
        time.sleep(0.5)  # a second copy would come now
        return maildir_messages(self.vmail, address)

    def send(self, port, sender, rcpts, subject):
        body = "From: <%s>\r\nSubject: %s\r\n\r\nHello.\r\n" % (sender, subject)
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as c:
            c.sendmail(sender, rcpts, body)

    def test_filtered_then_delivered_once(self):
        f = self.start_filter()
        self.send(self.mx, "sender@outside.test", ["alias@example.test", "other@example.test"],
                  "through the filter")
        mails = self.delivered("user@example.test", 1)
        self.assertEqual(1, len(mails), mails)
        self.assertIn(b"X-Filtered: by the test filter", mails[0])
        self.assertIn(b"Subject: through the filter", mails[0])
        others = self.delivered("other@example.test", 1)
        self.assertEqual(1, len(others))
        # The filter saw the recipients as sent (mapped behind it), once.
        self.assertEqual(["alias@example.test", "other@example.test"],
                         sorted(f.recipients_seen()))
        log = self.inst.read_log()
        self.assertRegex(log, r"to=<alias@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d"
                         r".*status=sent" % self.filter_port)
        # header_checks ran before the filter, not behind it (it would
        # reject the X-Filtered header).
        self.assertNotIn("filtered mail met header_checks", log)

    def test_pickup_mail_is_filtered(self):
        f = self.start_filter()
        submit(self.inst, "root@mx.example.test", ["user@example.test"],
               b"Subject: from sendmail\n\nvia pickup\n")
        mails = self.delivered("user@example.test", 1)
        self.assertEqual(1, len(mails))
        self.assertIn(b"X-Filtered: by the test filter", mails[0])
        self.assertIn(b"via pickup", mails[0])
        self.assertEqual(["user@example.test"], f.recipients_seen())

    def test_unknown_recipient_bounces_behind_the_filter(self):
        f = self.start_filter()
        # Before the filter an unknown recipient is refused at RCPT...
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20) as c:
            c.ehlo("client.outside.test")
            c.mail("sender@outside.test")
            code, _ = c.rcpt("nobody@example.test")
            self.assertEqual(550, code)
        # ...behind it (no_unknown_recipient_checks) it is taken and bounced.
        self.send(self.back, "sender@outside.test", ["nobody@example.test"], "unknown")
        wait_for(lambda: re.search(r"to=<nobody@example\.test>, relay=.*status=bounced",
                                   self.inst.read_log()), timeout=20, what="the bounce")
        self.assertEqual([], f.recipients_seen())

    def test_filter_down_defers_then_flush_delivers(self):
        self.send(self.mx, "sender@outside.test", ["user@example.test"], "waits for the filter")
        self.inst.wait_log("status=deferred", timeout=30)
        queue = self.inst.mailctl("queue", "list", check=True).stdout
        qid = re.search(r"^([0-9A-F]{10,})", queue, re.M).group(1)
        shown = self.inst.mailctl("queue", "show", qid, check=True).stdout
        self.assertIn("content_filter: scan:[127.0.0.1]:%d" % self.filter_port, shown)
        self.assertEqual([], maildir_messages(self.vmail, "user@example.test"))
        f = self.start_filter()
        self.inst.mailctl("queue", "flush", check=True)
        mails = self.delivered("user@example.test", 1)
        self.assertEqual(1, len(mails))
        self.assertIn(b"X-Filtered: by the test filter", mails[0])
        self.assertEqual(["user@example.test"], f.recipients_seen())

    def test_access_table_filter(self):
        f = self.start_filter()
        self.send(self.plain, "plain@outside.test", ["user@example.test"], "not filtered")
        self.send(self.plain, "filtered@outside.test", ["user@example.test"], "filtered")
        mails = self.delivered("user@example.test", 2)
        self.assertEqual(2, len(mails))
        by_subject = {b"Subject: filtered" in m: m for m in mails}
        self.assertIn(b"X-Filtered", by_subject[True])
        self.assertNotIn(b"X-Filtered", by_subject[False])
        self.assertEqual(["user@example.test"], f.recipients_seen())
        self.assertRegex(self.inst.read_log(), r"filter: RCPT from .*<filtered@outside\.test>: Sender address "
                         r"triggers FILTER action: scan:\[127\.0\.0\.1\]")

    def test_mailctl_check(self):
        self.inst.params["content_filter"] = "no-colon"
        self.inst.params["receive_override_options"] = "no_address_mappings, no_such_thing"
        self.inst.services.append("127.0.0.1:%d inet n - n - - smtpd -o content_filter=:x"
                                  % free_port())
        self.inst.write_config()
        out = self.inst.mailctl("check")
        text = out.stdout + out.stderr
        self.assertNotEqual(0, out.returncode)
        self.assertIn("content_filter = no-colon: not transport:destination", text)
        self.assertIn('receive_override_options: unknown option "no_such_thing"', text)
        self.assertIn("-o content_filter = :x: not transport:destination", text)


if __name__ == "__main__":
    unittest.main()
