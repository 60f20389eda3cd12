"""XFORWARD (Postfix's XFORWARD_README), both sides.

smtpd: offered (and allowed) only to smtpd_authorized_xforward_hosts;
Postfix's replies (250, 501 for bad syntax or attributes, 503 in a
transaction, 550 to others); xtext values; the attributes last one
transaction; the queued envelope records the original client, and the
"client=" log line adds orig_queue_id= and orig_client=, while the
Received header names the real client.

smtp with smtp_send_xforward_command=yes, end to end: a message from a
client on 127.0.0.5 goes through content_filter to a Python filter that
records the XFORWARD commands it gets and gives the mail back with them,
from 127.0.0.1, to an smtpd that may use XFORWARD: the final envelope has
127.0.0.5 and the original HELO, not the filter's address."""
import os
import re
import smtplib
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import ScriptedServer, maildir_messages, submit  # noqa: E402
from postern_test import InstanceTestCase, LineClient, free_port, wait_for  # noqa: E402
from test_sendmail import read_queue_file  # noqa: E402

KEYWORDS = "XFORWARD NAME ADDR PROTO HELO IDENT SOURCE PORT LOGIN"


def queued(inst, token, subdir="incoming", timeout=10):
    """(envelope, recipients, content) of the queue file whose content has
    token."""
    def find():
        d = os.path.join(inst.spool, subdir)
        for name in os.listdir(d):
            try:
                env, rcpts, content = read_queue_file(os.path.join(d, name))
            except FileNotFoundError:
                continue
            if token.encode() in content:
                return env, rcpts, content
        return None
    return wait_for(find, timeout=timeout, what="queue file with " + token)


class Client(LineClient):
    """A raw SMTP client, from source (an address on lo) when given."""

    def __init__(self, port, source=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        assert self.readline().startswith("220 ")

    def reply(self):
        lines = [self.readline()]
        while lines[-1][3:4] == "-":
            lines.append(self.readline())
        return lines

    def cmd(self, text):
        self.send(text)
        return self.reply()

    def ehlo(self, name="client.example.test"):
        return self.cmd("EHLO " + name)

    def message(self, token, sender="sender@outside.test", rcpt="user@example.test"):
        self.assertion(self.cmd("MAIL FROM:<%s>" % sender), "250")
        self.assertion(self.cmd("RCPT TO:<%s>" % rcpt), "250")
        self.assertion(self.cmd("DATA"), "354")
        return self.cmd("Subject: %s\r\n\r\nbody %s\r\n." % (token, token))

    @staticmethod
    def assertion(reply, code):
        if not reply[-1].startswith(code):
            raise AssertionError("expected %s, got %r" % (code, reply))


class SmtpdTest(InstanceTestCase):
    """smtpd's side, against raw sessions; no qmgr, so the queue files stay
    in incoming/ to be read."""

    def setUp(self):
        self.auth_port, self.plain_port = free_port(), free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd "
            "-o smtpd_authorized_xforward_hosts=127.0.0.1/32,[::1]" % self.auth_port,
            "127.0.0.1:%d inet n - n - - smtpd" % self.plain_port,
        ], start=False)
        self.inst.add_vmail(["user@example.test"])
        self.inst.start()

    def client(self, port=None, source=None):
        c = Client(port or self.auth_port, source)
        self.addCleanup(c.close)
        return c

    def test_not_offered_to_others(self):
        # The default (empty): nobody.
        c = self.client(self.plain_port)
        ehlo = c.ehlo()
        self.assertFalse([l for l in ehlo if "XFORWARD" in l], ehlo)
        self.assertEqual(["550 5.7.0 Error: insufficient authorization"],
                         c.cmd("XFORWARD NAME=spoofed.example ADDR=192.0.2.1"))
        # A client outside the list (127.0.0.5 is not 127.0.0.1/32).
        c = self.client(source="127.0.0.5")
        ehlo = c.ehlo()
        self.assertFalse([l for l in ehlo if "XFORWARD" in l], ehlo)
        self.assertEqual(["550 5.7.0 Error: insufficient authorization"],
                         c.cmd("XFORWARD ADDR=192.0.2.1"))
        # Its mail is recorded with its own address.
        self.assertTrue(c.message("unauthorized-token")[-1].startswith("250 "))
        env, _, _ = queued(self.inst, "unauthorized-token")
        self.assertEqual("127.0.0.5", env["client_addr"])
        self.assertNotIn("orig_client=", self.inst.read_log())

    def test_forwarded_client_is_queued_and_logged(self):
        c = self.client()
        ehlo = c.ehlo("filter.localhost")
        self.assertIn("250-" + KEYWORDS, ehlo)
        # Attributes in two commands, xtext-encoded, names in any case.
        self.assertEqual(["250 2.0.0 Ok"],
                         c.cmd("XFORWARD NAME=orig.client.test ADDR=192.0.2.7 port=4711"))
        self.assertEqual(["250 2.0.0 Ok"],
                         c.cmd("XFORWARD PROTO=ESMTPSA HELO=orig+2Dhelo.test IDENT=0123ABCD "
                               "SOURCE=REMOTE LOGIN=joe+40example.test"))
        reply = c.message("forwarded-token")
        self.assertTrue(reply[-1].startswith("250 2.0.0 Ok: queued as "), reply)
        qid = reply[-1].split()[-1]
        env, _, content = queued(self.inst, "forwarded-token")
        self.assertEqual("orig.client.test", env["client_name"])
        self.assertEqual("192.0.2.7", env["client_addr"])
        self.assertEqual("4711", env["client_port"])
        self.assertEqual("orig-helo.test", env["helo"])
        self.assertEqual("ESMTPSA", env["protocol"])
        self.assertEqual("joe@example.test", env["auth_user"])
        self.assertEqual("smtp", env["origin"])
        # The log names the real client, and the original one after it.
        self.assertRegex(self.inst.read_log(),
                         r"%s: client=unknown\[127\.0\.0\.1\], orig_queue_id=0123ABCD, "
                         r"orig_client=orig\.client\.test\[192\.0\.2\.7\]\n" % qid)
        # The Received header is about this connection (the filter's), as
        # in Postfix.
        received = content.split(b"\r\n\r\n")[0].decode()
        self.assertRegex(received, r"Received: from filter\.localhost \(unknown \[127\.0\.0\.1\]\)")
        self.assertNotIn("192.0.2.7", received)
        # mailctl shows the recorded client.
        shown = self.inst.mailctl("queue", "show", qid, check=True).stdout
        self.assertIn("192.0.2.7", shown)

    def test_bad_commands(self):
        c = self.client()
        c.ehlo()
        cases = [
            ("XFORWARD", "501 5.5.4 Syntax: XFORWARD attribute=value..."),
            ("XFORWARD FOO=bar", "501 5.5.4 Bad XFORWARD attribute name: FOO"),
            ("XFORWARD NAME", "501 5.5.4 Error: attribute=value expected"),
            ("XFORWARD NAME=", "501 5.5.4 Error: attribute=value expected"),
            ("XFORWARD ADDR=192.0.2.300", "501 5.5.4 Bad ADDR syntax: 192.0.2.300"),
            ("XFORWARD NAME=no_such<host>", "501 5.5.4 Bad NAME syntax: no_such?host?"),
            ("XFORWARD PORT=http", "501 5.5.4 Bad PORT syntax: http"),
            ("XFORWARD SOURCE=nearby", "501 5.5.4 Bad SOURCE syntax: nearby"),
            ("XFORWARD HELO=" + "h" * 256, "501 5.5.4 Error: attribute value too long"),
            ("XFORWARD PROTO=" + "P" * 65, "501 5.5.4 Bad PROTO syntax: " + "P" * 65),
        ]
        for command, want in cases:
            self.assertEqual([want], c.cmd(command), command)
        # A refused command changes nothing: the good part of it is not kept.
        self.assertEqual(["501 5.5.4 Bad ADDR syntax: x"],
                         c.cmd("XFORWARD NAME=half.example ADDR=x"))
        self.assertTrue(c.message("after-bad-token")[-1].startswith("250 "))
        env, _, _ = queued(self.inst, "after-bad-token")
        self.assertEqual("127.0.0.1", env["client_addr"])
        self.assertEqual("client.example.test", env["helo"])
        # Inside a transaction: 503.
        c.assertion(c.cmd("MAIL FROM:<s@outside.test>"), "250")
        self.assertEqual(["503 5.5.1 Error: MAIL transaction in progress"],
                         c.cmd("XFORWARD ADDR=192.0.2.1"))
        c.assertion(c.cmd("RSET"), "250")
        # The disconnect line counts the commands.
        c.cmd("QUIT")
        self.inst.wait_log(" xforward=12 mail=2 ")

    def test_attributes_last_one_transaction(self):
        c = self.client()
        c.ehlo()
        c.assertion(c.cmd("XFORWARD NAME=first.example ADDR=192.0.2.8"), "250")
        self.assertTrue(c.message("first-token")[-1].startswith("250 "))
        self.assertTrue(c.message("second-token")[-1].startswith("250 "))
        first, _, _ = queued(self.inst, "first-token")
        second, _, _ = queued(self.inst, "second-token")
        self.assertEqual(("first.example", "192.0.2.8"),
                         (first["client_name"], first["client_addr"]))
        # Attributes not forwarded are unknown, not the filter's own.
        self.assertEqual(("", "", "unknown"),
                         (first["client_port"], first["helo"], first["protocol"]))
        self.assertEqual(("unknown", "127.0.0.1", "client.example.test", "ESMTP"),
                         (second["client_name"], second["client_addr"], second["helo"],
                          second["protocol"]))
        # RSET forgets them too.
        c.assertion(c.cmd("XFORWARD ADDR=192.0.2.9"), "250")
        c.assertion(c.cmd("RSET"), "250")
        self.assertTrue(c.message("after-rset-token")[-1].startswith("250 "))
        env, _, _ = queued(self.inst, "after-rset-token")
        self.assertEqual("127.0.0.1", env["client_addr"])
        # So does EHLO.
        c.assertion(c.cmd("XFORWARD ADDR=192.0.2.10"), "250")
        c.ehlo("again.example.test")
        self.assertTrue(c.message("after-ehlo-token")[-1].startswith("250 "))
        env, _, _ = queued(self.inst, "after-ehlo-token")
        self.assertEqual(("127.0.0.1", "again.example.test"), (env["client_addr"], env["helo"]))

    def test_unavailable_and_local_source_pipelined(self):
        c = self.client()
        c.ehlo()
        # All of it in one write, as a pipelining client sends it.
        c.sock.sendall(b"XFORWARD NAME=localhost ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE] "
                       b"HELO=[TEMPUNAVAIL] PROTO=local SOURCE=LOCAL IDENT=Q1\r\n"
                       b"MAIL FROM:<root@mx.example.test>\r\n"
                       b"RCPT TO:<user@example.test>\r\nDATA\r\n")
        self.assertEqual(["250 2.0.0 Ok"], c.reply())
        for code in ("250", "250", "354"):
            c.assertion(c.reply(), code)
        c.assertion(c.cmd("Subject: local-token\r\n\r\nx\r\n."), "250")
        env, _, _ = queued(self.inst, "local-token")
        self.assertEqual(("localhost", "", "", "", "local", "pickup"),
                         (env["client_name"], env["client_addr"], env["client_port"],
                          env["helo"], env["protocol"], env["origin"]))
        self.assertRegex(self.inst.read_log(),
                         r"client=unknown\[127\.0\.0\.1\], orig_queue_id=Q1, "
                         r"orig_client=localhost\n")


class Filter:
    """An after-queue filter that speaks XFORWARD as amavis does: records
    the XFORWARD commands of each transaction and gives the mail back with
    them (from 127.0.0.1, after its own EHLO) before it answers 250."""

    def __init__(self, port, reinject_port, announce=True, pipelining=True,
                 xforward_reply="250 2.0.0 Ok"):
        self.reinject_port = reinject_port
        self.announce = announce
        self.pipelining = pipelining
        self.xforward_reply = xforward_reply
        self.lock = threading.Lock()
        self.transactions = []  # [XFORWARD arguments] per MAIL
        self.connections = []  # the connection (number) of each MAIL
        self.ahead = []  # per XFORWARD: whether more had come with it
        self.reinject_replies = []
        self.server = ScriptedServer("127.0.0.1", port, self._session)

    def _session(self, peer, n):
        peer.send("220 filter ESMTP\r\n")
        xforward, sender, rcpts = [], None, []
        while True:
            cmd = peer.line()
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                peer.send("250-filter\r\n%s%s250 8BITMIME\r\n"
                          % ("250-PIPELINING\r\n" if self.pipelining else "",
                             "250-%s\r\n" % KEYWORDS if self.announce else ""))
            elif verb == "XFORWARD":
                with self.lock:
                    self.ahead.append(bool(peer.buf))
                xforward.append(cmd[9:])
                peer.send(self.xforward_reply + "\r\n")
                if not self.xforward_reply.startswith("250"):
                    xforward.pop()
            elif verb == "MAIL":
                with self.lock:
                    self.transactions.append(list(xforward))
                    self.connections.append(n)
                sender, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                peer.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                data = "X-Filtered: yes\r\n" + peer.data() + "\r\n"
                try:
                    self._reinject(xforward, sender, rcpts, data)
                    peer.send("250 2.0.0 ok: passed on\r\n")
                except (smtplib.SMTPException, OSError) as e:
                    peer.send("451 4.3.0 re-injection failed: %s\r\n" % str(e)[:100])
                xforward = []
            elif verb == "RSET":
                xforward = []
                peer.send("250 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 no\r\n")

    def _reinject(self, xforward, sender, rcpts, data):
        with smtplib.SMTP("127.0.0.1", self.reinject_port, timeout=20,
                          source_address=("127.0.0.1", 0)) as c:
            c.ehlo("filter.localhost")
            for args in xforward:
                code, text = c.docmd("XFORWARD", args)
                with self.lock:
                    self.reinject_replies.append((code, text))
            c.sendmail(sender, rcpts, data.encode())

    def stop(self):
        self.server.stop()


def parse_xforward(commands):
    attrs = {}
    for args in commands:
        for pair in args.split():
            name, _, value = pair.partition("=")
            attrs[name] = value
    return attrs


class EndToEndTest(InstanceTestCase):
    def setUp(self):
        self.mx, self.back, self.filter_port = free_port(), free_port(), free_port()
        self.inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "content_filter": "scan:[127.0.0.1]:%d" % self.filter_port,
            "receive_override_options": "no_address_mappings",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.mx,
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
            "-o receive_override_options=no_header_body_checks,no_unknown_recipient_checks,"
            "no_milters -o smtpd_authorized_xforward_hosts=127.0.0.0/8 "
            "-o smtpd_sender_access_maps=inline:{held@outside.test=HOLD}" % self.back,
            # One process: the second message reuses its session.
            "scan unix - - n - 1 smtp -o smtp_send_xforward_command=yes",
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "smtp unix - - n - - smtp",
            "pickup unix n - n 60 1 pickup",
        ], start=False)
        self.vmail = self.inst.add_vmail(["user@example.test"])
        self.inst.start()

    def start_filter(self, **kwargs):
        f = Filter(self.filter_port, self.back, **kwargs)
        self.addCleanup(f.stop)
        return f

    def send_from_127_0_0_5(self, sender, subjects):
        """Messages from a client on 127.0.0.5; its source port."""
        with smtplib.SMTP("127.0.0.1", self.mx, timeout=20,
                          source_address=("127.0.0.5", 0)) as c:
            c.ehlo("orig.client.test")
            port = c.sock.getsockname()[1]
            for subject in subjects:
                c.sendmail(sender, ["user@example.test"],
                           "From: <%s>\r\nSubject: %s\r\n\r\nHello.\r\n" % (sender, subject))
        return port

    def test_original_client_reaches_the_final_envelope(self):
        f = self.start_filter()
        port = self.send_from_127_0_0_5("held@outside.test", ["xf-held-token"])
        # The smtpd behind the filter holds this sender's mail: its envelope
        # can be read.
        env, _, content = queued(self.inst, "xf-held-token", subdir="hold", timeout=30)
        self.assertEqual("127.0.0.5", env["client_addr"])
        self.assertEqual(str(port), env["client_port"])
        self.assertEqual("orig.client.test", env["helo"])
        self.assertEqual("ESMTP", env["protocol"])
        self.assertEqual("unknown", env["client_name"])
        self.assertEqual("smtp", env["origin"])
        self.assertIn(b"X-Filtered: yes", content)
        # What the filter was told, pipelined with MAIL, and what it got
        # back for it.
        self.assertEqual(1, len(f.transactions))
        attrs = parse_xforward(f.transactions[0])
        first_qid = attrs["IDENT"]
        self.assertEqual({"NAME": "unknown", "ADDR": "127.0.0.5", "PORT": str(port),
                          "PROTO": "ESMTP", "HELO": "orig.client.test", "IDENT": first_qid,
                          "SOURCE": "REMOTE", "LOGIN": "[UNAVAILABLE]"}, attrs)
        self.assertTrue(f.reinject_replies and all(code == 250 for code, _ in f.reinject_replies),
                        f.reinject_replies)
        log = self.inst.read_log()
        self.assertRegex(log, r"%s: client=unknown\[127\.0\.0\.5\]\n" % first_qid)
        self.assertRegex(log, r": client=unknown\[127\.0\.0\.1\], orig_queue_id=%s, "
                         r"orig_client=unknown\[127\.0\.0\.5\]\n" % first_qid)

    def test_delivered_and_sent_per_transaction(self):
        f = self.start_filter()
        self.send_from_127_0_0_5("sender@outside.test", ["xf-one", "xf-two"])
        wait_for(lambda: len(maildir_messages(self.vmail, "user@example.test")) >= 2,
                 timeout=30, what="two messages delivered")
        mails = maildir_messages(self.vmail, "user@example.test")
        self.assertEqual(2, len(mails))
        for m in mails:
            self.assertIn(b"X-Filtered: yes", m)
        # Every transaction to the filter had its XFORWARD, the second one
        # on the connection the first one used.
        self.assertEqual(2, len(f.transactions))
        self.assertEqual([0, 0], f.connections)
        for commands in f.transactions:
            self.assertEqual("127.0.0.5", parse_xforward(commands)["ADDR"])
        idents = {parse_xforward(c)["IDENT"] for c in f.transactions}
        self.assertEqual(2, len(idents))
        log = self.inst.read_log()
        self.assertEqual(2, len(re.findall(r"orig_client=unknown\[127\.0\.0\.5\]", log)))

    def test_local_mail_is_forwarded_as_local(self):
        f = self.start_filter()
        submit(self.inst, "held@outside.test", ["user@example.test"],
               b"Subject: xf-local-token\n\nvia pickup\n")
        env, _, _ = queued(self.inst, "xf-local-token", subdir="hold", timeout=30)
        attrs = parse_xforward(f.transactions[0])
        self.assertEqual(("localhost", "[UNAVAILABLE]", "local", "LOCAL"),
                         (attrs["NAME"], attrs["ADDR"], attrs["PROTO"], attrs["SOURCE"]))
        self.assertEqual(("localhost", "", "local", "pickup"),
                         (env["client_name"], env["client_addr"], env["protocol"],
                          env["origin"]))

    def test_not_sent_unless_offered(self):
        f = self.start_filter(announce=False)
        self.send_from_127_0_0_5("held@outside.test", ["xf-plain-token"])
        env, _, _ = queued(self.inst, "xf-plain-token", subdir="hold", timeout=30)
        self.assertEqual([[]], f.transactions)
        # Without XFORWARD the mail is recorded as the filter's.
        self.assertEqual("127.0.0.1", env["client_addr"])
        self.assertEqual("filter.localhost", env["helo"])


    def test_without_pipelining_and_refused(self):
        # Each XFORWARD waits for its reply; a refusal is logged and the
        # mail goes on (as the filter's own, here).
        f = self.start_filter(pipelining=False, xforward_reply="550 5.7.0 Error: no")
        self.send_from_127_0_0_5("held@outside.test", ["xf-refused-token"])
        env, _, _ = queued(self.inst, "xf-refused-token", subdir="hold", timeout=30)
        self.assertEqual("127.0.0.1", env["client_addr"])
        self.assertEqual([[]], f.transactions)
        self.assertRegex(self.inst.read_log(),
                         r"warning: host 127\.0\.0\.1\[127\.0\.0\.1\]:%d said: 550 5\.7\.0 "
                         r"Error: no \(in reply to XFORWARD command\)" % self.filter_port)
        # And the other way round: accepted one by one.
        f.xforward_reply = "250 2.0.0 Ok"
        self.send_from_127_0_0_5("held@outside.test", ["xf-lockstep-token"])
        env, _, _ = queued(self.inst, "xf-lockstep-token", subdir="hold", timeout=30)
        self.assertEqual("127.0.0.5", env["client_addr"])
        self.assertEqual([False, False], f.ahead)  # MAIL waited for the reply


class CheckTest(InstanceTestCase):
    def test_mailctl_check_validates_the_list(self):
        inst = self.instance(params={"smtpd_authorized_xforward_hosts": "127.0.0.0/8, bogus/99"},
                             services=["127.0.0.1:%d inet n - n - - smtpd" % free_port()],
                             start=False)
        out = inst.mailctl("check")
        self.assertNotEqual(0, out.returncode)
        self.assertIn('smtpd_authorized_xforward_hosts: "bogus/99" is not an address or '
                      'address/prefix', out.stdout + out.stderr)
        inst.params["smtpd_authorized_xforward_hosts"] = "127.0.0.0/8, [::1]/128"
        inst.write_config()
        out = inst.mailctl("check")
        self.assertNotIn("smtpd_authorized_xforward_hosts", out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
