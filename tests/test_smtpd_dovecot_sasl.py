"""smtpd_sasl_type = dovecot: smtpd checks SMTP AUTH passwords with
Dovecot's authentication server instead of Postern's auth service, as
Postfix does, driven with smtplib.

- Against a real Dovecot (Debian's dovecot-core, run as root) whose auth
  unix_listener is $queue_directory/private/auth, the default
  smtpd_sasl_path, with users in a passwd-file as SHA512-CRYPT hashes:
  AUTH PLAIN and AUTH LOGIN succeed and the name Dovecot returns (it
  lower-cases logins) is the login in the log (sasl_username=), in the
  Received header (smtpd_sasl_authenticated_header) and for relaying to
  an outside domain; a wrong password and an unknown user are 535 5.7.8
  and Dovecot saw the client's address (rip); with Dovecot stopped AUTH
  is 454 4.7.0. Each test connects from its own loopback address, so
  that Dovecot's per-address penalty after failures stays in its test.
- Against a scripted fake Dovecot on a UNIX socket: what smtpd sends
  (VERSION, CPID; AUTH with service=smtp, lip, rip, secured only over
  TLS, and the PLAIN response, also for LOGIN), an OK naming another
  user, FAIL (535, counted up to smtpd_auth_failure_limit), FAIL with
  temp or code=temp_fail, CONT, garbage, another major version and a
  server that does not offer PLAIN (all 454 4.7.0: AUTH stays offered,
  as smtpd asks Dovecot only when a client authenticates).
- Dovecot's other mechanisms: EHLO offers what Dovecot lists (not its
  anonymous, private or EXTERNAL ones), and CRAM-MD5 (smtplib's own
  client, against the real Dovecot and the fake) and SCRAM-SHA-256 (a
  client written here, against the real Dovecot, whose server-final
  message comes as a last challenge) are relayed step by step; the fake
  checks what smtpd relays and that a FAIL, an abort ("*"), bad base64
  and a challenge that is not base64 end as 535, 501, 501 and 454.
- mailctl check: an unknown smtpd_sasl_type is an error, a missing
  Dovecot socket a warning, a smtpd_sasl_path that master binds for a
  service of its own (Postern's auth service) and a bad inet: path are
  errors."""

import base64
import hashlib
import hmac
import os
import re
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import Dovecot, have  # noqa: E402
from postern_test import IS_ROOT, Instance, free_port, make_cert, wait_for  # noqa: E402

PASSWORD = "dovecot's pass phrase"
MESSAGE = "Subject: via dovecot auth\r\n\r\nbody\r\n"

PARAMS = {
    "mydestination": "mx.example.test",
    "mynetworks": "192.0.2.0/24",  # loopback is not trusted: relaying needs AUTH
    "smtpd_tls_auth_only_exempt": "127.0.0.0/8",  # AUTH without TLS from here
    "smtpd_error_sleep_time": "0s",
    "smtpd_peername_lookup": "no",
    "smtpd_sasl_authenticated_header": "yes",
}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def auth_plain(c, user, password):
    return c.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (user, password)))


def auth_login(c, user, password):
    code, text = c.docmd("AUTH", "LOGIN")
    if code != 334:
        return code, text
    code, text = c.docmd(b64(user))
    if code != 334:
        return code, text
    return c.docmd(b64(password))


def scram_sha256(c, user, password, nonce="rOprNGfwEbeRWgbNEkqO"):
    """AUTH SCRAM-SHA-256 (RFC 7677) by hand, as smtplib has no SCRAM:
    the final reply (code, text), and whether the server proved it knows
    the password (its v= matched)."""
    first_bare = "n=%s,r=%s" % (user, nonce)
    code, text = c.docmd("AUTH", "SCRAM-SHA-256 " + b64("n,," + first_bare))
    if code != 334:
        return (code, text), False
    server_first = base64.b64decode(text).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_message = ",".join([first_bare, server_first, without_proof]).encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    code, text = c.docmd(b64(without_proof + ",p=" + base64.b64encode(proof).decode()))
    if code != 334:
        return (code, text), False
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    want = "v=" + base64.b64encode(hmac.new(server_key, auth_message, "sha256").digest()).decode()
    proved = base64.b64decode(text).decode() == want
    return c.docmd(""), proved


def client(port, source):
    """An SMTP session to port from the loopback address source, after EHLO."""
    c = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(source, 0))
    c.ehlo("client.test")
    return c


def smtpd_service(port, *options):
    return "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes %s" % (
        port, " ".join("-o " + o for o in options))


@unittest.skipUnless(have("dovecot") and have("doveadm") and IS_ROOT,
                     "needs dovecot (dovecot-core) and root")
class RealDovecotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        # The default smtpd_sasl_path, private/auth: Dovecot's listener
        # takes the place of Postern's auth service, which is not run.
        cls.inst = Instance(params=PARAMS, services=[
            smtpd_service(cls.port, "smtpd_sasl_type=dovecot")])
        cls.dovecot = None
        try:
            cls.inst.start()
            # carol's password is stored as it is ({PLAIN}), which
            # CRAM-MD5 and SCRAM need.
            cls.dovecot = Dovecot(free_port(), [], passwords={
                "alice@dv.example": PASSWORD, "bob@dv.example": "bob's " + PASSWORD,
                "carol@dv.example": ("carol's " + PASSWORD, "PLAIN")},
                auth_socket=os.path.join(cls.inst.spool, "private", "auth"),
                auth_mechanisms="plain login cram-md5 scram-sha-256 anonymous",
                master_users={"support": "master " + PASSWORD})
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.dovecot:
                cls.dovecot.stop()
        finally:
            cls.inst.cleanup()

    def test_plain_with_the_name_dovecot_returns(self):
        with client(self.port, "127.0.0.2") as c:
            code, text = auth_plain(c, "Alice@DV.Example", PASSWORD)
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(c.mail("alice@dv.example")[0], 250)
            code, text = c.rcpt("friend@far.test")  # relaying, allowed after AUTH
            self.assertEqual(code, 250, text)
            code, text = c.data(MESSAGE.encode())
            self.assertEqual(code, 250, text)
            queue_id = re.search(r"queued as (\S+)", text.decode()).group(1)
        self.inst.wait_log("unknown[127.0.0.2]: sasl_method=PLAIN, "
                           "sasl_username=alice@dv.example")
        self.inst.wait_log("%s: client=" % queue_id)
        self.assertRegex(self.inst.read_log(),
                         r"%s: client=.*, sasl_username=alice@dv\.example" % queue_id)
        shown = self.inst.mailctl("queue", "show", queue_id, check=True).stdout
        self.assertIn("(Authenticated sender: alice@dv.example)", shown)
        self.assertNotIn(PASSWORD, self.inst.read_log())

    def test_master_user_logs_in_as_another(self):
        # PLAIN's authorization identity goes to Dovecot as the client sent
        # it: the master user support logs in as alice.
        with client(self.port, "127.0.0.6") as c:
            code, text = c.docmd("AUTH", "PLAIN " + b64(
                "alice@dv.example\0support\0master " + PASSWORD))
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(c.mail("alice@dv.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("unknown[127.0.0.6]: sasl_method=PLAIN, "
                           "sasl_username=alice@dv.example")
        # The wrong master password, a user Dovecot does not know, and an
        # ordinary user who is no master.
        for authzid, authcid, password in (
                ("alice@dv.example", "support", "not it"),
                ("nobody@dv.example", "support", "master " + PASSWORD),
                ("alice@dv.example", "bob@dv.example", "bob's " + PASSWORD)):
            with client(self.port, "127.0.0.6") as c:
                code, text = c.docmd("AUTH", "PLAIN " + b64(
                    "%s\0%s\0%s" % (authzid, authcid, password)))
                self.assertEqual((code, text),
                                 (535, b"5.7.8 Error: authentication failed"), authcid)
        self.assertNotIn("master " + PASSWORD, self.inst.read_log())

    def test_mechanisms_dovecot_offers(self):
        with client(self.port, "127.0.0.4") as c:
            self.assertEqual(c.esmtp_features.get("auth", "").split(),
                             ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"])

    def test_cram_md5_relayed(self):
        with client(self.port, "127.0.0.5") as c:
            # smtplib prefers CRAM-MD5 when it is offered.
            code, text = c.login("carol@dv.example", "carol's " + PASSWORD)
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(c.mail("carol@dv.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("unknown[127.0.0.5]: sasl_method=CRAM-MD5, "
                           "sasl_username=carol@dv.example")
        with client(self.port, "127.0.0.5") as c:
            code, challenge = c.docmd("AUTH", "CRAM-MD5")
            self.assertEqual(code, 334)
            digest = hmac.new(b"wrong", base64.b64decode(challenge), "md5").hexdigest()
            self.assertEqual(c.docmd(b64("carol@dv.example " + digest))[0], 535)
        self.inst.wait_log("unknown[127.0.0.5]: SASL CRAM-MD5 authentication failed")

    def test_scram_sha256_relayed(self):
        with client(self.port, "127.0.0.7") as c:
            (code, text), proved = scram_sha256(c, "carol@dv.example", "carol's " + PASSWORD)
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
            self.assertTrue(proved, "the server's final message did not prove the password")
            self.assertEqual(c.mail("carol@dv.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("unknown[127.0.0.7]: sasl_method=SCRAM-SHA-256, "
                           "sasl_username=carol@dv.example")
        with client(self.port, "127.0.0.7") as c:
            (code, text), proved = scram_sha256(c, "carol@dv.example", "not it")
            self.assertEqual(code, 535, text)
        self.assertNotIn("carol's " + PASSWORD, self.inst.read_log())

    def test_login_is_converted_to_plain(self):
        with client(self.port, "127.0.0.3") as c:
            self.assertEqual(auth_login(c, "bob@dv.example", "bob's " + PASSWORD)[0], 235)
            self.assertEqual(c.mail("bob@dv.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("sasl_method=LOGIN, sasl_username=bob@dv.example")

    def test_wrong_password_and_unknown_user(self):
        with client(self.port, "127.0.0.4") as c:
            code, text = auth_plain(c, "alice@dv.example", "not the password")
            self.assertEqual((code, text), (535, b"5.7.8 Error: authentication failed"))
            self.assertEqual(c.mail("alice@dv.example")[0], 250)
            code, text = c.rcpt("friend@far.test")  # no relaying without AUTH
            self.assertIn(code, (454, 554), text)
        with client(self.port, "127.0.0.5") as c:
            code, text = auth_login(c, "nobody@dv.example", PASSWORD)
            self.assertEqual((code, text), (535, b"5.7.8 Error: authentication failed"))
        self.inst.wait_log("unknown[127.0.0.4]: SASL PLAIN authentication failed: "
                           "authentication failure, sasl_username=alice@dv.example")
        self.inst.wait_log("unknown[127.0.0.5]: SASL LOGIN authentication failed: "
                           "authentication failure, sasl_username=nobody@dv.example")
        # Dovecot was told who the client is (rip), and checked the hash.
        wait_for(lambda: "passwd-file(alice@dv.example,127.0.0.4): Password mismatch"
                 in self.dovecot.read_log(), timeout=10, what="Dovecot's log line")
        self.assertIn("passwd-file(nobody@dv.example,127.0.0.5): unknown user",
                      self.dovecot.read_log())

    def test_mailctl_check_finds_the_socket(self):
        result = self.inst.mailctl("check")
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertNotIn("smtpd_sasl", result.stdout)


@unittest.skipUnless(have("dovecot") and have("doveadm") and IS_ROOT,
                     "needs dovecot (dovecot-core) and root")
class DovecotStoppedTest(unittest.TestCase):
    def test_dovecot_stopped_is_a_temporary_failure(self):
        socket_dir = tempfile.mkdtemp(prefix="postern-dovecot-auth-")
        self.addCleanup(shutil.rmtree, socket_dir, True)
        os.chmod(socket_dir, 0o755)
        path = os.path.join(socket_dir, "auth-client")
        port = free_port()
        inst = Instance(params=PARAMS, services=[
            smtpd_service(port, "smtpd_sasl_type=dovecot", "smtpd_sasl_path=" + path)])
        self.addCleanup(inst.cleanup)
        inst.start()
        dovecot = Dovecot(free_port(), [], passwords={"carol@dv.example": PASSWORD},
                          auth_socket=path)
        self.addCleanup(dovecot.stop)
        with client(port, "127.0.0.6") as c:
            self.assertEqual(auth_plain(c, "carol@dv.example", PASSWORD)[0], 235)
        dovecot.stop()
        with client(port, "127.0.0.6") as c:
            code, text = auth_plain(c, "carol@dv.example", PASSWORD)
            self.assertEqual((code, text), (454, b"4.7.0 Temporary authentication failure"))
            code, text = auth_login(c, "carol@dv.example", PASSWORD)
            self.assertEqual(code, 454, text)
            self.assertEqual(c.noop()[0], 250)  # the session goes on
        inst.wait_log("unknown[127.0.0.6]: SASL PLAIN authentication unavailable: "
                      "Dovecot auth: connect to %s" % path)


HANDSHAKE = ("VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
             "MECH\tCRAM-MD5\tdictionary\tactive\nMECH\tANONYMOUS\tanonymous\n"
             "MECH\tX-SECRET\tprivate\nMECH\tEXTERNAL\nSPID\t4242\n"
             "CUID\t1\nCOOKIE\t" + "0123456789abcdef" * 2 + "\nDONE\n")
CHALLENGE = "<1896.697170952@fake.example>"


class FakeDovecot:
    """A scripted Dovecot auth server on a UNIX socket (mode 0666): sends
    self.handshake to each connection, reads a request line and answers it
    with self.answer, or with each of self.answers in turn for the lines
    that follow (CONT), with {id} replaced by the request's id, and closes.
    What the clients sent is kept in self.hellos and self.requests."""

    def __init__(self, path):
        self.path = path
        self.handshake = HANDSHAKE
        self.answer = "OK\t{id}\tuser=somebody"
        self.answers = None
        self.hellos = []
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    self._serve(conn)
                except OSError:
                    pass

    def _serve(self, conn):
        conn.settimeout(10)
        f = conn.makefile("rb")
        self.hellos.append([f.readline(), f.readline()])
        conn.sendall(self.handshake.encode())
        answers = list(self.answers or [self.answer])
        while answers:
            line = f.readline()
            if not line:
                return
            self.requests.append(line)
            fields = line.decode().rstrip("\n").split("\t")
            conn.sendall((answers.pop(0).replace("{id}", fields[1]) + "\n").encode())
        f.read()  # until smtpd closes

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class FakeDovecotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="postern-fake-dovecot-")
        os.chmod(cls.dir, 0o755)
        cls.fake = FakeDovecot(os.path.join(cls.dir, "auth"))
        cls.port = free_port()
        cls.limited = free_port()
        cls.noplain = free_port()  # its processes see a handshake without PLAIN
        cls.noplaintext, cls.anyauth, cls.mutual, cls.own = (free_port() for _ in range(4))
        dovecot = ("smtpd_sasl_type=dovecot", "smtpd_sasl_path=" + cls.fake.path)
        cls.inst = Instance(params=PARAMS, services=[
            smtpd_service(cls.port, *dovecot),
            smtpd_service(cls.limited, *dovecot, "smtpd_auth_failure_limit=2"),
            smtpd_service(cls.noplain, *dovecot),
            # Postfix's common pair: no plain-text passwords before TLS.
            smtpd_service(cls.noplaintext, *dovecot,
                          "smtpd_sasl_security_options=noanonymous,noplaintext",
                          "smtpd_sasl_tls_security_options=noanonymous"),
            smtpd_service(cls.anyauth, *dovecot, "smtpd_sasl_security_options="),
            smtpd_service(cls.mutual, *dovecot, "smtpd_sasl_security_options=mutual_auth"),
            # The auth service's PLAIN and LOGIN are plain text too.
            smtpd_service(cls.own, "smtpd_sasl_security_options=noplaintext"),
        ])
        try:
            cert, key = make_cert(cls.inst.etc)
            cls.inst.params["smtpd_tls_cert_file"] = cert
            cls.inst.params["smtpd_tls_key_file"] = key
            cls.inst.write_config()
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            cls.fake.stop()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.fake.handshake = HANDSHAKE
        self.fake.answer = "OK\t{id}\tuser=somebody"
        self.fake.answers = None
        del self.fake.hellos[:]
        del self.fake.requests[:]

    def request(self):
        """The fields of the one AUTH request the fake received."""
        self.assertEqual(len(self.fake.requests), 1)
        return self.fake.requests[0].decode().rstrip("\n").split("\t")

    def test_mechanisms_offered(self):
        """Dovecot's list, without its anonymous, private and EXTERNAL ones
        (smtpd cannot give Dovecot a client certificate's name)."""
        with client(self.port, "127.0.0.1") as c:
            self.assertEqual(c.esmtp_features.get("auth", "").split(),
                             ["PLAIN", "LOGIN", "CRAM-MD5"])
            for mech in ("ANONYMOUS", "X-SECRET", "EXTERNAL", "SCRAM-SHA-256"):
                code, text = c.docmd("AUTH", mech)
                self.assertEqual((code, text), (504, b"5.5.4 Error: unsupported "
                                                     b"authentication mechanism"), mech)
        self.assertEqual(self.fake.requests, [])

    def test_security_options(self):
        """smtpd_sasl_security_options and smtpd_sasl_tls_security_options
        filter by Dovecot's flags (PLAIN and LOGIN: plaintext)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with client(self.noplaintext, "127.0.0.1") as c:
            self.assertEqual(c.esmtp_features.get("auth", "").split(), ["CRAM-MD5"])
            self.assertEqual(c.docmd("AUTH", "PLAIN " + b64("\0a\0b")),
                             (504, b"5.5.4 Error: unsupported authentication mechanism"))
            self.assertEqual(c.docmd("AUTH", "LOGIN")[0], 504)
            c.starttls(context=context)
            c.ehlo("client.test")
            self.assertEqual(c.esmtp_features.get("auth", "").split(),
                             ["PLAIN", "LOGIN", "CRAM-MD5"])
            self.assertEqual(auth_plain(c, "someone", "secret")[0], 235)
        with client(self.anyauth, "127.0.0.1") as c:
            self.assertEqual(c.esmtp_features.get("auth", "").split(),
                             ["PLAIN", "LOGIN", "CRAM-MD5", "ANONYMOUS"])
        with client(self.mutual, "127.0.0.1") as c:
            self.assertNotIn("auth", c.esmtp_features)  # nothing qualifies
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5")[0], 504)
        with client(self.own, "127.0.0.1") as c:
            self.assertNotIn("auth", c.esmtp_features)
            self.assertEqual(c.docmd("AUTH", "PLAIN " + b64("\0a\0b"))[0], 504)

    def test_cram_md5_is_relayed(self):
        self.fake.answers = ["CONT\t{id}\t" + b64(CHALLENGE),
                             "OK\t{id}\tuser=carol@fake.example"]
        with client(self.port, "127.0.0.1") as c:
            code, text = c.login("Carol@fake.example", "carol's secret")
            self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
            self.assertEqual(c.mail("carol@fake.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("sasl_method=CRAM-MD5, sasl_username=carol@fake.example")
        first = self.fake.requests[0].decode().rstrip("\n").split("\t")
        self.assertEqual(first[:3], ["AUTH", "1", "CRAM-MD5"])
        self.assertIn("service=smtp", first)
        self.assertFalse([f for f in first if f.startswith("resp=")], first)  # no initial
        cont = self.fake.requests[1].decode().rstrip("\n").split("\t")
        self.assertEqual(cont[:2], ["CONT", "1"])
        digest = hmac.new(b"carol's secret", CHALLENGE.encode(), "md5").hexdigest()
        self.assertEqual(base64.b64decode(cont[2]).decode(), "Carol@fake.example " + digest)
        self.assertNotIn(digest, self.inst.read_log())

    def test_relayed_failure_abort_and_bad_data(self):
        # A FAIL: 535, logged with the name Dovecot gave.
        self.fake.answers = ["CONT\t{id}\t" + b64(CHALLENGE),
                             "FAIL\t{id}\tuser=carol@fake.example\treason=Password mismatch"]
        with client(self.port, "127.0.0.1") as c:
            self.assertEqual(c.docmd("AUTH", "cram-md5"), (334, b64(CHALLENGE).encode()))
            self.assertEqual(c.docmd(b64("carol x"))[0], 535)
            # "*" aborts: 501, nothing more goes to Dovecot.
            self.fake.answers = ["CONT\t{id}\t" + b64(CHALLENGE)]
            del self.fake.requests[:]
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5")[0], 334)
            self.assertEqual(c.docmd("*"), (501, b"5.7.0 Authentication aborted"))
            self.assertEqual(len(self.fake.requests), 1)
            # A response that is not base64: 501.
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5")[0], 334)
            self.assertEqual(c.docmd("not base64!")[0], 501)
            # An initial response that is not base64: 501, Dovecot not asked.
            del self.fake.requests[:]
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5 !!!")[0], 501)
            self.assertEqual(self.fake.requests, [])
            # An empty initial response ("=") is sent as an empty resp=.
            self.fake.answers = ["FAIL\t{id}"]
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5 =")[0], 535)
            self.assertIn("resp=", self.fake.requests[-1].decode().rstrip("\n").split("\t"))
            self.assertEqual(c.noop()[0], 250)
        self.inst.wait_log("SASL CRAM-MD5 authentication failed: authentication failure, "
                           "sasl_username=carol@fake.example")

    def test_relayed_challenge_that_is_not_base64(self):
        self.fake.answers = ["CONT\t{id}\tnot base64\r\n250 ok"]
        with client(self.port, "127.0.0.1") as c:
            self.assertEqual(c.docmd("AUTH", "CRAM-MD5"),
                             (454, b"4.7.0 Temporary authentication failure"))
        self.inst.wait_log("SASL CRAM-MD5 authentication unavailable: Dovecot auth %s: "
                           "CONT answer whose challenge is not base64" % self.fake.path)

    def test_request_and_the_name_dovecot_returns(self):
        self.fake.answer = "OK\t{id}\tuser=canonical@fake.example\toriginal_user=x"
        with client(self.port, "127.0.0.1") as c:
            self.assertEqual(auth_plain(c, "Someone@Fake.Example", "pass\tword")[0], 235)
            self.assertEqual(c.mail("someone@fake.example")[0], 250)
            self.assertEqual(c.rcpt("friend@far.test")[0], 250)
        self.inst.wait_log("sasl_method=PLAIN, sasl_username=canonical@fake.example")
        hello = self.fake.hellos[0]
        self.assertEqual(hello[0], b"VERSION\t1\t2\n")
        self.assertRegex(hello[1].decode(), r"^CPID\t[1-9][0-9]*\n$")
        fields = self.request()
        self.assertEqual(fields[:3], ["AUTH", "1", "PLAIN"])
        self.assertIn("service=smtp", fields)
        self.assertIn("rip=127.0.0.1", fields)
        self.assertIn("lip=127.0.0.1", fields)
        self.assertNotIn("secured", fields)
        self.assertTrue(fields[-1].startswith("resp="))
        self.assertEqual(base64.b64decode(fields[-1][5:]), b"\0Someone@Fake.Example\0pass\tword")

    def test_login_over_tls_is_plain_and_secured(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with client(self.port, "127.0.0.1") as c:
            c.starttls(context=context)
            c.ehlo("client.test")
            self.assertEqual(auth_login(c, "someone@fake.example", "secret")[0], 235)
        fields = self.request()
        self.assertEqual(fields[:3], ["AUTH", "1", "PLAIN"])
        self.assertIn("secured", fields)
        self.assertEqual(base64.b64decode(fields[-1][5:]), b"\0someone@fake.example\0secret")
        self.inst.wait_log("sasl_method=LOGIN, sasl_username=somebody")

    def test_fail_is_counted(self):
        self.fake.answer = "FAIL\t{id}\tuser=someone\treason=Password mismatch"
        with client(self.limited, "127.0.0.1") as c:
            code, text = auth_plain(c, "someone", "wrong")
            self.assertEqual((code, text), (535, b"5.7.8 Error: authentication failed"))
            self.assertEqual(auth_login(c, "someone", "wrong")[0], 535)
            code, text = c.getreply()
            self.assertEqual((code, text), (
                421, b"4.7.0 mx.example.test Error: too many failed authentications"))
        self.inst.wait_log("SASL LOGIN authentication failed: authentication failure, "
                           "sasl_username=someone")

    def assertTemporary(self, why, port=None):
        """AUTH PLAIN and AUTH LOGIN are both 454 4.7.0, and the log says why."""
        with client(port or self.port, "127.0.0.1") as c:
            if port is None:  # offered, from an earlier answer of Dovecot's
                self.assertIn(b"PLAIN", c.esmtp_features.get("auth", "").encode())
            code, text = auth_plain(c, "someone", "secret")
            self.assertEqual((code, text), (454, b"4.7.0 Temporary authentication failure"))
            self.assertEqual(auth_login(c, "someone", "secret")[0], 454)
            self.assertEqual(c.noop()[0], 250)
        self.inst.wait_log("SASL PLAIN authentication unavailable: Dovecot auth %s%s" % (
            self.fake.path, why))
        self.inst.wait_log("SASL LOGIN authentication unavailable: Dovecot auth %s%s" % (
            self.fake.path, why))

    def test_fail_temp(self):
        self.fake.answer = "FAIL\t{id}\tuser=someone\ttemp\treason=passdb unavailable"
        self.assertTemporary(": temporary failure: passdb unavailable")

    def test_fail_code_temp_fail(self):
        self.fake.answer = "FAIL\t{id}\tuser=someone\tcode=temp_fail\treason=LDAP down"
        self.assertTemporary(": temporary failure: LDAP down")

    def test_cont_for_plain(self):
        self.fake.answer = "CONT\t{id}\t"
        self.assertTemporary(": asked to continue (CONT)")

    def test_garbage_answer(self):
        self.fake.answer = "250 2.0.0 Ok"
        self.assertTemporary(": unexpected answer")

    def test_garbage_handshake(self):
        self.fake.handshake = "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"
        self.assertTemporary(": handshake: the server did not begin with VERSION")

    def test_other_major_version(self):
        self.fake.handshake = HANDSHAKE.replace("VERSION\t1\t2", "VERSION\t2\t0")
        self.assertTemporary(": handshake: unsupported protocol version")

    def test_no_plain_offered(self):
        """Not offered in EHLO then; a client that tries anyway gets 454."""
        self.fake.handshake = HANDSHAKE.replace("MECH\tPLAIN\tplaintext\n", "")
        with client(self.noplain, "127.0.0.1") as c:
            self.assertEqual(c.esmtp_features.get("auth", "").split(), ["CRAM-MD5"])
        self.assertTemporary(" does not offer PLAIN (auth_mechanisms)", port=self.noplain)
        self.assertEqual(self.fake.requests, [])

    def test_answer_for_another_request(self):
        self.fake.answer = "OK\t7\tuser=mallory"
        self.assertTemporary(": answer to request 7, not 1")

    def test_ok_with_an_unusable_name(self):
        self.fake.answer = "OK\t{id}\tuser=evil\001nname"
        self.assertTemporary(": OK answer with control characters in the user name")


class MailctlCheckTest(unittest.TestCase):
    def check(self, params, services):
        inst = Instance(params=params, services=services)
        self.addCleanup(inst.cleanup)
        result = inst.mailctl("check")
        return inst, result.returncode, result.stdout

    def test_unknown_type(self):
        inst, rc, out = self.check({"smtpd_sasl_type": "cyrus"}, [])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"main\.conf:\d+: error: smtpd_sasl_type = cyrus: not postern or "
                              r"dovecot \(Postern has no Cyrus SASL")
        port = free_port()
        inst, rc, out = self.check({}, [smtpd_service(port, "smtpd_sasl_type=Dovecot")])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"master\.conf:\d+: error: service 127\.0\.0\.1:%d: -o "
                              r"smtpd_sasl_type = Dovecot: not postern or dovecot" % port)

    def test_missing_socket_is_a_warning(self):
        port = free_port()
        inst, rc, out = self.check({}, [smtpd_service(
            port, "smtpd_sasl_type=dovecot", "smtpd_sasl_path=/nonexistent/dovecot/auth")])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"master\.conf:\d+: warning: service 127\.0\.0\.1:%d: -o "
                              r"smtpd_sasl_type = dovecot, smtpd_sasl_path = "
                              r"/nonexistent/dovecot/auth: No such file or directory" % port)
        # The default, private/auth, in main.conf.
        inst, rc, out = self.check({"smtpd_sasl_type": "dovecot"}, [])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"main\.conf:\d+: warning: smtpd_sasl_type = dovecot, "
                              r"smtpd_sasl_path = private/auth \(/.*/spool/private/auth\): "
                              r"No such file or directory")

    def test_socket_of_postern_auth_service(self):
        port = free_port()
        inst, rc, out = self.check({}, [
            smtpd_service(port, "smtpd_sasl_type=dovecot"),
            "auth unix y - n - - auth",
        ])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"error: service 127\.0\.0\.1:%d: -o smtpd_sasl_type = dovecot, "
                              r"smtpd_sasl_path = private/auth: master binds that socket for "
                              r"service auth \(.*master\.conf:\d+\)" % port)

    def test_unknown_security_option(self):
        inst, rc, out = self.check({"smtpd_sasl_security_options": "noanonymous, noplain"}, [])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"main\.conf:\d+: error: smtpd_sasl_security_options: unknown "
                              r"option \"noplain\" \(noanonymous, noplaintext")

    def test_bad_inet_path(self):
        port = free_port()
        inst, rc, out = self.check({"smtpd_sasl_type": "dovecot"}, [
            smtpd_service(port, "smtpd_sasl_path=inet:12345")])
        self.assertEqual(rc, 1, out)
        self.assertIn("smtpd_sasl_path = inet:12345: inet: needs host:port", out)
        # With the type postern, the path is not used.
        inst, rc, out = self.check({}, [smtpd_service(port, "smtpd_sasl_path=inet:12345")])
        self.assertEqual(rc, 0, out)
        self.assertNotIn("smtpd_sasl", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
