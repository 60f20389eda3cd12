"""sendmail, postdrop and pickup: local submission end to end. Messages go
in through the sendmail command line (-t, -f, -F, -i, DSN options), an SMTP
session on stdin/stdout (-bs, driven by Python's smtplib) and postdrop
itself; they are checked as queue files in spool/incoming/. Also: mail
submitted while master is down is queued once it starts, corrupt or
hostile files in maildrop/ end up in corrupt/ without losing other mail,
mailq/-bp, newaliases and -q."""

import os
import shutil
import smtplib
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import ipc_decode, ipc_record, read_queue_file  # noqa: E402
from postern_test import IS_ROOT, Instance, wait_for  # noqa: E402

PICKUP = "pickup unix n - n 60 1 pickup"
EX_USAGE, EX_DATAERR, EX_NOPERM, EX_TEMPFAIL = 64, 65, 77, 75


# -- drop files (the IPC record format: tests/ipc_records.py)

def drop_file(sender, rcpts, content, uid=1000, user="mallory"):
    out = b"POSTERN-DROP 1\n"
    out += ipc_record("drop", [("i", "uid", uid), ("s", "user", user), ("i", "time", int(time.time())),
                               ("s", "sender", sender), ("s", "full_name", ""), ("s", "ret", ""),
                               ("s", "envid", ""), ("s", "body", ""), ("i", "smtputf8", 0)])
    for r in rcpts:
        out += ipc_record("rcpt", [("s", "address", r), ("s", "orcpt", ""), ("s", "notify", "")])
    out += ipc_record("content", [("i", "size", len(content))]) + content
    return out + ipc_record("end", [("i", "crc32", zlib.crc32(content))])


def wakeup(path, flush=False):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(ipc_record("wakeup", [("i", "flush", 1)] if flush else []))


class LocalSubmission:
    """Running sendmail and finding what it queued."""

    def sendmail(self, *args, data=b"", program="sendmail", timeout=60):
        cmd = [self.inst.program(program), "-C", self.inst.etc] + list(args)
        return subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)

    def send_ok(self, *args, data=b""):
        result = self.sendmail(*args, data=data)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result

    def queue_dir(self, name):
        return os.path.join(self.inst.spool, name)

    def queued(self):
        found = {}
        for qid in os.listdir(self.queue_dir("incoming")):
            found[qid] = read_queue_file(os.path.join(self.queue_dir("incoming"), qid))
        return found

    def wait_queued(self, token, timeout=15):
        """The queue file whose content holds token: (id, env, rcpts, content)."""
        def find():
            for qid, (env, rcpts, content) in self.queued().items():
                if token.encode() in content:
                    return qid, env, rcpts, content
            return None
        return wait_for(find, timeout=timeout, what="queue file with " + token)

    @staticmethod
    def addresses(rcpts):
        return sorted(r["address"] for r in rcpts)

    @staticmethod
    def header(content, name):
        head = content.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ")
        values = [line.split(":", 1)[1].strip() for line in unfolded.split("\r\n")
                  if line.lower().startswith(name.lower() + ":")]
        return values


class SendmailTest(LocalSubmission, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inst = Instance(params={"myorigin": "origin.test"}, services=[PICKUP])
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_t_takes_recipients_from_to_cc_bcc(self):
        msg = (b"To: Bob Smith <bob@example.test>, \"Doe, Jane\" <jane@example.test>\n"
               b"Cc: carol@example.org,\n"
               b"\tdave (Dave)\n"
               b"Bcc: secret@example.net\n"
               b"Subject: token-t1\n"
               b"\n"
               b"Bcc: this body line stays\n")
        self.send_ok("-t", "extra@example.test", data=msg)
        qid, env, rcpts, content = self.wait_queued("token-t1")
        self.assertEqual(self.addresses(rcpts), sorted([
            "bob@example.test", "jane@example.test", "carol@example.org",
            "dave@origin.test", "secret@example.net", "extra@example.test"]))
        self.assertNotIn(b"secret@example.net", content.split(b"\r\n\r\n", 1)[0])
        self.assertEqual(self.header(content, "Bcc"), [])
        self.assertIn(b"\r\n\r\nBcc: this body line stays\r\n", content)
        self.assertEqual(env["origin"], "pickup")
        self.assertEqual(env["protocol"], "local")
        # LF line ends became CRLF; nothing else is left bare.
        self.assertNotIn(b"\n", content.replace(b"\r\n", b""))
        # Received first, with the submitter's uid; then the added headers.
        self.assertTrue(content.startswith(b"Received: by mx.example.test (Postern, from userid %d)\r\n\tid %s; "
                                           % (os.getuid(), qid.encode())), content[:120])
        self.assertEqual(len(self.header(content, "Date")), 1)
        self.assertRegex(self.header(content, "Message-ID")[0], r"^<\d{14}\.[0-9A-F]{16}@mx\.example\.test>$")
        self.inst.wait_log("%s: uid=%d from=<%s>" % (qid, os.getuid(), env["sender"]))

    def test_resent_headers_win_with_t(self):
        msg = (b"To: original@example.test\nResent-To: forwarded@example.test\n"
               b"Resent-Bcc: quiet@example.test\nSubject: token-resent\n\nbody\n")
        self.send_ok("-t", data=msg)
        _, _, rcpts, content = self.wait_queued("token-resent")
        self.assertEqual(self.addresses(rcpts), ["forwarded@example.test", "quiet@example.test"])
        self.assertNotIn(b"quiet@", content)

    def test_t_with_group_and_undisclosed(self):
        msg = (b"To: undisclosed-recipients:;\nCc: Team: a@example.test, B <b@example.test>;\n"
               b"Subject: token-group\n\nbody\n")
        self.send_ok("-t", data=msg)
        _, _, rcpts, _ = self.wait_queued("token-group")
        self.assertEqual(self.addresses(rcpts), ["a@example.test", "b@example.test"])

    def test_bad_recipient_header_fails_loudly(self):
        result = self.sendmail("-t", data=b"To: Bob Smith\nSubject: s\n\nb\n")
        self.assertEqual(result.returncode, EX_DATAERR)
        self.assertIn(b"To: header", result.stderr)

    def test_default_sender_and_f(self):
        import pwd
        login = pwd.getpwuid(os.getuid()).pw_name
        self.send_ok("bob@example.test", data=b"Subject: token-default\n\nbody\n")
        _, env, rcpts, content = self.wait_queued("token-default")
        self.assertEqual(env["sender"], login + "@origin.test")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        self.assertIn("<%s@origin.test>" % login, self.header(content, "From")[0])

        self.send_ok("-f", "alice@Example.TEST", "bob@example.test",
                     data=b"Subject: token-f\n\nbody\n")
        _, env, _, content = self.wait_queued("token-f")
        self.assertEqual(env["sender"], "alice@example.test")
        self.assertIn("alice@example.test", self.header(content, "From")[0])

        self.send_ok("-f", "<>", "bob@example.test", data=b"Subject: token-null\n\nbody\n")
        _, env, _, _ = self.wait_queued("token-null")
        self.assertEqual(env["sender"], "")

        self.send_ok("-fnews", "bob", data=b"Subject: token-fshort\n\nbody\n")
        _, env, rcpts, _ = self.wait_queued("token-fshort")
        self.assertEqual(env["sender"], "news@origin.test")
        self.assertEqual(self.addresses(rcpts), ["bob@origin.test"])

        result = self.sendmail("-f", "not an address", "bob@example.test", data=b"x\n")
        self.assertNotEqual(result.returncode, 0)

    def test_F_full_name_in_added_from(self):
        self.send_ok("-F", "Alice Liddell", "-f", "alice@example.test", "bob@example.test",
                     data=b"Subject: token-F\n\nbody\n")
        _, env, _, content = self.wait_queued("token-F")
        self.assertEqual(self.header(content, "From"), ["Alice Liddell <alice@example.test>"])
        # An existing From: is left alone.
        self.send_ok("-F", "Alice Liddell", "bob@example.test",
                     data=b"From: Someone <someone@example.test>\nSubject: token-F2\n\nbody\n")
        _, _, _, content = self.wait_queued("token-F2")
        self.assertEqual(self.header(content, "From"), ["Someone <someone@example.test>"])
        # Names that need it are quoted or encoded.
        self.send_ok("-F", "Smith, J\u00f6rg", "bob@example.test",
                     data=b"Subject: token-F3\n\nbody\n")
        _, _, _, content = self.wait_queued("token-F3")
        self.assertRegex(self.header(content, "From")[0], r"^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= <")

    def test_dot_ends_input_unless_i(self):
        body = b"Subject: token-dot1\n\nbefore\n.\nafter\n"
        self.send_ok("bob@example.test", data=body)
        _, _, _, content = self.wait_queued("token-dot1")
        self.assertTrue(content.endswith(b"\r\nbefore\r\n"), content[-40:])
        for flag in ("-i", "-oi"):
            token = "token-dot" + flag
            self.send_ok(flag, "bob@example.test",
                         data=b"Subject: " + token.encode() + b"\n\nbefore\n.\n..\nafter\n")
            _, _, _, content = self.wait_queued(token)
            self.assertTrue(content.endswith(b"\r\nbefore\r\n.\r\n..\r\nafter\r\n"), content[-40:])

    def test_dsn_and_body_options(self):
        self.send_ok("-N", "success,delay", "-R", "hdrs", "-V", "envid-42", "-B", "8BITMIME",
                     "bob@example.test", data=b"Subject: token-dsn\n\nbody\n")
        _, env, rcpts, _ = self.wait_queued("token-dsn")
        self.assertEqual(env["ret"], "HDRS")
        self.assertEqual(env["envid"], "envid-42")
        self.assertEqual(env["body"], "8BITMIME")
        self.assertEqual(rcpts[0]["notify"], "SUCCESS,DELAY")
        self.assertEqual(self.sendmail("-N", "never,success", "bob", data=b"x\n").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("-R", "everything", "bob", data=b"x\n").returncode, EX_USAGE)
        self.assertEqual(self.sendmail("-B", "BINARYMIME", "bob", data=b"x\n").returncode, EX_USAGE)

    def test_historic_options_are_accepted(self):
        self.send_ok("-oem", "-oep", "-odb", "-odi", "-om", "-bm", "-U", "-v", "-Am", "-h", "5",
                     "-L", "label", "-O", "x=y", "-x", "-c", "-G", "-e", "x", "-o7", "--",
                     "bob@example.test", data=b"Subject: token-historic\n\nbody\n")
        self.wait_queued("token-historic")
        self.assertEqual(self.sendmail("-n", "bob", data=b"x\n").returncode, EX_USAGE)
        result = self.sendmail("-Z", "bob", data=b"x\n")
        self.assertEqual(result.returncode, EX_USAGE)
        self.assertIn(b"unknown option", result.stderr)

    def test_no_recipients(self):
        result = self.sendmail(data=b"Subject: nobody\n\nbody\n")
        self.assertEqual(result.returncode, EX_USAGE)
        self.assertIn(b"no recipients", result.stderr)

    def test_message_without_headers_and_from_line(self):
        self.send_ok("bob@example.test",
                     data=b"From alice Mon Jan  1 00:00:00 2024\njust a line token-nohead\n")
        _, _, _, content = self.wait_queued("token-nohead")
        head, body = content.split(b"\r\n\r\n", 1)
        self.assertEqual(body, b"just a line token-nohead\r\n")
        self.assertNotIn(b"From alice", content)

    def test_bs_with_smtplib(self):
        a, b = socket.socketpair()
        proc = subprocess.Popen([self.inst.program("sendmail"), "-C", self.inst.etc, "-bs"],
                                stdin=b, stdout=b, stderr=subprocess.PIPE)
        b.close()
        try:
            client = smtplib.SMTP()
            client.sock = a
            code, banner = client.getreply()
            self.assertEqual(code, 220)
            self.assertIn(b"mx.example.test", banner)
            code, features = client.ehlo("client.test")
            self.assertEqual(code, 250)
            self.assertTrue(client.has_extn("dsn") and client.has_extn("8bitmime"))
            msg = (b"From: alice@example.test\r\nSubject: token-bs1\r\n\r\n"
                   b".leading dot\r\nline\r\n")
            refused = client.sendmail("alice@example.test", ["bob@example.test", "carol@example.test"],
                                      msg, rcpt_options=["NOTIFY=FAILURE"])
            self.assertEqual(refused, {})
            # A second message in the same session; Bcc is kept as SMTP does.
            client.sendmail("<>", ["dave@example.test"],
                            b"Subject: token-bs2\r\nBcc: x@example.test\r\n\r\nbody\r\n")
            code, _ = client.rset()
            self.assertEqual(code, 250)
            self.assertEqual(client.noop()[0], 250)
            code, _ = client.docmd("RCPT", "TO:<bob@example.test>")
            self.assertEqual(code, 503)
            client.quit()
        finally:
            a.close()
            _, errors = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, errors)
        _, env, rcpts, content = self.wait_queued("token-bs1")
        self.assertEqual(env["sender"], "alice@example.test")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test", "carol@example.test"])
        self.assertEqual(rcpts[0]["notify"], "FAILURE")
        self.assertIn(b"\r\n\r\n.leading dot\r\nline\r\n", content)  # dot-unstuffed
        self.assertEqual(len(self.header(content, "Message-ID")), 1)
        _, env, rcpts, content = self.wait_queued("token-bs2")
        self.assertEqual(env["sender"], "")
        self.assertEqual(self.header(content, "Bcc"), ["x@example.test"])

    def test_bs_raw_errors_and_pipelining(self):
        session = (b"HELO client.test\r\nMAIL FROM:<bad address>\r\nDATA\r\n"
                   b"MAIL FROM:<alice@example.test>\r\nRCPT TO:<Postmaster>\r\n"
                   b"RCPT TO:<x@example.test> FOO=BAR\r\nDATA\r\n"
                   b"Subject: token-bsraw\r\n\r\n..two\r\n.\r\nBDAT 10\r\nQUIT\r\n")
        result = self.sendmail("-bs", data=session)
        self.assertEqual(result.returncode, 0, result.stderr)
        codes = [line[:3] for line in result.stdout.decode().split("\r\n") if line]
        self.assertEqual(codes, ["220", "250", "501", "503", "250", "250", "555", "354", "250",
                                 "502", "221"])
        _, _, rcpts, content = self.wait_queued("token-bsraw")
        self.assertEqual(self.addresses(rcpts), ["postmaster@origin.test"])
        self.assertTrue(content.endswith(b"\r\n\r\n.two\r\n"))

    def test_bs_completes_addresses_without_a_domain(self):
        # As Postfix's sendmail -bs: a bare user name is user@$myorigin.
        session = (b"EHLO client.test\r\nMAIL FROM:<alice>\r\nRCPT TO:<bob>\r\n"
                   b"RCPT TO:<carol@far.test>\r\nDATA\r\n"
                   b"Subject: token-bsbare\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        result = self.sendmail("-bs", data=session)
        self.assertEqual(result.returncode, 0, result.stderr)
        codes = [line[:3] for line in result.stdout.decode().split("\r\n")
                 if line and not line.startswith("250-")]
        self.assertEqual(codes, ["220", "250", "250", "250", "250", "354", "250", "221"])
        _, env, rcpts, _ = self.wait_queued("token-bsbare")
        self.assertEqual(self.addresses(rcpts), ["bob@origin.test", "carol@far.test"])
        self.assertEqual(env["sender"], "alice@origin.test")

    def test_corrupt_and_hostile_drop_files(self):
        maildrop = self.queue_dir("maildrop")
        corrupt = self.queue_dir("corrupt")
        with open(os.path.join(maildrop, "0000000000000BAD"), "wb") as f:
            f.write(b"this is not a drop file\n")
        good = drop_file("alice@example.test", ["bob@example.test"],
                         b"Subject: token-handmade\r\n\r\nhello\r\n", uid=os.getuid())
        with open(os.path.join(maildrop, "0000000000000BAE"), "wb") as f:
            f.write(good[:-3])  # truncated
        with open(os.path.join(maildrop, "0000000000000BAF"), "wb") as f:
            f.write(good.replace(b"hello", b"HELLO"))  # crc mismatch
        os.symlink("/etc/passwd", os.path.join(maildrop, "0000000000000BB0"))
        os.mkfifo(os.path.join(maildrop, "0000000000000BB1"))
        with open(os.path.join(maildrop, "0000000000000BB2"), "wb") as f:
            f.write(good)  # a valid file dropped by hand: queued
        names = ["0000000000000BAD", "0000000000000BAE", "0000000000000BAF", "0000000000000BB0",
                 "0000000000000BB1"]
        if IS_ROOT:
            # Valid, but not owned by the uid it claims: corrupt.
            liar = os.path.join(maildrop, "0000000000000BB3")
            with open(liar, "wb") as f:
                f.write(drop_file("alice@example.test", ["bob@example.test"],
                                  b"Subject: token-liar\r\n\r\nbody\r\n", uid=0))
            os.chown(liar, 65534, 65534)
            names.append("0000000000000BB3")
        # postdrop's files in progress: left alone, unless a crash left them for a day.
        stale = os.path.join(maildrop, "tmp.0000000000000AAA")
        fresh = os.path.join(maildrop, "tmp.0000000000000AAB")
        for path in (stale, fresh):
            with open(path, "wb") as f:
                f.write(good[:20])
        os.utime(stale, (time.time() - 2 * 86400, time.time() - 2 * 86400))
        wakeup(os.path.join(self.inst.spool, "public", "pickup"))
        for name in names:
            wait_for(lambda: os.path.lexists(os.path.join(corrupt, name)), what=name + " in corrupt/")
            self.inst.wait_log("%s: corrupt drop file: " % name)
        log = self.inst.read_log()
        self.assertIn("0000000000000BB0: corrupt drop file: a symbolic link", log)
        self.assertIn("0000000000000BB1: corrupt drop file: not a regular file", log)
        self.assertIn("0000000000000BAF: corrupt drop file: content checksum mismatch", log)
        if IS_ROOT:
            self.assertIn("0000000000000BB3: corrupt drop file: owner uid 65534 differs", log)
        self.assertTrue(os.path.islink(os.path.join(corrupt, "0000000000000BB0")))
        _, env, rcpts, _ = self.wait_queued("token-handmade")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        wait_for(lambda: os.listdir(maildrop) == ["tmp.0000000000000AAB"],
                 what="a maildrop/ with only the fresh temporary file")
        self.inst.wait_log("tmp.0000000000000AAA: removed an unfinished drop file")
        os.unlink(fresh)
        # Nothing else was lost: a normal message still goes through.
        self.send_ok("bob@example.test", data=b"Subject: token-after-corrupt\n\nbody\n")
        self.wait_queued("token-after-corrupt")

    def test_postdrop_stamps_the_real_uid(self):
        data = drop_file("alice@example.test", ["bob@example.test"],
                         b"Subject: token-stamp\r\n\r\nbody\r\n", uid=4242, user="mallory")
        result = subprocess.run([self.inst.program("postdrop"), "-c", self.inst.etc], input=data,
                                capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        qid, _, _, content = self.wait_queued("token-stamp")
        self.assertIn(b"(Postern, from userid %d)" % os.getuid(), content)
        self.inst.wait_log("%s: uid=%d from=<alice@example.test>" % (qid, os.getuid()))

    def test_postdrop_refuses_bad_input_and_leaves_nothing(self):
        before = set(os.listdir(self.queue_dir("maildrop")))
        good = drop_file("alice@example.test", ["bob@example.test"], b"Subject: x\r\n\r\nbody\r\n")
        for data in (b"garbage", good[:-1], good + b"x", good.replace(b"\r\nbody", b"\nbody!")):
            result = subprocess.run([self.inst.program("postdrop"), "-c", self.inst.etc],
                                    input=data, capture_output=True, timeout=30)
            self.assertEqual(result.returncode, EX_DATAERR, result.stderr)
            self.assertIn(b"invalid input", result.stderr)
        self.assertTrue(set(os.listdir(self.queue_dir("maildrop"))) <= before)
        result = subprocess.run([self.inst.program("postdrop"), "-c", self.inst.etc, "extra"],
                                input=good, capture_output=True, timeout=30)
        self.assertEqual(result.returncode, EX_USAGE)

    @unittest.skipUnless(IS_ROOT, "needs root to make a set-gid copy and switch users")
    def test_setgid_postdrop_ignores_config_from_users(self):
        work = tempfile.mkdtemp(prefix="postern-setgid-")
        self.addCleanup(shutil.rmtree, work, True)
        os.chmod(work, 0o755)
        copy = os.path.join(work, "postdrop")
        shutil.copy(self.inst.program("postdrop"), copy)
        os.chown(copy, 0, __import__("grp").getgrnam("postern-drop").gr_gid)
        os.chmod(copy, 0o2755)
        self.assertTrue(os.stat(copy).st_mode & stat.S_ISGID)

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        result = subprocess.run([copy, "-c", self.inst.etc], input=b"", capture_output=True,
                                timeout=30, preexec_fn=as_nobody)
        self.assertIn(b"-c is allowed only for root", result.stderr)
        if b"LeakSanitizer" not in result.stderr:  # sanitizers cannot run set-id
            self.assertEqual(result.returncode, EX_NOPERM)
        env = dict(os.environ, POSTERN_CONFIG=self.inst.etc)
        result = subprocess.run([copy], input=b"", capture_output=True, timeout=30,
                                preexec_fn=as_nobody, env=env)
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn(self.inst.etc.encode(), result.stderr)

    def test_mailq_and_bp(self):
        self.send_ok("bob@example.test", data=b"Subject: token-mailq\n\nbody\n")
        qid, _, _, _ = self.wait_queued("token-mailq")
        for program, args in (("mailq", ()), ("sendmail", ("-bp",))):
            result = self.sendmail(*args, program=program)
            if result.returncode != 0 and b"unknown" in result.stderr + result.stdout:
                self.skipTest("mailctl has no `queue list` yet: %s" % result.stderr.decode().strip())
            self.assertEqual(result.returncode, 0, result.stderr)
            out = result.stdout.decode()
            self.assertIn(qid, out)
            # Postfix's mailq format, which scripts and monitoring checks parse.
            self.assertTrue(out.startswith("-Queue ID-  --Size-- ----Arrival Time---- "
                                           "-Sender/Recipient-------\n"), out)
            self.assertRegex(out, r"(?m)^%s[ *!] +\d+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d "
                                  r"\d\d:\d\d:\d\d +\S+@\S+\n {41}bob@example\.test\n\n" % qid)
            self.assertRegex(out, r"\n-- \d+ Kbytes in \d+ Requests?\.\n$")

    def test_newaliases_builds_the_alias_table(self):
        source = os.path.join(self.inst.etc, "aliases")
        table = source + ".lmdb"
        for n, (program, args) in enumerate(
                (("newaliases", ()), ("sendmail", ("-bi",)), ("sendmail", ("-I",)))):
            with open(source, "w") as f:
                f.write("postmaster: root\nlist%d: a, b\n" % n)
            result = self.sendmail(*args, program=program)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(b"2 aliases", result.stdout)
            query = self.inst.mailctl("alias", "query", "list%d" % n)
            self.assertEqual(query.stdout, "list%d: address a\nlist%d: address b\n" % (n, n))
        # A broken source names file:line; the table built before stays.
        before = os.stat(table).st_ino
        with open(source, "w") as f:
            f.write("ok: a\nbroken line\n")
        result = self.sendmail("-bi", program="sendmail")
        self.assertEqual(result.returncode, 1)
        self.assertIn(("%s:2: missing ':'" % source).encode(), result.stderr)
        self.assertEqual(os.stat(table).st_ino, before)
        self.assertEqual(self.inst.mailctl("alias", "query", "list2").returncode, 0)


class MasterDownTest(LocalSubmission, unittest.TestCase):
    def setUp(self):
        self.inst = Instance(services=[PICKUP])
        self.addCleanup(self.inst.cleanup)

    def test_mail_waits_in_maildrop_until_start(self):
        # The queue directories exist once master has run.
        self.inst.start()
        self.inst.stop()
        self.send_ok("bob@example.test", data=b"Subject: token-down\n\nwritten while down\n")
        maildrop = self.queue_dir("maildrop")
        waiting = os.listdir(maildrop)
        self.assertEqual(len(waiting), 1)
        self.assertRegex(waiting[0], r"^[0-9A-F]{16}$")
        self.assertEqual(os.stat(os.path.join(maildrop, waiting[0])).st_mode & 0o777, 0o644)
        self.assertEqual(os.listdir(self.queue_dir("incoming")), [])
        self.inst.start()
        qid, env, rcpts, content = self.wait_queued("token-down")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        wait_for(lambda: os.listdir(maildrop) == [], what="an empty maildrop/")
        self.inst.wait_log("%s: uid=%d" % (qid, os.getuid()))

    def test_never_started_fails_clearly(self):
        result = self.sendmail("bob@example.test", data=b"Subject: s\n\nbody\n")
        self.assertEqual(result.returncode, EX_TEMPFAIL)
        self.assertIn(b"maildrop directory", result.stderr)

    def test_size_limit(self):
        self.inst.params["message_size_limit"] = "2000"
        self.inst.write_config()
        self.inst.start()
        result = self.sendmail("bob@example.test", data=b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 40)
        self.assertEqual(result.returncode, EX_DATAERR)
        self.assertIn(b"too large", result.stderr)
        self.assertEqual(os.listdir(self.queue_dir("maildrop")), [])
        # postdrop enforces it too, whatever sendmail says.
        data = drop_file("alice@example.test", ["bob@example.test"], b"x" * 3000 + b"\r\n", uid=0)
        result = subprocess.run([self.inst.program("postdrop"), "-c", self.inst.etc], input=data,
                                capture_output=True, timeout=30)
        self.assertEqual(result.returncode, EX_DATAERR)
        self.assertIn(b"size limit", result.stderr)

    def test_q_sends_flush_to_qmgr(self):
        self.inst.start()
        self.inst.stop()
        path = os.path.join(self.inst.spool, "public", "qmgr")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(20)
        proc = subprocess.Popen([self.inst.program("sendmail"), "-C", self.inst.etc, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)
        name, attrs, _ = ipc_decode(data, 0)
        self.assertEqual((name, dict(attrs)), ("wakeup", {"flush": 1}))
        # Nobody listening: still fine, and said so.
        listener.close()
        os.unlink(path)
        result = self.sendmail("-q")
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"not running", result.stderr)


@unittest.skipUnless(IS_ROOT and shutil.which("mount"), "needs root to mount a small tmpfs")
class QueueFullTest(LocalSubmission, unittest.TestCase):
    def test_drop_file_waits_while_the_queue_cannot_take_it(self):
        self.inst = Instance(services=[PICKUP])
        self.addCleanup(self.inst.cleanup)
        self.inst.start()
        # Queue files are written in tmp/ first: a tiny file system there fails them.
        tmp = self.queue_dir("tmp")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", tmp], check=True)
        mounted = [True]

        def unmount():
            if mounted[0]:
                subprocess.run(["umount", "-l", tmp])
                mounted[0] = False
        self.addCleanup(unmount)
        os.chown(tmp, *[os.stat(self.queue_dir("incoming"))[i] for i in (stat.ST_UID, stat.ST_GID)])
        big = b"Subject: token-full\n\n" + (b"x" * 998 + b"\n") * 200
        self.send_ok("bob@example.test", data=big)
        self.inst.wait_log("cannot queue it now")
        self.assertEqual(len(os.listdir(self.queue_dir("maildrop"))), 1)
        self.assertEqual(os.listdir(self.queue_dir("incoming")), [])
        self.assertEqual(os.listdir(self.queue_dir("corrupt")), [])
        # No partial file: at most emptied ones kept for the next messages.
        self.assertEqual([f for f in os.listdir(tmp)
                          if os.path.getsize(os.path.join(tmp, f)) > 0], [])
        unmount()
        wakeup(os.path.join(self.inst.spool, "public", "pickup"))
        _, _, rcpts, content = self.wait_queued("token-full")
        self.assertEqual(self.addresses(rcpts), ["bob@example.test"])
        # The drop file goes once its queue file is safe (just after).
        wait_for(lambda: os.listdir(self.queue_dir("maildrop")) == [], what="maildrop empty")


if __name__ == "__main__":
    unittest.main()
