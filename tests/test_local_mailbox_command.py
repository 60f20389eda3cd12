"""local: mailbox_command, Postfix's program (procmail, maildrop) that a
system user's mail is piped into instead of the mailbox. A small Python
script the test writes records what it was given (argv, user and group
ids, working directory, environment, standard input) and exits as the
recipient's extension says. First local alone, asked as qmgr asks: the
user, the home directory, the environment and the message; the
extension, given to the shell as "$EXTENSION"; aliases and .forward
first; root's mail as default_privs; virtual users untouched. Then end to
end (smtpd, qmgr, local): exit 75 defers and the message stays queued,
exit 67 bounces with the command's output and the sender gets the DSN.
System users are created by the test (as root) and removed afterwards."""

import email
import email.policy
import json
import os
import pwd
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, InstanceTestCase, add_test_user, free_port, wait_for  # noqa: E402
from test_local import LOCAL_SERVICE, deliver_request  # noqa: E402

MESSAGE = "From: bob@remote.test\r\nSubject: hi\r\n\r\nhello there\r\n"
LOCAL = "mx.example.test"

RECORDER = """#!%s
# Records what local gave this mailbox command into OUT/record.PID.json.
import json, os, sys
# (without the LC_CTYPE that Python sets itself in the C locale, PEP 538)
rec = {"argv": sys.argv[2:], "uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(),
       "env": {k: v for k, v in os.environ.items() if k != "LC_CTYPE" or v != "C.UTF-8"},
       "stdin": sys.stdin.buffer.read().decode("latin-1")}
path = os.path.join(sys.argv[1], "record.%%d.json" %% os.getpid())
with open(path + ".tmp", "w") as f:
    json.dump(rec, f)
os.rename(path + ".tmp", path)
ext = os.environ.get("EXTENSION", "")
if ext == "tempfail":
    sys.exit(75)
if ext == "nouser":
    print("no such mailbox here", file=sys.stderr)
    sys.exit(67)
"""

# The recorder runs as the test users, with local's PATH: a system python.
PYTHON = shutil.which("python3", path="/usr/bin:/bin")

# What local exports for mail that did not come from a client (then also
# CLIENT_*); the shell may add the rest.
EXPORTED = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "SENDER", "RECIPIENT", "LOCAL", "DOMAIN",
            "EXTENSION", "ORIGINAL_RECIPIENT"}
SHELL_ADDS = {"PWD", "OLDPWD", "SHLVL", "_"}


class CommandBase(InstanceTestCase):
    SERVICES = [LOCAL_SERVICE]
    PARAMS = {}

    def setUp(self):
        self.inst = self.instance(start=False, services=self.SERVICES)
        self.base = self.inst.base
        self.out = os.path.join(self.base, "out")
        os.mkdir(self.out)
        os.chmod(self.out, 0o1777)
        self.script = os.path.join(self.base, "recorder")
        with open(self.script, "w") as f:
            f.write(RECORDER % PYTHON)
        os.chmod(self.script, 0o755)
        self.inst.params.update({
            "mydestination": LOCAL + ", localhost",
            "virtual_mailbox_domains": "example.test",
            "recipient_delimiter": "+",
            "command_time_limit": "20s",
            # plain words: run without a shell
            "mailbox_command": "%s %s" % (self.script, self.out),
        })
        self.inst.params.update(self.PARAMS)
        self.vmail = self.inst.add_vmail(["alice@example.test"])
        self.name = add_test_user(self, "pstmc", os.path.join(self.base, "home-mc"))
        self.user = pwd.getpwnam(self.name)

    def records(self):
        """What the command recorded, oldest first (then forgotten)."""
        found = []
        for n in os.listdir(self.out):
            if n.startswith("record.") and n.endswith(".json"):
                path = os.path.join(self.out, n)
                with open(path) as f:
                    found.append((os.stat(path).st_mtime_ns, json.load(f)))
                os.unlink(path)
        return [r for _, r in sorted(found, key=lambda x: x[0])]

    def maildir(self, path):
        new = os.path.join(path, "new")
        if not os.path.isdir(new):
            return []
        return [open(os.path.join(new, n), "rb").read() for n in sorted(os.listdir(new))]


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
@unittest.skipUnless(PYTHON, "needs python3 in /usr/bin or /bin")
class MailboxCommandTest(CommandBase):
    def start(self, **params):
        self.inst.params.update(params)
        self.inst.write_config()
        self.inst.start()

    def deliver(self, rcpts, sender="bob@remote.test", orcpts=None):
        """Queue MESSAGE in active/ to rcpts (with ORCPTs orcpts) and hand it
        to local as qmgr does; local's result for each recipient."""
        cmd = [self.inst.program("svc_queue_writer"), "-s", sender, "-m", MESSAGE,
               "-q", "active"]
        for i, r in enumerate(rcpts):
            cmd += ["-r", r]
            if orcpts and orcpts[i]:
                cmd += ["-o", orcpts[i]]
        qid = subprocess.run(cmd + [self.inst.spool], capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
        results, done = deliver_request(self.inst.spool, qid, rcpts, sender, timeout=60)
        self.assertTrue(done, "local closed the connection before \"done\"")
        return [results[i] for i in range(len(rcpts))]

    def test_runs_as_the_user_in_home_with_environment_and_message(self):
        self.start()
        rcpt = "%s@%s" % (self.name, LOCAL)
        res = self.deliver([rcpt])
        self.assertEqual((res[0]["state"], res[0]["status"]), ("delivered", "2.0.0"), res)
        recs = self.records()
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertEqual(rec["argv"], [])
        self.assertEqual((rec["uid"], rec["gid"]), (self.user.pw_uid, self.user.pw_gid))
        self.assertEqual(rec["cwd"], self.user.pw_dir)
        env = rec["env"]
        # Run directly (no shell metacharacters): exactly local's environment.
        self.assertEqual(env, {
            "PATH": "/usr/bin:/bin",
            "HOME": self.user.pw_dir,
            "USER": self.name,
            "LOGNAME": self.name,
            "SHELL": self.user.pw_shell,
            "SENDER": "bob@remote.test",
            "RECIPIENT": rcpt,
            "LOCAL": self.name,
            "DOMAIN": LOCAL,
            "ORIGINAL_RECIPIENT": rcpt,
        })
        stdin = rec["stdin"]
        self.assertTrue(stdin.startswith("From bob@remote.test "), stdin)
        self.assertEqual(stdin.split("\n", 1)[1],
                         "Return-Path: <bob@remote.test>\nDelivered-To: %s\n"
                         "From: bob@remote.test\nSubject: hi\n\nhello there\n" % rcpt)
        # The command replaced the mailbox.
        self.assertEqual(self.maildir(os.path.join(self.user.pw_dir, "Maildir")), [])
        self.assertRegex(self.inst.read_log(), r"<%s> mailbox_command of %s: delivered"
                         % (rcpt, self.name))
        # Values from the envelope keep only command_expansion_filter's
        # characters; the message's own Return-Path is as sent.
        res = self.deliver([rcpt], sender="o'hara$x@remote.test")
        self.assertEqual(res[0]["state"], "delivered", res)
        rec = self.records()[0]
        self.assertEqual(rec["env"]["SENDER"], "o_hara_x@remote.test")
        self.assertIn("\nReturn-Path: <o'hara$x@remote.test>\n", rec["stdin"])
        # The null sender: SENDER is there, empty.
        res = self.deliver([rcpt], sender="")
        self.assertEqual(res[0]["state"], "delivered", res)
        rec = self.records()[0]
        self.assertEqual(rec["env"]["SENDER"], "")
        self.assertTrue(rec["stdin"].startswith("From MAILER-DAEMON "), rec["stdin"])
        self.assertIn("\nReturn-Path: <>\n", rec["stdin"])

    def test_extension_through_the_shell(self):
        self.start(mailbox_command='%s %s -a "$EXTENSION" $USER' % (self.script, self.out))
        rcpt = "%s+Box@%s" % (self.name, LOCAL)
        res = self.deliver([rcpt], orcpts=["rfc822;Someone@Elsewhere.test"])
        self.assertEqual(res[0]["state"], "delivered", res)
        rec = self.records()[0]
        self.assertEqual(rec["argv"], ["-a", "box", self.name])
        env = rec["env"]
        self.assertLessEqual(set(env), EXPORTED | SHELL_ADDS, env)
        self.assertEqual(env["EXTENSION"], "box")
        self.assertEqual(env["LOCAL"], self.name + "+box")
        self.assertEqual(env["RECIPIENT"], rcpt.lower())
        self.assertEqual(env["USER"], self.name)
        self.assertEqual(env["ORIGINAL_RECIPIENT"], "Someone@Elsewhere.test")
        self.assertIn("\nDelivered-To: %s\n" % rcpt.lower(), rec["stdin"])
        # No extension: "$EXTENSION" is empty, and not in the environment.
        res = self.deliver(["%s@%s" % (self.name, LOCAL)])
        rec = self.records()[0]
        self.assertEqual(rec["argv"], ["-a", "", self.name])
        self.assertNotIn("EXTENSION", rec["env"])

    def test_aliases_and_forward_come_first(self):
        self.start()
        with open(os.path.join(self.inst.etc, "aliases"), "w") as f:
            f.write('team: %s\npipe: "|cat > %s/piped"\n' % (self.name, self.out))
        self.inst.mailctl("alias", "rebuild", check=True)
        # An alias leads to the user: the user's command, for that user.
        res = self.deliver(["team@" + LOCAL])
        self.assertEqual(res[0]["state"], "delivered", res)
        rec = self.records()[0]
        self.assertEqual(rec["uid"], self.user.pw_uid)
        self.assertEqual((rec["env"]["RECIPIENT"], rec["env"]["LOCAL"]),
                         ("%s@%s" % (self.name, LOCAL), self.name))
        self.assertIn("\nDelivered-To: team@%s\n" % LOCAL, rec["stdin"])
        # A .forward wins over the command ...
        saved = os.path.join(self.out, "saved")
        forward = os.path.join(self.user.pw_dir, ".forward")
        with open(forward, "w") as f:
            f.write("%s\n" % saved)
        os.chown(forward, self.user.pw_uid, self.user.pw_gid)
        res = self.deliver(["%s@%s" % (self.name, LOCAL)])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(self.records(), [])
        with open(saved) as f:
            self.assertIn("hello there", f.read())
        # ... and "\user" in it means the mailbox: the command.
        with open(forward, "w") as f:
            f.write("\\%s\n" % self.name)
        res = self.deliver(["%s@%s" % (self.name, LOCAL)])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(len(self.records()), 1)
        # An alias's own |command is not the mailbox command.
        res = self.deliver(["pipe@" + LOCAL])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(self.records(), [])
        self.assertTrue(os.path.exists(os.path.join(self.out, "piped")))

    def test_virtual_user_unaffected(self):
        self.start()
        res = self.deliver(["alice@example.test"])
        self.assertEqual(res[0]["state"], "delivered", res)
        self.assertEqual(self.records(), [])
        msgs = self.maildir(os.path.join(self.vmail, "example.test", "alice", "Maildir"))
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].startswith(b"Return-Path: <bob@remote.test>\n"))

    @unittest.skipIf(os.path.lexists("/root/.forward"), "root has a .forward here")
    def test_root_runs_as_default_privs(self):
        self.start()
        nobody = pwd.getpwnam("nobody")
        root = pwd.getpwnam("root")
        res = self.deliver(["root@" + LOCAL])
        self.assertEqual(res[0]["state"], "delivered", res)
        rec = self.records()[0]
        self.assertEqual((rec["uid"], rec["gid"]), (nobody.pw_uid, nobody.pw_gid))
        self.assertEqual((rec["env"]["USER"], rec["env"]["HOME"]), ("root", root.pw_dir))
        # nobody may not enter root's home: the command runs in /.
        if not os.stat(root.pw_dir).st_mode & 0o001:
            self.assertEqual(rec["cwd"], "/")


@unittest.skipUnless(IS_ROOT, "needs root to create system users")
@unittest.skipUnless(PYTHON, "needs python3 in /usr/bin or /bin")
class MailboxCommandEndToEndTest(CommandBase):
    PARAMS = {
        "mynetworks": "127.0.0.0/8",
        "minimal_backoff_time": "1h",
        "maximal_backoff_time": "2h",
    }

    def setUp(self):
        self.port = free_port()
        self.SERVICES = ["127.0.0.1:%d inet n - n - - smtpd" % self.port,
                         "qmgr unix n - n 300 1 qmgr",
                         "local unix - n n - - local"]
        super().setUp()
        self.inst.start()

    def send(self, rcpt, subject):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            c.sendmail("alice@example.test", [rcpt],
                       "Subject: %s\r\n\r\nbody of %s\r\n" % (subject, subject))

    def alice(self):
        return [email.message_from_bytes(m, policy=email.policy.default) for m in
                self.maildir(os.path.join(self.vmail, "example.test", "alice", "Maildir"))]

    def queue(self):
        return json.loads(self.inst.mailctl("--json", "queue", "list", check=True).stdout)

    def test_tempfail_defers_and_nouser_bounces(self):
        tempfail = "%s+tempfail@%s" % (self.name, LOCAL)
        self.send(tempfail, "later")
        wait_for(lambda: [m["queue"] for m in self.queue()["messages"]] == ["deferred"],
                 timeout=30, what="the message in deferred/")
        rcpt = self.queue()["messages"][0]["recipients"][0]
        self.assertEqual((rcpt["address"], rcpt["state"], rcpt["status"]),
                         (tempfail, "deferred", "4.3.0"))
        self.assertIn("EX_TEMPFAIL", rcpt["reason"])
        recs = self.records()
        self.assertEqual(len(recs), 1)
        # What smtpd recorded about the client is in the environment too.
        env = recs[0]["env"]
        self.assertEqual((env["CLIENT_ADDRESS"], env["CLIENT_PROTOCOL"]), ("127.0.0.1", "ESMTP"))
        self.assertIn("CLIENT_HELO", env)
        self.assertLessEqual(set(env), EXPORTED | {"CLIENT_ADDRESS", "CLIENT_HOSTNAME",
                                                   "CLIENT_HELO", "CLIENT_PROTOCOL"}, env)

        nouser = "%s+nouser@%s" % (self.name, LOCAL)
        self.send(nouser, "never")
        bounce = wait_for(lambda: [m for m in self.alice()
                                   if m["Subject"] == "Undelivered Mail Returned to Sender"],
                          timeout=30, what="the bounce in alice's Maildir")[0]
        self.assertRegex(self.inst.read_log(), r"to=<%s>, .*status=bounced \(command failed "
                         r"with exit status 67 \(EX_NOUSER\).*no such mailbox here\)"
                         % nouser.replace("+", r"\+"))
        status = bounce.get_payload()[1]
        self.assertEqual(status.get_content_type(), "message/delivery-status")
        fields = dict(status.get_payload()[1].items())
        self.assertEqual(fields["Final-Recipient"], "rfc822; " + nouser)
        self.assertEqual((fields["Action"], fields["Status"]), ("failed", "5.1.1"))
        self.assertIn("no such mailbox here", fields["Diagnostic-Code"])
        # The deferred message is still there; the bounced one is gone.
        wait_for(lambda: len(self.queue()["messages"]) == 1, timeout=30,
                 what="one message left in the queue")
        self.assertEqual(self.queue()["messages"][0]["recipients"][0]["address"], tempfail)

        # A virtual user's mail goes into the Maildir, not to the command.
        self.records()
        self.send("alice@example.test", "for alice")
        wait_for(lambda: [m for m in self.alice() if m["Subject"] == "for alice"], timeout=30,
                 what="alice's own message")
        self.assertEqual(self.records(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
