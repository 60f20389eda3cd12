"""The auth service and `mailctl user`: users added with a password on
stdin, answers over the auth socket in the IPC record format (ok with the
canonical name, fail after the failure delay, an unknown user as slow as a
wrong password), a rebuilt user database noticed without a restart, and
garbage on the socket ending only that connection."""

import json
import os
import pwd
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, encode_record, has_user, read_record  # noqa: E402

PASSWORD = "s3cret pass phrase"
DELAY = 1.0  # the default failure delay


class AuthConnection:
    def __init__(self, path, timeout=15):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, name="auth", **attrs):
        self.send_raw(encode_record(name, list(attrs.items())))
        return read_record(self.sock)

    def auth(self, user, password, service="smtp", client_addr="192.0.2.7"):
        return self.request(user=user, password=password, service=service,
                            client_addr=client_addr)

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        user = "postern-auth" if IS_ROOT and has_user("postern-auth") else "-"
        cls.inst = Instance(services=["auth unix y %s n - - auth" % user])
        cls.socket_path = os.path.join(cls.inst.spool, "private", "auth")
        cls.user_cmd("add", "Alice@Example.TEST", "--quota", "10m", password=PASSWORD)
        cls.user_cmd("add", "bob@example.test", password="bob's password")
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    @classmethod
    def user_cmd(cls, *args, password=None, check=True):
        result = subprocess.run(
            [cls.inst.program("mailctl"), "-c", cls.inst.etc, "user"] + list(args),
            input=None if password is None else password + "\n",
            stdin=None if password is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError("mailctl user %s failed: %s%s" % (
                " ".join(args), result.stdout, result.stderr))
        return result

    def connect(self):
        c = AuthConnection(self.socket_path)
        self.addCleanup(c.close)
        return c

    def timed_auth(self, user, password):
        c = self.connect()
        started = time.monotonic()
        reply = c.auth(user, password)
        return reply, time.monotonic() - started

    # -- answers

    def test_ok_gives_canonical_name(self):
        reply, _ = self.timed_auth("ALICE@example.test", PASSWORD)
        self.assertEqual(reply, ("ok", {"user": "alice@example.test"}))
        self.inst.wait_log("auth: user=ALICE@example.test service=smtp client=192.0.2.7 "
                           "result=ok")
        self.assertNotIn(PASSWORD, self.inst.read_log())

    def test_several_requests_on_one_connection(self):
        c = self.connect()
        self.assertEqual(c.auth("bob@example.test", "bob's password", service="imap")[0], "ok")
        self.assertEqual(c.auth("alice@example.test", PASSWORD, service="pop3")[0], "ok")
        self.assertEqual(c.auth("bob@example.test", "nope")[0], "fail")
        self.assertEqual(c.auth("bob@example.test", "bob's password")[0], "ok")

    def test_wrong_password_and_unknown_user_fail_after_the_delay(self):
        # Warm up so that process start-up is not measured.
        self.timed_auth("alice@example.test", PASSWORD)
        wrong, t_wrong = self.timed_auth("alice@example.test", "wrong password")
        self.assertEqual(wrong[0], "fail")
        self.assertEqual(wrong[1]["reason"], "authentication failed")
        unknown, t_unknown = self.timed_auth("nobody@example.test", "wrong password")
        self.assertEqual(unknown, wrong)  # the same answer: no user enumeration
        invalid, t_invalid = self.timed_auth("not an address", "x")
        self.assertEqual(invalid, wrong)
        for t in (t_wrong, t_unknown, t_invalid):
            self.assertGreaterEqual(t, DELAY * 0.95)
            self.assertLess(t, DELAY + 3)
        # An unknown user is verified against a dummy hash: about as slow.
        self.assertLess(abs(t_unknown - t_wrong), 0.3)
        ok, t_ok = self.timed_auth("alice@example.test", PASSWORD)
        self.assertEqual(ok[0], "ok")
        self.assertLess(t_ok, DELAY * 0.8)
        log = self.inst.read_log()
        self.assertIn("user=nobody@example.test service=smtp client=192.0.2.7 result=fail", log)
        self.assertNotIn("wrong password\"", log)

    def test_bad_requests_answered_tempfail(self):
        c = self.connect()
        name, attrs = c.request("hello", user="alice@example.test")
        self.assertEqual(name, "tempfail")
        self.assertIn("unknown request", attrs["reason"])
        name, attrs = c.request(user="alice@example.test", service="smtp")
        self.assertEqual(name, "tempfail")
        self.assertIn("incomplete", attrs["reason"])
        name, attrs = c.request(user="alice@example.test", password=PASSWORD, service="ftp")
        self.assertEqual(name, "tempfail")
        # Wrong attribute types count as missing.
        name, _ = c.request(user=b"alice@example.test", password=PASSWORD, service="smtp")
        self.assertEqual(name, "tempfail")
        # The connection is still usable.
        self.assertEqual(c.auth("alice@example.test", PASSWORD)[0], "ok")

    def test_garbage_closes_only_that_connection(self):
        probes = [
            b"GET / HTTP/1.0\r\n\r\n",                       # a huge length
            struct.pack(">I", 5) + b"\x00abcd",              # empty record name
            struct.pack(">I", 10) + b"\x04auth" + b"x\x01a\x00\x00",  # bad attribute type
            struct.pack(">I", 9000) + b"\x04auth" + b"s" * 8995,      # over the limit
            encode_record("auth", [("user", "a" * 9000)]),
        ]
        for probe in probes:
            c = self.connect()
            c.send_raw(probe)
            self.assertTrue(c.closed(), "connection not closed after %r" % probe[:20])
            c.close()
            # The next client still gets answers.
            self.assertEqual(self.timed_auth("alice@example.test", PASSWORD)[0][0], "ok")
        self.inst.wait_log("bad request from client")

    def test_files_and_modes(self):
        etc = self.inst.etc
        source = open(os.path.join(etc, "users")).read()
        self.assertIn("alice@example.test:$", source)
        self.assertIn(":quota=10m", source)
        self.assertNotIn(PASSWORD, source)
        for name in ("users", "users.lmdb"):
            mode = stat.S_IMODE(os.stat(os.path.join(etc, name)).st_mode)
            self.assertEqual(mode, 0o640, name)
        vmailbox = os.path.join(etc, "vmailbox.lmdb")
        self.assertEqual(stat.S_IMODE(os.stat(vmailbox).st_mode), 0o644)
        with open(vmailbox, "rb") as f:
            data = f.read()
        self.assertIn(b"alice@example.test", data)
        self.assertNotIn(b"$y$", data)
        self.assertNotIn(b"$6$", data)
        with open(os.path.join(etc, "users.lmdb"), "rb") as f:
            self.assertNotIn(PASSWORD.encode(), f.read())
        if IS_ROOT and has_user("postern-auth"):
            gid = os.stat(os.path.join(etc, "users.lmdb")).st_gid
            self.assertEqual(gid, pwd.getpwnam("postern-auth").pw_gid)

    def test_list(self):
        text = self.user_cmd("list").stdout
        self.assertIn("alice@example.test quota=10m", text)
        self.assertNotIn("$", text)
        data = json.loads(self.user_cmd("list", "--json").stdout)
        alice = [u for u in data["users"] if u["address"] == "alice@example.test"][0]
        self.assertEqual(alice, {"address": "alice@example.test", "quota": 10 * 1024 * 1024,
                                 "locked": False})

    def test_user_command_errors(self):
        r = self.user_cmd("add", "alice@example.test", password="x", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)
        r = self.user_cmd("add", "nodomain", password="x", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.user_cmd("add", "new@example.test", check=False)  # no password on stdin
        self.assertEqual(r.returncode, 1)
        r = self.user_cmd("add", "new@example.test", password="", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("empty password", r.stderr)
        r = self.user_cmd("add", "new@example.test", "--quota", "lots", password="x",
                          check=False)
        self.assertEqual(r.returncode, 1)
        r = self.user_cmd("passwd", "ghost@example.test", password="x", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.user_cmd("del", "ghost@example.test", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.user_cmd("add", "--password", "secret", "x@example.test", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertNotIn("new@example.test", self.user_cmd("list").stdout)

    def test_changes_are_noticed_without_restart(self):
        self.user_cmd("add", "carol@example.test", password="first")
        time.sleep(1.2)  # the table is re-checked at most once a second
        c = self.connect()
        self.assertEqual(c.auth("carol@example.test", "first")[0], "ok")
        self.user_cmd("passwd", "carol@example.test", password="second")
        time.sleep(1.2)
        self.assertEqual(c.auth("carol@example.test", "first")[0], "fail")
        self.assertEqual(c.auth("carol@example.test", "second")[0], "ok")
        # Lock by hand (comments survive), then rebuild.
        path = os.path.join(self.inst.etc, "users")
        with open(path) as f:
            text = f.read()
        text = "# edited by hand\n" + text.replace("carol@example.test:$",
                                                   "carol@example.test:!$")
        with open(path, "w") as f:
            f.write(text)
        self.user_cmd("rebuild")
        time.sleep(1.2)
        self.assertEqual(c.auth("carol@example.test", "second")[0], "fail")
        self.assertIn("carol@example.test locked", self.user_cmd("list").stdout)
        self.user_cmd("del", "carol@example.test")
        with open(path) as f:
            self.assertIn("# edited by hand\n", f.read())
        time.sleep(1.2)
        self.assertEqual(c.auth("carol@example.test", "second")[0], "fail")
        self.inst.wait_log("user=carol@example.test service=smtp client=192.0.2.7 "
                           "result=fail (unknown user)")

    def test_broken_source_changes_nothing(self):
        path = os.path.join(self.inst.etc, "users")
        with open(path) as f:
            good = f.read()
        db_before = os.stat(os.path.join(self.inst.etc, "users.lmdb")).st_ino
        try:
            with open(path, "a") as f:
                f.write("this line is broken\n")
            r = self.user_cmd("add", "dave@example.test", password="x", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("%s:%d:" % (path, good.count("\n") + 1), r.stderr)
            r = self.user_cmd("rebuild", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(os.stat(os.path.join(self.inst.etc, "users.lmdb")).st_ino,
                             db_before)
            self.assertEqual(self.timed_auth("alice@example.test", PASSWORD)[0][0], "ok")
        finally:
            with open(path, "w") as f:
                f.write(good)


class AuthOptionsTest(unittest.TestCase):
    def test_missing_database_is_tempfail(self):
        inst = Instance(services=["auth unix y - n - - auth"])
        self.addCleanup(inst.cleanup)
        inst.start()
        c = AuthConnection(os.path.join(inst.spool, "private", "auth"))
        self.addCleanup(c.close)
        name, attrs = c.auth("alice@example.test", "x")
        self.assertEqual(name, "tempfail")
        self.assertIn("user database", attrs["reason"])
        inst.wait_log("users.lmdb")

    def test_failure_delay_option(self):
        user = "postern-auth" if IS_ROOT and has_user("postern-auth") else "-"
        inst = Instance(services=["auth unix y %s n - - auth -o auth_failure_delay=2s" % user])
        self.addCleanup(inst.cleanup)
        subprocess.run([inst.program("mailctl"), "-c", inst.etc, "user", "add", "a@example.test"],
                       input="pw\n", text=True, capture_output=True, timeout=60, check=True)
        inst.start()
        c = AuthConnection(os.path.join(inst.spool, "private", "auth"))
        self.addCleanup(c.close)
        self.assertEqual(c.auth("a@example.test", "pw")[0], "ok")
        started = time.monotonic()
        self.assertEqual(c.auth("a@example.test", "bad")[0], "fail")
        self.assertGreaterEqual(time.monotonic() - started, 1.9)


if __name__ == "__main__":
    unittest.main()
