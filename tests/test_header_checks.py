"""header_checks and body_checks with regexp: tables (regexp_table(5)),
driven with smtplib and a raw BDAT session: REJECT (default and own
status code), DEFER, DISCARD, HOLD, IGNORE, REPLACE, PREPEND and WARN on
headers, a folded header matched as one, smtpd's own Received header
checked too, body lines (REJECT, IGNORE), body_checks_size_limit, BDAT,
REDIRECT and BCC (from headers and body lines: the queue file is written
again with the new envelope), the log lines in Postfix's form, and a
table with a syntax error: 451 and the file and line in the log and in
mailctl check."""

import os
import smtplib
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import queued_messages  # noqa: E402
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

HEADER_CHECKS = r"""# header_checks for the test
/^Subject:.*win a prize/          REJECT No prizes here
/^Subject:.*policy test/          REJECT 5.7.9 Policy says no
/^Subject:.*try later/            DEFER
/^Subject:.*drop this/            DISCARD dropped by test
/^Subject:.*hold this/            HOLD needs a look
/^X-Internal:/                    IGNORE
/^X-Mailer: (.*)/                 REPLACE X-Mailer: hidden ($1)
/^X-Tag:/                         PREPEND X-Tagged: yes
/^X-Odd:/                         WARN odd header
/^X-Folded: first[[:space:]]+second/  REJECT 5.7.1 folded header seen
/^[[:space:]]+lonely/             REJECT 5.7.1 continuation line seen alone
/^Received: from .*\(Postern\)/   PREPEND X-Saw-Received: yes
/^Subject:.*quarantine me/        REDIRECT quarantine@relay.test
/^X-Archive: yes/                 BCC archive@relay.test
/^X-Bad-Redirect:/                REDIRECT not an address
"""

BODY_CHECKS = r"""/^buy cheap pills/   REJECT 5.7.1 Body spam
/^secret line$/       IGNORE
/^send this to the archive$/  BCC body-archive@relay.test
"""


def message(subject, extra="", body="hello\r\n"):
    return ("From: sender@outside.test\r\nTo: rcpt@relay.test\r\nSubject: %s\r\n%s\r\n%s"
            % (subject, extra, body))


class ContentChecksTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
            "body_checks_size_limit": "200",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port], start=False)
        self.write("header_checks", HEADER_CHECKS)
        self.write("body_checks", BODY_CHECKS)
        self.inst.params["header_checks"] = "regexp:%s/header_checks" % self.inst.etc
        self.inst.params["body_checks"] = "regexp:%s/body_checks" % self.inst.etc
        self.inst.write_config()
        self.inst.start()

    def write(self, name, text):
        with open(os.path.join(self.inst.etc, name), "w") as f:
            f.write(text)

    def queued(self, subdir):
        return queued_messages(os.path.join(self.inst.spool, subdir))

    def send(self, msg):
        """(code, text) of the end of DATA for msg."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("sender@outside.test")[0], 250)
            self.assertEqual(c.rcpt("rcpt@relay.test")[0], 250)
            code, text = c.data(msg.encode())
            return code, text.decode()

    def shown(self, queue_id):
        return self.inst.mailctl("queue", "show", queue_id, check=True).stdout

    def test_header_reject_and_log_line(self):
        self.assertEqual(self.send(message("you win a prize")),
                         (550, "5.7.1 No prizes here"))
        self.assertEqual(self.send(message("a policy test")), (550, "5.7.9 Policy says no"))
        self.assertEqual(self.queued("incoming"), [])
        self.inst.wait_log(": reject: header Subject: you win a prize from "
                           "unknown[127.0.0.1]; from=<sender@outside.test> "
                           "to=<rcpt@relay.test> proto=ESMTP helo=<client.outside.test>: "
                           "5.7.1 No prizes here")

    def test_defer_discard_hold(self):
        self.assertEqual(self.send(message("please try later")),
                         (450, "4.7.1 Message content deferred"))
        code, text = self.send(message("drop this one"))
        self.assertEqual(code, 250, text)
        self.assertEqual(self.queued("incoming"), [])
        self.inst.wait_log(": discard: header Subject: drop this one from unknown[127.0.0.1]")
        self.inst.wait_log("removed: discarded at END-OF-MESSAGE")
        code, text = self.send(message("hold this one"))
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.queued("hold")), 1)
        self.assertEqual(self.queued("incoming"), [])
        self.inst.wait_log(": hold: header Subject: hold this one from unknown[127.0.0.1]; "
                           "from=<sender@outside.test> to=<rcpt@relay.test> proto=ESMTP "
                           "helo=<client.outside.test>: needs a look")

    def test_header_edits(self):
        extra = ("X-Internal: 10.0.0.1\r\n X-Internal continued\r\nX-Mailer: Thing 1.0\r\n"
                 "X-Tag: t\r\nX-Odd: o\r\n")
        code, text = self.send(message("edits", extra=extra, body="one\r\nsecret line\r\n"))
        self.assertEqual(code, 250, text)
        queue_id = self.queued("incoming")[0]
        shown = self.shown(queue_id)
        self.assertNotIn("X-Internal", shown)
        self.assertIn("X-Mailer: hidden (Thing 1.0)", shown)
        self.assertNotIn("X-Mailer: Thing", shown)
        self.assertIn("X-Tagged: yes\nX-Tag: t", shown.replace("\r\n", "\n"))
        self.assertIn("X-Odd: o", shown)
        # smtpd's own Received header went through the checks too.
        self.assertIn("X-Saw-Received: yes\nReceived: from client.outside.test",
                      shown.replace("\r\n", "\n"))
        # The body: the matched line is gone, the others stay.
        self.assertIn("one", shown)
        self.assertNotIn("secret line", shown)
        self.inst.wait_log(": warning: header X-Odd: o from unknown[127.0.0.1]")

    def test_folded_header_is_one_key(self):
        extra = "X-Folded: first\r\n\tsecond\r\n"
        self.assertEqual(self.send(message("folded", extra=extra)),
                         (550, "5.7.1 folded header seen"))
        # A continuation line is never looked up on its own.
        self.assertEqual(self.send(message("plain", extra="X-Cont: a\r\n\tlonely\r\n"))[0],
                         250)

    def test_body_and_size_limit(self):
        self.assertEqual(self.send(message("body", body="hi\r\nbuy cheap pills now\r\n")),
                         (550, "5.7.1 Body spam"))
        self.inst.wait_log(": reject: body buy cheap pills now from unknown[127.0.0.1]")
        # Past body_checks_size_limit (200 bytes) the body is not looked at.
        filler = "x" * 70 + "\r\n"
        code, text = self.send(message("late", body=filler * 4 + "buy cheap pills now\r\n"))
        self.assertEqual(code, 250, text)

    def test_bdat(self):
        body = message("you win a prize").encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220"))
            s.sendall(b"EHLO client.outside.test\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            s.sendall(b"MAIL FROM:<sender@outside.test>\r\nRCPT TO:<rcpt@relay.test>\r\n")
            self.assertTrue(f.readline().startswith(b"250"))
            self.assertTrue(f.readline().startswith(b"250"))
            half = len(body) // 2
            s.sendall(b"BDAT %d\r\n" % half + body[:half])
            self.assertTrue(f.readline().startswith(b"250"))
            s.sendall(b"BDAT %d LAST\r\n" % (len(body) - half) + body[half:])
            self.assertEqual(f.readline(), b"550 5.7.1 No prizes here\r\n")
            s.sendall(b"QUIT\r\n")
        self.assertEqual(self.queued("incoming"), [])

    def envelope(self, code_text):
        """The recipients (address, notify) of the message a 250 queued."""
        import re
        from test_sendmail import read_queue_file
        code, text = code_text
        self.assertEqual(code, 250, text)
        qid = re.search(r"queued as ([0-9A-F]{16})", text).group(1)
        env, rcpts, content = read_queue_file(os.path.join(self.inst.spool, "incoming", qid))
        return qid, [(r["address"], r.get("notify", "")) for r in rcpts], content

    def test_redirect_and_bcc(self):
        qid, rcpts, content = self.envelope(self.send(message("please quarantine me")))
        self.assertEqual(rcpts, [("quarantine@relay.test", "")])
        self.assertIn(b"Subject: please quarantine me", content)
        self.inst.wait_log("%s: redirect: header Subject: please quarantine me from "
                           "unknown[127.0.0.1]; from=<sender@outside.test> to=<rcpt@relay.test> "
                           "proto=ESMTP helo=<client.outside.test>: quarantine@relay.test" % qid)
        qid, rcpts, _ = self.envelope(self.send(message("archived", "X-Archive: yes\r\n")))
        self.assertEqual(rcpts, [("rcpt@relay.test", ""), ("archive@relay.test", "NEVER")])
        qid, rcpts, _ = self.envelope(self.send(message(
            "from the body", body="line\r\nsend this to the archive\r\n")))
        self.assertEqual(rcpts, [("rcpt@relay.test", ""), ("body-archive@relay.test", "NEVER")])
        # Not one address: a warning, nothing changes.
        qid, rcpts, _ = self.envelope(self.send(message("odd", "X-Bad-Redirect: x\r\n")))
        self.assertEqual(rcpts, [("rcpt@relay.test", "")])
        self.inst.wait_log('header_checks: unknown action "REDIRECT not an address"')
        # Exactly one queue file for each message: the first one written is
        # gone (tmp/ keeps only empty files ready for the next messages).
        self.assertEqual(len(self.queued("incoming")), 4)
        tmp = os.path.join(self.inst.spool, "tmp")
        self.assertEqual([f for f in os.listdir(tmp) if os.path.getsize(os.path.join(tmp, f))],
                         [])
        self.assertNotIn("Sanitizer", self.inst.read_log())

    def test_broken_table(self):
        self.write("header_checks", "/^Subject: ok/ DUNNO\n/^Subject: (unclosed/ REJECT\n")
        self.inst.mailctl("reload", check=True)
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stdout + result.stderr, r"header_checks, line 2")
        # A new smtpd cannot read the table: the message waits with the client.
        wait_for(lambda: self.send(message("anything"))[0] == 451, timeout=10,
                 what="the reloaded smtpd")
        self.assertEqual(self.send(message("anything")),
                         (451, "4.3.0 Error: temporary lookup failure"))
        self.inst.wait_log("header_checks, line 2")
        self.assertEqual(self.queued("incoming"), [])


if __name__ == "__main__":
    unittest.main()
