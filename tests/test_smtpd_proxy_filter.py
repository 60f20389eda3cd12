"""smtpd_proxy_filter: Postfix's before-queue content filter
(SMTPD_PROXY_README).

A proxying smtpd queues nothing: it passes each transaction, live, to a
filter's SMTP server. The filter here is a Python thread that records
what it gets (commands, XFORWARD, the content with smtpd's Received
header, as sent: dot-stuffed) and either refuses (550 at RCPT; 554, 451
or a multi-line 550 at the end of data; it can also hang or answer
garbage) or passes the message with smtplib to a second smtpd (no proxy
filter there, XFORWARD allowed from 127.0.0.0/8) and answers with that
smtpd's reply, verbatim, as amavis does.

Checked: the client's final reply is the second smtpd's "250 2.0.0 Ok:
queued as ID" and the mail is queued exactly once, by the second smtpd,
with the client's own address (127.0.0.5) from XFORWARD in its envelope
and log; the filter's refusals reach the client with their code and text
and nothing is queued; a filter that is down, hangs or answers garbage
gives 451 4.3.0 and nothing is queued; header_checks refuse before the
filter, which then never sees the end of the message; with speed_adjust
the filter sees nothing until the client's end of data; BDAT and
pipelining from the client; the proxying smtpd never writes to incoming/.
No qmgr runs, so queued mail stays in incoming/ to be counted and read."""
import os
import re
import smtplib
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import queued_messages, read_queue_file  # noqa: E402
from mail_peers import ScriptedServer  # noqa: E402
from postern_test import InstanceTestCase, LineClient, free_port, wait_for  # noqa: E402

FILTER_EHLO = ["filter.test", "PIPELINING", "SIZE 10240000", "8BITMIME", "DSN",
               "XFORWARD NAME ADDR PROTO HELO IDENT SOURCE PORT LOGIN",
               "ENHANCEDSTATUSCODES"]


class ProxyFilter:
    """A before-queue filter. Each connection is recorded as a dict:
    opened (time), ehlo, xforward (lines), commands, data (the content's
    lines as received, dot-stuffed), ended (whether "." came), reply
    (what it answered to the end of data)."""

    def __init__(self, port, back_port, unix_path=None):
        self.back_port = back_port
        self.lock = threading.Lock()
        self.sessions = []
        self.server = (UnixServer(unix_path, self._session) if unix_path else
                       ScriptedServer("127.0.0.1", port, self._session))

    def _session(self, peer, n):
        rec = {"opened": time.monotonic(), "ehlo": None, "xforward": [], "commands": [],
               "data": [], "ended": False, "reply": None}
        with self.lock:
            self.sessions.append(rec)
        peer.send("220 filter.test ESMTP before-queue filter\r\n")
        sender, rcpts = None, []
        while True:
            cmd = peer.line()
            with self.lock:
                rec["commands"].append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                rec["ehlo"] = cmd[5:]
                peer.send("".join("250-%s\r\n" % l for l in FILTER_EHLO[:-1]) +
                          "250 %s\r\n" % FILTER_EHLO[-1])
            elif verb == "XFORWARD":
                rec["xforward"].append(cmd[9:])
                peer.send("250 2.0.0 Ok\r\n")
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                peer.send("250 2.1.0 filter: sender ok\r\n")
            elif verb == "RCPT":
                rcpt = cmd[8:].split(">")[0].lstrip("<")
                if rcpt.startswith("reject-rcpt@"):
                    peer.send("550 5.1.1 <%s>: filter says no such user\r\n" % rcpt)
                else:
                    rcpts.append(rcpt)
                    peer.send("250 2.1.5 filter: recipient ok\r\n")
            elif verb == "DATA":
                peer.send("354 filter: go ahead\r\n")
                while True:
                    line = peer.line()
                    if line == ".":
                        break
                    with self.lock:
                        rec["data"].append(line)
                with self.lock:
                    rec["ended"] = True
                reply = self._verdict(rec, sender, rcpts)
                with self.lock:
                    rec["reply"] = reply
                if reply is None:
                    return
                peer.send(reply)
            elif verb == "RSET":
                peer.send("250 2.0.0 Ok\r\n")
            elif verb == "QUIT":
                peer.send("221 2.0.0 Bye\r\n")
                return
            else:
                peer.send("502 5.5.2 filter: command not recognized\r\n")

    def _verdict(self, rec, sender, rcpts):
        """The reply to the end of data, with CRLF (None: close)."""
        content = "\r\n".join(l[1:] if l.startswith(".") else l for l in rec["data"]) + "\r\n"
        if "REJECT-EOD" in content:
            return "554 5.7.1 filter: spam detected\r\n"
        if "TEMPFAIL-EOD" in content:
            return "451 4.7.1 filter: try again later\r\n"
        if "MULTI-EOD" in content:
            return "550-5.7.1 filter: first line\r\n550 5.7.1 filter: second line\r\n"
        if "GARBAGE-EOD" in content:
            return "hello there\r\n"
        if "HANG-EOD" in content:
            time.sleep(6)
            return None
        try:
            with smtplib.SMTP("127.0.0.1", self.back_port, timeout=20) as c:
                c.ehlo("filter.localhost")
                for attrs in rec["xforward"]:
                    code, msg = c.docmd("XFORWARD", attrs)
                    if code != 250:
                        return "451 4.3.0 filter: XFORWARD failed: %d\r\n" % code
                c.mail(sender)
                for r in rcpts:
                    c.rcpt(r)
                code, msg = c.data(content.encode("latin-1"))
                return "%d %s\r\n" % (code, msg.decode())
        except smtplib.SMTPResponseException as e:
            return "%d %s\r\n" % (e.smtp_code, e.smtp_error.decode())
        except (smtplib.SMTPException, OSError) as e:
            return "451 4.3.0 filter: re-injection failed: %s\r\n" % str(e)[:80]

    def all(self):
        with self.lock:
            return [dict(r) for r in self.sessions]

    def stop(self):
        self.server.stop()


class UnixServer(ScriptedServer):
    """ScriptedServer's loop on a UNIX-domain socket at path."""

    def __init__(self, path, handler):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)  # smtpd runs as postern when the tests run as root
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.handler = handler
        self.connections = 0
        self.transcript = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()


class Client(LineClient):
    """A raw SMTP client from 127.0.0.5."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.bind(("127.0.0.5", 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.reply()

    def reply(self):
        lines = [self.readline()]
        while lines[-1][3:4] == "-":
            lines.append(self.readline())
        return lines

    def cmd(self, text):
        self.send(text)
        return self.reply()


class ProxyFilterTest(InstanceTestCase):
    def setUp(self):
        (self.live, self.speed, self.down, self.down_speed, self.short, self.back,
         self.filter_port, self.unused, self.unix, self.live_milter,
         self.speed_milter) = [free_port() for _ in range(11)]
        proxy = "smtpd -o smtpd_proxy_filter=127.0.0.1:%d" % self.filter_port
        self.inst = self.instance(params={
            "mydestination": "mx.example.test",
            "virtual_mailbox_domains": "example.test",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
        }, services=[
            "127.0.0.1:%d inet n - n - - %s -o header_checks=regexp:${config_directory}/hc"
            % (self.live, proxy),
            "127.0.0.1:%d inet n - n - - %s -o smtpd_proxy_options=speed_adjust"
            % (self.speed, proxy),
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_proxy_filter=127.0.0.1:%d"
            % (self.down, self.unused),
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_proxy_filter=inet:127.0.0.1:%d "
            "-o smtpd_proxy_options=speed_adjust" % (self.down_speed, self.unused),
            "127.0.0.1:%d inet n - n - - %s -o smtpd_proxy_timeout=2s"
            % (self.short, proxy),
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_proxy_filter=unix:private/filter "
            "-o smtpd_proxy_ehlo=proxy.example.test" % self.unix,
            "127.0.0.1:%d inet n - n - - %s -o smtpd_milters=unix:${queue_directory}/../milter"
            % (self.live_milter, proxy),
            "127.0.0.1:%d inet n - n - - %s -o smtpd_milters=unix:${queue_directory}/../milter "
            "-o smtpd_proxy_options=speed_adjust" % (self.speed_milter, proxy),
            # Behind the filter: it queues, and takes XFORWARD from it.
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_authorized_xforward_hosts=127.0.0.0/8"
            % self.back,
        ], start=False)
        with open(os.path.join(self.inst.etc, "hc"), "w") as f:
            f.write("/^Subject:.*BLOCKME/ REJECT header says no\n")
        self.inst.add_vmail(["user@example.test", "other@example.test"])
        self.inst.start()
        self.filter = ProxyFilter(self.filter_port, self.back)
        self.addCleanup(self.filter.stop)

    def client(self, port):
        c = Client(port)
        self.addCleanup(c.close)
        return c

    def incoming(self):
        return queued_messages(os.path.join(self.inst.spool, "incoming"))

    def queued(self):
        """[(id, envelope, recipients, content)] of the queue files."""
        out = []
        for qid in self.incoming():
            env, rcpts, content = read_queue_file(
                os.path.join(self.inst.spool, "incoming", qid))
            out.append((qid, env, rcpts, content))
        return out

    def send(self, port, rcpts, subject, body="Hello.\r\n", sender="sender@outside.test"):
        """A message by smtplib from 127.0.0.5: the reply to the end of
        data as (code, text), or the refusal of the whole message."""
        msg = "From: <%s>\r\nSubject: %s\r\n\r\n%s" % (sender, subject, body)
        with smtplib.SMTP("127.0.0.1", port, timeout=30,
                          source_address=("127.0.0.5", 0)) as c:
            c.ehlo("client.example.test")
            c.mail(sender)
            for r in rcpts:
                c.rcpt(r)
            try:
                code, text = c.data(msg.encode())
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            return code, text.decode()

    def test_relayed_and_queued_once_by_the_second_smtpd(self):
        code, text = self.send(self.live, ["user@example.test", "other@example.test"],
                               "through the proxy", body="Hello.\r\n.leading dot\r\n")
        self.assertEqual(250, code, text)
        m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9A-F]+)", text)
        self.assertTrue(m, text)
        qid = m.group(1)
        # Exactly one queue file, the second smtpd's.
        files = self.queued()
        self.assertEqual([qid], [f[0] for f in files])
        _, env, rcpts, content = files[0]
        self.assertEqual(["other@example.test", "user@example.test"],
                         sorted(r["address"] for r in rcpts))
        # The client's own address and HELO, from XFORWARD.
        self.assertEqual(("127.0.0.5", "client.example.test", "ESMTP"),
                         (env["client_addr"], env["helo"], env["protocol"]))
        # The content: the proxying smtpd's Received header (naming the
        # client) under the second smtpd's (naming the filter), and the
        # line with a leading dot unstuffed again.
        head = content.split(b"\r\n\r\n")[0].decode()
        received = re.findall(r"^Received: from (\S+) \(unknown \[([0-9.]+)\]\)", head, re.M)
        self.assertEqual([("filter.localhost", "127.0.0.1"),
                          ("client.example.test", "127.0.0.5")], received)
        self.assertIn(b"\r\n.leading dot\r\n", content)
        # What the filter got.
        [s] = self.filter.all()
        self.assertEqual("mx.example.test", s["ehlo"])
        xforward = " ".join(s["xforward"])
        for attr in ("NAME=unknown", "ADDR=127.0.0.5", "PROTO=ESMTP",
                     "HELO=client.example.test", "SOURCE=REMOTE"):
            self.assertIn(attr, xforward)
        pid = re.search(r"IDENT=([0-9A-F]+)", xforward).group(1)
        wait_for(lambda: "QUIT" in self.filter.all()[0]["commands"], what="QUIT")
        [s] = self.filter.all()
        verbs = [c.split(" ")[0].split(":")[0].upper() for c in s["commands"]]
        self.assertEqual(["EHLO"] + ["XFORWARD"] * len(s["xforward"]) +
                         ["MAIL", "RCPT", "RCPT", "DATA", "QUIT"], verbs)
        self.assertTrue(s["commands"][1 + len(s["xforward"])].startswith(
            "MAIL FROM:<sender@outside.test>"), s["commands"])
        self.assertIn("..leading dot", s["data"])
        self.assertTrue(s["data"][0].startswith("Received: from client.example.test "
                                                "(unknown [127.0.0.5])"), s["data"][:2])
        self.assertTrue([l for l in s["data"]
                         if l.startswith("\tby mx.example.test (Postern) with ESMTP id %s;" % pid)],
                        s["data"][:3])
        # The log: the proxying smtpd's line for the message, the second
        # smtpd's with the original client.
        self.inst.wait_log("(proxied to 127.0.0.1:%d, queued as %s)" % (self.filter_port, qid))
        log = self.inst.read_log()
        self.assertRegex(log, r"%s: from=<sender@outside\.test>, size=\d+, nrcpt=2 "
                         r"\(proxied to 127\.0\.0\.1:%d, queued as %s\)"
                         % (pid, self.filter_port, qid))
        self.assertRegex(log, r"%s: client=unknown\[127\.0\.0\.1\], orig_queue_id=%s, "
                         r"orig_client=unknown\[127\.0\.0\.5\]" % (qid, pid))
        self.assertNotRegex(log, r"%s: from=.*\(queued" % pid)

    def test_content_streams_live(self):
        c = self.client(self.live)
        c.cmd("EHLO client.example.test")
        self.assertEqual(["250 2.1.0 filter: sender ok"], c.cmd("MAIL FROM:<s@outside.test>"))
        # The filter has the transaction as it goes.
        [s] = self.filter.all()
        self.assertTrue(s["commands"][-1].startswith("MAIL FROM:<s@outside.test>"))
        self.assertEqual(["250 2.1.5 filter: recipient ok"],
                         c.cmd("RCPT TO:<user@example.test>"))
        self.assertEqual(["354 End data with <CR><LF>.<CR><LF>"], c.cmd("DATA"))
        self.assertEqual("DATA", self.filter.all()[0]["commands"][-1])
        c.sock.sendall(b"Subject: live\r\n\r\n" + b"x" * 70 + b"\r\n" +
                       b"0123456789" * 7 * 1000 + b"\r\n")
        wait_for(lambda: len(self.filter.all()[0]["data"]) >= 3, timeout=10,
                 what="content at the filter before the end of data")
        self.assertFalse(self.filter.all()[0]["ended"])
        reply = c.cmd(".")
        self.assertRegex(reply[-1], r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        self.assertEqual(1, len(self.incoming()))

    def test_filter_refuses_a_recipient(self):
        c = self.client(self.live)
        c.cmd("EHLO client.example.test")
        c.cmd("MAIL FROM:<s@outside.test>")
        self.assertEqual(["550 5.1.1 <reject-rcpt@outside.test>: filter says no such user"],
                         c.cmd("RCPT TO:<reject-rcpt@outside.test>"))
        self.assertEqual(["250 2.1.5 filter: recipient ok"],
                         c.cmd("RCPT TO:<user@example.test>"))
        c.cmd("DATA")
        reply = c.cmd("Subject: one of two\r\n\r\nx\r\n.")
        self.assertRegex(reply[-1], r"^250 2\.0\.0 Ok: queued as ")
        [(_, _, rcpts, _)] = self.queued()
        self.assertEqual(["user@example.test"], [r["address"] for r in rcpts])
        self.inst.wait_log("proxy-reject: RCPT from unknown[127.0.0.5]: 550 5.1.1 "
                           "<reject-rcpt@outside.test>: filter says no such user; "
                           "from=<s@outside.test> to=<reject-rcpt@outside.test>")

    def test_filter_refuses_at_end_of_data(self):
        cases = [("REJECT-EOD", 554, "5.7.1 filter: spam detected"),
                 ("TEMPFAIL-EOD", 451, "4.7.1 filter: try again later")]
        for port in (self.live, self.speed):
            for token, want_code, want_text in cases:
                code, text = self.send(port, ["user@example.test"], token)
                self.assertEqual((want_code, want_text), (code, text), (port, token))
                self.inst.wait_log("proxy-reject: END-OF-MESSAGE from unknown[127.0.0.5]: "
                                   "%d %s; from=<sender@outside.test> to=<user@example.test>"
                                   % (want_code, want_text))
        self.assertEqual([], self.incoming())
        # A multi-line reply is passed on line by line.
        c = self.client(self.live)
        c.cmd("EHLO client.example.test")
        c.cmd("MAIL FROM:<s@outside.test>")
        c.cmd("RCPT TO:<user@example.test>")
        c.cmd("DATA")
        self.assertEqual(["550-5.7.1 filter: first line", "550 5.7.1 filter: second line"],
                         c.cmd("Subject: MULTI-EOD\r\n\r\nx\r\n."))
        self.assertEqual([], self.incoming())

    def test_filter_down(self):
        # Live: MAIL FROM is answered 451.
        c = self.client(self.down)
        c.cmd("EHLO client.example.test")
        self.assertEqual(["451 4.3.0 Error: queue file write error"],
                         c.cmd("MAIL FROM:<s@outside.test>"))
        self.assertEqual(["503 5.5.1 Error: need MAIL command"],
                         c.cmd("RCPT TO:<user@example.test>"))
        # speed_adjust: the end of data is.
        code, text = self.send(self.down_speed, ["user@example.test"], "nowhere")
        self.assertEqual((451, "4.3.0 Error: queue file write error"), (code, text))
        log = self.inst.read_log()
        self.assertRegex(log, r"warning: [0-9A-F]+: proxy filter 127\.0\.0\.1:%d for "
                         r"unknown\[127\.0\.0\.5\]: cannot connect" % self.unused)
        self.assertIn("proxy-reject: MAIL from unknown[127.0.0.5]: 451 4.3.0 Error: queue file "
                      "write error; from=<s@outside.test>", log)
        self.assertIn("proxy-reject: END-OF-MESSAGE from unknown[127.0.0.5]: 451 4.3.0 Error: "
                      "queue file write error", log)
        self.assertEqual([], self.incoming())

    def test_filter_hangs_or_answers_garbage(self):
        started = time.monotonic()
        code, text = self.send(self.short, ["user@example.test"], "HANG-EOD")
        self.assertEqual((451, "4.3.0 Error: queue file write error"), (code, text))
        self.assertLess(time.monotonic() - started, 5.5)
        code, text = self.send(self.short, ["user@example.test"], "GARBAGE-EOD")
        self.assertEqual((451, "4.3.0 Error: queue file write error"), (code, text))
        log = self.inst.read_log()
        self.assertRegex(log, r"proxy filter 127\.0\.0\.1:%d for unknown\[127\.0\.0\.5\]: "
                         r"timeout while receiving the reply to the end of the message"
                         % self.filter_port)
        self.assertRegex(log, r"proxy filter 127\.0\.0\.1:%d for unknown\[127\.0\.0\.5\]: "
                         r"malformed reply line while receiving the reply to the end of the "
                         r"message: \"hello there\"" % self.filter_port)
        self.assertEqual([], self.incoming())

    def test_header_checks_refuse_before_the_filter(self):
        code, text = self.send(self.live, ["user@example.test"], "BLOCKME please")
        self.assertEqual((550, "5.7.1 header says no"), (code, text))
        # The filter got the transaction, but never its end: it drops it.
        wait_for(lambda: self.filter.all(), what="the filter's session")
        time.sleep(0.3)
        [s] = self.filter.all()
        self.assertEqual("DATA", s["commands"][-1])
        self.assertFalse(s["ended"])
        self.assertEqual([], self.incoming())

    def test_unix_socket_under_the_queue_directory(self):
        f = ProxyFilter(None, self.back,
                        unix_path=os.path.join(self.inst.spool, "private", "filter"))
        self.addCleanup(f.stop)
        code, text = self.send(self.unix, ["user@example.test"], "by a UNIX socket")
        self.assertEqual(250, code, text)
        [s] = f.all()
        self.assertEqual("proxy.example.test", s["ehlo"])
        [(qid, _, _, _)] = self.queued()
        self.assertEqual("2.0.0 Ok: queued as " + qid, text)

    def test_milters_edit_before_the_filter(self):
        prog = os.path.join(os.path.abspath(os.environ.get("POSTERN_BIN", "")), "milter_test")
        if not os.path.exists(prog):
            self.skipTest("tests/milter_test is not built")
        sock = os.path.join(self.inst.base, "milter")
        proc = subprocess.Popen([prog, "-s", "unix:" + sock,
                                 "-l", os.path.join(self.inst.base, "milter.events")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.umask(0))
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.kill)
        wait_for(lambda: os.path.exists(sock), what="the milter's socket")
        body = "X-Test-Action: addheader, chgheader, addrcpt\r\n\r\nbody\r\n"
        for n, port in enumerate((self.live_milter, self.speed_milter)):
            msg = "Subject: milter %d\r\n%s" % (n, body)
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
                c.ehlo("client.example.test")
                c.mail("sender@outside.test")
                c.rcpt("user@example.test")
                code, text = c.data(msg.encode())
            self.assertEqual(250, code, text)
            s = self.filter.all()[n]
            # The milter's header edits are in what the filter got.
            self.assertIn("X-Added: yes", s["data"])
            self.assertIn("Subject: changed subject", s["data"])
            rcpts = [x for x in s["commands"] if x.startswith("RCPT")]
            if port == self.speed_milter:
                # With speed_adjust the envelope goes last: the milter's
                # recipient goes too.
                self.assertEqual(2, len(rcpts), rcpts)
            else:
                self.assertEqual(1, len(rcpts), rcpts)
                self.inst.wait_log("a milter changed the envelope after it went to proxy "
                                   "filter")
        self.assertEqual(2, len(self.incoming()))

    def test_speed_adjust_waits_for_the_end_of_data(self):
        c = self.client(self.speed)
        c.cmd("EHLO client.example.test")
        # smtpd answers the envelope itself.
        self.assertEqual(["250 2.1.0 Ok"], c.cmd("MAIL FROM:<s@outside.test>"))
        self.assertEqual(["250 2.1.5 Ok"], c.cmd("RCPT TO:<user@example.test>"))
        self.assertEqual(["250 2.1.5 Ok"], c.cmd("RCPT TO:<other@example.test>"))
        self.assertEqual(["354 End data with <CR><LF>.<CR><LF>"], c.cmd("DATA"))
        c.sock.sendall(b"Subject: slow client\r\n\r\n" + b"0123456789" * 7 * 1000 + b"\r\n")
        time.sleep(1.0)
        self.assertEqual([], self.filter.all())
        self.assertEqual(0, self.filter.server.connections)
        reply = c.cmd(".")
        self.assertRegex(reply[-1], r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        wait_for(lambda: "QUIT" in self.filter.all()[0]["commands"], what="QUIT")
        [s] = self.filter.all()
        verbs = [x.split(" ")[0].split(":")[0].upper() for x in s["commands"]]
        self.assertEqual(["EHLO"] + ["XFORWARD"] * len(s["xforward"]) +
                         ["MAIL", "RCPT", "RCPT", "DATA", "QUIT"], verbs)
        self.assertIn("SIZE=", s["commands"][1 + len(s["xforward"])])
        self.assertTrue(s["ended"])
        [(qid, env, rcpts, content)] = self.queued()
        self.assertEqual(reply[-1].split()[-1], qid)
        self.assertEqual("127.0.0.5", env["client_addr"])
        self.assertEqual(2, len(rcpts))
        self.assertIn(b"Subject: slow client", content)
        # A refused recipient refuses the message there.
        code, text = self.send(self.speed, ["user@example.test", "reject-rcpt@outside.test"],
                               "one bad recipient")
        self.assertEqual((550, "5.1.1 <reject-rcpt@outside.test>: filter says no such user"),
                         (code, text))
        self.assertEqual(1, len(self.incoming()))

    def test_bdat_and_pipelining(self):
        c = self.client(self.live)
        ehlo = c.cmd("EHLO client.example.test")
        self.assertIn("250 CHUNKING", ehlo)
        c.sock.sendall(b"MAIL FROM:<s@outside.test>\r\nRCPT TO:<user@example.test>\r\n"
                       b"RCPT TO:<reject-rcpt@outside.test>\r\nRCPT TO:<other@example.test>\r\n")
        self.assertEqual(["250 2.1.0 filter: sender ok"], c.reply())
        self.assertEqual(["250 2.1.5 filter: recipient ok"], c.reply())
        self.assertEqual(["550 5.1.1 <reject-rcpt@outside.test>: filter says no such user"],
                         c.reply())
        self.assertEqual(["250 2.1.5 filter: recipient ok"], c.reply())
        first = b"Subject: in chunks\r\n\r\n.dot line\r\n"
        last = b"end of chunks\r\n"
        c.sock.sendall(b"BDAT %d\r\n" % len(first) + first)
        self.assertEqual(["250 2.0.0 Ok: %d octets received" % len(first)], c.reply())
        c.sock.sendall(b"BDAT %d LAST\r\n" % len(last) + last)
        reply = c.reply()
        self.assertRegex(reply[-1], r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$")
        [s] = self.filter.all()
        self.assertIn("DATA", s["commands"])
        self.assertIn("..dot line", s["data"])
        [(_, _, rcpts, content)] = self.queued()
        self.assertEqual(["other@example.test", "user@example.test"],
                         sorted(r["address"] for r in rcpts))
        self.assertIn(b"\r\n.dot line\r\nend of chunks\r\n", content)
        # A second transaction in the same session gets a connection of its own.
        reply = c.cmd("MAIL FROM:<t@outside.test>")
        self.assertEqual(["250 2.1.0 filter: sender ok"], reply)
        c.cmd("RCPT TO:<user@example.test>")
        c.cmd("DATA")
        self.assertRegex(c.cmd("Subject: second\r\n\r\nx\r\n.")[-1], r"^250 2\.0\.0 Ok: queued")
        self.assertEqual(2, len(self.filter.all()))
        self.assertEqual(2, len(self.incoming()))
        self.assertEqual(["221 2.0.0 Bye"], c.cmd("QUIT"))


if __name__ == "__main__":
    unittest.main()
