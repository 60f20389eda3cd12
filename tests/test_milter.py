"""Milters: smtpd and pickup talk the Sendmail milter protocol to filters.

A libmilter filter built from tests/milter_test.c sees every event (its log
is checked, with the macros), answers with every reply (reject, tempfail,
multi-line reply codes, discard, accept, skip, progress, quarantine) and
makes every end-of-message edit; the queue files are checked byte by byte.
A second filter behind it asks for no replies, skips steps, picks its
own macros and asks for the recipients smtpd rejected (SMFIP_RCPT_REJ). Faulty filters written here in Python (one that never
answers, one that closes mid-body, one that sends garbage) get the default
action after their timeout, and the session goes on."""

import os
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, wait_for  # noqa: E402
from ipc_records import read_queue_file  # noqa: E402

PICKUP = "pickup unix n - n 60 1 pickup"


def start_filter(base, name, args, sock_spec):
    """Run tests/milter_test; returns (process, log path)."""
    log = os.path.join(base, name + ".events")
    open(log, "w").close()
    prog = os.path.join(os.environ["POSTERN_BIN"], "milter_test")
    proc = subprocess.Popen([prog, "-s", sock_spec, "-l", log] + list(args),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: os.umask(0))
    return proc, log


def wait_listening(spec, timeout=10):
    def ok():
        try:
            if spec.startswith("unix:"):
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(spec[5:])
            else:
                socket.create_connection(("127.0.0.1", int(spec.rsplit(":", 1)[1]))).close()
            return True
        except OSError:
            return False
    wait_for(ok, timeout=timeout, what="filter at " + spec)


def queue_files(inst, subdir="incoming"):
    d = os.path.join(inst.spool, subdir)
    return {q: read_queue_file(os.path.join(d, q)) for q in os.listdir(d)}


def find_queued(inst, token, subdir="incoming", timeout=10):
    def find():
        for qid, (env, rcpts, content) in queue_files(inst, subdir).items():
            if token.encode() in content:
                return qid, env, rcpts, content
        return None
    return wait_for(find, timeout=timeout, what="queue file with " + token)


def received_header(content):
    """The first Received field of content, folded lines included."""
    start = content.index(b"Received:")
    end = start
    while True:
        end = content.index(b"\r\n", end) + 2
        if content[end:end + 1] not in (b" ", b"\t"):
            return content[start:end]


class FilterLog:
    def __init__(self, path):
        self.path = path
        self.mark = 0

    def lines(self):
        with open(self.path, errors="replace") as f:
            return f.read().splitlines()

    def since_mark(self):
        return self.lines()[self.mark:]

    def set_mark(self):
        self.mark = len(self.lines())


class SmtpdMilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "smtpd_tls_cert_file": "",
            "smtpd_error_sleep_time": "0s",
            "milter_content_timeout": "2s",
            "message_size_limit": "20000000",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % cls.port, PICKUP])
        cls.old_port = free_port()
        base = cls.inst.base
        cls.f1_port = free_port()
        cls.f1_spec = "inet:127.0.0.1:%d" % cls.f1_port
        cls.f2_spec = "unix:" + os.path.join(base, "f2.sock")
        cls.f1, log1 = start_filter(base, "f1", [], "inet:%d@127.0.0.1" % cls.f1_port)
        cls.f2, log2 = start_filter(base, "f2", ["-n", "-x", "-m", "-r"], cls.f2_spec)
        cls.log1, cls.log2 = FilterLog(log1), FilterLog(log2)
        wait_listening(cls.f1_spec)
        wait_listening(cls.f2_spec)
        milters = "%s, { %s, command_timeout=10s, default_action=accept }" % (
            cls.f1_spec, cls.f2_spec)
        cls.inst.params["smtpd_milters"] = milters
        # The first filter once more, as an old protocol 2 filter.
        cls.inst.services.append(
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters={%s,protocol=2}"
            % (cls.old_port, cls.f1_spec))
        cls.inst.params["non_smtpd_milters"] = cls.f1_spec
        # pickup's header_checks come before its filters.
        checks = os.path.join(base, "pickup_header_checks")
        with open(checks, "w") as f:
            f.write("/^X-Pickup-Check: (.*)/ REPLACE X-Pickup-Checked: $1\n"
                    "/^Subject: token-pcheck-hold/ HOLD checked\n")
        cls.inst.services[1] = PICKUP + " -o header_checks=regexp:" + checks
        # smtpd's: a REDIRECT and a BCC on a message the filters hold.
        smtpd_checks = os.path.join(base, "smtpd_header_checks")
        with open(smtpd_checks, "w") as f:
            f.write("/^Subject: token-mredirect/ REDIRECT quarantine@example.test\n"
                    "/^Subject: token-mbcc/ BCC archive@example.test\n")
        cls.inst.params["header_checks"] = "regexp:" + smtpd_checks
        cls.inst.write_config()
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            for p in (cls.f1, cls.f2):
                p.kill()
                p.wait()

    def setUp(self):
        self.log1.set_mark()
        self.log2.set_mark()

    def client(self):
        c = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.test", timeout=30)
        c.ehlo()
        return c

    def send(self, sender, rcpts, msg, mail_options=(), rcpt_options=()):
        with self.client() as c:
            return c.sendmail(sender, rcpts, msg, mail_options=list(mail_options),
                              rcpt_options=list(rcpt_options))

    # -- events and macros

    def test_events_and_macros(self):
        msg = (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: token-events\r\n"
               b"\r\nline one\r\n" + b"x" * 70000 + b"\r\n")
        with self.client() as c:
            code, _ = c.docmd("XYZZY", "plugh")
            self.assertEqual(code, 502)
            c.sendmail("sender@example.test", ["bob@example.test"], msg,
                       mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        qid, env, rcpts, content = find_queued(self.inst, "token-events")

        def closed_after_eom():
            # A close of an earlier session may come first: wait for this one's.
            lines = self.log1.since_mark()
            eom = [i for i, e in enumerate(lines) if e.startswith("eom ")]
            return eom and any(e.startswith("close") for e in lines[eom[-1]:])
        wait_for(closed_after_eom, what="filter close")
        ev = self.log1.since_mark()
        self.assertTrue(any(e.startswith("connect ") for e in ev), ev)
        self.assertIn("connect macro j=mx.example.test", ev)
        self.assertIn("connect macro {daemon_name}=mx.example.test", ev)
        self.assertIn("connect macro {client_addr}=127.0.0.1", ev)
        self.assertIn("connect macro v=Postern", ev)
        self.assertIn("helo client.example.test", ev)
        self.assertIn("unknown XYZZY plugh", ev)
        self.assertIn("envfrom <sender@example.test> size=%d BODY=8BITMIME" % len(msg), ev)
        self.assertIn("envfrom macro {mail_addr}=sender@example.test", ev)
        self.assertIn("envfrom macro i=" + qid, ev)
        self.assertIn("envrcpt <bob@example.test> NOTIFY=SUCCESS,FAILURE", ev)
        self.assertIn("envrcpt macro {rcpt_addr}=bob@example.test", ev)
        self.assertIn("data", ev)
        self.assertIn("data macro i=" + qid, ev)
        headers = [e for e in ev if e.startswith("header ")]
        self.assertTrue(headers[0].startswith("header Received: from client.example.test"), headers)
        self.assertIn("header Subject: token-events", headers)
        self.assertIn("eoh", ev)
        # 70012 body bytes: two chunks of at most 65535.
        self.assertEqual([e for e in ev if e.startswith("body ")], ["body 65535", "body 4477"])
        self.assertIn("eom body=70012 chunks=2", ev)
        self.assertIn("eom macro i=" + qid, ev)
        order = [e.split()[0] for e in ev if " macro " not in e and e.split()[0] in (
            "connect", "helo", "unknown", "envfrom", "envrcpt", "data", "eoh", "eom", "close")]
        order = order[order.index("connect"):]
        # The close of an earlier session may be logged late (filter threads
        # run concurrently under load): only the last close is this session's.
        order = [e for e in order[:-1] if e != "close"] + order[-1:]
        self.assertEqual(order, ["connect", "helo", "unknown", "envfrom", "envrcpt", "data",
                                 "eoh", "eom", "close"])
        # The second filter: no connect or helo (skipped), only its own macros.
        wait_for(lambda: "close" in self.log2.since_mark(), what="filter 2 close")
        ev2 = self.log2.since_mark()
        self.assertFalse(any(e.startswith(("connect", "helo")) for e in ev2), ev2)
        self.assertIn("eom body=70012 chunks=2", ev2)
        # Unchanged message: exactly what was sent, after our Received header.
        self.assertEqual(content, received_header(content) + msg)
        self.assertEqual([r["notify"] for r in rcpts], ["SUCCESS,FAILURE"])

    @staticmethod
    def rcpt_macros(ev):
        """{recipient: {macro: value}} from the envrcpt lines of a filter log."""
        out, current = {}, None
        for e in ev:
            if e.startswith("envrcpt macro "):
                name, _, value = e[len("envrcpt macro "):].partition("=")
                out[current][name] = value
            elif e.startswith("envrcpt <"):
                current = e.split()[1]
                out[current] = {}
        return out

    def test_resolution_macros_and_rejected_recipients(self):
        msg = b"Subject: token-resolve\r\n\r\nbody\r\n"
        with self.client() as c:
            code, _ = c.mail("sender@example.test", ["AUTH=author+2Bx@example.test"])
            self.assertEqual(code, 250)
            self.assertEqual(c.rcpt("bob@example.test")[0], 250)
            code, text = c.rcpt("nosuch@mx.example.test")
            self.assertEqual(code, 550)
            self.assertEqual(c.rcpt("postmaster@mx.example.test")[0], 250)
            self.assertEqual(c.data(msg)[0], 250)
        find_queued(self.inst, "token-resolve")
        wait_for(lambda: "close" in self.log2.since_mark(), what="filter 2 close")
        ev = self.log1.since_mark()
        # The sender and each recipient as qmgr would route them.
        self.assertIn("envfrom macro {auth_author}=author+x@example.test", ev)
        self.assertIn("envfrom macro {mail_mailer}=smtp", ev)
        self.assertIn("envfrom macro {mail_host}=example.test", ev)
        r1 = self.rcpt_macros(ev)
        self.assertEqual(r1["<bob@example.test>"], {
            "{rcpt_addr}": "bob@example.test", "{rcpt_mailer}": "smtp",
            "{rcpt_host}": "example.test"})
        self.assertEqual(r1["<postmaster@mx.example.test>"], {
            "{rcpt_addr}": "postmaster@mx.example.test", "{rcpt_mailer}": "local",
            "{rcpt_host}": "mx.example.test"})
        # The first filter did not ask for rejected recipients: it never sees one.
        self.assertNotIn("<nosuch@mx.example.test>", r1)
        # The second did: it sees it, described as Postfix does.
        r2 = self.rcpt_macros(self.log2.since_mark())
        self.assertEqual(r2["<nosuch@mx.example.test>"], {
            "{rcpt_addr}": "<nosuch@mx.example.test>: Recipient address rejected: "
                           "User unknown in local recipient table",
            "{rcpt_mailer}": "error", "{rcpt_host}": "5.1.1"})
        self.assertEqual(r2["<bob@example.test>"]["{rcpt_mailer}"], "smtp")
        self.assertEqual(text.decode(), "5.1.1 " + r2["<nosuch@mx.example.test>"]["{rcpt_addr}"])

    def test_large_message_is_edited_exactly(self):
        body = b"".join(b"line %07d " % i + b"x" * 60 + b"\r\n" for i in range(40000))
        msg = b"Subject: token-large\r\nX-Test-Action: addheader\r\n\r\n" + body
        self.send("sender@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-large")
        self.assertEqual(content, received_header(content) + msg.replace(
            b"\r\n\r\n", b"\r\nX-Added: yes\r\n\r\n", 1))
        self.assertIn("eom body=%d chunks=%d" % (len(body), (len(body) + 65534) // 65535),
                      self.log1.since_mark())
        # The spill file was unnamed: nothing is left in tmp/.
        # Nothing left but emptied files kept for the next messages.
        tmp = os.path.join(self.inst.spool, "tmp")
        self.assertEqual([f for f in os.listdir(tmp)
                          if os.path.getsize(os.path.join(tmp, f)) > 0], [])

    # -- end-of-message edits

    def test_every_edit_reaches_the_queue_file(self):
        msg = (b"Subject: token-edits\r\n"
               b"X-Delete-Me: gone\r\n"
               b"X-Test-Action: addheader, insheader, chgheader, delheader, foldheader,\r\n"
               b"  addrcpt, addrcpt_par, delrcpt, replbody, chgfrom\r\n"
               b"\r\n"
               b"original body\r\n")
        self.send("sender@example.test", ["keep@example.test", "deleted@example.test"], msg,
                  mail_options=["RET=FULL"])
        qid, env, rcpts, content = find_queued(self.inst, "Replaced body")
        expected = (b"X-Inserted-First: top\r\n" + received_header(content) +
                    b"Subject: changed subject\r\n"
                    b"X-Test-Action: addheader, insheader, chgheader, delheader, foldheader,\r\n"
                    b"  addrcpt, addrcpt_par, delrcpt, replbody, chgfrom\r\n"
                    b"X-Added: yes\r\n"
                    b"X-Folded: first line\r\n\tsecond line\r\n"
                    b"\r\n"
                    b"Replaced body.\r\nSecond line.\r\n")
        self.assertEqual(content, expected)
        self.assertEqual(env["sender"], "new-sender@example.test")
        self.assertEqual(env["ret"], "HDRS")
        self.assertEqual([(r["address"], r["notify"]) for r in rcpts],
                         [("keep@example.test", ""), ("added@example.test", ""),
                          ("added-par@example.test", "NEVER")])
        # The second filter saw the message as the first one left it.
        wait_for(lambda: "close" in self.log2.since_mark(), what="filter 2 close")
        ev2 = self.log2.since_mark()
        self.assertIn("header X-Inserted-First: top", ev2)
        self.assertIn("header X-Folded: first line\\n\tsecond line", ev2)
        self.assertIn("eom body=%d chunks=1" % len(b"Replaced body.\r\nSecond line.\r\n"), ev2)
        self.inst.wait_log("%s: milter %s: EOM: " % (qid, self.f1_spec))

    # -- replies to envelope events

    def test_envelope_replies(self):
        with self.client() as c:
            self.assertEqual(c.mail("mail-reject@example.test"), (550, b"5.7.1 Command rejected"))
            code, text = c.mail("mail-tempfail@example.test")
            self.assertEqual(code, 451)
            code, text = c.mail("mail-replycode@example.test")
            self.assertEqual((code, text), (550, b"5.7.1 Sender refused,\n5.7.1 second line"))
            self.assertEqual(c.mail("sender@example.test")[0], 250)
            self.assertEqual(c.rcpt("rcpt-reject@example.test"), (550, b"5.1.1 No such user here"))
            self.assertEqual(c.rcpt("rcpt-tempfail@example.test")[0], 451)
            self.assertEqual(c.rcpt("ok@example.test")[0], 250)
            c.rset()
            # RSET ends the transaction: the filter hears SMFIC_ABORT.
            wait_for(lambda: "abort" in self.log1.since_mark(), what="abort event")
            self.assertEqual(c.mail("data-reject@example.test")[0], 250)
            self.assertEqual(c.rcpt("ok@example.test")[0], 250)
            self.assertEqual(c.docmd("DATA")[0], 550)
            self.assertEqual(c.noop()[0], 250)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
            self.assertEqual(c.ehlo("helo-reject")[0], 550)
            self.assertEqual(c.ehlo("fine.example.test")[0], 250)
        self.inst.wait_log("milter %s: MAIL: reject: 550 5.7.1 Command rejected" % self.f1_spec)
        self.inst.wait_log("milter %s: RCPT: tempfail" % self.f1_spec)

    def test_mail_accept_and_discard(self):
        msg = b"Subject: token-accept\r\nX-Test-Action: addheader\r\n\r\nbody\r\n"
        self.send("mail-accept@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-accept")
        # Accepted at MAIL: no content events, no edits.
        self.assertEqual(content, received_header(content) + msg)
        ev = self.log1.since_mark()
        self.assertFalse(any(e.startswith(("header", "eom")) for e in ev), ev)
        before = set(queue_files(self.inst))
        self.send("mail-discard@example.test", ["bob@example.test"],
                  b"Subject: token-discard\r\n\r\nbody\r\n")
        self.inst.wait_log("milter-discard")
        self.assertEqual(set(queue_files(self.inst)), before)

    # -- replies at end of message

    def refused(self, action):
        msg = b"Subject: token-%s\r\nX-Test-Action: %s\r\n\r\nbody\r\n" % (
            action.encode(), action.encode())
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send("sender@example.test", ["bob@example.test"], msg)
        return cm.exception.smtp_code, cm.exception.smtp_error

    def test_eom_refusals(self):
        before = set(queue_files(self.inst))
        self.assertEqual(self.refused("reject"), (550, b"5.7.1 Command rejected"))
        self.assertEqual(self.refused("tempfail")[0], 451)
        self.assertEqual(self.refused("replycode"),
                         (554, b"5.7.1 Message refused,\n5.7.1 for a test"))
        self.send("sender@example.test", ["bob@example.test"],
                  b"Subject: token-eomdiscard\r\nX-Test-Action: discard, addheader\r\n\r\nb\r\n")
        self.inst.wait_log("milter-discard: END-OF-MESSAGE")
        self.assertEqual(set(queue_files(self.inst)), before)

    def test_eom_accept_skip_progress(self):
        msg = b"Subject: token-eomaccept\r\nX-Test-Action: accept\r\n\r\nbody\r\n"
        self.send("sender@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-eomaccept")
        self.assertEqual(content, received_header(content) + msg)
        # SKIP after the first body chunk: the filter sees one of two chunks.
        self.log1.set_mark()
        msg = b"Subject: token-skip\r\nX-Test-Action: skip\r\n\r\n" + (b"y" * 998 + b"\r\n") * 100
        self.send("sender@example.test", ["bob@example.test"], msg)
        find_queued(self.inst, "token-skip")
        self.assertIn("eom body=65535 chunks=1", self.log1.since_mark())
        # Progress: the filter takes 3 s with milter_content_timeout = 2s.
        msg = b"Subject: token-progress\r\nX-Test-Action: progress, addheader\r\n\r\nbody\r\n"
        self.send("sender@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-progress")
        self.assertIn(b"X-Added: yes\r\n", content)

    def test_quarantine_goes_to_hold(self):
        msg = b"Subject: token-quarantine\r\nX-Test-Action: quarantine, addheader\r\n\r\nbody\r\n"
        self.send("sender@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-quarantine", subdir="hold")
        self.assertIn(b"X-Added: yes\r\n", content)
        self.assertNotIn(qid, queue_files(self.inst))
        self.inst.wait_log("%s: milter-hold: END-OF-MESSAGE from" % qid)
        self.assertIn("test quarantine reason", self.inst.read_log())
        self.assertEqual(env["hold_reason"], "milter %s: test quarantine reason" % self.f1_spec)
        shown = self.inst.mailctl("queue", "show", qid, check=True).stdout
        self.assertIn("hold_reason: milter %s: test quarantine reason" % self.f1_spec, shown)

    def test_bdat(self):
        msg = b"Subject: token-bdat\r\nX-Test-Action: addheader, chgheader\r\n\r\nchunked\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            f = sock.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if line[3:4] != b"-":
                        return line
            self.assertTrue(reply().startswith(b"220"))
            sock.sendall(b"EHLO client.example.test\r\n")
            reply()
            sock.sendall(b"MAIL FROM:<sender@example.test>\r\nRCPT TO:<bob@example.test>\r\n")
            self.assertTrue(reply().startswith(b"250"))
            self.assertTrue(reply().startswith(b"250"))
            half = len(msg) // 2
            sock.sendall(b"BDAT %d\r\n" % half + msg[:half])
            self.assertTrue(reply().startswith(b"250"))
            sock.sendall(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
            self.assertTrue(reply().startswith(b"250 2.0.0 Ok: queued as"))
            sock.sendall(b"QUIT\r\n")
        qid, env, rcpts, content = find_queued(self.inst, "chunked")
        self.assertEqual(content, received_header(content) +
                         b"Subject: changed subject\r\nX-Test-Action: addheader, chgheader\r\n"
                         b"X-Added: yes\r\n\r\nchunked\r\n")

    def test_protocol_2_filter(self):
        msg = b"Subject: token-v2\r\nX-Test-Action: addheader\r\n\r\nold filter\r\n"
        with smtplib.SMTP("127.0.0.1", self.old_port, timeout=30) as c:
            c.ehlo("client.example.test")
            self.assertEqual(c.docmd("XYZZY")[0], 502)
            c.sendmail("sender@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-v2")
        self.assertEqual(content, received_header(content) + msg.replace(
            b"\r\n\r\n", b"\r\nX-Added: yes\r\n\r\n"))
        wait_for(lambda: "close" in self.log1.since_mark(), what="filter close")
        ev = self.log1.since_mark()
        # Only the version 2 actions are offered (libmilter fills in the steps).
        self.assertTrue(any(e.startswith("negotiate actions=0x1f ") for e in ev), ev)
        # Version 2 has no DATA and no unknown-command events.
        self.assertFalse(any(e == "data" or e.startswith("unknown") for e in ev), ev)
        self.assertIn("eoh", ev)

    # -- pickup

    def test_pickup_runs_non_smtpd_milters(self):
        msg = (b"Subject: token-pickup\nX-Test-Action: addheader, chgfrom, addrcpt\n\n"
               b"local body\n")
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", "local@example.test", "bob@example.test"],
                                input=msg, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        qid, env, rcpts, content = find_queued(self.inst, "token-pickup", timeout=20)
        self.assertEqual(env["sender"], "new-sender@example.test")
        self.assertEqual([r["address"] for r in rcpts], ["bob@example.test", "added@example.test"])
        # sendmail adds From, Date and Message-ID; the filter's header comes last.
        self.assertTrue(content.startswith(
            received_header(content) +
            b"Subject: token-pickup\r\nX-Test-Action: addheader, chgfrom, addrcpt\r\n"),
            content)
        self.assertTrue(content.endswith(b"\r\nX-Added: yes\r\n\r\nlocal body\r\n"), content)
        self.assertEqual(content.count(b"X-Added"), 1)
        ev = self.log1.since_mark()
        self.assertIn("envfrom <local@example.test>", ev)
        self.assertIn("connect macro {client_addr}=127.0.0.1", ev)
        self.assertIn("envfrom macro {mail_mailer}=smtp", ev)
        self.assertIn("envfrom macro {mail_host}=example.test", ev)
        self.assertEqual(self.rcpt_macros(ev)["<bob@example.test>"], {
            "{rcpt_addr}": "bob@example.test", "{rcpt_mailer}": "smtp",
            "{rcpt_host}": "example.test"})

    def test_pickup_reject_and_quarantine(self):
        for action in ("quarantine", "reject", "discard"):
            msg = b"Subject: token-p%s\nX-Test-Action: %s\n\nbody\n" % (
                action.encode(), action.encode())
            result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                     "-f", "local@example.test", "bob@example.test"],
                                    input=msg, capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
        find_queued(self.inst, "token-pquarantine", subdir="hold", timeout=20)
        self.inst.wait_log("milter-reject", timeout=20)
        self.inst.wait_log("milter-discard", timeout=20)
        # A rejected local message is returned to its sender.
        qid, env, rcpts, content = find_queued(self.inst, "token-preject", timeout=20)
        self.assertEqual(env["sender"], "")
        self.assertEqual([r["address"] for r in rcpts], ["local@example.test"])
        self.assertIn(b"Undelivered Mail Returned to Sender", content)
        maildrop = os.path.join(self.inst.spool, "maildrop")
        wait_for(lambda: not os.listdir(maildrop), what="maildrop empty")

    def test_pickup_reject_respects_notify_never(self):
        msg = b"Subject: token-pnever\nX-Test-Action: reject\n\nbody\n"
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-N", "never", "-f", "local@example.test",
                                 "never-told@example.test"],
                                input=msg, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.inst.wait_log("to=<never-told@example.test>, status=bounced (rejected by a mail "
                           "filter:", timeout=20)
        maildrop = os.path.join(self.inst.spool, "maildrop")
        wait_for(lambda: not os.listdir(maildrop), what="maildrop empty")
        # NOTIFY=NEVER: nothing goes back to the sender.
        self.assertFalse([qid for qid, (env, rcpts, content) in queue_files(self.inst).items()
                          if b"token-pnever" in content])

    def test_pickup_header_checks_before_the_filter(self):
        for subject in ("token-pcheck", "token-pcheck-hold"):
            msg = b"Subject: %s\nX-Pickup-Check: yes\n\nbody\n" % subject.encode()
            result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                     "-f", "local@example.test", "bob@example.test"],
                                    input=msg, capture_output=True, timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
        qid, env, rcpts, content = find_queued(self.inst, "token-pcheck\r", timeout=20)
        self.assertIn(b"\r\nX-Pickup-Checked: yes\r\n", content)
        self.assertNotIn(b"X-Pickup-Check:", content)
        # The filter saw the edited message.
        ev = self.log1.since_mark()
        self.assertIn("header X-Pickup-Checked: yes", ev)
        self.assertNotIn("header X-Pickup-Check: yes", ev)
        # A HOLD stays a hold when the filter lets the message through.
        qid, env, rcpts, content = find_queued(self.inst, "token-pcheck-hold", subdir="hold",
                                               timeout=20)
        self.assertEqual(env["hold_reason"], "header Subject: token-pcheck-hold: checked")

    def test_header_checks_redirect_and_bcc_with_filters(self):
        """With milters the message is held in memory until they are done:
        header_checks' REDIRECT and BCC reach the envelope written then."""
        self.assertEqual(self.send("alice@example.test", ["bob@example.test"],
                                   b"Subject: token-mredirect\r\n\r\nbody\r\n"), {})
        self.assertEqual(self.send("alice@example.test", ["bob@example.test"],
                                   b"Subject: token-mbcc\r\n\r\nbody\r\n"), {})
        _, _, rcpts, _ = find_queued(self.inst, "token-mredirect", timeout=20)
        self.assertEqual([r["address"] for r in rcpts], ["quarantine@example.test"])
        _, _, rcpts, _ = find_queued(self.inst, "token-mbcc", timeout=20)
        self.assertEqual([(r["address"], r.get("notify", "")) for r in rcpts],
                         [("bob@example.test", ""), ("archive@example.test", "NEVER")])

    def test_pickup_refused_recipient_is_returned(self):
        msg = b"Subject: token-prcpt\nX-Test-Action: addheader\n\nbody\n"
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", "local@example.test", "bob@example.test",
                                 "rcpt-reject@example.test"],
                                input=msg, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)

        def both():
            found = {}
            for qid, (env, rcpts, content) in queue_files(self.inst).items():
                if b"token-prcpt" in content:
                    found[env["sender"]] = (env, rcpts, content)
            return found if len(found) == 2 else None
        found = wait_for(both, timeout=20, what="message and notification")
        env, rcpts, content = found["local@example.test"]
        self.assertEqual([r["address"] for r in rcpts], ["bob@example.test"])
        self.assertIn(b"X-Added: yes\r\n", content)
        env, rcpts, notice = found[""]
        self.assertEqual([r["address"] for r in rcpts], ["local@example.test"])
        self.assertIn(b"Final-Recipient: rfc822; rcpt-reject@example.test", notice)
        self.assertIn(b"Status: 5.1.1", notice)
        self.assertNotIn(b"Final-Recipient: rfc822; bob@example.test", notice)


class CheckTest(unittest.TestCase):
    def test_mailctl_check_names_a_bad_milter_list(self):
        inst = Instance(params={"smtpd_milters": "{ inet:127.0.0.1:1, colour=red }",
                                "non_smtpd_milters": "tcp:nowhere"})
        self.addCleanup(inst.cleanup)
        result = inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("smtpd_milters: unknown milter setting", result.stdout)
        self.assertIn("non_smtpd_milters: bad milter address", result.stdout)
        self.assertIn("main.conf:", result.stdout)


# -- faulty filters


class FaultFilter(threading.Thread):
    """A milter written by hand. mode 'silent': accepts and never answers.
    mode 'scripted': negotiates, then misbehaves as the sender asks:
    garbage@ (garbage for MAIL), close-body@ (closes at the first body
    chunk), hang-body@ (never answers the body)."""

    def __init__(self, mode):
        super().__init__(daemon=True)
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.spec = "inet:127.0.0.1:%d" % self.port
        self.conns = []

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "scripted":
                threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        buf = b""
        sender = ""

        def reply(cmd, data=b""):
            conn.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
        try:
            while True:
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                n = struct.unpack(">I", buf[:4])[0]
                cmd, data, buf = buf[4:5], buf[5:4 + n], buf[4 + n:]
                if cmd == b"O":
                    reply(b"O", struct.pack(">III", 6, 0, 0))
                elif cmd == b"M":
                    sender = data.split(b"\0")[0].decode()
                    if sender.startswith("<garbage@"):
                        conn.sendall(b"\xff\xff\xff\xffthis is not milter")
                        continue
                    reply(b"c")
                elif cmd == b"B":
                    if sender.startswith("<close-body@"):
                        conn.close()
                        return
                    if sender.startswith("<hang-body@"):
                        continue
                    reply(b"c")
                elif cmd in (b"D", b"A"):
                    continue
                elif cmd == b"Q":
                    conn.close()
                    return
                else:
                    reply(b"c")
        except OSError:
            return

    def stop(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scripted = FaultFilter("scripted")
        cls.silent = FaultFilter("silent")
        cls.scripted.start()
        cls.silent.start()
        dead = free_port()
        cls.p_tempfail, cls.p_accept, cls.p_silent, cls.p_dead = (
            free_port(), free_port(), free_port(), free_port())
        svc = "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters=%s -o milter_default_action=%s"
        cls.inst = Instance(params={
            "mydestination": "mx.example.test, localhost",
            "relay_domains": "example.test",
            "smtpd_error_sleep_time": "0s",
            "milter_command_timeout": "2s",
            "milter_content_timeout": "2s",
            "milter_connect_timeout": "2s",
        }, services=[
            svc % (cls.p_tempfail, cls.scripted.spec, "tempfail"),
            svc % (cls.p_accept, cls.scripted.spec, "accept"),
            svc % (cls.p_silent, cls.silent.spec, "tempfail"),
            svc % (cls.p_dead, "inet:127.0.0.1:%d" % dead, "reject"),
            PICKUP,
        ])
        cls.inst.params["non_smtpd_milters"] = "inet:127.0.0.1:%d" % dead
        cls.inst.write_config()
        cls.inst.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            cls.scripted.stop()
            cls.silent.stop()

    def session(self, port):
        c = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=30)
        c.ehlo()
        return c

    def test_silent_filter_times_out_to_default(self):
        start = time.time()
        with self.session(self.p_silent) as c:
            code, text = c.mail("sender@example.test")
            self.assertEqual(code, 451)
            self.assertEqual(c.noop()[0], 250)
        self.assertLess(time.time() - start, 15)
        self.inst.wait_log("milter %s: negotiation: timeout; default action tempfail"
                           % self.silent.spec)

    def test_unreachable_filter_rejects_by_default_action(self):
        with self.session(self.p_dead) as c:
            self.assertEqual(c.mail("sender@example.test")[0], 550)
            self.assertEqual(c.noop()[0], 250)
        self.inst.wait_log("connect: ")

    def test_garbage_reply(self):
        with self.session(self.p_tempfail) as c:
            self.assertEqual(c.mail("garbage@example.test")[0], 451)
            self.assertEqual(c.noop()[0], 250)
        self.inst.wait_log("milter %s: MAIL: packet too large; default action tempfail"
                           % self.scripted.spec)

    def test_close_mid_body(self):
        msg = b"Subject: token-close\r\n\r\n" + b"z" * 1000 + b"\r\n"
        with self.session(self.p_tempfail) as c:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                c.sendmail("close-body@example.test", ["bob@example.test"], msg)
            self.assertEqual(cm.exception.smtp_code, 451)
            self.assertEqual(c.rset()[0], 250)
            # The filter is gone for this session: its default action stays.
            self.assertEqual(c.mail("sender@example.test")[0], 451)
        self.inst.wait_log("BODY: connection closed by the filter")
        # With default_action=accept the same message is queued intact.
        with self.session(self.p_accept) as c:
            c.sendmail("close-body@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-close")
        self.assertEqual(content, received_header(content) + msg)

    def test_pickup_keeps_mail_while_the_filter_is_down(self):
        msg = b"Subject: token-waiting\n\nqueued once the filter is back\n"
        result = subprocess.run([self.inst.program("sendmail"), "-C", self.inst.etc,
                                 "-f", "local@example.test", "bob@example.test"],
                                input=msg, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.inst.wait_log("the message stays in maildrop/", timeout=20)
        maildrop = os.path.join(self.inst.spool, "maildrop")
        self.assertEqual(len(os.listdir(maildrop)), 1)
        # The admin takes the filter out: the message goes on, unchanged.
        self.inst.reload(params={"non_smtpd_milters": ""})
        qid, env, rcpts, content = find_queued(self.inst, "token-waiting", timeout=90)
        self.assertTrue(content.endswith(b"\r\n\r\nqueued once the filter is back\r\n"))
        # pickup removes the drop file just after the queue file is committed
        wait_for(lambda: os.listdir(maildrop) == [], timeout=10, what="an empty maildrop/")

    def test_hang_mid_body(self):
        msg = b"Subject: token-hang\r\n\r\nbody\r\n"
        start = time.time()
        with self.session(self.p_tempfail) as c:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                c.sendmail("hang-body@example.test", ["bob@example.test"], msg)
            self.assertEqual(cm.exception.smtp_code, 451)
            self.assertEqual(c.noop()[0], 250)
        self.assertLess(time.time() - start, 15)
        self.inst.wait_log("BODY: timeout; default action tempfail")
        with self.session(self.p_accept) as c:
            c.sendmail("hang-body@example.test", ["bob@example.test"], msg)
        qid, env, rcpts, content = find_queued(self.inst, "token-hang")
        self.assertEqual(content, received_header(content) + msg)


if __name__ == "__main__":
    unittest.main()
