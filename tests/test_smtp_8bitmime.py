"""8BITMIME downgrade (RFC 6152 section 3): 8-bit mail that Postern's smtp
client relays to a server that does not offer 8BITMIME goes out as 7-bit
MIME, each 8-bit part quoted-printable, by DATA and by BDAT, and decodes
with Python's email package to exactly the text that was sent; with
disable_mime_output_conversion = yes it bounces (5.6.3) as before."""

import email
import os
import re
import smtplib
import sys
import unittest
from email import policy
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import SENDER_SERVICES, ScriptedServer, free_port_on, sender_params  # noqa: E402

SERVER = "127.0.0.31"
SENDER = "s@out.sender.test"

TEXT = ("Grüße aus Köln — naïve café, ½ € and ☃.\n"
        "A line with = signs = and trailing space \n"
        "tab at the end\t\n"
        ".a line starting with a dot\n"
        "--a line starting with dashes\n"
        "From the start of a line\n"
        + "Long line with 8-bit characters: " + "äöü ß " * 40 + "end\n"
        + "x" * 200 + "\n"
        "\n"
        "last line ünïcödé\n")
HTML = "<p>Grüße — <b>ça marche</b> =3D not an escape</p>\n"
INNER = "Nested message body: søren's smørrebrød\n"


def plain_message():
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = SENDER
    msg["To"] = "a@remote.example"
    msg["Subject"] = "8-bit text"
    msg.set_content(TEXT, charset="utf-8", cte="8bit")
    return msg.as_bytes()


def multipart_message():
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = SENDER
    msg["To"] = "a@remote.example"
    msg["Subject"] = "8-bit multipart"
    msg.set_content(TEXT, charset="utf-8", cte="8bit")
    msg.add_alternative(HTML, subtype="html", charset="utf-8", cte="8bit")
    msg.add_attachment("plain ascii attachment\n", filename="a.txt", cte="7bit")
    msg.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream",
                       filename="b.bin")
    inner = EmailMessage(policy=policy.SMTP)
    inner["Subject"] = "inner"
    inner.set_content(INNER, charset="utf-8", cte="8bit")
    msg.add_attachment(inner)
    return msg.as_bytes()


def leaves(raw):
    """(content type, content) of every leaf part: text decoded to str
    with LF line ends, anything else as bytes."""
    out = []
    for part in email.message_from_bytes(raw, policy=policy.default).walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() == "text":
            out.append((part.get_content_type(), part.get_content().replace("\r\n", "\n")))
        else:
            out.append((part.get_content_type(), part.get_payload(decode=True)))
    return out


class Smtp8BitMimeTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", SERVER)
        self.captured = []
        self.mail_commands = []

    def start_server(self, chunking):
        """A server that offers neither 8BITMIME nor SMTPUTF8; records
        each MAIL command and the content of each message."""
        def session(peer, n):
            peer.send("220 seven-bit ESMTP\r\n")
            while True:
                cmd = peer.line()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    peer.send("250-seven-bit\r\n250-PIPELINING\r\n%s250 SIZE 10000000\r\n"
                              % ("250-CHUNKING\r\n" if chunking else ""))
                elif verb == "MAIL":
                    self.mail_commands.append(cmd)
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
                    # Undo the dot-stuffing.
                    raw = re.sub(rb"(?m)^\.", b"", raw)
                    self.captured.append(raw)
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "BDAT":
                    words = cmd.split()
                    size = int(words[1])
                    while len(peer.buf) < size:
                        chunk = peer.conn.recv(65536)
                        if not chunk:
                            raise EOFError()
                        peer.buf += chunk
                    self.bdat += peer.buf[:size]
                    peer.buf = peer.buf[size:]
                    if len(words) > 2 and words[2].upper() == "LAST":
                        self.captured.append(self.bdat)
                        self.bdat = b""
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "RSET":
                    peer.send("250 ok\r\n")
                elif verb == "QUIT":
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("502 5.5.1 no\r\n")
        self.bdat = b""
        server = ScriptedServer(SERVER, self.port, session)
        self.addCleanup(server.stop)
        return server

    def sender(self, **extra):
        smtpd_port = free_port_on("127.0.0.2")
        params = sender_params(None, self.port, relayhost="[%s]" % SERVER,
                               smtp_connection_cache_time_limit="0s", **extra)
        inst = Instance(params=params, services=list(SENDER_SERVICES) + [
            "127.0.0.2:%d inet n - n - - smtpd" % smtpd_port])
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst, smtpd_port

    def relay(self, raw, rcpt, chunking=False, **extra):
        """Send raw with BODY=8BITMIME through a sending instance to the
        7-bit server; returns the instance."""
        self.start_server(chunking)
        inst, smtpd_port = self.sender(**extra)
        with smtplib.SMTP("127.0.0.2", smtpd_port, timeout=30) as c:
            c.ehlo("client.example")
            c.sendmail(SENDER, [rcpt], raw, mail_options=["BODY=8BITMIME"])
        inst.wait_log("to=<%s>" % rcpt, timeout=30)
        return inst

    def assert_converted(self, inst, rcpt, raw):
        log = "\n".join(l for l in inst.read_log().splitlines() if "to=<%s>" % rcpt in l)
        self.assertRegex(log, r"dsn=2\.0\.0, status=sent")
        self.assertEqual(len(self.captured), 1)
        out = self.captured[0]
        # All 7-bit, lines of at most 998 bytes, every line end CRLF.
        self.assertTrue(all(b < 0x80 for b in out), out)
        self.assertNotRegex(out, rb"\r(?!\n)|(?<!\r)\n")
        self.assertTrue(all(len(l) <= 998 for l in out.split(b"\r\n")))
        # No BODY= to a server without 8BITMIME.
        self.assertEqual(len(self.mail_commands), 1)
        self.assertNotIn("BODY=", self.mail_commands[0].upper())
        # Same parts, same decoded content.
        self.assertEqual(leaves(out), leaves(raw))
        return email.message_from_bytes(out, policy=policy.default)

    def test_text_plain_is_sent_quoted_printable(self):
        raw = plain_message()
        inst = self.relay(raw, "a@remote.example")
        msg = self.assert_converted(inst, "a@remote.example", raw)
        self.assertEqual(msg["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(msg.get_content().replace("\r\n", "\n"), TEXT)
        self.assertEqual(msg["Subject"], "8-bit text")
        # Quoted-printable lines stay within 76 characters.
        body = self.captured[0].split(b"\r\n\r\n", 1)[1]
        self.assertTrue(all(len(l) <= 76 for l in body.split(b"\r\n")), body)
        self.assertIn(b"=\r\n", body)
        # The header section is the same but for the one field.
        head_in = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        head_out = self.captured[0].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        self.assertEqual([l for l in head_in if not l.startswith(b"Content-Transfer-Encoding")],
                         [l for l in head_out
                          if not l.startswith(b"Content-Transfer-Encoding")
                          and not l.startswith(b"Received:")
                          and not l.startswith(b"\t")])

    def check_multipart(self, chunking):
        raw = multipart_message()
        inst = self.relay(raw, "b@remote.example", chunking=chunking)
        msg = self.assert_converted(inst, "b@remote.example", raw)
        ctes = {}
        for part in msg.walk():
            ctes.setdefault(part.get_content_type(), []).append(
                part.get("Content-Transfer-Encoding"))
        self.assertEqual(ctes["text/plain"], ["quoted-printable", "7bit", "quoted-printable"])
        self.assertEqual(ctes["text/html"], ["quoted-printable"])
        self.assertEqual(ctes["application/octet-stream"], ["base64"])
        self.assertIn(ctes["message/rfc822"], ([None], ["7bit"]))
        texts = [c for t, c in leaves(self.captured[0]) if t == "text/plain"]
        self.assertEqual(texts, [TEXT, "plain ascii attachment\n", INNER])
        self.assertEqual([c for t, c in leaves(self.captured[0]) if t == "text/html"], [HTML])

    def test_multipart_is_sent_quoted_printable(self):
        self.check_multipart(chunking=False)

    def test_multipart_by_bdat(self):
        self.check_multipart(chunking=True)

    def test_conversion_disabled_bounces(self):
        inst = self.relay(plain_message(), "c@remote.example",
                          disable_mime_output_conversion="yes")
        log = "\n".join(l for l in inst.read_log().splitlines() if "to=<c@remote.example>" in l)
        self.assertRegex(log, r"dsn=5\.6\.3, status=bounced \(message has 8-bit content, but "
                         r"host \S+ does not offer 8BITMIME")
        self.assertEqual(self.captured, [])
        self.assertEqual(self.mail_commands, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
