"""mime_header_checks and nested_header_checks, as Postfix: real MIME
messages built with Python's email package and sent with smtplib. The
classic attachment rule in header_checks refuses an .exe attachment
(mime_header_checks defaults to $header_checks) and lets a .pdf through;
the headers of parts are not body lines for body_checks; the headers of an
attached message (message/rfc822) go to nested_header_checks, not to
header_checks, and those of the message itself never to
nested_header_checks; a service with mime_header_checks set empty does not
look at attachments; the decision is logged in Postfix's form."""

import os
import smtplib
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port  # noqa: E402

HEADER_CHECKS = r"""# the classic attachment rule, and one for the message's own Subject
/^Content-(Disposition|Type):.*name[[:space:]]*=[[:space:]]*"?[^"]*\.(exe|scr|bat)"?$/ REJECT 5.7.1 Attachment type not allowed
/^Subject:.*forbidden/    REJECT 5.7.1 Subject refused
"""
NESTED_CHECKS = r"""/^Subject:.*nested only/   REJECT 5.7.1 Attached message refused
"""
BODY_CHECKS = r"""/^Content-Disposition:/   REJECT 5.7.1 a part header was seen as body
/^body spam/               REJECT 5.7.1 Body spam
"""


def mail(subject="hello", attachment=None, attached=None, text="hi there\n"):
    msg = EmailMessage()
    msg["From"] = "sender@outside.test"
    msg["To"] = "rcpt@relay.test"
    msg["Subject"] = subject
    msg.set_content(text)
    if attachment:
        msg.add_attachment(b"MZ\x90\x00 binary", maintype="application",
                           subtype="octet-stream", filename=attachment)
    if attached:
        msg.add_attachment(attached)  # message/rfc822
    return msg


class MimeHeaderChecksTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        self.plain_port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                     "127.0.0.1:%d inet n - n - - smtpd -o mime_header_checks="
                     % self.plain_port], start=False)
        for name, text in (("header_checks", HEADER_CHECKS), ("nested", NESTED_CHECKS),
                           ("body_checks", BODY_CHECKS)):
            with open(os.path.join(self.inst.etc, name), "w") as f:
                f.write(text)
        self.inst.params["header_checks"] = "regexp:%s/header_checks" % self.inst.etc
        self.inst.params["nested_header_checks"] = "regexp:%s/nested" % self.inst.etc
        self.inst.params["body_checks"] = "regexp:%s/body_checks" % self.inst.etc
        self.inst.write_config()
        self.inst.start()

    def send(self, msg, port=None):
        """(code, text) of the end of DATA for msg."""
        with smtplib.SMTP("127.0.0.1", port or self.port, timeout=30) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("sender@outside.test")[0], 250)
            self.assertEqual(c.rcpt("rcpt@relay.test")[0], 250)
            code, text = c.data(msg.as_bytes().replace(b"\n", b"\r\n"))
            return code, text.decode()

    def test_attachment_types(self):
        self.assertEqual(self.send(mail(attachment="invoice.exe")),
                         (550, "5.7.1 Attachment type not allowed"))
        self.inst.wait_log(': reject: header Content-Disposition: attachment; '
                           'filename="invoice.exe" from unknown[127.0.0.1]; '
                           'from=<sender@outside.test> to=<rcpt@relay.test> proto=ESMTP '
                           'helo=<client.outside.test>: 5.7.1 Attachment type not allowed')
        # A harmless type passes, and its part headers are no body lines.
        code, text = self.send(mail(attachment="report.pdf"))
        self.assertEqual(code, 250, text)
        # Body lines are still checked, inside the parts.
        self.assertEqual(self.send(mail(attachment="report.pdf", text="body spam\n")),
                         (550, "5.7.1 Body spam"))

    def test_attached_messages(self):
        inner = mail(subject="nested only here")
        self.assertEqual(self.send(mail(attached=inner)),
                         (550, "5.7.1 Attached message refused"))
        # nested_header_checks is not for the message's own headers ...
        code, text = self.send(mail(subject="nested only here"))
        self.assertEqual(code, 250, text)
        # ... and header_checks not for an attached message's.
        code, text = self.send(mail(attached=mail(subject="forbidden words")))
        self.assertEqual(code, 250, text)
        self.assertEqual(self.send(mail(subject="forbidden words")),
                         (550, "5.7.1 Subject refused"))
        # An attachment inside an attached message is a MIME header there too.
        self.assertEqual(self.send(mail(attached=mail(attachment="x.scr"))),
                         (550, "5.7.1 Attachment type not allowed"))

    def test_mime_header_checks_empty(self):
        code, text = self.send(mail(attachment="invoice.exe"), port=self.plain_port)
        self.assertEqual(code, 250, text)
        self.assertEqual(self.send(mail(subject="forbidden"), port=self.plain_port),
                         (550, "5.7.1 Subject refused"))


if __name__ == "__main__":
    unittest.main()
