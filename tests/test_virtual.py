"""Virtual alias tables (virtual_alias_maps, virtual_alias_domains) and
address extensions (recipient_delimiter), end to end: mail sent with
smtplib (and with sendmail, through pickup) is rewritten when it is
queued and lands in the virtual users' Maildirs; smtpd refuses unknown
addresses of a virtual alias domain (550) and alias loops (451) at RCPT;
a loop in mail already accepted (sendmail, tables changed during the
SMTP transaction) is queued and deferred until the table is fixed; the
queue file keeps each original recipient as ORCPT. System users and aliases with an
extension need root (the test creates the user)."""

import email
import json
import os
import pwd
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, add_test_user, InstanceTestCase, free_port, wait_for  # noqa: E402

VIRTUAL = """\
# virtual alias domains: listed as keys (virtual_alias_domains defaults to
# $virtual_alias_maps)
alias.test      virtual
catch.test      virtual
team@alias.test     alice@example.test, bob@example.test
info@alias.test     team@alias.test
                    carol@example.test
moved@alias.test    bob@example.test
@catch.test         carol@example.test
loop1@alias.test    loop2@alias.test
loop2@alias.test    loop3@alias.test
loop3@alias.test    loop1@alias.test
sales@example.test  bob@example.test
keep@example.test   keep@example.test, carol@example.test
added@example.test  carol@example.test
"""

MESSAGE = "From: sender@outside.test\r\nSubject: %s\r\n\r\nbody\r\n"


class VirtualBase(InstanceTestCase):
    SERVICES = ["qmgr unix n - n 300 1 qmgr",
                "local unix - n n - - local",
                "pickup unix n - n 60 1 pickup"]

    def setUp(self):
        self.port = free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "recipient_delimiter": "+",
            "mynetworks": "192.0.2.0/24",  # loopback clients are not trusted to relay
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port] + self.SERVICES,
            start=False)
        inst = self.inst
        inst.params["virtual_alias_maps"] = "lmdb:%s/virtual.lmdb" % inst.etc
        self.vmail = inst.add_vmail([u + "@example.test" for u in ("alice", "bob", "carol", "keep")],
                                    password="pw")
        with open(os.path.join(inst.etc, "virtual"), "w") as f:
            f.write(VIRTUAL)
        inst.mailctl("map", "build", os.path.join(inst.etc, "virtual"), check=True)

    def maildir(self, user):
        new = os.path.join(self.vmail, "example.test", user, "Maildir", "new")
        if not os.path.isdir(new):
            return []
        out = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                out.append(f.read())
        return out

    def wait_mail(self, counts, timeout=30):
        def ok():
            return all(len(self.maildir(u)) >= n for u, n in counts.items())
        wait_for(ok, timeout=timeout, what="mail in %s" % counts)
        # and no more than that, once the queue is empty
        wait_for(lambda: json.loads(self.inst.mailctl("--json", "queue", "list",
                                                      check=True).stdout)["count"] == 0,
                 timeout=timeout, what="an empty queue")
        for user, n in counts.items():
            self.assertEqual(len(self.maildir(user)), n, user)

    def send(self, rcpts, subject, sender="sender@outside.test"):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            refused = c.sendmail(sender, rcpts, MESSAGE % subject)
        self.assertEqual(refused, {})


class VirtualAliasTest(VirtualBase):
    def test_one_to_many_chain_catch_all(self):
        self.inst.start()
        self.send(["team@alias.test"], "one to many")
        self.wait_mail({"alice": 1, "bob": 1, "carol": 0})
        for user in ("alice", "bob"):
            msg = self.maildir(user)[0]
            self.assertIn(b"Subject: one to many", msg)
            self.assertIn(b"Delivered-To: %s@example.test\n" % user.encode(), msg)
        # a chain (info -> team -> alice, bob) and a continuation line
        self.send(["info@alias.test"], "chain")
        self.wait_mail({"alice": 2, "bob": 2, "carol": 1})
        # the catch-all, user@domain -> user@otherdomain, and an address of
        # a virtual mailbox domain that only the alias table knows
        self.send(["whoever@catch.test", "moved@alias.test", "sales@example.test"], "mixed")
        self.wait_mail({"alice": 2, "bob": 3, "carol": 2})  # bob once for both
        # an address that expands to itself keeps its own copy
        self.send(["keep@example.test"], "self")
        self.wait_mail({"alice": 2, "bob": 3, "carol": 3, "keep": 1})

    def test_unknown_and_loop_refused_at_rcpt(self):
        self.inst.start()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test")
            code, text = c.rcpt("nobody@alias.test")
            self.assertEqual(code, 550)
            self.assertIn(b"5.1.1", text)
            self.assertIn(b"User unknown in virtual alias table", text)
            # a loop is a table mistake: temporary, the client tries again
            code, text = c.rcpt("loop2@alias.test")
            self.assertEqual(code, 451)
            self.assertIn(b"4.4.6", text)
            self.assertIn(b"temporarily rejected", text)
            self.assertIn(b"virtual alias loop: loop2@alias.test -> loop3@alias.test -> "
                          b"loop1@alias.test -> loop2@alias.test", text)
            # a virtual mailbox address without a mailbox and without an alias
            code, text = c.rcpt("nosuch@example.test")
            self.assertEqual(code, 550)
            self.assertIn(b"virtual mailbox table", text)
            code, text = c.rcpt("sales@example.test")
            self.assertEqual(code, 250, text)
            # a domain that is none of ours is still not relayed
            code, text = c.rcpt("friend@elsewhere.test")
            self.assertEqual(code, 554, text)

    def queue_list(self):
        return json.loads(self.inst.mailctl("--json", "queue", "list", check=True).stdout)

    def fix_loop(self):
        """loop3 now goes to carol: loop1, loop2 and loop3 all expand."""
        with open(os.path.join(self.inst.etc, "virtual"), "w") as f:
            f.write(VIRTUAL.replace("loop3@alias.test    loop1@alias.test",
                                    "loop3@alias.test    carol@example.test"))
        self.inst.mailctl("map", "build", os.path.join(self.inst.etc, "virtual"), check=True)
        time.sleep(1.1)  # readers look for a rebuilt table once a second

    def test_sendmail_expanded_and_loop_deferred(self):
        self.inst.start()
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc, "-f",
                        "alice@example.test", "team@alias.test", "loop1@alias.test"],
                       input=b"Subject: from sendmail\n\nhello\n", check=True, timeout=60)
        # bob and alice (team) get the message; the loop is not returned but
        # waits in the queue, deferred with the reason.
        def deferred():
            msgs = self.queue_list()["messages"]
            return (len(msgs) == 1 and msgs[0]["queue"] == "deferred" and
                    len(self.maildir("bob")) == 1 and len(self.maildir("alice")) == 1)
        wait_for(deferred, timeout=30, what="the looping recipient deferred")
        [msg] = self.queue_list()["messages"]
        [loop] = [r for r in msg["recipients"] if r["address"] == "loop1@alias.test"]
        self.assertEqual((loop["state"], loop["status"]), ("deferred", "4.4.6"))
        self.assertTrue(loop.get("valias_pending"))
        self.assertIn("virtual alias loop: loop1@alias.test -> loop2@alias.test", loop["reason"])
        listing = self.inst.mailctl("queue", "list", check=True).stdout
        self.assertIn("loop1@alias.test (deferred: virtual alias loop", listing)
        self.assertIn(b"Subject: from sendmail", self.maildir("bob")[0])
        self.assertNotIn(b"multipart/report", self.maildir("alice")[0])
        log = self.inst.read_log()
        self.assertIn("to=<loop1@alias.test>, relay=none", log)
        self.assertIn("status=deferred (virtual alias loop", log)
        # The table is fixed; a flush delivers it (to carol) within seconds.
        self.fix_loop()
        self.inst.mailctl("queue", "flush", check=True)
        self.wait_mail({"alice": 1, "bob": 1, "carol": 1}, timeout=20)
        got = self.maildir("carol")[0]
        self.assertIn(b"Subject: from sendmail", got)
        self.assertIn(b"Delivered-To: carol@example.test", got)
        self.assertIn("virtual alias expanded: queued as", self.inst.read_log())

    def test_loop_after_rcpt_queued_and_nrcpt_counts_queued(self):
        """smtpd's log counts the recipients queued (after expansion); a
        table that starts to loop between RCPT and DATA does not lose the
        mail: it is accepted, the recipient deferred, then delivered once
        the table is fixed and the queue flushed."""
        self.inst.start()
        self.send(["team@alias.test"], "counted")
        self.wait_mail({"alice": 1, "bob": 1})
        self.assertRegex(self.inst.read_log(), r"from=<sender@outside.test>, size=\d+, "
                                               r"nrcpt=2 \(queued\)")
        self.fix_loop()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test")
            code, text = c.rcpt("loop1@alias.test")
            self.assertEqual(code, 250, text)
            with open(os.path.join(self.inst.etc, "virtual"), "w") as f:
                f.write(VIRTUAL)
            self.inst.mailctl("map", "build", os.path.join(self.inst.etc, "virtual"),
                              check=True)
            time.sleep(1.1)
            code, text = c.data(MESSAGE % "late loop")
            self.assertEqual(code, 250, text)
        def deferred():
            msgs = self.queue_list()["messages"]
            return len(msgs) == 1 and msgs[0]["queue"] == "deferred"
        wait_for(deferred, timeout=30, what="the looping recipient deferred")
        [rcpt] = self.queue_list()["messages"][0]["recipients"]
        self.assertEqual((rcpt["address"], rcpt["state"]), ("loop1@alias.test", "deferred"))
        self.assertIn("virtual alias loop", rcpt["reason"])
        self.fix_loop()
        self.inst.mailctl("queue", "flush", check=True)
        self.wait_mail({"alice": 1, "bob": 1, "carol": 1}, timeout=20)
        self.assertIn(b"Subject: late loop", self.maildir("carol")[0])

    def test_unknown_returned_by_pickup(self):
        self.inst.start()
        # no recipient left: nothing is queued, the sender hears why, the
        # drop file is gone
        subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc, "-f",
                        "bob@example.test", "nobody@alias.test"],
                       input=b"Subject: to nobody\n\nhello\n", check=True, timeout=60)
        self.wait_mail({"bob": 1})
        report = email.message_from_bytes(
            [m for m in self.maildir("bob") if b"multipart/report" in m][0])
        rcpt = [p for p in report.walk()
                if p.get_content_type() == "message/delivery-status"][0].get_payload()[1]
        self.assertEqual(rcpt["Status"], "5.1.1")
        self.assertIn("User unknown in virtual alias table", rcpt["Diagnostic-Code"])
        wait_for(lambda: os.listdir(os.path.join(self.inst.spool, "maildrop")) == [],
                 what="an empty maildrop/")

    def test_alias_forward_expanded(self):
        """An alias that forwards into a virtual alias domain: local's new
        queue file goes through the table too; a failure bounces."""
        with open(os.path.join(self.inst.etc, "aliases"), "w") as f:
            f.write("fwd: team@alias.test\nbadfwd: nobody@alias.test\n")
        self.inst.mailctl("alias", "rebuild", check=True)
        self.inst.start()
        self.send(["fwd@mx.example.test"], "forwarded", sender="carol@example.test")
        self.wait_mail({"alice": 1, "bob": 1})
        self.assertIn(b"Delivered-To: fwd@mx.example.test\n", self.maildir("alice")[0])
        self.send(["badfwd@mx.example.test"], "bad forward", sender="carol@example.test")
        self.wait_mail({"alice": 1, "bob": 1, "carol": 1})
        report = email.message_from_bytes(self.maildir("carol")[0])
        self.assertEqual(report.get_content_type(), "multipart/report")
        status = [p for p in report.walk()
                  if p.get_content_type() == "message/delivery-status"][0]
        rcpt = status.get_payload()[1]
        self.assertEqual(rcpt["Status"], "5.1.1")
        diagnostic = " ".join(rcpt["Diagnostic-Code"].split())  # unfolded
        self.assertIn("nobody@alias.test", diagnostic)
        self.assertIn("User unknown in virtual alias table", diagnostic)

    def test_extensions(self):
        self.inst.start()
        self.send(["alice+news@example.test"], "virtual user extension")
        # propagated: team+x -> alice+x, bob+x
        self.send(["team+x@alias.test"], "alias extension")
        self.wait_mail({"alice": 2, "bob": 1})
        msgs = self.maildir("alice")
        direct = [m for m in msgs if b"Subject: virtual user extension" in m][0]
        self.assertIn(b"Delivered-To: alice+news@example.test\n", direct)
        via = [m for m in msgs if b"Subject: alias extension" in m][0]
        self.assertIn(b"Delivered-To: alice+x@example.test\n", via)
        self.assertIn(b"Delivered-To: bob+x@example.test\n", self.maildir("bob")[0])
        # no mailbox of its own anywhere: refused at RCPT
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test")
            self.assertEqual(c.rcpt("nosuch+x@example.test")[0], 550)
            self.assertEqual(c.rcpt("nobody+x@alias.test")[0], 550)


class QueueFileTest(VirtualBase):
    """Without qmgr the queue file stays in incoming/ to be read."""
    SERVICES = []

    def test_orcpt_kept(self):
        self.inst.start()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test")
            self.assertEqual(c.rcpt("team@alias.test", ["NOTIFY=FAILURE"])[0], 250)
            self.assertEqual(c.rcpt("moved@alias.test", ["ORCPT=rfc822;given@orig.test"])[0],
                             250)
            self.assertEqual(c.rcpt("carol@example.test")[0], 250)
            code, _ = c.data(MESSAGE % "orcpt")
            self.assertEqual(code, 250)
        listing = json.loads(self.inst.mailctl("--json", "queue", "list", check=True).stdout)
        self.assertEqual(listing["count"], 1)
        rcpts = {r["address"]: r for r in listing["messages"][0]["recipients"]}
        self.assertEqual(sorted(rcpts), ["alice@example.test", "bob@example.test",
                                         "carol@example.test"])
        self.assertEqual(rcpts["alice@example.test"]["orcpt"], "rfc822;team@alias.test")
        self.assertEqual(rcpts["alice@example.test"]["notify"], "FAILURE")
        # bob came first from team: the later moved@ is the same recipient
        self.assertEqual(rcpts["bob@example.test"]["orcpt"], "rfc822;team@alias.test")
        self.assertEqual(rcpts["carol@example.test"]["orcpt"], "")
        # an ORCPT the client gave is kept
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail("sender@outside.test", ["moved@alias.test"],
                       MESSAGE % "given orcpt", rcpt_options=["ORCPT=rfc822;given@orig.test"])
        listing = json.loads(self.inst.mailctl("--json", "queue", "list", check=True).stdout)
        given = [m for m in listing["messages"] if len(m["recipients"]) == 1][0]
        self.assertEqual(given["recipients"][0]["address"], "bob@example.test")
        self.assertEqual(given["recipients"][0]["orcpt"], "rfc822;given@orig.test")


class CheckTest(VirtualBase):
    SERVICES = []

    def test_mailctl_check(self):
        inst = self.inst
        source = os.path.join(inst.etc, "virtual")
        table = source + ".lmdb"
        st = os.stat(table)
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        out = inst.mailctl("check").stdout
        self.assertIn("%s is newer than its table: run mailctl map build" % source, out)
        os.unlink(table)
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("virtual.lmdb", result.stdout)
        self.assertIn("build it with mailctl map build", result.stdout)


@unittest.skipUnless(os.path.exists(os.path.join(os.environ.get("POSTERN_BIN", ""),
                                                 "milter_test")),
                     "tests/milter_test not built (libmilter-dev)")
class MilterTest(VirtualBase):
    """Milters see the recipients as given; the queue file gets them
    expanded, those a milter adds too."""
    SERVICES = []

    def test_milter_sees_original_queue_gets_expanded(self):
        inst = self.inst
        sock = os.path.join(inst.base, "milter.sock")
        log = os.path.join(inst.base, "milter.events")
        open(log, "w").close()
        proc = subprocess.Popen([os.path.join(os.environ["POSTERN_BIN"], "milter_test"),
                                 "-s", "unix:" + sock, "-l", log],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.umask(0))
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.kill)
        wait_for(lambda: os.path.exists(sock), what="the filter's socket")
        inst.params["smtpd_milters"] = "unix:" + sock
        inst.write_config()
        inst.start()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail("sender@outside.test", ["team@alias.test"],
                       "X-Test-Action: addrcpt\r\nSubject: milter\r\n\r\nbody\r\n")
        with open(log) as f:
            events = f.read()
        self.assertIn("team@alias.test", events)
        self.assertNotIn("alice@example.test", events)
        listing = json.loads(inst.mailctl("--json", "queue", "list", check=True).stdout)
        self.assertEqual(listing["count"], 1)
        rcpts = {r["address"]: r["orcpt"] for r in listing["messages"][0]["recipients"]}
        self.assertEqual(rcpts, {"alice@example.test": "rfc822;team@alias.test",
                                 "bob@example.test": "rfc822;team@alias.test",
                                 "carol@example.test": "rfc822;added@example.test"})


@unittest.skipUnless(IS_ROOT, "needs root to create a system user")
class SystemUserExtensionTest(VirtualBase):
    def test_system_user_and_alias(self):
        inst = self.inst
        home = os.path.join(inst.base, "home-v")
        name = add_test_user(self, "pstv", home)
        with open(os.path.join(inst.etc, "aliases"), "w") as f:
            f.write("helpdesk: %s\nhelpdesk+vip: carol@example.test\n" % name)
        inst.mailctl("alias", "rebuild", check=True)
        inst.start()
        self.send(["%s+box@mx.example.test" % name], "system user")
        self.send(["helpdesk+anything@mx.example.test"], "alias base")
        self.send(["helpdesk+vip@mx.example.test"], "alias with extension")
        new = os.path.join(home, "Maildir", "new")
        wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 2, timeout=30,
                 what="two messages for the system user")
        self.wait_mail({"carol": 1})
        msgs = []
        for n in sorted(os.listdir(new)):
            with open(os.path.join(new, n), "rb") as f:
                msgs.append(f.read())
            self.assertEqual(os.stat(os.path.join(new, n)).st_uid, pwd.getpwnam(name).pw_uid)
        own = [m for m in msgs if b"Subject: system user" in m][0]
        self.assertIn(b"Delivered-To: %s+box@mx.example.test\n" % name.encode(), own)
        base = [m for m in msgs if b"Subject: alias base" in m][0]
        self.assertIn(b"Delivered-To: helpdesk+anything@mx.example.test\n", base)
        self.assertIn(b"Subject: alias with extension", self.maildir("carol")[0])
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.ehlo("client.test")
            c.mail("sender@outside.test")
            self.assertEqual(c.rcpt("nosuchuser+x@mx.example.test")[0], 550)


if __name__ == "__main__":
    unittest.main(verbosity=2)
