"""smtp_body_checks, smtp_mime_header_checks and smtp_nested_header_checks
(Postfix's restricted body_checks and header_checks for the SMTP client;
lmtp_X for lmtp): mail that leaves by SMTP has its body lines REPLACEd or
IGNOREd, the headers of its MIME parts and of an attached message edited,
by DATA (dot-stuffing still right after a replacement, 8-bit bytes kept)
and by BDAT; WARN logs and sends the line unchanged; REJECT is logged as
not supported on the way out and ignored, as smtp_header_checks does; a
table that cannot be read defers the mail (4.3.0); the local copy keeps
the original. lmtp_body_checks does the same for lmtp."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, free_port_on,  # noqa: E402
                        maildir_messages, sender_params, submit)
from test_lmtp import SERVICES as LMTP_SERVICES, LmtpServer  # noqa: E402

SERVER = "127.0.0.3"

BODY_CHECKS = r"""# smtp_body_checks
/^internal build host: (.*)$/   REPLACE .build host: $1 (hidden)
/^secret line/                  IGNORE
/^odd body line/                WARN odd body line going out
/^stop here/                    REJECT no
"""

MIME_CHECKS = r"""# smtp_mime_header_checks
/^Content-Description: internal (.*)$/   REPLACE Content-Description: $1
"""

NESTED_CHECKS = r"""# smtp_nested_header_checks
/^Received: from [^ ]*\.internal\.example/   IGNORE
/^Subject: (.*)$/                           REPLACE Subject: forwarded: $1
"""

MESSAGE = (
    b"From: root@localhost.localdomain\n"
    b"To: friend@far.example\n"
    b"Subject: report\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\n"
    b"\n"
    b"preamble\n"
    b"--b1\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Description: internal notes\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"internal build host: b7.internal.example\n"
    b"secret line: do not send\n"
    b"odd body line\n"
    b"stop here please\n"
    b".a line starting with a dot\n"
    b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n"
    b"--b1\n"
    b"Content-Type: message/rfc822\n"
    b"\n"
    b"Received: from laptop.internal.example (laptop.internal.example [10.0.0.7])\n"
    b"\tby mail.internal.example; Thu, 3 Dec 2026 10:00:00 +0000\n"
    b"Subject: the old one\n"
    b"From: other@example.com\n"
    b"\n"
    b"attached body\n"
    b"--b1--\n"
    b"the end\n"
)


def norm(data):
    return data.replace(b"\r\n", b"\n")


class Capture:
    """A scripted ESMTP server keeping each message's content: by DATA
    (dot-stuffed as sent, and unstuffed) or by BDAT when it offers
    CHUNKING."""

    def __init__(self, port, chunking=False):
        self.chunking = chunking
        self.messages = []   # content, unstuffed
        self.wire = []       # DATA content as sent (dot-stuffed)
        self.verbs = []
        self.server = ScriptedServer(SERVER, port, self.session)

    def session(self, peer, n):
        peer.send("220 capture ESMTP\r\n")
        bdat = b""
        while True:
            cmd = peer.line()
            verb = cmd[:4].upper()
            self.verbs.append(verb)
            if verb == "EHLO":
                peer.send("250-capture\r\n250-PIPELINING\r\n250-8BITMIME\r\n%s"
                          "250 SIZE 10000000\r\n" % ("250-CHUNKING\r\n" if self.chunking else ""))
            elif verb == "MAIL":
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                peer.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                while b"\r\n.\r\n" not in b"\r\n" + peer.buf:
                    chunk = peer.conn.recv(65536)
                    if not chunk:
                        raise EOFError()
                    peer.buf += chunk
                raw, _, peer.buf = (b"\r\n" + peer.buf).partition(b"\r\n.\r\n")
                raw = raw[2:] + b"\r\n"
                self.wire.append(raw)
                self.messages.append(b"\r\n".join(l[1:] if l.startswith(b".") else l
                                                  for l in raw.split(b"\r\n")))
                peer.send("250 2.0.0 ok\r\n")
            elif verb == "BDAT":
                words = cmd.split()
                size = int(words[1])
                while len(peer.buf) < size:
                    chunk = peer.conn.recv(65536)
                    if not chunk:
                        raise EOFError()
                    peer.buf += chunk
                bdat += peer.buf[:size]
                peer.buf = peer.buf[size:]
                if len(words) > 2 and words[2].upper() == "LAST":
                    self.messages.append(bdat)
                    bdat = b""
                peer.send("250 2.0.0 ok\r\n")
            elif verb == "RSET":
                peer.send("250 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 bye\r\n")
                return
            else:
                peer.send("502 5.5.1 no\r\n")


class SmtpBodyChecksTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", SERVER)

    def sender(self, chunking=False, body_checks=BODY_CHECKS, **params):
        self.capture = Capture(self.port, chunking)
        self.addCleanup(self.capture.server.stop)
        inst = Instance(params=sender_params(None, self.port,
                                             relayhost="[%s]:%d" % (SERVER, self.port),
                                             virtual_mailbox_domains="virt.example",
                                             **params),
                        services=SENDER_SERVICES)
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(["a@virt.example"])
        for name, text in (("body", body_checks), ("mime", MIME_CHECKS),
                           ("nested", NESTED_CHECKS)):
            path = os.path.join(inst.etc, name)
            with open(path, "w") as f:
                f.write(text)
        inst.params.setdefault("smtp_body_checks", "regexp:%s/body" % inst.etc)
        inst.params.setdefault("smtp_mime_header_checks", "regexp:%s/mime" % inst.etc)
        inst.params.setdefault("smtp_nested_header_checks", "regexp:%s/nested" % inst.etc)
        inst.write_config()
        return inst, vmail

    def relay(self, inst, rcpts=("friend@far.example",)):
        inst.start()
        submit(inst, "root@localhost.localdomain", list(rcpts), MESSAGE)
        wait_for(lambda: len(self.capture.messages) == 1, timeout=30,
                 what="the relayed message")
        inst.wait_log("to=<friend@far.example>, relay=%s" % SERVER, timeout=10)
        return norm(self.capture.messages[0])

    def assert_edited(self, sent, subject=b"report"):
        head, _, body = sent.partition(b"\n\n")
        self.assertIn(b"\nSubject: %s\n" % subject, head)     # not a nested header
        # Body lines: REPLACEd, IGNOREd, WARNed (kept), REJECT ignored.
        self.assertIn(b"\n.build host: b7.internal.example (hidden)\n", body)
        self.assertNotIn(b"internal build host", body)
        self.assertNotIn(b"secret line", body)
        self.assertIn(b"\nodd body line\nstop here please\n.a line starting with a dot\n"
                      b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n", body)
        # The part's MIME header, and the attached message's headers.
        self.assertIn(b"\nContent-Description: notes\n", body)
        self.assertNotIn(b"internal notes", body)
        self.assertNotIn(b"laptop.internal.example", body)
        self.assertIn(b"Content-Type: message/rfc822\n\nSubject: forwarded: the old one\n"
                      b"From: other@example.com\n\nattached body\n--b1--\nthe end\n", body)
        self.assertTrue(body.startswith(b"preamble\n--b1\nContent-Type: text/plain; "
                                        b"charset=utf-8\n"), body)

    def test_edited_by_data(self):
        inst, vmail = self.sender()
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        sent = self.relay(inst, ("friend@far.example", "a@virt.example"))
        self.assert_edited(sent)
        self.assertIn("DATA", self.capture.verbs)
        # Dot-stuffing: the replaced line and the original dot line went
        # out with their dot doubled.
        wire = norm(self.capture.wire[0])
        self.assertIn(b"\n..build host: b7.internal.example (hidden)\n", wire)
        self.assertIn(b"\n..a line starting with a dot\n", wire)
        inst.wait_log("warning: body odd body line from local; "
                      "from=<root@localhost.localdomain> to=<friend@far.example>: "
                      "odd body line going out")
        inst.wait_log('smtp_body_checks: "REJECT no" is not supported on the way out; '
                      "ignored (stop here please)")
        inst.wait_log("replace: header Content-Description: internal notes from local")
        self.assertRegex(inst.read_log(), r"to=<friend@far\.example>, relay=127\.0\.0\.3.*"
                         r"status=sent")
        # The local copy (and so the queue file) kept every line.
        wait_for(lambda: maildir_messages(vmail, "a@virt.example"), timeout=30,
                 what="the local delivery")
        local = norm(maildir_messages(vmail, "a@virt.example")[0])
        self.assertIn(b"internal build host: b7.internal.example\nsecret line", local)
        self.assertIn(b"laptop.internal.example", local)

    def test_edited_by_bdat(self):
        inst, _ = self.sender(chunking=True)
        sent = self.relay(inst)
        self.assertIn("BDAT", self.capture.verbs)
        self.assertNotIn("DATA", self.capture.verbs)
        self.assert_edited(sent)

    def test_with_header_checks(self):
        """smtp_header_checks still apply to the top-level header section
        in the same pass."""
        inst, _ = self.sender()
        path = os.path.join(inst.etc, "header")
        with open(path, "w") as f:
            f.write("/^Subject: (.*)$/ REPLACE Subject: outside: $1\n")
        inst.params["smtp_header_checks"] = "regexp:" + path
        inst.write_config()
        sent = self.relay(inst)
        self.assert_edited(sent, subject=b"outside: report")

    def test_only_body_checks(self):
        """With smtp_body_checks alone, MIME and nested headers go as they are."""
        inst, _ = self.sender(smtp_mime_header_checks="", smtp_nested_header_checks="")
        sent = self.relay(inst)
        self.assertIn(b"\n.build host: b7.internal.example (hidden)\n", sent)
        self.assertIn(b"\nContent-Description: internal notes\n", sent)
        self.assertIn(b"laptop.internal.example", sent)

    def test_large_message_and_size_limit(self):
        """A message far larger than one read block streams through whole;
        body lines past body_checks_size_limit go unchecked."""
        inst, _ = self.sender(smtp_mime_header_checks="", smtp_nested_header_checks="",
                              body_checks_size_limit="100000")
        filler = b"".join(b"filler line %06d ..........................................\n" % i
                          for i in range(6000))
        message = (b"Subject: big\n\nsecret line early\n" + filler +
                   b"secret line late\nthe end\n")
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"], message)
        wait_for(lambda: len(self.capture.messages) == 1, timeout=30, what="the big message")
        sent = norm(self.capture.messages[0])
        body = sent.partition(b"\n\n")[2]
        self.assertEqual(body, filler + b"secret line late\nthe end\n")

    def test_unreadable_table_defers(self):
        inst, _ = self.sender(smtp_body_checks="regexp:/nonexistent/postern-body-checks")
        inst.start()
        submit(inst, "root@localhost.localdomain", ["friend@far.example"], MESSAGE)
        inst.wait_log("to=<friend@far.example>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<friend@far\.example>, .*dsn=4\.3\.0, "
                         r"status=deferred \(smtp_body_checks: a table cannot be read\)")
        self.assertEqual(self.capture.messages, [])


class LmtpBodyChecksTest(InstanceTestCase):
    def test_lmtp_body_checks(self):
        """lmtp_body_checks, not smtp_body_checks, for the lmtp client."""
        inst = self.instance(params={
            "mydestination": "localhost",
            "virtual_mailbox_domains": "virt.test",
            "virtual_transport": "lmtp:unix:private/test-lmtp",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "lmtp_lhlo_timeout": "5s",
            "lmtp_data_done_timeout": "5s",
        }, services=LMTP_SERVICES, start=False)
        path = os.path.join(inst.etc, "body")
        with open(path, "w") as f:
            f.write(BODY_CHECKS)
        inst.params["lmtp_body_checks"] = "regexp:" + path
        inst.params["smtp_body_checks"] = "regexp:/nonexistent/not-for-lmtp"
        inst.write_config()
        inst.start()
        server = LmtpServer(os.path.join(inst.spool, "private", "test-lmtp"))
        self.addCleanup(server.stop)
        submit(inst, "sender@virt.test", ["ok@virt.test"], MESSAGE)
        inst.wait_log("to=<ok@virt.test>, relay=", timeout=30)
        self.assertEqual(len(server.delivered), 1, inst.read_log())
        data = norm(server.delivered[0][1])
        self.assertIn(b"\n.build host: b7.internal.example (hidden)\n", data)
        self.assertNotIn(b"secret line", data)
        self.assertIn(b"\nContent-Description: internal notes\n", data)
        inst.wait_log('lmtp_body_checks: "REJECT no" is not supported on the way out')


if __name__ == "__main__":
    unittest.main()
