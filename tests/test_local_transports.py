"""local's mailbox_transport, fallback_transport and luser_relay, as
Postfix's local(8) has them, through the whole system (smtplib into
smtpd, qmgr, local, the lmtp agent, a scripted LMTP server):

- mailbox_transport = lmtp:inet:127.0.0.1:PORT: a system user's mail goes
  to the LMTP server, after aliases and .forward (an alias to the user is
  expanded first; a .forward elsewhere is honoured), and no mailbox is
  written; the server's 550 bounces with a DSN carrying its reply, 451
  defers (delivered on a retry), a server that is down defers, and so does
  an lmtp agent that cannot be reached (the reason names the transport);
- fallback_transport: smtpd takes an unknown local part, and local passes
  it to the LMTP server;
- luser_relay = catchall+$user@virt.test: smtpd takes an unknown local
  part, and local forwards it to that address (here a virtual domain whose
  transport is the same LMTP server);
- verify requests (sent straight to private/local) are passed on with
  verify = 1: the LMTP server sees RCPT but no DATA, and its reply is the
  answer (also for a user in mailbox_transport_maps, while one not in it
  keeps its mailbox); luser_relay answers "forwards to ADDRESS" and
  queues nothing.

As root the system user is made for the test; as a normal user it is the
user running the tests (nothing is written as that user: its mailbox is
the LMTP server's, and home_mailbox points into the test directory)."""

import os
import pwd
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, InstanceTestCase, add_test_user, free_port, wait_for  # noqa: E402
from test_lmtp import LmtpServer  # noqa: E402
from test_local import deliver_request, queue_active  # noqa: E402

MESSAGE = "From: bob@remote.test\r\nSubject: %s\r\n\r\nhello %s\r\n"


class TransportsBase(InstanceTestCase):
    def setUp(self):
        self.lport = free_port()
        self.server = LmtpServer(("127.0.0.1", self.lport))
        self.addCleanup(self.server.stop)

    def make(self, params, smtpd=True, qmgr=True):
        """An instance (not started) with local, lmtp and, as asked, smtpd
        and qmgr; virt.test and far.test are delivered by the LMTP server; a system user
        self.user (with its .forward path under fwd/)."""
        self.port = free_port()
        services = ["local unix - n n - - local", "lmtp unix - n n - - lmtp"]
        if smtpd:
            services.append("127.0.0.1:%d inet n - n - - smtpd" % self.port)
        if qmgr:
            services.append("qmgr unix n - n 300 1 qmgr")
        inst = self.instance(services=services, start=False)
        base = inst.base
        self.spool_mail = os.path.join(base, "mail")
        self.fwd_dir = os.path.join(base, "fwd")
        os.mkdir(self.spool_mail)
        os.chmod(self.spool_mail, 0o1777)
        os.mkdir(self.fwd_dir)
        os.chmod(self.fwd_dir, 0o755)
        if IS_ROOT:
            self.home = os.path.join(base, "home-lt")
            self.user = add_test_user(self, "pstlt", self.home)
        else:
            self.user = pwd.getpwuid(os.getuid()).pw_name
            self.home = None
            if self.user != self.user.lower():
                self.skipTest("the user's name has capitals (local parts are lower-cased)")
        self.addr = self.user + "@mx.example.test"
        lmtp = "lmtp:inet:127.0.0.1:%d" % self.lport
        inst.params.update({
            "mydestination": "mx.example.test, localhost",
            "mynetworks": "127.0.0.0/8",
            "virtual_mailbox_domains": "virt.test",
            "virtual_transport": lmtp,
            # a .forward's virtual addresses are delivered by local itself
            "relay_domains": "far.test",
            "relay_transport": lmtp,
            "home_mailbox": "",
            "mail_spool_directory": self.spool_mail,
            "forward_path": self.fwd_dir + "/$user.forward",
            "recipient_delimiter": "+",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "lmtp_connect_timeout": "5s",
            "lmtp_lhlo_timeout": "5s",
            "lmtp_data_done_timeout": "5s",
        })
        inst.params.update({k: v.replace("LMTP", lmtp) for k, v in params.items()})
        inst.write_config()
        self.inst = inst
        return inst

    def write_aliases(self, text):
        path = os.path.join(self.inst.etc, "aliases")
        with open(path, "w") as f:
            f.write(text)
        if IS_ROOT:
            os.chown(path, 0, 0)
        rc = self.inst.mailctl("alias", "rebuild")
        self.assertEqual(rc.returncode, 0, rc.stderr)

    def write_forward(self, text):
        path = os.path.join(self.fwd_dir, self.user + ".forward")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        if IS_ROOT:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def send(self, sender, rcpts, subject):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail(sender, rcpts, MESSAGE % (subject, subject))

    def arrived(self, rcpt, subject):
        """The copies of the message with subject that the LMTP server
        took for rcpt."""
        return [m for m in self.server.delivered_to(rcpt)
                if ("Subject: %s\r\n" % subject).encode() in m]

    def wait_arrived(self, rcpt, subject, timeout=30):
        return wait_for(lambda: self.arrived(rcpt, subject), timeout=timeout,
                        what="%r for %s at the LMTP server" % (subject, rcpt))[0]

    def assert_no_mailbox(self):
        self.assertFalse(os.path.exists(os.path.join(self.spool_mail, self.user)))
        if self.home is not None:
            self.assertFalse(os.path.exists(os.path.join(self.home, "Maildir")))


class MailboxTransportTest(TransportsBase):
    def test_user_alias_and_forward(self):
        """The user's own mail and mail with an extension are passed as
        addressed; an alias to the user is expanded first (the LMTP server
        gets the user's address); a .forward elsewhere is honoured. qmgr
        logs the LMTP relay."""
        self.make({"mailbox_transport": "LMTP"})
        self.write_aliases("crew: %s\n" % self.user)
        self.inst.start()
        self.send("sender@remote.test", [self.addr], "plain")
        msg = self.wait_arrived(self.addr, "plain")
        self.assertIn(b"hello plain", msg)
        self.inst.wait_log("to=<%s>, relay=127.0.0.1[127.0.0.1]:%d" % (self.addr, self.lport),
                           timeout=30)
        self.assertRegex(self.inst.read_log(),
                         r"to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*status=sent \(250 "
                         % (self.addr.replace(".", r"\."), self.lport))
        ext = self.user + "+box@mx.example.test"
        self.send("sender@remote.test", [ext], "extension")
        self.wait_arrived(ext, "extension")
        self.send("sender@remote.test", ["crew@mx.example.test"], "to the crew")
        self.wait_arrived(self.addr, "to the crew")
        self.assertEqual(self.arrived("crew@mx.example.test", "to the crew"), [])
        # Passed at once under the user's address (no forwarded copy): the
        # alias's own result is the LMTP server's.
        self.inst.wait_log("to=<crew@mx.example.test>, relay=127.0.0.1[127.0.0.1]:%d"
                           % self.lport, timeout=30)
        self.assertNotIn("forwarded as", self.inst.read_log())
        # A .forward elsewhere: the user's mailbox is not used.
        self.write_forward("away@far.test\n")
        self.send("sender@remote.test", [self.addr], "forwarded")
        self.wait_arrived("away@far.test", "forwarded")
        time.sleep(1)
        self.assertEqual(self.arrived(self.addr, "forwarded"), [])
        # \user in the .forward: the mailbox too, and that is passed.
        self.write_forward("\\%s, away@far.test\n" % self.user)
        self.send("sender@remote.test", [self.addr], "kept copy")
        self.wait_arrived(self.addr, "kept copy")
        self.wait_arrived("away@far.test", "kept copy")
        self.assert_no_mailbox()
        with self.server.lock:
            rcpts = [c for c in self.server.commands if c.upper().startswith("RCPT")]
        self.assertIn("RCPT TO:<%s>" % self.addr, rcpts)

    def test_reply_550_bounces_and_451_defers(self):
        """550 from the LMTP server bounces with a DSN (to the sender,
        postmaster, whose mailbox is root's, passed to the LMTP server as
        well) carrying the server's reply; 451 defers, and a retry delivers
        once the server takes it."""
        self.make({"mailbox_transport": "LMTP"})
        self.inst.start()
        bad = self.user + "+bad@mx.example.test"
        later = self.user + "+later@mx.example.test"
        with self.server.lock:
            self.server.answers[bad] = "550 5.1.1 <%s> No such mailbox" % bad
            self.server.answers[later] = "451 4.3.0 <%s> Try again" % later
        self.send("postmaster@mx.example.test", [bad, later], "replies")
        dsn = wait_for(lambda: [m for m in self.server.delivered_to("postmaster@mx.example.test")
                                if b"multipart/report" in m], timeout=30,
                       what="the DSN at the LMTP server")[0]
        self.assertIn(("Final-Recipient: rfc822; %s" % bad).encode(), dsn)
        self.assertIn(b"Status: 5.1.1", dsn)
        unfolded = dsn.replace(b"\r\n ", b" ")
        self.assertIn(("Diagnostic-Code: smtp; 550 5.1.1 <%s> No such mailbox" % bad).encode(),
                      unfolded)
        self.assertNotIn(later.encode(), dsn.split(b"Final-Recipient")[0][-200:])
        self.inst.wait_log("to=<%s>" % later, timeout=30)
        self.assertRegex(self.inst.read_log(), r"to=<%s>.*status=deferred \(.*451 4\.3\.0"
                         % later.replace(".", r"\.").replace("+", r"\+"))
        with self.server.lock:
            del self.server.answers[later]
        self.wait_arrived(later, "replies")
        self.assertEqual(self.arrived(bad, "replies"), [])
        self.assert_no_mailbox()

    def test_server_down_defers(self):
        """Nothing listens at the LMTP next hop: the lmtp agent defers
        (its reason names the next hop)."""
        dead = free_port()
        self.make({"mailbox_transport": "lmtp:inet:127.0.0.1:%d" % dead})
        self.inst.start()
        self.send("sender@remote.test", [self.addr], "down")
        self.inst.wait_log("to=<%s>" % self.addr, timeout=30)
        log = self.inst.read_log()
        self.assertRegex(log, r"to=<%s>, relay=.*status=deferred \(.*127\.0\.0\.1.*%d"
                         % (self.addr.replace(".", r"\."), dead))
        self.assert_no_mailbox()

    def test_agent_unreachable_defers(self):
        """The lmtp agent's socket is gone: deferred 4.3.0, the reason
        names mailbox_transport and the transport. A transport that is no
        master.conf service defers too."""
        self.make({"mailbox_transport": "LMTP"})
        self.inst.start()
        os.unlink(os.path.join(self.inst.spool, "private", "lmtp"))
        self.send("sender@remote.test", [self.addr], "unreachable")
        self.inst.wait_log("to=<%s>" % self.addr, timeout=30)
        self.assertRegex(self.inst.read_log(),
                         r"to=<%s>, relay=local.*dsn=4\.3\.0, status=deferred "
                         r"\(mailbox_transport lmtp: delivery agent not available\)"
                         % self.addr.replace(".", r"\."))
        self.inst.reload(params={"mailbox_transport": "nosuch:whatever"})
        self.inst.wait_log("transport \"nosuch\" in mailbox_transport: no unix service nosuch "
                           "in master.conf", timeout=30)
        self.assert_no_mailbox()


class UnknownUserTest(TransportsBase):
    def test_fallback_transport(self):
        """smtpd takes an unknown local part; local passes it to the
        fallback LMTP server; known users still get their mailbox."""
        self.make({"fallback_transport": "LMTP"})
        self.inst.start()
        self.send("sender@remote.test", ["ghost@mx.example.test", self.addr], "fallback")
        msg = self.wait_arrived("ghost@mx.example.test", "fallback")
        self.assertIn(b"hello fallback", msg)
        box = os.path.join(self.spool_mail, self.user)
        wait_for(lambda: os.path.exists(box) and b"hello fallback" in open(box, "rb").read(),
                 timeout=30, what="the known user's mailbox")
        self.assertEqual(self.arrived(self.addr, "fallback"), [])

    def test_fallback_transport_maps(self):
        """fallback_transport_maps routes the names it lists (smtpd takes
        those, and only those, of the unknown names); the others bounce at
        RCPT as before."""
        self.make({})
        table = os.path.join(self.inst.etc, "fallback")
        with open(table, "w") as f:
            f.write("ghost2 lmtp:inet:127.0.0.1:%d\n" % self.lport)
        os.chmod(table, 0o644)
        self.inst.params["fallback_transport_maps"] = "texthash:" + table
        self.inst.write_config()
        self.inst.start()
        self.send("sender@remote.test", ["ghost2@mx.example.test"], "mapped")
        msg = self.wait_arrived("ghost2@mx.example.test", "mapped")
        self.assertIn(b"hello mapped", msg)
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            self.send("sender@remote.test", ["ghost3@mx.example.test"], "refused")

    def test_luser_relay(self):
        """smtpd takes an unknown local part; local forwards it to the
        luser_relay address with $user expanded."""
        self.make({"luser_relay": "catchall+$user@virt.test"})
        self.inst.start()
        self.send("sender@remote.test", ["ghost+tag@mx.example.test"], "luser")
        msg = self.wait_arrived("catchall+ghost@virt.test", "luser")
        self.assertIn(b"Delivered-To: ghost+tag@mx.example.test\r\n", msg)
        self.inst.wait_log("to=<ghost+tag@mx.example.test>, relay=local", timeout=30)

    def test_unknown_refused_without_them(self):
        self.make({})
        self.inst.start()
        with self.assertRaises(smtplib.SMTPRecipientsRefused):
            self.send("sender@remote.test", ["ghost@mx.example.test"], "refused")


class VerifyTest(TransportsBase):
    """verify = 1 requests, straight to private/local (no qmgr)."""

    def verify(self, rcpts):
        qid = queue_active(self.inst, rcpts, "bob@remote.test", MESSAGE % ("probe", "probe"))
        results, done = deliver_request(self.inst.spool, qid, rcpts, "bob@remote.test",
                                        timeout=60, verify=1)
        self.assertTrue(done)
        return [results[i] for i in range(len(rcpts))]

    def commands(self):
        with self.server.lock:
            return list(self.server.commands)

    def test_mailbox_and_fallback_transport_verify(self):
        self.make({"mailbox_transport": "LMTP", "fallback_transport": "LMTP"},
                  smtpd=False, qmgr=False)
        self.inst.start()
        res = self.verify([self.addr, "ghost@mx.example.test"])
        for r in res:
            self.assertEqual((r["state"], r["status"]), ("delivered", "2.1.5"), res)
            self.assertIn("250 2.1.5 Ok", r["reason"])
        cmds = self.commands()
        self.assertIn("RCPT TO:<%s>" % self.addr, cmds)
        self.assertIn("RCPT TO:<ghost@mx.example.test>", cmds)
        self.assertFalse([c for c in cmds if c.upper() == "DATA"], cmds)
        self.assertEqual(os.listdir(os.path.join(self.inst.spool, "incoming")), [])
        self.assert_no_mailbox()

    def test_mailbox_transport_maps_verify(self):
        """mailbox_transport_maps by user name: the user in the table is
        passed to its transport; another (postmaster: root) keeps its
        mailbox."""
        self.make({}, smtpd=False, qmgr=False)
        maps = os.path.join(self.inst.base, "mbox_transport")
        with open(maps, "w") as f:
            f.write("/^%s$/ lmtp:inet:127.0.0.1:%d\n" % (self.user, self.lport))
        os.chmod(maps, 0o644)
        self.inst.params["mailbox_transport_maps"] = "regexp:" + maps
        self.inst.write_config()
        self.inst.start()
        res = self.verify([self.addr, "postmaster@mx.example.test"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("delivered", "2.1.5"), res)
        self.assertIn("250 2.1.5 Ok", res[0]["reason"])
        self.assertEqual(res[1]["state"], "delivered", res)
        self.assertIn("delivers to mailbox", res[1]["reason"])
        self.assertEqual([c for c in self.commands() if c.upper().startswith("RCPT")],
                         ["RCPT TO:<%s>" % self.addr])

    def test_luser_relay_verify(self):
        self.make({"luser_relay": "catchall+$user@virt.test"}, smtpd=False, qmgr=False)
        self.inst.start()
        res = self.verify(["ghost+x@mx.example.test"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("delivered", "2.0.0"), res)
        self.assertIn("forwards to catchall+ghost@virt.test", res[0]["reason"])
        self.assertEqual(os.listdir(os.path.join(self.inst.spool, "incoming")), [])
        self.assertEqual(self.commands(), [])


if __name__ == "__main__":
    unittest.main()
