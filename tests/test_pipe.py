"""The pipe delivery agent (Postfix's pipe(8)) through the whole system:
sendmail, pickup, qmgr, pipe and a recording script written by the test
(it saves its argv, environment, uid/gid and standard input as JSON).

- a pipe service with flags DRFOX., user=, size= and the macros; an
  argument with ${recipient} is repeated per recipient;
- transport_maps (rec.test -> rec:) and virtual_transport = rec route to it;
- rec_destination_recipient_limit = 1 gives one command per recipient;
- exit 75 defers, exit 67 bounces with the command's output in the DSN,
  the time limit (rec_time_limit) defers;
- user=root is refused (deferred, logged);
- Dovecot's LDA as Postfix admins run it: argv=/usr/lib/dovecot/dovecot-lda
  -f ${sender} -d ${user}@${nexthop} delivers into Dovecot's Maildir.
Root only (the command runs as vmail)."""
import glob
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Dovecot, have, submit  # noqa: E402
from postern_test import IS_ROOT, InstanceTestCase, free_port, wait_for  # noqa: E402

SCRIPT = r"""#!/usr/bin/python3
import json, os, sys, time
data = sys.stdin.buffer.read()
mode = os.environ.get("MODE_FILE")
rec = {"argv": sys.argv, "env": dict(os.environ), "uid": os.getuid(), "gid": os.getgid(),
       "cwd": os.getcwd(), "stdin": data.decode("latin-1")}
out = "%(out)s"
name = os.path.join(out, "%%d-%%d.json" %% (time.time_ns(), os.getpid()))
with open(name + ".tmp", "w") as f:
    json.dump(rec, f)
os.rename(name + ".tmp", name)
text = data.decode("latin-1")
if "EXIT75" in text:
    print("4.2.2 mailbox busy, try later")
    sys.exit(75)
if "EXIT67" in text:
    print("no such user here, sorry")
    sys.exit(67)
if "SLEEP" in text:
    time.sleep(30)
sys.exit(0)
"""

BASE_SERVICES = [
    "qmgr unix n - n 300 1 qmgr",
    "pickup unix n - n 60 1 pickup",
    "local unix - n n - - local",
]


@unittest.skipUnless(IS_ROOT, "needs root (the command runs as vmail)")
class PipeTest(InstanceTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-pipe-")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)
        os.chmod(self.out, 0o777)
        self.script = os.path.join(self.dir, "record")
        with open(self.script, "w") as f:
            f.write(SCRIPT % {"out": self.out})
        os.chmod(self.script, 0o755)

    def make(self, pipe_line, params=None, transport=None):
        p = {
            "mydestination": "localhost",
            "virtual_mailbox_domains": "virt.test",
            "virtual_transport": "rec",
            "minimal_backoff_time": "100s",
            "recipient_delimiter": "+",
        }
        p.update(params or {})
        inst = self.instance(params=p, services=BASE_SERVICES + [pipe_line], start=False)
        if transport:
            path = os.path.join(inst.etc, "transport")
            with open(path, "w") as f:
                f.write(transport)
            inst.mailctl("map", "build", path, check=True)
            inst.params["transport_maps"] = path + ".lmdb"
            inst.write_config()
        inst.start()
        return inst

    def records(self, count, timeout=30):
        wait_for(lambda: len(glob.glob(os.path.join(self.out, "*.json"))) >= count,
                 timeout=timeout, what="%d command runs" % count)
        recs = []
        for name in sorted(glob.glob(os.path.join(self.out, "*.json"))):
            with open(name) as f:
                recs.append(json.load(f))
        return recs

    def test_macros_flags_and_routing(self):
        line = ("rec unix - n n - - pipe flags=DRFOX. user=vmail size=100000 argv=%s "
                "-f ${sender} -n ${nexthop} -q ${queue_id} -s ${size} -- ${recipient} "
                "u=${user} e=${extension} m=${mailbox} d=${domain} $$x" % self.script)
        inst = self.make(line, params={"rec_destination_recipient_limit": "1"},
                         transport="rec.test rec:\n")
        body = b"Subject: pipe test\n\n.leading dot\nFrom here\nbody\n"
        submit(inst, "sender@example.org", ["alice+ext@rec.test"], body)
        rec = self.records(1)[0]
        argv = rec["argv"]
        self.assertEqual(argv[0], self.script)
        self.assertEqual(argv[1:5], ["-f", "sender@example.org", "-n", "rec.test"])
        self.assertEqual(argv[5], "-q")
        self.assertEqual(argv[7], "-s")
        self.assertTrue(int(argv[8]) > 0)
        self.assertEqual(argv[9:], ["--", "alice+ext@rec.test", "u=alice", "e=ext",
                                    "m=alice+ext", "d=rec.test", "$x"])
        import pwd
        pw = pwd.getpwnam("vmail")
        self.assertEqual((rec["uid"], rec["gid"]), (pw.pw_uid, pw.pw_gid))
        self.assertEqual(rec["env"].get("USER"), "vmail")
        self.assertEqual(rec["env"].get("LOGNAME"), "vmail")
        self.assertIn("PATH", rec["env"])
        self.assertNotIn("MAIL_CONFIG", rec["env"])
        lines = rec["stdin"].split("\n")
        self.assertTrue(lines[0].startswith("From sender@example.org  "), lines[0])
        self.assertEqual(lines[1], "Return-Path: <sender@example.org>")
        self.assertEqual(lines[2], "X-Original-To: alice+ext@rec.test")
        self.assertEqual(lines[3], "Delivered-To: alice+ext@rec.test")
        self.assertIn("\n..leading dot\nFrom here\n", rec["stdin"])
        self.assertNotIn("\r", rec["stdin"])
        inst.wait_log("to=<alice+ext@rec.test>, relay=rec", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<alice\+ext@rec\.test>, relay=rec, .*"
                         r"status=sent \(delivered via rec service\)")
        # virtual_transport, two recipients: limit 1 gives two commands
        submit(inst, "", ["bob@virt.test", "carol@virt.test"], b"Subject: two\n\nhi\n")
        recs = self.records(3)[1:]
        got = sorted(r["argv"][10] for r in recs)
        self.assertEqual(got, ["bob@virt.test", "carol@virt.test"])
        self.assertEqual(recs[0]["argv"][2], "MAILER-DAEMON")
        self.assertIn("Return-Path: <>\n", recs[0]["stdin"])

    def test_blank_line_from_quoting_eol_directory_and_folding(self):
        line = ("rec unix - n n - - pipe flags=B>hu user=vmail eol=\\r\\n directory=/tmp "
                "argv=%s ${recipient} ${nexthop}" % self.script)
        inst = self.make(line, transport="rec.test rec:\n")
        body = b"Subject: quoting\n\nFrom the start\n.dot stays\nlast\n"
        submit(inst, "sender@example.org", ["Alice@REC.test"], body)
        rec = self.records(1)[0]
        self.assertEqual(rec["argv"][1:], ["alice@rec.test", "rec.test"])
        self.assertEqual(rec["cwd"], "/tmp")
        text = rec["stdin"]
        self.assertNotIn("\n", text.replace("\r\n", ""), "every line ends in CRLF")
        self.assertIn("\r\n>From the start\r\n.dot stays\r\nlast\r\n\r\n", text)
        self.assertTrue(text.endswith("last\r\n\r\n"), text[-40:])
        self.assertFalse(text.startswith("From "), "no F flag: no From_ line")

    def test_per_recipient_expansion_and_exit_codes(self):
        line = ("rec unix - n n - - pipe user=vmail:vmail argv=%s ${sender} ${recipient}"
                % self.script)
        inst = self.make(line, params={"rec_time_limit": "3s"})
        submit(inst, "s@example.org", ["a@virt.test", "b@virt.test", "c@virt.test"],
               b"Subject: three\n\nhi\n")
        rec = self.records(1)[0]
        self.assertEqual(rec["argv"][1:], ["s@example.org", "a@virt.test", "b@virt.test",
                                           "c@virt.test"])
        self.assertTrue(rec["stdin"].endswith("\n\nhi\n"), rec["stdin"])
        self.assertFalse(rec["stdin"].startswith("From "))
        submit(inst, "s@example.org", ["t@virt.test"], b"Subject: x\n\nEXIT75\n")
        inst.wait_log("to=<t@virt.test>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<t@virt\.test>, relay=rec, .*dsn=4\.2\.2, "
                         r"status=deferred \(Command died with status 75: .*Command output: "
                         r"4\.2\.2 mailbox busy")
        submit(inst, "s@localhost", ["p@virt.test"], b"Subject: x\n\nEXIT67\n")
        inst.wait_log("to=<p@virt.test>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<p@virt\.test>, relay=rec, .*dsn=5\.1\.1, "
                         r"status=bounced \(Command died with status 67: .*no such user here")
        submit(inst, "s@example.org", ["z@virt.test"], b"Subject: x\n\nSLEEP\n")
        inst.wait_log("to=<z@virt.test>", timeout=40)
        self.assertRegex(inst.read_log(), r"to=<z@virt\.test>, relay=rec, .*status=deferred "
                         r"\(Command time limit exceeded")

    def test_root_refused(self):
        line = "rec unix - n n - - pipe user=root argv=%s ${recipient}" % self.script
        inst = self.make(line)
        submit(inst, "s@example.org", ["a@virt.test"], b"Subject: x\n\nhi\n")
        inst.wait_log("to=<a@virt.test>", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<a@virt\.test>, relay=rec, .*status=deferred "
                         r"\(service rec: user=root: the command must not run as root")
        self.assertEqual(glob.glob(os.path.join(self.out, "*.json")), [])

    def test_bad_arguments_deferred_and_checked(self):
        line = "rec unix - n n - - pipe user=vmail argv=%s ${nosuch}" % self.script
        inst = self.make(line)
        submit(inst, "s@example.org", ["a@virt.test"], b"Subject: x\n\nhi\n")
        inst.wait_log("to=<a@virt.test>", timeout=30)
        self.assertRegex(inst.read_log(), r"status=deferred \(mail system configuration "
                         r"error: master\.conf service rec: argv: unknown macro \$\{nosuch\}")
        res = inst.mailctl("check")
        self.assertIn("unknown macro ${nosuch}", res.stdout + res.stderr)


LDA = next((p for p in ("/usr/lib/dovecot/dovecot-lda", "/usr/lib/dovecot/deliver")
            if os.access(p, os.X_OK)), None)


@unittest.skipUnless(IS_ROOT and LDA and have("dovecot"), "needs root and Dovecot's LDA")
class DovecotLdaTest(InstanceTestCase):
    def test_dovecot_lda(self):
        dovecot = Dovecot(free_port(), ["alice@dv.example"], lda=True)
        self.addCleanup(dovecot.stop)
        # the LDA runs as vmail and logs into Dovecot's log file
        wait_for(lambda: os.path.exists(dovecot.log), what="dovecot.log")
        os.chmod(dovecot.log, 0o666)
        line = ("dovecot unix - n n - - pipe flags=DRhu user=vmail:vmail argv=%s -c %s "
                "-o stats_writer_socket_path= -f ${sender} -d ${user}@${nexthop}" % (LDA, dovecot.conf))
        inst = self.instance(params={
            "mydestination": "localhost",
            "virtual_mailbox_domains": "dv.example",
            "virtual_transport": "dovecot",
            "dovecot_destination_recipient_limit": "1",
        }, services=BASE_SERVICES + [line])
        body = b"Subject: via the LDA\n\nfirst\n.dot line\nlast\n"
        submit(inst, "sender@example.org", ["Alice@DV.example"], body)
        try:
            inst.wait_log("to=<Alice@dv.example>", timeout=30)
        except AssertionError:
            print(inst.read_log()[-3000:])
            raise
        with open(dovecot.log, errors="replace") as f:
            dovecot_log = f.read()
        self.assertRegex(inst.read_log(), r"to=<Alice@dv\.example>, relay=dovecot, .*"
                         r"status=sent \(delivered via dovecot service\)", dovecot_log[-2000:])
        msgs = dovecot.messages("alice@dv.example")
        self.assertEqual(len(msgs), 1)
        stored = msgs[0].replace(b"\r\n", b"\n")
        self.assertIn(b"Return-Path: <sender@example.org>", stored)
        self.assertIn(b"Subject: via the LDA", stored)
        self.assertTrue(stored.endswith(b"\n\nfirst\n.dot line\nlast\n"))


if __name__ == "__main__":
    unittest.main()
