#!/usr/bin/env python3
"""DSN parameters (RFC 3461) through local's alias and .forward expansion,
as Postfix's local(8) passes them on: the forwarded message keeps ENVID
and RET, each forwarded address gets the expanded recipient's NOTIFY
without SUCCESS (SUCCESS alone: NEVER) and its ORCPT (or "rfc822;" and its
address); mail forwarded under an owner- alias carries none of them.
First the queue files local writes (local alone, asked as qmgr asks), then
end to end: smtpd, qmgr and local, with transport_maps sending the
forwarded address to the error transport; the reports are read from the
sender's Maildir with Python's email package."""

import email
import email.policy
import json
import os
import pwd
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, InstanceTestCase, add_test_user, free_port, wait_for  # noqa: E402
from test_local import LOCAL_SERVICE, deliver_request  # noqa: E402
from test_sendmail import read_queue_file  # noqa: E402

MESSAGE = "From: bob@remote.test\r\nSubject: hi\r\n\r\nhello there\r\n"
DOMAIN = "example.test"
LOCAL = "mx.example.test"


class ForwardedEnvelopeTest(InstanceTestCase):
    """What the forwarded queue files carry."""

    def setUp(self):
        self.inst = self.instance(params={
            "mydestination": LOCAL + ", localhost",
            "home_mailbox": "Maildir/",
        }, services=[LOCAL_SERVICE], start=False)
        with open(os.path.join(self.inst.etc, "aliases"), "w") as f:
            f.write("fwd: far@remote.test, other@remote.test\n"
                    "only: only@remote.test\n"
                    "plain: plain@remote.test\n"
                    "list: member@remote.test\nowner-list: plain\n")
        self.inst.mailctl("alias", "rebuild", check=True)
        self.inst.start()

    def deliver(self, rcpts, envelope=()):
        """Queue MESSAGE in active/ to rcpts, each (address, orcpt or None,
        notify or None), with envelope fields envelope (("envid", "x")...),
        hand it to local and return local's results."""
        cmd = [self.inst.program("svc_queue_writer"), "-s", "bob@remote.test", "-m", MESSAGE,
               "-q", "active"]
        for name, value in envelope:
            cmd += ["-e", "%s=%s" % (name, value)]
        for address, orcpt, notify in rcpts:
            cmd += ["-r", address]
            if orcpt is not None:
                cmd += ["-o", orcpt]
            if notify is not None:
                cmd += ["-n", notify]
        qid = subprocess.run(cmd + [self.inst.spool], capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
        addresses = [r[0] for r in rcpts]
        results, done = deliver_request(self.inst.spool, qid, addresses, "bob@remote.test",
                                        timeout=60)
        self.assertTrue(done, "local closed the connection before \"done\"")
        return [results[i] for i in range(len(addresses))]

    def forwarded(self):
        """The copies local queued in incoming/, by the Delivered-To header
        local put in front: {delivered-to: (envelope, [rcpts])}."""
        copies = {}
        incoming = os.path.join(self.inst.spool, "incoming")
        for qid in os.listdir(incoming):
            env, rcpts, content = read_queue_file(os.path.join(incoming, qid))
            first = content.split(b"\r\n", 1)[0].decode()
            self.assertTrue(first.startswith("Delivered-To: "), first)
            copies[first[len("Delivered-To: "):]] = (env, rcpts)
        return copies

    def test_alias_keeps_the_dsn_parameters(self):
        res = self.deliver([
            ("fwd@" + LOCAL, "rfc822;Group@Elsewhere.test", "SUCCESS,FAILURE"),
            ("Only@" + LOCAL, None, "SUCCESS"),
            ("plain@" + LOCAL, None, None),
            ("list@" + LOCAL, "rfc822;list@elsewhere.test", "FAILURE,DELAY"),
        ], envelope=[("envid", "trace-17"), ("ret", "HDRS")])
        self.assertEqual([r["state"] for r in res], ["delivered"] * 4, res)
        copies = self.forwarded()
        self.assertEqual(sorted(copies), ["fwd@" + LOCAL, "list@" + LOCAL, "only@" + LOCAL,
                                          "plain@" + LOCAL])
        # NOTIFY without SUCCESS, the ORCPT kept, ENVID and RET kept.
        env, rcpts = copies["fwd@" + LOCAL]
        self.assertEqual((env["sender"], env["envid"], env["ret"]),
                         ("bob@remote.test", "trace-17", "HDRS"))
        self.assertEqual([(r["address"], r["orcpt"], r["notify"]) for r in rcpts],
                         [("far@remote.test", "rfc822;Group@Elsewhere.test", "FAILURE"),
                          ("other@remote.test", "rfc822;Group@Elsewhere.test", "FAILURE")])
        # SUCCESS alone becomes NEVER; without an ORCPT, the recipient's
        # address (as the queue file has it) is the original recipient.
        env, rcpts = copies["only@" + LOCAL]
        self.assertEqual((env["envid"], env["ret"]), ("trace-17", "HDRS"))
        self.assertEqual([(r["orcpt"], r["notify"]) for r in rcpts],
                         [("rfc822;Only@" + LOCAL, "NEVER")])
        # The default NOTIFY stays the default.
        env, rcpts = copies["plain@" + LOCAL]
        self.assertEqual([(r["orcpt"], r["notify"]) for r in rcpts],
                         [("rfc822;plain@" + LOCAL, "")])
        # A list with an owner sends a new message of its own: none of them.
        env, rcpts = copies["list@" + LOCAL]
        self.assertEqual((env["sender"], env["envid"], env["ret"]),
                         ("owner-list@" + LOCAL, "", ""))
        self.assertEqual([(r["address"], r["orcpt"], r["notify"]) for r in rcpts],
                         [("member@remote.test", "", "")])

    @unittest.skipUnless(IS_ROOT, "needs root to create a system user")
    def test_dot_forward_keeps_the_dsn_parameters(self):
        name = add_test_user(self, "pstf", os.path.join(self.inst.base, "home-f"))
        user = pwd.getpwnam(name)
        path = os.path.join(user.pw_dir, ".forward")
        with open(path, "w") as f:
            f.write("dot@remote.test\n")
        os.chown(path, user.pw_uid, user.pw_gid)
        res = self.deliver([(name + "@" + LOCAL, None, "SUCCESS,DELAY")],
                           envelope=[("envid", "dot-1")])
        self.assertEqual(res[0]["state"], "delivered", res)
        env, rcpts = self.forwarded()[name + "@" + LOCAL]
        self.assertEqual((env["envid"], env["ret"]), ("dot-1", ""))
        self.assertEqual([(r["address"], r["orcpt"], r["notify"]) for r in rcpts],
                         [("dot@remote.test", "rfc822;%s@%s" % (name, LOCAL), "DELAY")])


def delivery_status(msg):
    """The per-message and per-recipient field blocks of a DSN, as dicts."""
    status = msg.get_payload()[1]
    assert status.get_content_type() == "message/delivery-status", status.get_content_type()
    return [dict(block.items()) for block in status.get_payload()]


class ForwardDsnEndToEndTest(InstanceTestCase):
    """An alias forwards to gone.test, which transport_maps sends to the
    error transport: the forwarded address bounces."""

    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": LOCAL + ", localhost",
            "virtual_mailbox_domains": DOMAIN,
            "mynetworks": "127.0.0.0/8",
            "minimal_backoff_time": "1h",
            "maximal_backoff_time": "2h",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
        ], start=False)
        self.inst = inst
        self.vmail = inst.add_vmail(["alice@" + DOMAIN])
        transport = os.path.join(inst.etc, "transport")
        with open(transport, "w") as f:
            f.write("gone.test error:mailbox gone away\n")
        inst.mailctl("map", "build", transport, check=True)
        inst.params["transport_maps"] = "lmdb:%s.lmdb" % transport
        inst.write_config()
        with open(os.path.join(inst.etc, "aliases"), "w") as f:
            f.write("moved: someone@gone.test\n"
                    "pair: someone@gone.test, alice@%s\n" % DOMAIN)
        inst.mailctl("alias", "rebuild", check=True)
        inst.start()

    def messages(self):
        new = os.path.join(self.vmail, DOMAIN, "alice", "Maildir", "new")
        if not os.path.isdir(new):
            return []
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(email.message_from_bytes(f.read(), policy=email.policy.default))
        return out

    def send(self, subject, rcpt_options, mail_options=()):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertTrue(c.has_extn("dsn"))
            c.sendmail("alice@" + DOMAIN, ["moved@" + LOCAL],
                       "Subject: %s\r\n\r\nfor the one who moved\r\n" % subject,
                       mail_options=list(mail_options), rcpt_options=list(rcpt_options))

    def wait_queue_empty(self):
        def empty():
            out = self.inst.mailctl("--json", "queue", "list", check=True).stdout
            return json.loads(out)["count"] == 0
        wait_for(empty, timeout=30, what="an empty queue")

    def test_notify_never_is_passed_on(self):
        self.send("never", ["NOTIFY=NEVER"])
        self.inst.wait_log("to=<someone@gone.test>", timeout=30)
        self.assertRegex(self.inst.read_log(),
                         r"to=<someone@gone.test>, .*status=bounced \(mailbox gone away\)")
        self.wait_queue_empty()
        time.sleep(1)
        self.assertEqual(self.messages(), [])

    def test_success_failure_orcpt_and_envid(self):
        self.send("tracked", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Moved@Old.test"],
                  mail_options=["ENVID=case-99", "RET=HDRS"])
        msgs = wait_for(lambda: len(self.messages()) >= 2 and self.messages(), timeout=30,
                        what="two reports for alice")
        self.wait_queue_empty()
        time.sleep(1)
        self.assertEqual(len(self.messages()), 2)
        reports = {m["Subject"]: m for m in msgs}
        self.assertEqual(sorted(reports), ["Successful Mail Delivery Report",
                                           "Undelivered Mail Returned to Sender"])
        # The alias itself: its expansion is its success (one notice, not
        # one more for each forwarded address).
        fields = delivery_status(reports["Successful Mail Delivery Report"])
        self.assertEqual(fields[0]["Original-Envelope-Id"], "case-99")
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; moved@" + LOCAL)
        self.assertEqual(fields[1]["Original-Recipient"], "rfc822;Moved@Old.test")
        self.assertEqual(fields[1]["Action"], "delivered")
        # The forwarded address failed: reported with the original's ORCPT
        # and ENVID, and with only the header returned (RET=HDRS).
        failed = reports["Undelivered Mail Returned to Sender"]
        fields = delivery_status(failed)
        self.assertEqual(fields[0]["Original-Envelope-Id"], "case-99")
        self.assertEqual(list(fields[0])[0], "Original-Envelope-Id")  # RFC 3464 order
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; someone@gone.test")
        self.assertEqual(fields[1]["Original-Recipient"], "rfc822;Moved@Old.test")
        self.assertEqual(fields[1]["Action"], "failed")
        self.assertIn("mailbox gone away", fields[1]["Diagnostic-Code"])
        self.assertEqual(failed.get_payload()[2].get_content_type(), "text/rfc822-headers")

    def test_expansion_reports_expanded(self):
        """An alias of two addresses with NOTIFY=SUCCESS: one "expanded"
        report for the alias (RFC 3461 6.2.7.3), none for its members,
        whose copies go without SUCCESS (the one that bounces is not
        reported either: its NOTIFY became NEVER)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.sendmail("alice@" + DOMAIN, ["pair@" + LOCAL],
                       "Subject: for two\r\n\r\nhello both\r\n",
                       rcpt_options=["NOTIFY=SUCCESS"])
        msgs = wait_for(lambda: len(self.messages()) >= 2 and self.messages(), timeout=30,
                        what="the copy and the report for alice")
        self.wait_queue_empty()
        time.sleep(1)
        self.assertEqual(len(self.messages()), 2)
        reports = {m["Subject"]: m for m in msgs}
        self.assertEqual(sorted(reports), ["Successful Mail Delivery Report", "for two"])
        fields = delivery_status(reports["Successful Mail Delivery Report"])
        self.assertEqual(fields[1]["Final-Recipient"], "rfc822; pair@" + LOCAL)
        self.assertEqual(fields[1]["Action"], "expanded")
        self.assertEqual(fields[1]["Status"][:2], "2.")


if __name__ == "__main__":
    unittest.main(verbosity=2)
