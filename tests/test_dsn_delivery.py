#!/usr/bin/env python3
"""Delivery status notifications and queue control end to end: smtpd (or
sendmail + pickup), qmgr and local under master, virtual users in
example.test. The reports are read from the sender's Maildir and parsed
with Python's email package; the queue is driven with mailctl."""

import email
import email.policy
import json
import os
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import InstanceTestCase, free_port, wait_for  # noqa: E402

DOMAIN = "example.test"


def delivery_status(msg):
    """The per-message and per-recipient field blocks of a DSN, as dicts."""
    parts = msg.get_payload()
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status", status.get_content_type()
    return [dict(block.items()) for block in status.get_payload()]


class DsnDeliveryTest(InstanceTestCase):
    USERS = ("alice", "bob", "postmaster")

    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": DOMAIN,
            "mynetworks": "127.0.0.0/8",
            "minimal_backoff_time": "1h",
            "maximal_backoff_time": "2h",
            "2bounce_notice_recipient": "postmaster@" + DOMAIN,
            "notify_classes": "2bounce",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "pickup unix n - n 60 1 pickup",
        ], start=False)
        self.inst = inst
        self.vmail = inst.add_vmail(["%s@%s" % (user, DOMAIN) for user in self.USERS])
        inst.start()

    # ---- helpers ----

    def maildir(self, user):
        return os.path.join(self.vmail, DOMAIN, user, "Maildir")

    def messages(self, user):
        new = os.path.join(self.maildir(user), "new")
        if not os.path.isdir(new):
            return []
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_bytes(f.read(), policy=email.policy.default))
        return out

    def wait_messages(self, user, count, timeout=30):
        return wait_for(lambda: len(self.messages(user)) >= count and self.messages(user),
                        timeout=timeout, what="%d message(s) for %s" % (count, user))

    def smtp_send(self, sender, rcpt, body, rcpt_options=(), mail_options=()):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertTrue(c.has_extn("dsn"))
            c.sendmail(sender, [rcpt], body, mail_options=list(mail_options),
                       rcpt_options=list(rcpt_options))

    def sendmail(self, sender, rcpt, body):
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc, "-f", sender, rcpt],
                       input=body, check=True, timeout=60)

    def queue(self, *args):
        result = self.inst.mailctl("--json", "queue", *args, check=True)
        return json.loads(result.stdout)

    def queue_empty(self):
        return self.queue("list")["count"] == 0

    def wait_queue_empty(self, timeout=30):
        wait_for(self.queue_empty, timeout=timeout, what="an empty queue")

    def only_message(self):
        msgs = self.queue("list")["messages"]
        self.assertEqual(len(msgs), 1, msgs)
        return msgs[0]

    # ---- tests ----

    def test_unknown_recipient_gets_a_dsn(self):
        self.sendmail("alice@" + DOMAIN, "nobody@" + DOMAIN,
                      b"Subject: lost letter\nMessage-ID: <lost@example.test>\n\nhello\n")
        [dsn] = self.wait_messages("alice", 1)
        self.wait_queue_empty()
        self.assertEqual(dsn["To"].addresses[0].addr_spec, "alice@" + DOMAIN)
        self.assertEqual(dsn["Subject"], "Undelivered Mail Returned to Sender")
        self.assertEqual(dsn["Auto-Submitted"], "auto-replied")
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        text = dsn.get_payload()[0]
        self.assertEqual(text.get_content_type(), "text/plain")
        self.assertIn("<nobody@%s>: user unknown" % DOMAIN, text.get_content())
        fields = delivery_status(dsn)
        self.assertEqual(fields[0]["Reporting-MTA"], "dns; mx.example.test")
        self.assertEqual(len(fields), 2)
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; nobody@" + DOMAIN)
        self.assertEqual(fields[1]["Action"], "failed")
        self.assertEqual(fields[1]["Status"], "5.1.1")
        self.assertIn("user unknown", fields[1]["Diagnostic-Code"])
        # The whole original comes back (no RET=HDRS).
        original = dsn.get_payload()[2]
        self.assertEqual(original.get_content_type(), "message/rfc822")
        inner = original.get_payload()[0]
        self.assertEqual(inner["Subject"], "lost letter")
        self.assertIn("hello", inner.get_content())
        # A DSN arrives with the null sender as its Return-Path.
        with open(os.path.join(self.maildir("alice"), "new",
                               os.listdir(os.path.join(self.maildir("alice"), "new"))[0]),
                  "rb") as f:
            self.assertTrue(f.read().startswith(b"Return-Path: <>\n"))

    def test_notify_success_gives_a_delivered_report(self):
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN,
                       "Subject: please confirm\r\n\r\nhi bob\r\n",
                       rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;Bob@" + DOMAIN],
                       mail_options=["ENVID=track-42", "RET=HDRS"])
        self.wait_messages("bob", 1)
        [dsn] = self.wait_messages("alice", 1)
        self.wait_queue_empty()
        self.assertEqual(dsn["Subject"], "Successful Mail Delivery Report")
        fields = delivery_status(dsn)
        self.assertEqual(fields[0]["Original-Envelope-Id"], "track-42")
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; bob@" + DOMAIN)
        self.assertEqual(fields[1]["Original-Recipient"], "rfc822;Bob@" + DOMAIN)
        self.assertEqual(fields[1]["Action"], "delivered")
        self.assertEqual(fields[1]["Status"][:2], "2.")
        # Only the header of the original comes back.
        self.assertEqual(dsn.get_payload()[2].get_content_type(), "text/rfc822-headers")
        self.assertIn("sender delivery status notification", self.inst.read_log())

    def test_notify_never_gives_no_report(self):
        # Delivered-To: bob is a mail loop for bob: it bounces.
        loop = "Delivered-To: bob@%s\r\nSubject: loop\r\n\r\nagain\r\n" % DOMAIN
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN, loop, rcpt_options=["NOTIFY=NEVER"])
        self.inst.wait_log("status=bounced (mail forwarding loop)", timeout=30)
        self.wait_queue_empty()
        # The same failure with NOTIFY=FAILURE does report; NEVER's did not.
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN, loop,
                       rcpt_options=["NOTIFY=FAILURE"])
        [dsn] = self.wait_messages("alice", 1)
        self.wait_queue_empty()
        time.sleep(0.5)
        self.assertEqual(len(self.messages("alice")), 1)
        self.assertEqual(delivery_status(dsn)[1]["Status"], "5.4.6")
        self.assertEqual(self.messages("bob"), [])

    def make_unwritable(self, user):
        """Give user a Maildir that its deliveries cannot write into."""
        self.smtp_send("alice@" + DOMAIN, "%s@%s" % (user, DOMAIN), "Subject: first\r\n\r\n1\r\n")
        self.wait_messages(user, 1)
        self.wait_queue_empty()
        for sub in ("tmp", "new"):
            os.chmod(os.path.join(self.maildir(user), sub), 0o500)
        self.addCleanup(self.make_writable, user)

    def make_writable(self, user):
        for sub in ("tmp", "new"):
            os.chmod(os.path.join(self.maildir(user), sub), 0o700)

    def test_unwritable_mailbox_deferred_then_flushed(self):
        self.make_unwritable("bob")
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN, "Subject: second\r\n\r\n2\r\n")
        wait_for(lambda: [m["queue"] for m in self.queue("list")["messages"]] == ["deferred"],
                 timeout=30, what="the message in deferred/")
        msg = self.only_message()
        rcpt = msg["recipients"][0]
        self.assertEqual(rcpt["address"], "bob@" + DOMAIN)
        # The list shows what qmgr recorded: deferred, and why.
        self.assertEqual(rcpt["state"], "deferred")
        self.assertEqual(rcpt["status"][:2], "4.")
        self.assertIn("cannot", rcpt["reason"])
        listing = self.inst.mailctl("queue", "list", check=True).stdout
        self.assertIn("bob@%s (deferred: cannot" % DOMAIN, listing)
        self.assertIn("status=deferred (cannot", self.inst.read_log())
        self.make_writable("bob")
        # The back-off is an hour: only a flush delivers it now.
        time.sleep(1)
        self.assertEqual(len(self.messages("bob")), 1)
        data = self.queue("flush")
        self.assertEqual([(f["id"], f["from"]) for f in data["flushed"]],
                         [(msg["id"], "deferred")])
        self.assertTrue(data["qmgr_notified"])
        msgs = self.wait_messages("bob", 2)
        self.assertEqual(sorted(m["Subject"] for m in msgs), ["first", "second"])
        self.wait_queue_empty()
        self.assertEqual(self.messages("alice"), [])  # no delay warning by default

    def test_unwritable_mailbox_deferred_then_requeued(self):
        """requeue, like flush: tried at once whatever the back-off (an
        hour here), and a new failure waits minimal_backoff_time again."""
        self.make_unwritable("bob")
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN, "Subject: second\r\n\r\n2\r\n")
        wait_for(lambda: [m["queue"] for m in self.queue("list")["messages"]] == ["deferred"],
                 timeout=30, what="the message in deferred/")
        qid = self.only_message()["id"]
        log_before = self.inst.read_log().count("%s: to=<bob@%s>" % (qid, DOMAIN))
        # Still unwritable: requeued, tried at once, deferred again.
        data = self.queue("requeue", qid)
        self.assertEqual(data["requeued"], [{"id": qid, "from": "deferred", "to": "incoming"}])
        wait_for(lambda: self.inst.read_log().count("%s: to=<bob@%s>" % (qid, DOMAIN))
                 > log_before, timeout=10, what="a new attempt")
        wait_for(lambda: self.only_message()["queue"] == "deferred", what="deferred again")
        self.make_writable("bob")
        time.sleep(1)
        self.assertEqual(len(self.messages("bob")), 1)
        self.queue("requeue", "--recipient", "bob@" + DOMAIN)
        msgs = self.wait_messages("bob", 2)
        self.assertEqual(sorted(m["Subject"] for m in msgs), ["first", "second"])
        self.wait_queue_empty()

    def test_hold_and_release(self):
        self.make_unwritable("bob")
        self.smtp_send("alice@" + DOMAIN, "bob@" + DOMAIN, "Subject: held\r\n\r\nh\r\n")
        wait_for(lambda: [m["queue"] for m in self.queue("list")["messages"]] == ["deferred"],
                 timeout=30, what="the message in deferred/")
        qid = self.only_message()["id"]
        data = self.queue("hold", "--recipient", "bob@" + DOMAIN)
        self.assertEqual(data["held"], [{"id": qid, "from": "deferred", "to": "hold"}])
        self.make_writable("bob")
        # Neither a flush nor a restart of qmgr delivers held mail.
        self.assertEqual(self.queue("flush")["count"], 0)
        self.inst.mailctl("reload", check=True)
        time.sleep(1.5)
        self.assertEqual(self.only_message()["queue"], "hold")
        self.assertEqual(len(self.messages("bob")), 1)
        out = self.inst.mailctl("queue", "release", qid.lower(), check=True).stdout
        self.assertIn("%s: released (from hold/)" % qid, out)
        msgs = self.wait_messages("bob", 2)
        self.assertIn("held", [m["Subject"] for m in msgs])
        self.wait_queue_empty()

    def test_double_bounce_goes_to_postmaster_once(self):
        # The sender does not exist either: its notice bounces, and the
        # postmaster gets one report about that notice.
        self.sendmail("ghost@" + DOMAIN, "nobody@" + DOMAIN, b"Subject: from a ghost\n\nboo\n")
        [report] = self.wait_messages("postmaster", 1)
        self.wait_queue_empty()
        time.sleep(1)
        self.assertEqual(len(self.messages("postmaster")), 1)
        self.assertEqual(report["To"].addresses[0].addr_spec, "postmaster@" + DOMAIN)
        fields = delivery_status(report)
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; ghost@" + DOMAIN)
        self.assertEqual(fields[1]["Action"], "failed")
        # What came back is the notice that could not be delivered.
        returned = report.get_payload()[2].get_payload()[0]
        self.assertEqual(returned["Subject"], "Undelivered Mail Returned to Sender")
        self.assertIn("postmaster non-delivery notification", self.inst.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
