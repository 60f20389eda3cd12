"""smtpd's policy delegation (smtpd_policy_services and
smtpd_end_of_data_policy_services; Postfix's check_policy_service and
SMTPD_POLICY_README), driven with smtplib:

- against a policy server written here, which records each request and
  answers by recipient: the request's attributes (Postfix's names and
  order, the sender, recipient, client, HELO name, SIZE, protocol_state,
  one instance per message, sasl_username after AUTH, the client
  certificate's fingerprints after STARTTLS), each action (DUNNO,
  OK, REJECT, 4NN/5NN with and without an enhanced code, DEFER_IF_PERMIT,
  DEFER_IF_REJECT, PREPEND into the queued message, HOLD, WARN, FILTER
  into the envelope, an unknown action), two servers in a row, the reject log line
  in Postfix's form, one connection for the messages of a session, a
  unix: server under queue_directory, and the end-of-data servers;
- against faulty servers: none listening, garbage, a reply too long or
  with too many lines, a server that never answers (each gives the
  default action, 451 4.3.5, in bounded time);
- against the real postgrey (Debian's package): the first attempt is
  greylisted with 450 4.2.0, the retry after the delay is accepted with
  postgrey's X-Greylist header."""

import grp
import hashlib
import os
import pwd
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, make_cert, wait_for  # noqa: E402
from test_sendmail import read_queue_file  # noqa: E402

CLIENT = "unknown[127.0.0.1]"  # smtpd_peername_lookup = no
HELO = "client.outside.test"
SENDER = "sender@outside.test"
PASSWORD = "policy test password"

# What Postfix 3.8 sends, in its order (SMTPD_POLICY_README).
POSTFIX_ATTRIBUTES = [
    "request", "protocol_state", "protocol_name", "helo_name", "queue_id", "sender",
    "recipient", "recipient_count", "client_address", "client_name", "reverse_client_name",
    "instance", "sasl_method", "sasl_username", "sasl_sender", "size", "ccert_subject",
    "ccert_issuer", "ccert_fingerprint", "encryption_protocol", "encryption_cipher",
    "encryption_keysize", "etrn_domain", "stress", "ccert_pubkey_fingerprint", "client_port",
    "policy_context", "server_address", "server_port", "compatibility_level", "mail_version",
]


class PolicyServer(threading.Thread):
    """A policy server on loopback (or a UNIX socket at unix_path): each
    request is recorded as a dict of its attributes, with "_conn" the
    number of the connection it came on and "_order" the names in order;
    answer(request) gives the bytes to send back (None: never answer)."""

    def __init__(self, answer, unix_path=None):
        super().__init__(daemon=True)
        self.answer = answer
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o666)
            self.spec = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.spec = "inet:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(16)
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.conns = []

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(conn)
                number = self.connections
            threading.Thread(target=self.serve, args=(conn, number), daemon=True).start()

    def serve(self, conn, number):
        buf = b""
        try:
            while True:
                while b"\n\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                raw, _, buf = buf.partition(b"\n\n")
                request = {"_conn": number, "_order": []}
                for line in raw.decode(errors="replace").split("\n"):
                    name, _, value = line.partition("=")
                    request[name] = value
                    request["_order"].append(name)
                with self.lock:
                    self.requests.append(request)
                out = self.answer(request)
                if out is not None:
                    conn.sendall(out)
        except OSError:
            return

    def taken(self):
        """The requests so far, forgotten here."""
        with self.lock:
            taken, self.requests = self.requests, []
            return taken

    def stop(self):
        self.sock.close()
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                except OSError:
                    pass


# Answers by the recipient's local part (both states).
ANSWERS = {
    "ok": "OK",
    "reject": "REJECT go away",
    "later": "450 4.7.1 try later",
    "busy": "451 Busy",
    "spf": "550 5.7.23 Message rejected due to: SPF fail - not authorized",
    "grey": "DEFER_IF_PERMIT 4.2.0 Greylisted, see http://policy.test/help",
    "prepend": "PREPEND X-Policy-Test: prepended by the policy server",
    "hold": "HOLD policy review",
    "warn": "WARN look at this one",
    "filter": "FILTER smtp:[127.0.0.1]:10025",
    "bogus": "BOGUS action",
    "ifreject": "DEFER_IF_REJECT 4.7.1 not sure yet",
    "ifpermit": "DEFER_IF_PERMIT",
    "eodreject": "REJECT content not wanted",
    "eodhold": "HOLD looked at the end",
    "eodprepend": "PREPEND X-Too-Late: yes",
    "eodredirect": "REDIRECT quarantine@relay.test",
    "eodbcc": "BCC archive@relay.test",
}

# The second server of the list: only these differ from DUNNO.
SECOND_ANSWERS = {
    "ifreject": "REJECT no",
    "ifpermit": "REJECT refused after all",
    "ok": "REJECT never asked",
    "twice": "PREPEND X-Second: yes",
}


def by_recipient(answers):
    def answer(request):
        local = request.get("recipient", "").partition("@")[0]
        return ("action=%s\n\n" % answers.get(local, "DUNNO")).encode()
    return answer


def garbage(request):
    local = request.get("recipient", "").partition("@")[0]
    if local == "huge":
        return b"action=" + b"x" * 100000 + b"\n\n"
    if local == "many":
        return b"a=b\n" * 1000 + b"action=OK\n\n"
    if local == "nul":
        return b"action=O\0K\n\n"
    return b"hello world, this is not a policy reply\n\n"


def queued(inst, token, subdir="incoming", timeout=10):
    """(envelope, recipients, content) of the queue file whose content has
    token."""
    def find():
        d = os.path.join(inst.spool, subdir)
        for name in os.listdir(d):
            env, rcpts, content = read_queue_file(os.path.join(d, name))
            if token.encode() in content:
                return env, rcpts, content
        return None
    return wait_for(find, timeout=timeout, what="queue file with " + token)


def message(token, extra=""):
    return "From: %s\r\nSubject: %s\r\n%s\r\nbody %s\r\n" % (SENDER, token, extra, token)


class PolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rec = PolicyServer(by_recipient(ANSWERS))
        cls.second = PolicyServer(by_recipient(SECOND_ANSWERS))
        cls.junk = PolicyServer(garbage)
        cls.silent = PolicyServer(lambda request: None)
        cls.servers = [cls.rec, cls.second, cls.junk, cls.silent]
        for server in cls.servers:
            server.start()
        (cls.mx, cls.auth, cls.auth_untold, cls.dead, cls.garbage, cls.slow, cls.eod,
         cls.unix, cls.tls) = (free_port() for _ in range(9))
        cls.cert_dir = tempfile.mkdtemp(prefix="postern-policy-certs-")
        server_dir, client_dir = (os.path.join(cls.cert_dir, d) for d in ("server", "client"))
        os.mkdir(server_dir)
        os.mkdir(client_dir)
        server_cert, server_key = make_cert(server_dir, "mx.example.test")
        cls.client_cert = make_cert(client_dir, "client.outside.test")
        cls.nobody = "inet:127.0.0.1:%d" % free_port()  # nothing listens there
        svc = "127.0.0.1:%d inet n - n - - smtpd"
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
            "smtpd_tls_cert_file": "",
            "smtpd_policy_services": "%s, %s" % (cls.rec.spec, cls.second.spec),
        }, services=[
            svc % cls.mx,
            svc % cls.auth + " -o smtpd_sasl_auth_enable=yes"
            " -o smtpd_tls_auth_only_exempt=127.0.0.0/8"
            " -o smtpd_policy_service_policy_context=submission"
            " -o smtpd_policy_service_trusted_clients=yes",
            svc % cls.auth_untold + " -o smtpd_sasl_auth_enable=yes"
            " -o smtpd_tls_auth_only_exempt=127.0.0.0/8",
            svc % cls.dead + " -o smtpd_policy_services=" + cls.nobody,
            svc % cls.garbage + " -o smtpd_policy_services=" + cls.junk.spec
            + " -o smtpd_policy_service_retry_delay=0s",
            svc % cls.slow + " -o smtpd_policy_services=" + cls.silent.spec
            + " -o smtpd_policy_service_timeout=1s",
            svc % cls.eod + " -o smtpd_policy_services="
            " -o smtpd_end_of_data_policy_services=" + cls.rec.spec,
            svc % cls.unix + " -o smtpd_policy_services=unix:private/testpolicy",
            svc % cls.tls + " -o smtpd_tls_cert_file=" + server_cert
            + " -o smtpd_tls_key_file=" + server_key + " -o smtpd_tls_ask_ccert=yes"
            + " -o smtpd_tls_fingerprint_digest=md5",
            "auth unix y postern-auth n - - auth",
        ])
        try:
            cls.inst.mailctl("user", "add", "alice@example.test", input=PASSWORD + "\n",
                             check=True)
            cls.inst.start()
            cls.unix_server = PolicyServer(
                by_recipient(ANSWERS), os.path.join(cls.inst.spool, "private", "testpolicy"))
            cls.servers.append(cls.unix_server)
            cls.unix_server.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            shutil.rmtree(cls.cert_dir, ignore_errors=True)
            for server in cls.servers:
                server.stop()

    def setUp(self):
        for server in self.servers:
            server.taken()

    def session(self, port=None):
        c = smtplib.SMTP("127.0.0.1", port or self.mx, local_hostname=HELO, timeout=30)
        c.ehlo()
        return c

    def rcpt(self, rcpt, port=None):
        """The reply to RCPT TO (code, text) in a fresh session."""
        with self.session(port) as c:
            code, text = c.mail(SENDER)
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def reject_line(self, rcpt, reply):
        return ("NOQUEUE: reject: RCPT from %s: %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                % (CLIENT, reply, SENDER, rcpt, HELO))

    # -- (a) the requests and the actions

    def test_request_attributes_instance_and_connection_reuse(self):
        msg = message("token-attrs")
        with self.session() as c:
            c.mail(SENDER, ["size=%d" % len(msg)])
            self.assertEqual(c.rcpt("dunno1@relay.test")[0], 250)
            self.assertEqual(c.rcpt("dunno2@relay.test")[0], 250)
            self.assertEqual(c.data(msg)[0], 250)
            self.assertEqual(c.sendmail(SENDER, ["dunno3@relay.test"], message("token-two")),
                             {})
        first = [r for r in self.rec.taken() if r["recipient"].startswith("dunno")]
        self.assertEqual([r["recipient"] for r in first],
                         ["dunno1@relay.test", "dunno2@relay.test", "dunno3@relay.test"])
        r = first[0]
        self.assertEqual(r["_order"], POSTFIX_ATTRIBUTES)
        expected = {
            "request": "smtpd_access_policy", "protocol_state": "RCPT",
            "protocol_name": "ESMTP", "helo_name": HELO, "sender": SENDER,
            "recipient_count": "0", "client_address": "127.0.0.1", "client_name": "unknown",
            "reverse_client_name": "unknown", "sasl_method": "", "sasl_username": "",
            "size": str(len(msg)), "server_address": "127.0.0.1", "server_port": str(self.mx),
            "etrn_domain": "", "encryption_protocol": "", "policy_context": "",
        }
        for name, value in expected.items():
            self.assertEqual(r[name], value, name)
        self.assertTrue(r["client_port"].isdigit())
        self.assertTrue(r["mail_version"])
        # One instance per message: the same for both recipients, another
        # for the next message.
        self.assertTrue(r["instance"])
        self.assertEqual(first[1]["instance"], r["instance"])
        self.assertNotEqual(first[2]["instance"], r["instance"])
        # Both messages of the session over one connection.
        self.assertEqual({q["_conn"] for q in first}, {r["_conn"]})
        # The second server of the list is asked too, after DUNNO.
        self.assertEqual([q["recipient"] for q in self.second.taken()],
                         ["dunno1@relay.test", "dunno2@relay.test", "dunno3@relay.test"])

    def test_sasl_username_after_auth(self):
        with self.session(self.auth) as c:
            c.login("alice@example.test", PASSWORD)
            self.assertEqual(c.sendmail(SENDER, ["authed@relay.test"], message("token-auth")),
                             {})
        r = [q for q in self.rec.taken() if q["recipient"] == "authed@relay.test"][0]
        self.assertEqual(r["sasl_username"], "alice@example.test")
        self.assertEqual(r["sasl_method"].upper(), "PLAIN")
        self.assertEqual(r["policy_context"], "submission")

    def test_trusted_clients_not_asked_by_default(self):
        """A logged-in client's mail goes unasked, as Postfix's usual
        permit_sasl_authenticated before check_policy_service has it."""
        with self.session(self.auth_untold) as c:
            c.login("alice@example.test", PASSWORD)
            self.assertEqual(c.sendmail(SENDER, ["untold@relay.test"], message("token-untold")),
                             {})
        with self.session(self.mx) as c:
            self.assertEqual(c.sendmail(SENDER, ["told@relay.test"], message("token-told")), {})
        taken = [q["recipient"] for q in self.rec.taken()]
        self.assertIn("told@relay.test", taken)
        self.assertNotIn("untold@relay.test", taken)

    def test_refusals_as_given(self):
        cases = [
            ("reject@relay.test", 554,
             "5.7.1 <reject@relay.test>: Recipient address rejected: go away"),
            ("later@relay.test", 450,
             "4.7.1 <later@relay.test>: Recipient address rejected: try later"),
            ("busy@relay.test", 451, "4.7.1 <busy@relay.test>: Recipient address rejected: Busy"),
            ("spf@relay.test", 550,
             "5.7.23 <spf@relay.test>: Recipient address rejected: Message rejected due to: "
             "SPF fail - not authorized"),
            ("grey@relay.test", 450,
             "4.2.0 <grey@relay.test>: Recipient address rejected: Greylisted, see "
             "http://policy.test/help"),
            ("bogus@relay.test", 451,
             "4.3.5 <bogus@relay.test>: Recipient address rejected: Server configuration "
             "error"),
        ]
        for rcpt, code, text in cases:
            self.assertEqual(self.rcpt(rcpt), (code, text))
            self.inst.wait_log(self.reject_line(rcpt, "%d %s" % (code, text)))
        self.inst.wait_log('policy server %s: unknown action "BOGUS action"' % self.rec.spec)
        # A refusal ends the asking; so does OK.
        asked = [q["recipient"] for q in self.second.taken()]
        self.assertNotIn("reject@relay.test", asked)
        self.assertNotIn("spf@relay.test", asked)
        # DEFER_IF_PERMIT lets the later servers speak first.
        self.assertIn("grey@relay.test", asked)
        self.assertEqual(self.rcpt("ok@relay.test")[0], 250)
        self.assertNotIn("ok@relay.test", [q["recipient"] for q in self.second.taken()])

    def test_conditional_deferrals_with_a_second_server(self):
        # DEFER_IF_REJECT: the second server's REJECT becomes the deferral.
        self.assertEqual(self.rcpt("ifreject@relay.test"),
                         (450, "4.7.1 <ifreject@relay.test>: Recipient address rejected: "
                               "not sure yet"))
        # DEFER_IF_PERMIT: a later REJECT wins.
        self.assertEqual(self.rcpt("ifpermit@relay.test"),
                         (554, "5.7.1 <ifpermit@relay.test>: Recipient address rejected: "
                               "refused after all"))

    def test_prepend_reaches_the_queued_message(self):
        with self.session() as c:
            self.assertEqual(c.sendmail(SENDER, ["prepend@relay.test", "twice@relay.test"],
                                        message("token-prepend")), {})
        env, rcpts, content = queued(self.inst, "token-prepend")
        # Above our Received header, as Postfix puts them.
        self.assertTrue(content.startswith(
            b"X-Policy-Test: prepended by the policy server\r\nX-Second: yes\r\nReceived: "),
            content[:200])

    def test_hold_warn_and_filter(self):
        with self.session() as c:
            self.assertEqual(c.sendmail(SENDER, ["hold@relay.test"], message("token-hold")), {})
            self.assertEqual(c.sendmail(SENDER, ["warn@relay.test", "filter@relay.test"],
                                        message("token-warn")), {})
        env, _, _ = queued(self.inst, "token-hold", subdir="hold")
        self.assertEqual(env.get("hold_reason"),
                         "<hold@relay.test>: Recipient address triggers HOLD action: "
                         "policy review")
        env, _, _ = queued(self.inst, "token-warn")
        self.assertEqual(env.get("filter"), "smtp:[127.0.0.1]:10025")
        self.inst.wait_log(": hold: RCPT from %s: <hold@relay.test>: Recipient address "
                           "triggers HOLD action: policy review; from=<%s> to=<hold@relay.test>"
                           % (CLIENT, SENDER))
        self.inst.wait_log("NOQUEUE: warn: RCPT from %s: look at this one; from=<%s> "
                           "to=<warn@relay.test> proto=ESMTP helo=<%s>" % (CLIENT, SENDER, HELO))
        self.inst.wait_log("filter: RCPT from %s: <filter@relay.test>: Recipient address "
                           "triggers FILTER action: smtp:[127.0.0.1]:10025; from=<%s>"
                           % (CLIENT, SENDER))

    def test_unix_server_under_queue_directory(self):
        self.assertEqual(self.rcpt("reject@relay.test", self.unix),
                         (554, "5.7.1 <reject@relay.test>: Recipient address rejected: go away"))
        self.assertEqual(self.rcpt("dunno@relay.test", self.unix)[0], 250)
        self.assertEqual(len(self.unix_server.taken()), 2)

    def test_client_certificate_fingerprints(self):
        """ccert_fingerprint and ccert_pubkey_fingerprint of an unverified
        client certificate (no smtpd_tls_CAfile), in Postfix's form with
        smtpd_tls_fingerprint_digest (md5 on this service); ccert_subject
        only for a verified one. Empty without a certificate."""
        cert, key = self.client_cert
        der = ssl.PEM_cert_to_DER_cert(open(cert).read())
        spki = subprocess.run(
            "openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform DER" % cert,
            shell=True, check=True, capture_output=True).stdout

        def postfix_form(data):
            return ":".join("%02X" % b for b in hashlib.md5(data).digest())

        for presented in (True, False):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if presented:
                context.load_cert_chain(cert, key)
            with self.session(self.tls) as c:
                c.starttls(context=context)
                c.ehlo()
                self.assertEqual(c.mail(SENDER)[0], 250)
                self.assertEqual(c.rcpt("dunno-tls@relay.test")[0], 250)
            r = [q for q in self.rec.taken() if q["recipient"] == "dunno-tls@relay.test"][0]
            self.assertTrue(r["encryption_protocol"].startswith("TLS"))
            self.assertEqual(r["ccert_subject"], "")
            if presented:
                self.assertEqual(r["ccert_fingerprint"], postfix_form(der))
                self.assertEqual(r["ccert_pubkey_fingerprint"], postfix_form(spki))
            else:
                self.assertEqual(r["ccert_fingerprint"], "")
                self.assertEqual(r["ccert_pubkey_fingerprint"], "")

    def test_end_of_data_servers(self):
        with self.session(self.eod) as c:
            c.mail(SENDER)
            self.assertEqual(c.rcpt("eodreject@relay.test")[0], 250)  # not asked at RCPT
            code, text = c.data(message("token-eod-reject"))
            self.assertEqual((code, text.decode()),
                             (554, "5.7.1 <%s>: End-of-data rejected: content not wanted"
                              % CLIENT))
            self.assertEqual(c.sendmail(SENDER, ["eodhold@relay.test"],
                                        message("token-eod-hold")), {})
            self.assertEqual(c.sendmail(SENDER, ["eodprepend@relay.test"],
                                        message("token-eod-prepend")), {})
            self.assertEqual(c.sendmail(SENDER, ["one@relay.test", "two@relay.test"],
                                        message("token-eod-two")), {})
        requests = self.rec.taken()
        self.assertEqual([r["protocol_state"] for r in requests], ["END-OF-MESSAGE"] * 4)
        r = requests[0]
        self.assertEqual(r["recipient"], "eodreject@relay.test")
        self.assertEqual(r["recipient_count"], "1")
        self.assertTrue(r["queue_id"])
        self.assertGreater(int(r["size"]), len(message("token-eod-reject")) - 10)
        # The recipient only when there is one.
        self.assertEqual(requests[3]["recipient"], "")
        self.assertEqual(requests[3]["recipient_count"], "2")
        self.inst.wait_log("%s: reject: END-OF-MESSAGE from %s: 554 5.7.1 <%s>: End-of-data "
                           "rejected: content not wanted; from=<%s> to=<eodreject@relay.test> "
                           "proto=ESMTP helo=<%s>" % (r["queue_id"], CLIENT, CLIENT, SENDER,
                                                      HELO))
        queued(self.inst, "token-eod-hold", subdir="hold")
        _, _, content = queued(self.inst, "token-eod-prepend")
        self.assertNotIn(b"X-Too-Late", content)
        self.inst.wait_log("PREPEND is not possible at END-OF-MESSAGE; ignored")

    def test_end_of_data_redirect_and_bcc(self):
        """REDIRECT and BCC at the end of DATA: the queue file is written
        again with the new envelope."""
        with self.session(self.eod) as c:
            self.assertEqual(c.sendmail(SENDER, ["eodredirect@relay.test"],
                                        message("token-eod-redirect")), {})
            self.assertEqual(c.sendmail(SENDER, ["eodbcc@relay.test"],
                                        message("token-eod-bcc")), {})
        _, rcpts, _ = queued(self.inst, "token-eod-redirect")
        self.assertEqual([r["address"] for r in rcpts], ["quarantine@relay.test"])
        _, rcpts, _ = queued(self.inst, "token-eod-bcc")
        self.assertEqual([(r["address"], r.get("notify", "")) for r in rcpts],
                         [("eodbcc@relay.test", ""), ("archive@relay.test", "NEVER")])

    # -- (b) servers that fail

    def test_unreachable_server_gives_the_default_action(self):
        self.assertEqual(self.rcpt("x@relay.test", self.dead),
                         (451, "4.3.5 <x@relay.test>: Recipient address rejected: Server "
                               "configuration problem"))
        self.inst.wait_log("warning: problem talking to server %s: connect to" % self.nobody,
                           count=2)
        self.inst.wait_log(self.reject_line(
            "x@relay.test", "451 4.3.5 <x@relay.test>: Recipient address rejected: Server "
            "configuration problem"))

    def test_garbage_gives_the_default_action(self):
        default = (451, "4.3.5 <%s>: Recipient address rejected: Server configuration problem")
        for rcpt, why in [("junk@relay.test", "reply line is not name=value"),
                          ("huge@relay.test", "reply line too long"),
                          ("many@relay.test", "too many lines in the reply"),
                          ("nul@relay.test", "NUL byte in the reply")]:
            self.junk.taken()
            self.assertEqual(self.rcpt(rcpt, self.garbage), (default[0], default[1] % rcpt))
            # Asked twice (smtpd_policy_service_try_limit), each time anew.
            self.assertEqual(len(self.junk.taken()), 2)
            self.inst.wait_log("problem talking to server %s: malformed reply: %s"
                               % (self.junk.spec, why))

    def test_silent_server_times_out(self):
        start = time.monotonic()
        self.assertEqual(self.rcpt("quiet@relay.test", self.slow),
                         (451, "4.3.5 <quiet@relay.test>: Recipient address rejected: Server "
                               "configuration problem"))
        took = time.monotonic() - start
        # Two attempts of 1s each, one retry delay of 1s between them.
        self.assertGreater(took, 2.5)
        self.assertLess(took, 15)
        self.inst.wait_log("problem talking to server %s: timeout" % self.silent.spec, count=2)


class PerServerSettingsTest(unittest.TestCase):
    """Postfix 3's braces: an entry of smtpd_policy_services with settings
    of its own. A silent server with timeout=1s and try_limit=1 gives its
    default_action DUNNO after one second, once; the next server is asked
    with its own policy_context; mailctl check names a setting it does
    not know."""

    def test_braces(self):
        silent = PolicyServer(lambda request: None)
        rec = PolicyServer(by_recipient(ANSWERS))
        for server in (silent, rec):
            server.start()
            self.addCleanup(server.stop)
        port = free_port()
        inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_policy_services":
                "{ %s, timeout=1s, try_limit=1, default_action=DUNNO }, "
                "{%s,policy_context=braced , default_action = DUNNO}" % (silent.spec, rec.spec),
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % port])
        self.addCleanup(inst.cleanup)
        check = inst.mailctl("check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        inst.start()
        with smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=30) as c:
            c.ehlo()
            self.assertEqual(c.mail(SENDER)[0], 250)
            start = time.monotonic()
            code, text = c.rcpt("reject@relay.test")
            took = time.monotonic() - start
        self.assertEqual((code, text), (554, b"5.7.1 <reject@relay.test>: Recipient address "
                                             b"rejected: go away"))
        # One attempt of one second, not two with a retry delay between.
        self.assertGreater(took, 0.9)
        self.assertLess(took, 2.5)
        self.assertEqual(len(silent.taken()), 1)
        asked = rec.taken()
        self.assertEqual([r["policy_context"] for r in asked], ["braced"])
        self.assertEqual(asked[0]["_order"], POSTFIX_ATTRIBUTES)
        inst.wait_log("problem talking to server { %s, timeout=1s, try_limit=1, "
                      "default_action=DUNNO }: timeout" % silent.spec)
        inst.params["smtpd_policy_services"] = "{ %s, colour=blue }" % rec.spec
        inst.write_config()
        check = inst.mailctl("check")
        self.assertNotEqual(check.returncode, 0)
        self.assertIn('unknown setting "colour"', check.stdout + check.stderr)


POSTGREY = shutil.which("postgrey") or "/usr/sbin/postgrey"


@unittest.skipUnless(os.access(POSTGREY, os.X_OK), "postgrey is not installed")
class PostgreyTest(unittest.TestCase):
    DELAY = 2

    def setUp(self):
        self.port = free_port()
        self.inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % self.port])
        self.addCleanup(self.inst.cleanup)
        dbdir = os.path.join(self.inst.base, "postgrey")
        os.makedirs(dbdir)
        empty = os.path.join(self.inst.base, "postgrey-whitelist")
        open(empty, "w").close()
        policy_port = free_port()
        self.postgrey_out = open(os.path.join(self.inst.base, "log", "postgrey.out"), "w")
        self.addCleanup(self.postgrey_out.close)
        self.postgrey = subprocess.Popen(
            [POSTGREY, "--inet=127.0.0.1:%d" % policy_port, "--dbdir=" + dbdir,
             "--delay=%d" % self.DELAY, "--hostname=grey.example.test",
             "--user=" + pwd.getpwuid(os.getuid()).pw_name,
             "--group=" + grp.getgrgid(os.getgid()).gr_name,
             "--whitelist-clients=" + empty, "--whitelist-recipients=" + empty],
            stdout=self.postgrey_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop_postgrey)

        def listening():
            if self.postgrey.poll() is not None:
                raise AssertionError("postgrey exited (%d)" % self.postgrey.returncode)
            try:
                socket.create_connection(("127.0.0.1", policy_port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(listening, timeout=30, what="postgrey to listen")
        self.inst.params["smtpd_policy_services"] = "inet:127.0.0.1:%d" % policy_port
        self.inst.write_config()
        self.inst.start()

    def stop_postgrey(self):
        if self.postgrey.poll() is None:
            self.postgrey.terminate()
            try:
                self.postgrey.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.postgrey.kill()
                self.postgrey.wait()

    def test_greylisted_then_accepted_with_header(self):
        rcpt = "user@relay.test"
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname=HELO, timeout=30) as c:
            c.ehlo()
            c.mail(SENDER)
            code, text = c.rcpt(rcpt)
        first_try = time.monotonic()
        greylisted = ("4.2.0 <%s>: Recipient address rejected: Greylisted, see "
                      "http://postgrey.schweikert.ch/help/relay.test.html" % rcpt)
        self.assertEqual((code, text.decode()), (450, greylisted))
        self.inst.wait_log("NOQUEUE: reject: RCPT from %s: 450 %s; from=<%s> to=<%s> "
                           "proto=ESMTP helo=<%s>" % (CLIENT, greylisted, SENDER, rcpt, HELO))
        time.sleep(max(0.0, first_try + self.DELAY + 1.1 - time.monotonic()))
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname=HELO, timeout=30) as c:
            self.assertEqual(c.sendmail(SENDER, [rcpt], message("token-grey")), {})
        _, _, content = queued(self.inst, "token-grey")
        first = content.split(b"\r\n", 1)[0].decode()
        self.assertRegex(first, r"^X-Greylist: delayed \d+ seconds by postgrey-[0-9.]+ at "
                                r"grey\.example\.test; ")


if __name__ == "__main__":
    unittest.main()
