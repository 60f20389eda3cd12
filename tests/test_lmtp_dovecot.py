"""Interoperation with Dovecot's LMTP server (Debian's dovecot-lmtpd), the
set-up of admins who keep Dovecot beside the MTA: Postern's lmtp client
hands mail to a real Dovecot, which stores it in its own Maildirs.

- virtual_transport = lmtp:unix:SOCKET (an absolute path outside the
  queue): mail submitted with sendmail for two users Dovecot knows and one
  it does not arrives once in each known INBOX, byte for byte (a line with
  a leading dot, 8-bit text, a long line), with Dovecot's Received and
  Return-Path; the unknown one bounces with Dovecot's own RCPT reply, and
  the DSN, delivered through Dovecot too, is parsed with Python's email
  package.
- transport_maps to lmtp:inet:127.0.0.1:PORT for a relay domain: mail
  received by Postern's smtpd from smtplib is in Dovecot's INBOX with
  Dovecot's Delivered-To, and three messages for a destination taking one
  delivery at a time share one LMTP session (Dovecot logs one
  connection)."""
import email
import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Dovecot, have, submit  # noqa: E402
from postern_test import IS_ROOT, InstanceTestCase, free_port, wait_for  # noqa: E402

SERVICES = [
    "qmgr unix n - n 300 1 qmgr",
    "pickup unix n - n 60 1 pickup",
    "local unix - n n - - local",
    "lmtp unix - n n - - lmtp",
]


@unittest.skipUnless(have("dovecot") and IS_ROOT, "needs dovecot (dovecot-lmtpd) and root")
class DovecotLmtpTest(InstanceTestCase):
    def setUp(self):
        self.dovecot = Dovecot(free_port(), ["alice@dv.example", "carol@dv.example",
                                             "sender@dv.example", "dave@relay.example"])
        self.addCleanup(self.dovecot.stop)

    def test_virtual_transport_unix_socket(self):
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "dv.example",
            "virtual_transport": "lmtp:unix:%s" % self.dovecot.socket,
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }, services=SERVICES)
        long_line = b"x" * 900
        body = (b"Subject: to dovecot\nMIME-Version: 1.0\n"
                b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                b"first line\n.a line with a leading dot\n..two dots\n"
                + "gr\u00fc\u00dfe aus K\u00f6ln\n".encode() + long_line + b"\nlast line\n")
        submit(inst, "sender@dv.example",
               ["alice@dv.example", "bob@dv.example", "carol@dv.example"], body)
        relay = r"relay=mx\.example\.test\[%s\]" % self.dovecot.socket.replace(".", r"\.")
        for rcpt in ("alice", "bob", "carol"):
            inst.wait_log("to=<%s@dv.example>, relay=" % rcpt, timeout=30)
        log = inst.read_log()
        for rcpt in ("alice", "carol"):
            self.assertRegex(log, r"to=<%s@dv\.example>, %s, .*dsn=2\.0\.0, status=sent "
                             r"\(250 2\.0\.0 <%s@dv\.example> \S+ Saved\)" % (rcpt, relay, rcpt))
        self.assertRegex(log, r"to=<bob@dv\.example>, %s, .*dsn=5\.1\.1, status=bounced "
                         r"\(host mx\.example\.test\[.*\] said: 550 5\.1\.1 <bob@dv\.example> "
                         r"User doesn't exist" % relay)
        for rcpt in ("alice", "carol"):
            msgs = self.dovecot.messages("%s@dv.example" % rcpt)
            self.assertEqual(len(msgs), 1, rcpt)
            stored = msgs[0].replace(b"\r\n", b"\n")
            head, _, stored_body = stored.partition(b"\n\n")
            self.assertIn(b"Return-Path: <sender@dv.example>", head)
            # Dovecot's own trace (it adds Delivered-To only to mail
            # with a single recipient in the LMTP transaction).
            self.assertRegex(head, rb"Received: from mx\.example\.test\n\tby \S+ with LMTP")
            self.assertIn(b"Subject: to dovecot", head)
            self.assertEqual(stored_body, body.partition(b"\n\n")[2])
        self.assertEqual(self.dovecot.messages("bob@dv.example"), [])
        # The bounce for bob goes back to the sender, through Dovecot too.
        dsn_raw = wait_for(lambda: self.dovecot.messages("sender@dv.example"), timeout=30,
                           what="the DSN in the sender's Dovecot INBOX")[0]
        dsn = email.message_from_bytes(dsn_raw)
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        fields = status[0].get_payload()[1]
        self.assertEqual(fields["Final-Recipient"], "rfc822; bob@dv.example")
        self.assertEqual(fields["Action"], "failed")
        self.assertEqual(fields["Status"], "5.1.1")
        self.assertIn("User doesn't exist", fields["Diagnostic-Code"])
        dlog = self.dovecot.read_log()
        self.assertIn("lmtp(alice@dv.example)", dlog)
        self.assertIn("lmtp(carol@dv.example)", dlog)
        self.assertNotIn("Sanitizer", inst.read_log())

    def test_one_recipient_per_transaction(self):
        """lmtp_destination_recipient_limit = 1 (as README advises for
        Dovecot's Delivered-To): each recipient gets its own transaction
        and Dovecot's Delivered-To for it."""
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "dv.example",
            "virtual_transport": "lmtp:unix:%s" % self.dovecot.socket,
            "lmtp_destination_recipient_limit": "1",
        }, services=SERVICES)
        submit(inst, "sender@dv.example", ["alice@dv.example", "carol@dv.example"],
               b"Subject: one each\n\nbody\n")
        for rcpt in ("alice", "carol"):
            msgs = wait_for(lambda: self.dovecot.messages("%s@dv.example" % rcpt), timeout=30,
                            what="the message in %s's INBOX" % rcpt)
            self.assertEqual(len(msgs), 1)
            self.assertIn(b"Delivered-To: %s@dv.example" % rcpt.encode(), msgs[0])

    def test_transport_maps_inet_session_reuse(self):
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "relay.example",
            "mynetworks": "127.0.0.0/8",
            "lmtp_connection_cache_time_limit": "10s",
            "lmtp_destination_concurrency_limit": "1",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % free_port()] + SERVICES,
            start=False)
        port = int(inst.services[0].split()[0].rsplit(":", 1)[1])
        tpath = os.path.join(inst.etc, "transport")
        with open(tpath, "w") as f:
            f.write("relay.example lmtp:inet:127.0.0.1:%d\n" % self.dovecot.port)
        inst.mailctl("map", "build", tpath, check=True)
        inst.params["transport_maps"] = tpath + ".lmdb"
        inst.write_config()
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        inst.start()
        # Three messages at once to a destination that takes one delivery
        # at a time: each next one goes over the session the last one
        # left (qmgr hands it the same lmtp process at once).
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            for i in range(3):
                c.sendmail("someone@outside.example", ["dave@relay.example"],
                           "Subject: message %d\r\n\r\nover lmtp inet, number %d\r\n" % (i, i))
        wait_for(lambda: len(self.dovecot.messages("dave@relay.example")) == 3, timeout=60,
                 what="three messages in dave's Dovecot INBOX")
        got = [m.replace(b"\r\n", b"\n") for m in self.dovecot.messages("dave@relay.example")]
        for i in range(3):
            one = [m for m in got if b"Subject: message %d\n" % i in m]
            self.assertEqual(len(one), 1, i)
            self.assertIn(b"\n\nover lmtp inet, number %d\n" % i, one[0])
            self.assertIn(b"Delivered-To: dave@relay.example\n", one[0])
        relay = "relay=127.0.0.1[127.0.0.1]:%d" % self.dovecot.port
        inst.wait_log("to=<dave@relay.example>, %s" % relay, count=3, timeout=10)
        log = inst.read_log()
        self.assertEqual(log.count("status=sent (250 2.0.0 <dave@relay.example>"), 3)
        # Dovecot names each delivery by its session's id, with ":T2",
        # ":T3" for the later transactions of one session.
        wait_for(lambda: len(re.findall(r"lmtp\(dave@relay\.example\).*saved mail to INBOX",
                                        self.dovecot.read_log())) == 3,
                 timeout=10, what="three deliveries in Dovecot's log")
        saved = re.findall(r"lmtp\(dave@relay\.example\)<\d+><([^>:]+)(?::T\d+)?>",
                           self.dovecot.read_log())
        self.assertEqual(len(saved), 3, self.dovecot.read_log())
        self.assertEqual(len(set(saved)), 1, self.dovecot.read_log())


if __name__ == "__main__":
    unittest.main()
