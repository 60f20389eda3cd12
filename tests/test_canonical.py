"""Address rewriting at receipt, as Postfix's cleanup does it:
canonical(5) mapping (sender_canonical_maps, recipient_canonical_maps,
canonical_maps, lmdb: and regexp: tables) and masquerading
(masquerade_domains with a "!" entry, masquerade_exceptions) of the
envelope and of the address header fields, for mail that smtpd
(smtplib) and pickup (sendmail) receive. The queued envelope and
content are read from the queue file (no qmgr runs): rewritten
recipients keep their original address as ORCPT, display names and
comments stay, other fields and the body are untouched. The *_classes
parameters limit what is rewritten; receive_override_options =
no_address_mappings and local_header_rewrite_clients turn it off;
remote_header_rewrite_domain rewrites remote clients' header sections
too, completing their addresses without a domain with it; a
table that cannot be read makes smtpd answer 451 and pickup keep the
drop file; mailctl check names bad tables and class words."""

import os
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402
from test_sendmail import PICKUP, read_queue_file, wakeup  # noqa: E402

SENDER = "root@mx.example.test"
RCPTS = ["info@relay.test", "bob@old.relay.test", "carol@legacy.test",
         "dave@sub.example.test"]

HEADERS = (
    "From: \"Charlie Root\" <root@mx.example.test> (the admin)\n"
    "Sender: root@host.example.test\n"
    "Reply-To: Help Desk <helpdesk@host.example.test>\n"
    "To: Info <info@relay.test>, \"Dave, D.\" <dave@sub.example.test>,\n"
    "  keeper@keep.example.test\n"
    "Cc: carol@legacy.test (Carol), team: bob@old.relay.test;\n"
    "Subject: %s for root@mx.example.test\n"
    "X-Note: helpdesk@host.example.test\n"
)
BODY = (
    "From: root@mx.example.test (a body line, not a header)\n"
    "Write to info@relay.test or helpdesk@host.example.test.\n"
)


def message(token, crlf):
    text = HEADERS % token + "\n" + BODY
    return text.replace("\n", "\r\n") if crlf else text


def split(content):
    text = content.decode().replace("\r\n", "\n")
    head, body = text.split("\n\n", 1)
    return head, body


# What each field of HEADERS becomes with the default classes.
REWRITTEN_HEADERS = [
    "From: \"Charlie Root\" <Charlie.Root@example.test> (the admin)",
    # root is a masquerade exception; no table has root@host.example.test.
    "Sender: root@host.example.test",
    "Reply-To: Help Desk <helpdesk@example.test>",
    "To: Info <office@relay.test>, \"Dave, D.\" <dave@example.test>,\n"
    "  keeper@keep.example.test",
    "Cc: carol@relay.test (Carol), team: bob@relay.test;",
]
UNCHANGED_HEADERS = (HEADERS % "x").split("\n")[:5]


class CanonicalTest(InstanceTestCase):
    PARAMS = {}

    def setUp(self):
        self.port = free_port()
        params = {
            "mydestination": "mx.example.test, localhost",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "masquerade_domains": "!keep.example.test, example.test",
            "masquerade_exceptions": "root",
        }
        params.update(self.PARAMS)
        self.inst = self.instance(params=params, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port, PICKUP], start=False)
        etc = self.inst.etc
        for name, text in (
                ("sender_canonical", "root@mx.example.test  Charlie.Root@dept.example.test\n"),
                ("recipient_canonical", "info@relay.test  office@relay.test\n"
                                        "@old.relay.test  @relay.test\n")):
            path = os.path.join(etc, name)
            with open(path, "w") as f:
                f.write(text)
            self.inst.mailctl("map", "build", path, check=True)
            self.inst.params.setdefault(name + "_maps", "lmdb:%s.lmdb" % path)
        regexp = os.path.join(etc, "canonical.regexp")
        with open(regexp, "w") as f:
            f.write("/^(.*)@legacy\\.test$/  ${1}@relay.test\n")
        self.inst.params.setdefault("canonical_maps", "regexp:" + regexp)
        self.configure(etc)
        self.inst.write_config()
        self.inst.start()

    def configure(self, etc):
        """More settings before the instance starts."""

    def queued(self, token):
        """(sender, [(address, orcpt)], header section, body) of the
        queued message with token in its content."""
        def find():
            d = os.path.join(self.inst.spool, "incoming")
            for name in os.listdir(d):
                env, rcpts, content = read_queue_file(os.path.join(d, name))
                if token.encode() in content:
                    return env, rcpts, content
            return None
        env, rcpts, content = wait_for(find, what="queue file with %r" % token)
        head, body = split(content)
        return env["sender"], [(r["address"], r["orcpt"]) for r in rcpts], head, body

    def send_smtp(self, token, sender=SENDER, rcpts=RCPTS):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail(sender, rcpts, message(token, True))

    def send_local(self, token, sender=SENDER, rcpts=RCPTS):
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", sender] + rcpts,
                                input=message(token, False).encode(), capture_output=True,
                                timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)

    def assert_headers(self, head, fields):
        head += "\n"
        for field in fields:
            self.assertIn(field + "\n", head)
        # Other fields are as they came.
        self.assertIn("X-Note: helpdesk@host.example.test\n", head)
        self.assertIn(" for root@mx.example.test\n", head)


class DefaultClassesTest(CanonicalTest):
    def check_rewritten(self, token):
        sender, rcpts, head, body = self.queued(token)
        # sender_canonical_maps, then masquerading (envelope_sender).
        self.assertEqual(sender, "Charlie.Root@example.test")
        # recipient_canonical_maps (lmdb), canonical_maps (regexp); envelope
        # recipients are not masqueraded by default. The original address
        # is kept as ORCPT.
        self.assertEqual(rcpts, [
            ("office@relay.test", "rfc822;info@relay.test"),
            ("bob@relay.test", "rfc822;bob@old.relay.test"),
            ("carol@relay.test", "rfc822;carol@legacy.test"),
            ("dave@sub.example.test", "")])
        self.assert_headers(head, REWRITTEN_HEADERS)
        self.assertEqual(body, BODY)

    def test_smtpd(self):
        self.send_smtp("token-smtpd")
        self.check_rewritten("token-smtpd")

    def test_pickup(self):
        self.send_local("token-pickup")
        self.check_rewritten("token-pickup")

    def test_null_sender_and_given_orcpt(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.mail("<>")[0], 250)
            self.assertEqual(c.rcpt("info@relay.test",
                                    ["NOTIFY=FAILURE", "ORCPT=rfc822;first@given.test"])[0],
                             250)
            self.assertEqual(c.data("Subject: token-null\r\n\r\nbody\r\n".encode())[0], 250)
        sender, rcpts, head, body = self.queued("token-null")
        self.assertEqual(sender, "")
        self.assertEqual(rcpts, [("office@relay.test", "rfc822;first@given.test")])


class HeaderChecksTest(DefaultClassesTest):
    # header_checks see the fields as they came, and the rewriting is
    # done on what they leave (smtpd's checking path, and pickup's
    # buffered one).
    def configure(self, etc):
        path = os.path.join(etc, "header_checks")
        with open(path, "w") as f:
            f.write("/^From:.*<root@mx\\.example\\.test>/  PREPEND X-Seen: original From\n"
                    "/^Reply-To: (.*)/  REPLACE Reply-To: Replaced $1\n")
        self.inst.params["header_checks"] = "regexp:" + path

    def check_rewritten(self, token):
        sender, rcpts, head, body = self.queued(token)
        self.assertEqual(sender, "Charlie.Root@example.test")
        self.assertIn("X-Seen: original From\n", head)
        fields = list(REWRITTEN_HEADERS)
        fields[2] = "Reply-To: Replaced Help Desk <helpdesk@example.test>"
        self.assert_headers(head, fields)
        self.assertEqual(body, BODY)

    test_null_sender_and_given_orcpt = None


class ClassesTest(CanonicalTest):
    PARAMS = {
        "sender_canonical_classes": "header_sender",
        "recipient_canonical_classes": "envelope_recipient",
        "masquerade_classes": "envelope_recipient",
    }

    def test_classes_limit_rewriting(self):
        for token, send in (("token-c1", self.send_smtp), ("token-c2", self.send_local)):
            send(token)
            sender, rcpts, head, body = self.queued(token)
            # Neither sender_canonical_maps nor masquerading for it.
            self.assertEqual(sender, SENDER)
            # Envelope recipients masqueraded, but "!keep" kept.
            self.assertEqual(rcpts, [
                ("office@relay.test", "rfc822;info@relay.test"),
                ("bob@relay.test", "rfc822;bob@old.relay.test"),
                ("carol@relay.test", "rfc822;carol@legacy.test"),
                ("dave@example.test", "rfc822;dave@sub.example.test")])
            self.assert_headers(head, [
                # sender_canonical_maps on header_sender, no masquerading
                "From: \"Charlie Root\" <Charlie.Root@dept.example.test> (the admin)",
                "Reply-To: Help Desk <helpdesk@host.example.test>",
                # no recipient_canonical_maps in headers; canonical_maps
                # (all classes) still rewrites carol
                "To: Info <info@relay.test>, \"Dave, D.\" <dave@sub.example.test>,\n"
                "  keeper@keep.example.test",
                "Cc: carol@relay.test (Carol), team: bob@old.relay.test;",
            ])
            self.assertEqual(body, BODY)


class NoAddressMappingsTest(CanonicalTest):
    PARAMS = {"receive_override_options": "no_address_mappings"}

    def test_nothing_rewritten(self):
        for token, send in (("token-n1", self.send_smtp), ("token-n2", self.send_local)):
            send(token)
            sender, rcpts, head, body = self.queued(token)
            self.assertEqual(sender, SENDER)
            self.assertEqual(rcpts, [(r, "") for r in RCPTS])
            self.assert_headers(head, UNCHANGED_HEADERS)
            self.assertEqual(body, BODY)

    def test_addresses_still_completed(self):
        """No mappings, but a local client's header addresses without a
        domain still get @$myorigin (append_at_myorigin is not a mapping:
        in Postfix it is trivial-rewrite's)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail(SENDER, RCPTS[:1],
                       (INCOMPLETE_HEADERS % "token-n3" + "\r\nbody\r\n").encode())
        head = self.queued("token-n3")[2] + "\n"
        for field in ("From: jdoe@mx.example.test",
                      "Reply-To: Help Desk <helpdesk@mx.example.test>",
                      "To: Info <info@relay.test>, bob@mx.example.test (Bob)",
                      "Cc: carol@legacy.test, \"Dave\" <dave@sub.example.test>"):
            self.assertIn(field + "\n", head)


class RemoteClientHeadersTest(CanonicalTest):
    # An SMTP client that is not local (not logged in, here): its
    # envelope is rewritten, its header section is not. Mail from
    # sendmail is always local.
    PARAMS = {"local_header_rewrite_clients": "permit_sasl_authenticated"}

    def test_headers_of_local_clients_only(self):
        self.send_smtp("token-r1")
        sender, rcpts, head, body = self.queued("token-r1")
        self.assertEqual(sender, "Charlie.Root@example.test")
        self.assertEqual(rcpts[0], ("office@relay.test", "rfc822;info@relay.test"))
        self.assert_headers(head, UNCHANGED_HEADERS)
        self.send_local("token-r2")
        sender, rcpts, head, body = self.queued("token-r2")
        self.assert_headers(head, REWRITTEN_HEADERS)


# A message with incomplete addresses (no domain) besides mapped ones.
INCOMPLETE_HEADERS = (
    "From: jdoe\r\n"
    "Reply-To: Help Desk <helpdesk>\r\n"
    "To: Info <info@relay.test>, bob (Bob)\r\n"
    "Cc: carol@legacy.test, \"Dave\" <dave@sub.example.test>\r\n"
    "Subject: %s\r\n"
    "X-Note: helpdesk\r\n"
)
INCOMPLETE_UNCHANGED = [
    "From: jdoe",
    "Reply-To: Help Desk <helpdesk>",
    "To: Info <info@relay.test>, bob (Bob)",
    "Cc: carol@legacy.test, \"Dave\" <dave@sub.example.test>",
]
# A local client's: completed with @$myorigin (append_at_myorigin;
# mx.example.test here), then the tables and masquerading (example.test).
INCOMPLETE_LOCAL = [
    "From: jdoe@example.test",
    "Reply-To: Help Desk <helpdesk@example.test>",
    "To: Info <office@relay.test>, bob@example.test (Bob)",
    "Cc: carol@relay.test, \"Dave\" <dave@example.test>",
]
# The same with append_at_myorigin = no: the tables and masquerading only.
INCOMPLETE_LOCAL_BARE = [
    "From: jdoe",
    "Reply-To: Help Desk <helpdesk>",
    "To: Info <office@relay.test>, bob (Bob)",
    "Cc: carol@relay.test, \"Dave\" <dave@example.test>",
]


class RemoteHeaderDomainTest(CanonicalTest):
    """remote_header_rewrite_domain: a client at 127.0.0.2 is not at
    this host's address (inet_interfaces = 127.0.0.1), so not local for
    the default local_header_rewrite_clients, but may relay (mynetworks
    127.0.0.0/8)."""

    def configure(self, etc):
        # The tables see a remote client's incomplete address completed.
        with open(os.path.join(etc, "canonical.regexp"), "a") as f:
            f.write("/^helpdesk@domain\\.invalid$/  help@example.test\n")

    def send_from(self, address, token):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30,
                          source_address=(address, 0)) as c:
            c.sendmail(SENDER, RCPTS[:2],
                       (INCOMPLETE_HEADERS % token + "\r\nbody\r\n").encode())
        sender, rcpts, head, body = self.queued(token)
        # The envelope is rewritten for every client, and never completed.
        self.assertEqual(sender, "Charlie.Root@example.test")
        self.assertEqual(rcpts, [("office@relay.test", "rfc822;info@relay.test"),
                                 ("bob@relay.test", "rfc822;bob@old.relay.test")])
        head += "\n"
        self.assertIn("X-Note: helpdesk\n", head)
        self.assertEqual(body, "body\n")
        return head

    def assert_fields(self, head, fields):
        for field in fields:
            self.assertIn(field + "\n", head)


class RemoteHeaderDomainEmptyTest(RemoteHeaderDomainTest):
    def test_remote_headers_untouched(self):
        head = self.send_from("127.0.0.2", "token-e1")
        self.assert_fields(head, INCOMPLETE_UNCHANGED)
        head = self.send_from("127.0.0.1", "token-e2")
        self.assert_fields(head, INCOMPLETE_LOCAL)

    def test_local_mail_completed_with_myorigin(self):
        """append_at_myorigin (default yes): sendmail's header addresses
        without a domain get @$myorigin too; with no, they stay bare."""
        def sendmail(token):
            text = (INCOMPLETE_HEADERS % token + "\r\nbody\r\n").replace("\r\n", "\n")
            result = subprocess.run(
                [self.inst.program("sendmail"), "-C", self.inst.etc, "-f", SENDER] + RCPTS[:2],
                input=text.encode(), capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            return self.queued(token)[2] + "\n"
        self.assert_fields(sendmail("token-e3"), INCOMPLETE_LOCAL)
        self.inst.reload(params={"append_at_myorigin": "no"})
        try:
            head = self.send_from("127.0.0.1", "token-e4")
            self.assert_fields(head, INCOMPLETE_LOCAL_BARE)
            self.assert_fields(sendmail("token-e5"), INCOMPLETE_LOCAL_BARE)
        finally:
            self.inst.reload(params={"append_at_myorigin": "yes"})


class RemoteHeaderDomainSetTest(RemoteHeaderDomainTest):
    PARAMS = {"remote_header_rewrite_domain": "domain.invalid"}

    def test_remote_headers_completed_and_mapped(self):
        head = self.send_from("127.0.0.2", "token-s1")
        self.assert_fields(head, [
            "From: jdoe@domain.invalid",
            "Reply-To: Help Desk <help@example.test>",
            "To: Info <office@relay.test>, bob@domain.invalid (Bob)",
            "Cc: carol@relay.test, \"Dave\" <dave@example.test>",
        ])
        # A local client's incomplete addresses do not get the domain.
        head = self.send_from("127.0.0.1", "token-s2")
        self.assert_fields(head, INCOMPLETE_LOCAL)

    def test_bad_domain(self):
        self.inst.reload(params={"remote_header_rewrite_domain": "not a domain"})
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as c:
                c.noop()
        except (smtplib.SMTPException, OSError):
            pass
        self.inst.wait_log("remote_header_rewrite_domain: \"not a domain\" is not a domain")


class BrokenTableTest(CanonicalTest):
    def test_unreadable_table(self):
        os.unlink(os.path.join(self.inst.etc, "recipient_canonical.lmdb"))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.mail(SENDER)[0], 250)
            self.assertEqual(c.rcpt("info@relay.test")[0], 250)
            with self.assertRaises(smtplib.SMTPDataError) as refused:
                c.data(b"Subject: token-b1\r\n\r\nbody\r\n")
        self.assertEqual((refused.exception.smtp_code, refused.exception.smtp_error),
                         (451, b"4.3.0 Error: temporary lookup failure"))
        self.inst.wait_log("recipient_canonical_maps: ")
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("recipient_canonical.lmdb", result.stdout + result.stderr)
        # pickup keeps the message until the table is back.
        self.send_local("token-b2", rcpts=["info@relay.test"])
        self.inst.wait_log("it stays in maildrop/")
        self.assertEqual(len(os.listdir(os.path.join(self.inst.spool, "maildrop"))), 1)
        self.inst.mailctl("map", "build", os.path.join(self.inst.etc, "recipient_canonical"),
                          check=True)
        wakeup(os.path.join(self.inst.spool, "public", "pickup"))
        sender, rcpts, head, body = self.queued("token-b2")
        self.assertEqual(rcpts, [("office@relay.test", "rfc822;info@relay.test")])

    def test_check_names_bad_class(self):
        self.inst.params["masquerade_classes"] = "envelope_sender, header_senders"
        self.inst.write_config()
        result = self.inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("masquerade_classes: \"header_senders\"", result.stdout + result.stderr)


del CanonicalTest

if __name__ == "__main__":
    unittest.main()
