"""header_checks and body_checks on mail from sendmail (pickup), as
Postfix's cleanup applies them: REJECT and DEFER return the message to the
sender in a delivery status notification (none with NOTIFY=NEVER), IGNORE,
REPLACE and PREPEND edit what is queued (pickup's own Received header is
checked too) and WARN logs, HOLD queues into hold/ with the reason in the envelope,
DISCARD leaves nothing, and a table that cannot be read keeps the drop
file in maildrop/ (logged once, with the file and line) until the table is
fixed. Each decision is logged in Postfix's form."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, wait_for  # noqa: E402
from test_header_checks import BODY_CHECKS  # noqa: E402
from test_header_checks import HEADER_CHECKS as SMTPD_HEADER_CHECKS  # noqa: E402
from test_sendmail import PICKUP, LocalSubmission, read_queue_file, wakeup  # noqa: E402

# smtpd's tables, and a rule for pickup's own Received header.
HEADER_CHECKS = SMTPD_HEADER_CHECKS + (
    "/^Received: by .*\\(Postern, from userid/  PREPEND X-Saw-Received: yes\n")

SENDER, RCPT = "alice@example.test", "bob@example.test"


def message(subject, extra=b"", body=b"hello\n"):
    return b"Subject: %s\n%s\n%s" % (subject.encode(), extra, body)


class PickupQueue(LocalSubmission):
    """Finding what pickup queued, held or returned."""

    def in_queue(self, subdir, token):
        """Queue files in subdir whose content holds token."""
        found = []
        for qid in os.listdir(self.queue_dir(subdir)):
            env, rcpts, content = read_queue_file(os.path.join(self.queue_dir(subdir), qid))
            if token.encode() in content:
                found.append((qid, env, rcpts, content))
        return found

    def notification(self, token):
        """The notification returned to the sender about the message with token."""
        def find():
            for qid, env, rcpts, content in self.in_queue("incoming", token):
                if env["sender"] == "":
                    return qid, env, rcpts, content
            return None
        return wait_for(find, timeout=15, what="a notification about " + token)

    def maildrop_empty(self):
        wait_for(lambda: os.listdir(self.queue_dir("maildrop")) == [], timeout=15,
                 what="an empty maildrop/")


class PickupChecksTest(PickupQueue, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(services=[PICKUP])
        for name, text in (("header_checks", HEADER_CHECKS), ("body_checks", BODY_CHECKS)):
            with open(os.path.join(cls.inst.etc, name), "w") as f:
                f.write(text)
            cls.inst.params[name] = "regexp:%s/%s" % (cls.inst.etc, name)
        cls.inst.write_config()
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def submit(self, msg, *options):
        self.send_ok("-f", SENDER, *options, RCPT, data=msg)

    def test_reject_returns_the_message_to_the_sender(self):
        self.submit(message("token-r1 win a prize"))
        qid, env, rcpts, notice = self.notification("token-r1")
        self.assertEqual(self.addresses(rcpts), [SENDER])
        self.assertIn(b"Undelivered Mail Returned to Sender", notice)
        self.assertIn(b"Final-Recipient: rfc822; %s" % RCPT.encode(), notice)
        self.assertIn(b"Status: 5.7.1", notice)
        self.assertIn(b"Diagnostic-Code: x-postern; No prizes here", notice)
        # The original is not queued: the notification is all there is.
        self.assertEqual(len(self.in_queue("incoming", "token-r1")), 1)
        self.maildrop_empty()
        self.inst.wait_log(": reject: header Subject: token-r1 win a prize from local; "
                           "from=<%s> to=<%s>: 5.7.1 No prizes here" % (SENDER, RCPT))
        self.inst.wait_log(": to=<%s>, status=bounced (No prizes here)" % RCPT)
        self.inst.wait_log(": sender non-delivery notification: " + qid)

    def test_reject_status_defer_and_body(self):
        self.submit(message("token-r2 a policy test"))
        self.assertIn(b"Status: 5.7.9", self.notification("token-r2")[3])
        # DEFER: nobody is left to try again, so the message goes back too.
        self.submit(message("token-r3 please try later"))
        notice = self.notification("token-r3")[3]
        self.assertIn(b"Status: 5.7.1", notice)
        self.assertIn(b"Diagnostic-Code: x-postern; Message content deferred", notice)
        self.inst.wait_log(": defer: header Subject: token-r3 please try later from local; "
                           "from=<%s> to=<%s>: 4.7.1 Message content deferred"
                           % (SENDER, RCPT))
        self.submit(message("token-r4", body=b"hi\nbuy cheap pills now\n"))
        self.assertIn(b"Diagnostic-Code: x-postern; Body spam", self.notification("token-r4")[3])
        self.inst.wait_log(": reject: body buy cheap pills now from local; ")

    def test_notify_never_returns_nothing(self):
        self.submit(message("token-r5 win a prize"), "-N", "never")
        self.inst.wait_log(": reject: header Subject: token-r5 win a prize from local")
        self.maildrop_empty()
        self.inst.wait_log(": to=<%s>, status=bounced (No prizes here)" % RCPT, count=1)
        self.assertEqual(self.in_queue("incoming", "token-r5"), [])

    def test_edits_reach_the_queue_file(self):
        extra = (b"X-Internal: 10.0.0.1\n X-Internal continued\nX-Mailer: Thing 1.0\n"
                 b"X-Tag: t\nX-Odd: o\n")
        self.submit(message("token-e1", extra=extra, body=b"one\nsecret line\ntwo\n"))
        qid, env, rcpts, content = self.wait_queued("token-e1")
        self.assertEqual(self.addresses(rcpts), [RCPT])
        shown = self.inst.mailctl("queue", "show", qid, check=True).stdout
        shown = shown.replace("\r\n", "\n")
        self.assertNotIn("X-Internal", shown)
        self.assertIn("X-Mailer: hidden (Thing 1.0)", shown)
        self.assertNotIn("X-Mailer: Thing", shown)
        self.assertIn("X-Tagged: yes\nX-Tag: t", shown)
        self.assertIn("\n\none\ntwo\n", shown)
        # pickup's own Received header was checked too: the queue file
        # starts with the header prepended to it.
        self.assertTrue(content.startswith(b"X-Saw-Received: yes\r\nReceived: by mx.example.test "
                                           b"(Postern, from userid %d)" % os.getuid()),
                        content[:120])
        self.assertIn("X-Odd: o", shown)
        self.inst.wait_log("%s: warning: header X-Odd: o from local; from=<%s> to=<%s>: "
                           "odd header" % (qid, SENDER, RCPT))
        self.inst.wait_log("%s: replace: header X-Mailer: Thing 1.0 from local; from=<%s> "
                           "to=<%s>: X-Mailer: hidden (Thing 1.0)" % (qid, SENDER, RCPT))

    def test_hold(self):
        self.submit(message("token-h1 hold this one"))
        held = wait_for(lambda: self.in_queue("hold", "token-h1"), timeout=15,
                        what="a held message")
        qid, env, rcpts, _ = held[0]
        self.assertEqual(env["hold_reason"], "header Subject: token-h1 hold this one: needs a look")
        self.assertEqual(self.addresses(rcpts), [RCPT])
        self.assertEqual(self.in_queue("incoming", "token-h1"), [])
        self.inst.wait_log("%s: hold: header Subject: token-h1 hold this one from local; "
                           "from=<%s> to=<%s>: needs a look" % (qid, SENDER, RCPT))
        self.inst.wait_log("%s: uid=%d from=<%s> (on hold)" % (qid, os.getuid(), SENDER))

    def test_redirect_and_bcc(self):
        self.submit(message("token-rd1 quarantine me"))
        found = wait_for(lambda: self.in_queue("incoming", "token-rd1"), timeout=15,
                         what="the redirected message")
        qid, env, rcpts, _ = found[0]
        self.assertEqual(self.addresses(rcpts), ["quarantine@relay.test"])
        self.inst.wait_log("%s: redirect: header Subject: token-rd1 quarantine me from local; "
                           "from=<%s> to=<%s>: quarantine@relay.test" % (qid, SENDER, RCPT))
        self.submit(message("token-bc1 archived", b"X-Archive: yes\n"))
        found = wait_for(lambda: self.in_queue("incoming", "token-bc1"), timeout=15,
                         what="the copied message")
        qid, env, rcpts, _ = found[0]
        self.assertEqual(sorted((r["address"], r.get("notify", "")) for r in rcpts),
                         [("archive@relay.test", "NEVER"), (RCPT, "")])

    def test_discard(self):
        self.submit(message("token-d1 drop this one"))
        self.inst.wait_log(": discard: header Subject: token-d1 drop this one from local; "
                           "from=<%s> to=<%s>: dropped by test" % (SENDER, RCPT))
        self.inst.wait_log(": removed: discarded by header_checks or body_checks; "
                           "from=<%s>" % SENDER)
        self.maildrop_empty()
        self.assertEqual(self.in_queue("incoming", "token-d1"), [])
        self.assertEqual(self.in_queue("hold", "token-d1"), [])


class BrokenTableTest(PickupQueue, unittest.TestCase):
    def test_drop_file_waits_until_the_table_is_fixed(self):
        self.inst = Instance(services=[PICKUP])
        self.addCleanup(self.inst.cleanup)
        table = os.path.join(self.inst.etc, "header_checks")
        with open(table, "w") as f:
            f.write("/^Subject: ok/ DUNNO\n/^Subject: (unclosed/ REJECT\n")
        self.inst.params["header_checks"] = "regexp:" + table
        self.inst.write_config()
        self.inst.start()
        self.send_ok("-f", SENDER, RCPT, data=message("token-b1"))
        self.inst.wait_log("%s, line 2: bad regular expression" % table)
        self.inst.wait_log("cannot queue it now (a header_checks or body_checks table cannot "
                           "be read); it stays in maildrop/ for a later try")
        self.assertEqual(len(os.listdir(self.queue_dir("maildrop"))), 1)
        self.assertEqual(os.listdir(self.queue_dir("incoming")), [])
        self.assertEqual(os.listdir(self.queue_dir("corrupt")), [])
        # The file waits for the next wake-up: pickup does not try again and again.
        time.sleep(2)
        self.assertEqual(self.inst.read_log().count("cannot queue it now"), 1)
        # Fixed, the table is read at the next try.
        with open(table, "w") as f:
            f.write("/^Subject: token-b1/ REPLACE Subject: token-b1 checked\n")
        wakeup(os.path.join(self.inst.spool, "public", "pickup"))
        _, _, rcpts, content = self.wait_queued("token-b1")
        self.assertEqual(self.header(content, "Subject"), ["token-b1 checked"])
        self.maildrop_empty()


if __name__ == "__main__":
    unittest.main()
