"""local: aliases (lists, nested, |command, /file, :include:, owner-,
loops), ~/.forward (good and with a syntax error), mbox delivery with
dot and fcntl locking against a concurrent writer, the virtual mailbox
quota, and rebuilding the alias table (a bad source keeps the old one).
Recipients are handed to local over private/local as qmgr does; system
users are created by the test (as root) and removed afterwards."""

import fcntl
import grp
import os
import pwd
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, add_test_user, InstanceTestCase, encode_record, wait_for  # noqa: E402
from test_local import LOCAL_SERVICE, deliver_request, queue_active  # noqa: E402

MESSAGE = "From: bob@remote.test\r\nSubject: hi\r\n\r\nhello there\r\nFrom me, a line\r\n"


class LocalBase(InstanceTestCase):
    PARAMS = {}

    def setUp(self):
        self.inst = self.instance(start=False, services=[LOCAL_SERVICE])
        self.base = self.inst.base
        self.vbase = os.path.join(self.base, "vmail")
        os.mkdir(self.vbase, 0o755)
        if IS_ROOT:
            vmail = pwd.getpwnam("vmail")
            os.chown(self.vbase, vmail.pw_uid, vmail.pw_gid)
        self.out = os.path.join(self.base, "out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)
        self.inst.params.update({
            "virtual_mailbox_domains": "example.test",
            "virtual_mailbox_base": self.vbase,
            "mydestination": "mx.example.test, localhost",
            "command_time_limit": "3s",
            "deliver_lock_delay": "1s",
        })
        self.inst.params.update(self.PARAMS)
        self.inst.write_config()
        self.users = {}

    def add_user(self, tag):
        name = add_test_user(self, "pst" + tag, os.path.join(self.base, "home-" + tag))
        self.users[tag] = pwd.getpwnam(name)
        return name

    def write_aliases(self, text, owner=None):
        path = os.path.join(self.inst.etc, "aliases")
        with open(path, "w") as f:
            f.write(text)
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)
        elif IS_ROOT:
            os.chown(path, 0, 0)
        return self.inst.mailctl("alias", "rebuild")

    def queue(self, rcpts, sender="bob@remote.test", message=MESSAGE):
        return queue_active(self.inst, rcpts, sender, message)

    def deliver(self, rcpts, message=MESSAGE, sender="bob@remote.test"):
        """Queue a message and hand it to local; the result of each recipient.
        Recipients without a domain get mx.example.test, as qmgr's would."""
        rcpts = [r if "@" in r else r + "@mx.example.test" for r in rcpts]
        qid = self.queue(rcpts, sender=sender, message=message)
        results, done = deliver_request(self.inst.spool, qid, rcpts, sender, timeout=60)
        self.assertTrue(done, "local closed the connection before \"done\"")
        return [results[i] for i in range(len(rcpts))]

    def maildir(self, tag):
        new = os.path.join(self.users[tag].pw_dir, "Maildir", "new")
        if not os.path.isdir(new):
            return []
        return [open(os.path.join(new, n), "rb").read() for n in sorted(os.listdir(new))]


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
class AliasTest(LocalBase):
    def setUp(self):
        super().setUp()
        self.u1 = self.add_user("a")
        self.u2 = self.add_user("b")
        self.inst.start()

    def test_lists_nested_and_duplicates(self):
        rc = self.write_aliases("team: %s, %s@localhost\nall: team, %s\n"
                                "Virt: alice@example.test\n" % (self.u1, self.u2, self.u1))
        self.assertEqual(rc.returncode, 0, rc.stderr)
        subprocess.run([self.inst.program("mailctl"), "-c", self.inst.etc, "user", "add",
                        "alice@example.test"], input="pw\n", text=True, capture_output=True,
                       timeout=60, check=True)
        res = self.deliver(["all@mx.example.test", "virt"])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(res[1]["state"], "delivered", res)
        # Two mailboxes: an expansion (RFC 3464 "expanded" for NOTIFY=SUCCESS);
        # one address: a delivery like any other.
        self.assertEqual(res[0].get("dsn"), "expanded", res)
        self.assertNotIn("dsn", res[1])
        for tag in ("a", "b"):
            msgs = self.maildir(tag)
            self.assertEqual(len(msgs), 1, tag)  # u1 reached twice, delivered once
            self.assertTrue(msgs[0].startswith(
                b"Return-Path: <bob@remote.test>\nDelivered-To: all@mx.example.test\n"))
            path = os.path.join(self.users[tag].pw_dir, "Maildir", "new")
            f = os.path.join(path, os.listdir(path)[0])
            st = os.stat(f)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (self.users[tag].pw_uid, 0o600))
        vnew = os.path.join(self.vbase, "example.test", "alice", "Maildir", "new")
        self.assertEqual(len(os.listdir(vnew)), 1)

    def test_command_runs_as_table_owner_with_the_message(self):
        owner = self.users["a"]
        self.write_aliases(
            'cmd: "|id -u > %s/uid; cat > %s/input"\n'
            "temp: |exit 75\n"
            "nouser: \"|echo 'no such person here' >&2; exit 67\"\n"
            "slow: |sleep 30\n" % (self.out, self.out), owner=owner)
        res = self.deliver(["cmd", "temp", "nouser", "slow"])
        self.assertEqual(res[0]["state"], "delivered", res)
        with open(os.path.join(self.out, "uid")) as f:
            self.assertEqual(int(f.read()), owner.pw_uid)
        st = os.stat(os.path.join(self.out, "input"))
        self.assertEqual(st.st_uid, owner.pw_uid)
        with open(os.path.join(self.out, "input"), "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"From bob@remote.test "), data)
        self.assertIn(b"\nReturn-Path: <bob@remote.test>\nDelivered-To: cmd@mx.example.test\n"
                      b"From: bob@remote.test\nSubject: hi\n\nhello there\n", data)
        self.assertEqual((res[1]["state"], res[1]["status"]), ("deferred", "4.3.0"))
        self.assertIn("EX_TEMPFAIL", res[1]["reason"])
        self.assertEqual((res[2]["state"], res[2]["status"]), ("bounced", "5.1.1"))
        self.assertIn("no such person here", res[2]["reason"])
        self.assertEqual(res[3]["state"], "deferred")
        self.assertIn("time limit", res[3]["reason"])
        # A table owned by root: commands run as default_privs (nobody).
        self.write_aliases('cmd: "|id -u > %s/uid2"\n' % self.out)
        time.sleep(1.1)  # readers look for a rebuilt table once a second
        self.assertEqual(self.deliver(["cmd"])[0]["state"], "delivered")
        with open(os.path.join(self.out, "uid2")) as f:
            self.assertEqual(int(f.read()), pwd.getpwnam("nobody").pw_uid)

    def test_file_and_include(self):
        owner = self.users["a"]
        box = os.path.join(self.out, "box")
        inc = os.path.join(self.base, "list.inc")
        with open(inc, "w") as f:
            f.write("# members\n%s\n%s\n" % (self.u1, self.u2))
        os.chmod(inc, 0o644)
        loop = os.path.join(self.base, "loop.inc")
        with open(loop, "w") as f:
            f.write(":include:%s\n" % loop)
        os.chmod(loop, 0o644)
        self.write_aliases("file: %s\nlist: :include:%s\nloopy: :include:%s\n" % (box, inc, loop),
                           owner=owner)
        res = self.deliver(["file"])
        self.assertEqual(res[0]["state"], "delivered", res)
        st = os.stat(box)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (owner.pw_uid, 0o600))
        with open(box, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"From bob@remote.test "), data)
        self.assertIn(b"\n\nhello there\n>From me, a line\n\n", data)
        self.assertNotIn(b"\r", data)
        res = self.deliver(["list"])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(len(self.maildir("a")), 1)
        self.assertEqual(len(self.maildir("b")), 1)
        # Files named in :include: files are not allowed by default.
        with open(inc, "a") as f:
            f.write("%s\n" % box)
        res = self.deliver(["list"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.7.1"), res)
        self.assertIn("allow_mail_to_files", res[0]["reason"])
        res = self.deliver(["loopy"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.4.6"), res)

    def test_loops(self):
        self.write_aliases("a1: b1\nb1: c1\nc1: a1\nself: %s\n%s: %s, %s\n"
                           % (self.u1, self.u1, self.u1, self.u2))
        res = self.deliver(["a1", "self"])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.4.6"), res)
        self.assertIn("a1 -> b1 -> c1 -> a1", res[0]["reason"])
        # u1: u1, u2 - the self reference is u1's own mailbox.
        self.assertEqual(res[1]["state"], "delivered", res)
        self.assertEqual(len(self.maildir("a")), 1)
        self.assertEqual(len(self.maildir("b")), 1)
        # A message that already went through this address is a loop.
        res = self.deliver(["self"], message="Delivered-To: self@mx.example.test\r\n\r\nx\r\n")
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.4.6"))

    def test_forwarding_and_owner(self):
        self.write_aliases("list: %s, far@remote.test\nowner-list: %s\nplain: near@remote.test\n"
                           % (self.u1, self.u2))
        res = self.deliver(["list", "plain"])
        self.assertEqual([r["state"] for r in res], ["delivered", "delivered"], res)
        # Under an owner, even local members go out as a new message from
        # the owner, so that their errors reach the owner.
        self.assertEqual(self.maildir("a"), [])
        incoming = os.path.join(self.inst.spool, "incoming")
        from test_sendmail import read_queue_file
        copies = {}
        for qid in os.listdir(incoming):
            env, rcpts, content = read_queue_file(os.path.join(incoming, qid))
            copies[" ".join(sorted(r["address"] for r in rcpts))] = (env, content)
        both = "far@remote.test %s@mx.example.test" % self.u1
        self.assertEqual(sorted(copies), [both, "near@remote.test"])
        env, content = copies[both]
        self.assertEqual(env["sender"], "owner-list@mx.example.test")
        self.assertTrue(content.startswith(b"Delivered-To: list@mx.example.test\r\nFrom: bob"))
        self.assertEqual(copies["near@remote.test"][0]["sender"], "bob@remote.test")

    def test_forward_file(self):
        u1 = self.users["a"]
        fwd = os.path.join(u1.pw_dir, ".forward")
        with open(fwd, "w") as f:
            f.write("# keep a copy\n\\%s, %s\n\"|cat > %s/fwd-out\"\n"
                    % (self.u1, self.u2, self.out))
        os.chown(fwd, u1.pw_uid, u1.pw_gid)
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(len(self.maildir("a")), 1)
        self.assertEqual(len(self.maildir("b")), 1)
        self.assertEqual(os.stat(os.path.join(self.out, "fwd-out")).st_uid, u1.pw_uid)
        # A syntax error defers the recipient and says why in the log.
        with open(fwd, "w") as f:
            f.write("%s, \"unterminated\n" % self.u2)
        res = self.deliver([self.u1])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("deferred", "4.3.0"), res)
        self.assertIn("syntax error", res[0]["reason"])
        self.assertIn(".forward:1:", res[0]["reason"])
        self.inst.wait_log("syntax error: %s:1:" % fwd)
        self.assertEqual(len(self.maildir("b")), 1)
        # Forwarding to commands can be turned off.
        os.unlink(fwd)
        res = self.deliver([self.u1])
        self.assertEqual(len(self.maildir("a")), 2)


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
class MboxTest(LocalBase):
    PARAMS = {"home_mailbox": ""}

    def setUp(self):
        self.spool_dir = None
        super().setUp()
        self.spool_dir = os.path.join(self.base, "var-mail")
        os.mkdir(self.spool_dir)
        os.chown(self.spool_dir, 0, grp.getgrnam("mail").gr_gid)
        os.chmod(self.spool_dir, 0o2775)
        self.inst.params["mail_spool_directory"] = self.spool_dir
        self.inst.write_config()
        self.u1 = self.add_user("m")
        self.inst.start()
        self.box = os.path.join(self.spool_dir, self.u1)

    def test_mbox_delivery_and_modes(self):
        res = self.deliver([self.u1, self.u1 + "@localhost"])
        self.assertEqual([r["state"] for r in res], ["delivered", "delivered"], res)
        st = os.stat(self.box)
        self.assertEqual(st.st_uid, self.users["m"].pw_uid)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        with open(self.box, "rb") as f:
            data = f.read()
        self.assertEqual(data.count(b"\nFrom bob@remote.test ") + data.startswith(b"From "), 2)
        self.assertIn(b"\n>From me, a line\n\n", data)
        self.assertFalse(os.path.exists(self.box + ".lock"))

    def delivery_in_thread(self):
        out = {}

        def run():
            start = time.monotonic()
            out["res"] = self.deliver([self.u1])
            out["took"] = time.monotonic() - start
        t = threading.Thread(target=run)
        t.start()
        return t, out

    def test_dotlock_held_delays_delivery(self):
        self.deliver([self.u1])
        lock = self.box + ".lock"
        with open(lock, "w"):
            pass
        t, out = self.delivery_in_thread()
        time.sleep(2.5)
        self.assertNotIn("res", out)
        os.unlink(lock)
        t.join(30)
        self.assertEqual(out["res"][0]["state"], "delivered", out)
        self.assertGreater(out["took"], 2.0)
        with open(self.box, "rb") as f:
            self.assertEqual(f.read().count(b"hello there\n"), 2)

    def test_qmgr_gone_while_waiting_for_the_lock(self):
        # qmgr goes away while the delivery waits for the mailbox lock:
        # nobody would record it, so once the lock is free nothing is
        # appended (the restarted qmgr delivers it once).
        import socket
        self.deliver([self.u1])
        lock = self.box + ".lock"
        with open(lock, "w"):
            pass
        rcpt = self.u1 + "@mx.example.test"
        qid = self.queue([rcpt])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(os.path.join(self.inst.spool, "private", "local"))
        s.sendall(encode_record("deliver", [("queue_id", qid), ("queue_name", "active"),
                                            ("rcpt", rcpt), ("index", 0)]))
        time.sleep(1.5)  # the delivery child is waiting for the dot lock
        s.close()
        os.unlink(lock)
        self.inst.wait_log("%s: to=<%s>, relay=local, status=deferred (queue manager went "
                           "away: delivery abandoned)" % (qid, rcpt))
        with open(self.box, "rb") as f:
            self.assertEqual(f.read().count(b"hello there\n"), 1)
        self.assertFalse(os.path.exists(lock))

    def test_fcntl_lock_held_by_a_concurrent_writer(self):
        self.deliver([self.u1])
        with open(self.box, "ab") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            t, out = self.delivery_in_thread()
            time.sleep(0.5)
            f.write(b"From writer@example.org  Mon Nov 30 00:00:00 2026\n")
            f.flush()
            time.sleep(1.0)
            f.write(b"Subject: concurrent\n\nwritten while holding the lock\n\n")
            f.flush()
            time.sleep(1.0)
            self.assertNotIn("res", out)
            fcntl.lockf(f, fcntl.LOCK_UN)
        t.join(30)
        self.assertEqual(out["res"][0]["state"], "delivered", out)
        with open(self.box, "rb") as f:
            data = f.read()
        # The other writer's message is whole, and ours follows it.
        self.assertIn(b"From writer@example.org  Mon Nov 30 00:00:00 2026\nSubject: concurrent\n\n"
                      b"written while holding the lock\n\nFrom bob@remote.test ", data)
        self.assertEqual(data.count(b"hello there\n"), 2)

    def test_lock_never_released_defers(self):
        self.inst.reload(params={"deliver_lock_attempts": "2"})
        time.sleep(1)
        with open(self.box + ".lock", "w"):
            pass
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertIn("lock", res[0]["reason"])
        self.assertFalse(os.path.exists(self.box) and os.path.getsize(self.box))


@unittest.skipUnless(IS_ROOT, "needs root to mount a small file system")
class MboxFullDiskTest(LocalBase):
    PARAMS = {"home_mailbox": ""}

    def setUp(self):
        super().setUp()
        self.small = os.path.join(self.base, "small")
        os.mkdir(self.small)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=2775", "tmpfs",
                                  self.small], capture_output=True, timeout=30)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % mounted.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", self.small], capture_output=True,
                        timeout=30)
        os.chown(self.small, 0, grp.getgrnam("mail").gr_gid)
        self.inst.params["mail_spool_directory"] = self.small
        self.inst.write_config()
        self.u1 = self.add_user("d")
        self.inst.start()

    def test_failed_append_is_truncated_back(self):
        box = os.path.join(self.small, self.u1)
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "delivered", res)
        size = os.path.getsize(box)
        big = MESSAGE + ("y" * 70 + "\r\n") * 1500  # about 100 KiB: does not fit
        res = self.deliver([self.u1], message=big)
        self.assertEqual(res[0]["state"], "deferred", res)
        self.assertIn("No space left", res[0]["reason"])
        self.assertEqual(os.path.getsize(box), size)
        self.assertFalse(os.path.exists(box + ".lock"))
        res = self.deliver([self.u1])
        self.assertEqual(res[0]["state"], "delivered", res)
        with open(box, "rb") as f:
            self.assertEqual(f.read().count(b"hello there\n"), 2)


class QuotaTest(LocalBase):
    def setUp(self):
        super().setUp()
        subprocess.run([self.inst.program("mailctl"), "-c", self.inst.etc, "user", "add",
                        "small@example.test", "--quota", "1k"], input="pw\n", text=True,
                       capture_output=True, timeout=60, check=True)
        self.inst.start()

    def test_over_quota(self):
        big = MESSAGE + "x" * 700 + "\r\n"
        res = self.deliver(["small@example.test"], message=big)
        self.assertEqual(res[0]["state"], "delivered", res)
        res = self.deliver(["small@example.test"], message=big)
        self.assertEqual((res[0]["state"], res[0]["status"]), ("deferred", "4.2.2"), res)
        self.assertIn("mailbox is full", res[0]["reason"])
        new = os.path.join(self.vbase, "example.test", "small", "Maildir", "new")
        self.assertEqual(len(os.listdir(new)), 1)
        # Configured to bounce instead.
        self.inst.reload(params={"virtual_mailbox_quota_action": "bounce"})
        wait_for(lambda: self.deliver(["small@example.test"], message=big)[0]["state"]
                 == "bounced", timeout=15, what="quota bounce")
        res = self.deliver(["small@example.test"], message=big)
        self.assertEqual((res[0]["state"], res[0]["status"]), ("bounced", "5.2.2"), res)
        self.assertEqual(len(os.listdir(new)), 1)


class AliasRebuildTest(LocalBase):
    def setUp(self):
        super().setUp()
        self.inst.start()

    def test_bad_source_keeps_the_old_table(self):
        self.inst.params["alias_maps"] = "lmdb:%s/aliases.lmdb" % self.inst.etc
        rc = self.write_aliases("keep: %s/kept\n" % self.out)
        self.assertEqual(rc.returncode, 0, rc.stderr)
        self.assertIn("1 aliases", rc.stdout)
        table = os.path.join(self.inst.etc, "aliases.lmdb")
        before = os.stat(table)
        rc = self.write_aliases("keep: %s/kept\nnew: %s/new\n  \"unterminated\n" %
                                (self.out, self.out))
        self.assertEqual(rc.returncode, 1)
        self.assertIn("aliases:2: unterminated quote", rc.stderr)
        self.assertIn("previous table stays in use", rc.stderr)
        self.assertEqual(os.stat(table).st_ino, before.st_ino)
        check = self.inst.mailctl("check")
        self.assertIn("aliases is newer than its table: run newaliases", check.stdout)
        res = self.deliver(["keep", "new"])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual((res[1]["state"], res[1]["status"]), ("bounced", "5.1.1"), res)
        self.assertTrue(os.path.exists(os.path.join(self.out, "kept")))
        # mailctl map: the same for key/value tables.
        src = os.path.join(self.base, "transport")
        with open(src, "w") as f:
            f.write("example.org smtp:[relay.test]\n# comment\nexample.net local\n")
        rc = self.inst.mailctl("map", "build", src)
        self.assertEqual(rc.returncode, 0, rc.stderr)
        rc = self.inst.mailctl("map", "query", src, "example.org")
        self.assertEqual((rc.returncode, rc.stdout), (0, "smtp:[relay.test]\n"))
        self.assertEqual(self.inst.mailctl("map", "query", src, "nope").returncode, 1)
        with open(src, "w") as f:
            f.write("example.org\n")
        rc = self.inst.mailctl("map", "build", src)
        self.assertEqual(rc.returncode, 1)
        self.assertIn("transport:1:", rc.stderr)
        rc = self.inst.mailctl("map", "query", src, "example.net")
        self.assertEqual((rc.returncode, rc.stdout), (0, "local\n"))


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
class EndToEndTest(InstanceTestCase):
    def test_smtp_to_alias_list_and_forwarding(self):
        from postern_test import free_port
        import smtplib
        port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "mynetworks": "127.0.0.0/8",
            "home_mailbox": "Maildir/",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
        ], start=False)
        home = os.path.join(inst.base, "home-e")
        name = add_test_user(self, "pste", home)
        with open(os.path.join(inst.etc, "aliases"), "w") as f:
            f.write("crew: %s, mate\nmate: \\%s, elsewhere@remote.test\n" % (name, name))
        self.assertEqual(inst.mailctl("alias", "rebuild").returncode, 0)
        inst.start()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.sendmail("sender@outside.test", ["crew@mx.example.test"],
                       "Subject: to the crew\r\n\r\nahoy\r\n")
            # A name that is neither a user nor an alias is refused.
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                c.sendmail("sender@outside.test", ["nobody-at-all@mx.example.test"], "x\r\n")
        new = os.path.join(home, "Maildir", "new")
        wait_for(lambda: os.path.isdir(new) and os.listdir(new), timeout=30,
                 what="the crew's message")
        time.sleep(0.5)
        self.assertEqual(len(os.listdir(new)), 1)  # reached twice, delivered once
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            self.assertIn(b"Delivered-To: crew@mx.example.test\n", f.read())
        # The remote member went back into the queue as a new message.
        inst.wait_log("to=<elsewhere@remote.test>", timeout=30)
        inst.wait_log("to=<crew@mx.example.test>, relay=local", timeout=30)
        # A list with an owner: a member that fails is reported to the owner.
        with open(os.path.join(inst.etc, "aliases"), "a") as f:
            f.write("team: %s, ghost-member\nowner-team: %s\n" % (name, name))
        self.assertEqual(inst.mailctl("alias", "rebuild").returncode, 0)
        time.sleep(1.1)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.sendmail("author@outside.test", ["team@mx.example.test"],
                       "Subject: to the team\r\n\r\nhello team\r\n")
        wait_for(lambda: len(os.listdir(new)) == 3, timeout=30, what="copy and bounce")
        texts = []
        for n in os.listdir(new):
            with open(os.path.join(new, n), "rb") as f:
                texts.append(f.read())
        copy = [t for t in texts if b"hello team" in t and b"multipart/report" not in t]
        report = [t for t in texts if b"multipart/report" in t]
        self.assertEqual(len(copy), 1)
        self.assertTrue(copy[0].startswith(b"Return-Path: <owner-team@mx.example.test>\n"))
        self.assertEqual(len(report), 1)
        self.assertIn(b"ghost-member@mx.example.test", report[0])
        self.assertIn(b"Delivered-To: owner-team@mx.example.test", report[0])
        self.assertNotIn("to=<author@outside.test>", inst.read_log())


if __name__ == "__main__":
    unittest.main()
