"""Remote delivery: Postern's smtp client against another Postern instance
and against scripted servers, routed through a local unbound serving test
zones: MX preference and fallback, A-only domains, null MX, NXDOMAIN,
SERVFAIL, 4xx/5xx answers, dropped and stalled connections, malformed
replies."""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, Unbound, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
multi IN MX 10 mx1.hosts.example.
multi IN MX 10 mx2.hosts.example.
multi IN MX 20 mx3.hosts.example.
dead IN MX 5 dead.hosts.example.
dead IN MX 10 mx1.hosts.example.
aonly IN A 127.0.0.3
nullmx IN MX 0 .
mx1.hosts IN A 127.0.0.3
mx2.hosts IN A 127.0.0.3
mx3.hosts IN A 127.0.0.3
dead.hosts IN A 127.0.0.9
busy IN MX 5 busy.hosts.example.
busy IN MX 10 mx2.hosts.example.
busy.hosts IN A 127.0.0.17
flaky IN A 127.0.0.4
picky IN A 127.0.0.5
dropper IN A 127.0.0.6
overlong IN A 127.0.0.7
garbage IN A 127.0.0.8
mixed IN A 127.0.0.10
silent IN A 127.0.0.11
stall IN A 127.0.0.12
refuse IN A 127.0.0.13
params IN A 127.0.0.14
small IN A 127.0.0.15
oldie IN A 127.0.0.16
wire IN A 127.0.0.18
wirechunk IN A 127.0.0.19
dsnback IN A 127.0.0.20
nodsn IN A 127.0.0.21
withdsn IN A 127.0.0.22
noutf8 IN A 127.0.0.23
many IN A 127.0.0.24
"""


def log_lines(inst, pattern):
    return [l for l in inst.read_log().splitlines() if re.search(pattern, l)]


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class SmtpRoutingTest(InstanceTestCase):
    def setUp(self):
        self.dns = Unbound({"example": ZONE}, refused=["refused.example"])
        self.addCleanup(self.dns.stop)
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")

    def sender(self, **extra):
        inst = Instance(params=sender_params(self.dns, self.port, **extra),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst

    def test_mx_routing(self):
        recv, vmail = make_receiver(self, "127.0.0.3", self.port,
                                    ["multi.example", "dead.example", "aonly.example",
                                     "busy.example"],
                                    ["u@multi.example", "u@dead.example", "u@aonly.example",
                                     "u@busy.example", "bounces@aonly.example"])

        def busy(peer, n):
            peer.send("421 4.7.0 too busy, try another MX\r\n")
        self.scripted("127.0.0.17", busy)
        send = self.sender()
        submit(send, "bounces@aonly.example",
               ["u@multi.example", "u@dead.example", "u@aonly.example", "u@busy.example",
                "x@nullmx.example", "x@nx.example"],
               b"Subject: routed\n\nhello over MX\n")
        # A notice only goes out once no recipient is pending: SERVFAIL apart.
        submit(send, "bounces@aonly.example", ["y@refused.example"], b"Subject: later\n\nx\n")
        for user in ("u@multi.example", "u@dead.example", "u@aonly.example", "u@busy.example"):
            wait_for(lambda: maildir_messages(vmail, user), timeout=30,
                     what="delivery to " + user)
            msg = maildir_messages(vmail, user)[0]
            self.assertIn(b"hello over MX", msg)
            self.assertIn(b"Subject: routed", msg)
        # qmgr logs each outcome when its agent reports it, which may be
        # after the receiver has the mail: wait for every one.
        for rcpt in ("u@multi.example", "u@dead.example", "u@aonly.example", "u@busy.example",
                     "x@nullmx.example", "x@nx.example", "y@refused.example"):
            send.wait_log("to=<%s>" % rcpt, timeout=30)
        lines = "\n".join(log_lines(send, r"to=<"))
        # MX routing, with the dead preferred MX skipped for the next one.
        self.assertRegex(lines, r"to=<u@multi.example>, relay=mx[123].hosts.example\[127.0.0.3\]:%d, "
                         r"delay=\d+, dsn=2.0.0, status=sent \(250.*\), tls=[^,]*" % self.port)
        self.assertRegex(lines, r"to=<u@dead.example>, relay=mx1.hosts.example\[127.0.0.3\]:%d.*"
                         r"status=sent" % self.port)
        self.assertIn("connect to dead.hosts.example[127.0.0.9]:%d" % self.port, send.read_log())
        self.assertRegex(lines, r"to=<u@aonly.example>, relay=aonly.example\[127.0.0.3\].*status=sent")
        # A 4xx greeting from the preferred MX moves on to the next one.
        self.assertRegex(lines, r"to=<u@busy.example>, relay=mx2.hosts.example\[127.0.0.3\].*"
                         r"status=sent")
        self.assertIn("host busy.hosts.example[127.0.0.17]:%d refused to talk to me: 421 4.7.0 "
                      "too busy" % self.port, send.read_log())
        self.assertRegex(lines, r"to=<x@nullmx.example>, relay=none.*dsn=5.1.10, status=bounced "
                         r"\(Domain nullmx.example does not accept mail")
        self.assertRegex(lines, r"to=<x@nx.example>, relay=none.*status=bounced \(Host or domain "
                         r"name not found")
        self.assertRegex(lines, r"to=<y@refused.example>, relay=none.*dsn=4.4.3, status=deferred")
        # The sender gets one failure notice naming both bounced recipients.
        wait_for(lambda: maildir_messages(vmail, "bounces@aonly.example"), timeout=30,
                 what="the bounce notice")
        notice = maildir_messages(vmail, "bounces@aonly.example")[0]
        self.assertIn(b"x@nullmx.example", notice)
        self.assertIn(b"5.1.10", notice)
        self.assertIn(b"x@nx.example", notice)
        # The SERVFAIL recipient stays queued, deferred.
        self.assertGreaterEqual(len(log_lines(send, r"to=<y@refused.example>.*deferred")), 1)

    def sender_with_smtpd(self):
        """A sending instance that also takes mail by SMTP on 127.0.0.2;
        (instance, port)."""
        smtpd_port = free_port_on("127.0.0.2")
        inst = Instance(params=sender_params(self.dns, self.port),
                        services=list(SENDER_SERVICES) + [
                            "127.0.0.2:%d inet n - n - - smtpd" % smtpd_port])
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst, smtpd_port

    def scripted(self, address, handler):
        server = ScriptedServer(address, self.port, handler)
        self.addCleanup(server.stop)
        return server

    def assert_no_crash(self, inst):
        self.assertNotIn("killed by signal", inst.read_log())

    def test_relayhost_mistake_defers(self):
        """A relayhost that does not exist (or takes no mail) is a mistake
        in the configuration: the mail waits (4.3.5) with a warning, as in
        Postfix, instead of bouncing."""
        for relayhost, error in (("[nosuch.example]:%d" % self.port, "nosuch.example"),
                                 ("nullmx.example", "does not accept mail")):
            send = self.sender(relayhost=relayhost)
            submit(send, "s@out.sender.test", ["u@anywhere.example"], b"Subject: relay\n\nx\n")
            send.wait_log("to=<u@anywhere.example>", timeout=30)
            line = log_lines(send, r"to=<u@anywhere.example>")[0]
            self.assertRegex(line, r"dsn=4\.3\.5, status=deferred \(.*%s" % error)
            send.wait_log("warning: relayhost configuration problem", timeout=10)
            self.assertNotIn("status=bounced", send.read_log())
            self.assertNotIn("sender non-delivery notification", send.read_log())
            self.assert_no_crash(send)
            send.stop()

    def test_4xx_defers_then_retry_succeeds(self):
        bodies = []

        def handler(peer, n):
            if n == 0:
                peer.simple_session(rcpt_reply=lambda c: "451 4.3.0 try again later")
            else:
                peer.simple_session(data_reply=lambda: bodies.append(1) or "250 2.0.0 ok")
        server = self.scripted("127.0.0.4", handler)
        send = self.sender()
        submit(send, "s@out.sender.test", ["a@flaky.example"], b"Subject: flaky\n\nx\n")
        send.wait_log("to=<a@flaky.example>, relay=flaky.example[127.0.0.4]:%d" % self.port,
                      timeout=30, count=2)
        send.wait_log("status=sent", timeout=30)
        lines = log_lines(send, r"to=<a@flaky.example>")
        self.assertRegex(lines[0], r"dsn=4.3.0, status=deferred \(host flaky.example"
                         r"\[127.0.0.4\]:\d+ said: 451 4.3.0 try again later\)")
        self.assertRegex(lines[-1], r"dsn=2.0.0, status=sent \(250 2.0.0 ok\)")
        self.assertEqual(len(bodies), 1)
        self.assertGreaterEqual(server.connections, 2)
        self.assert_no_crash(send)

    def test_5xx_for_one_of_three_bounces_only_that_one(self):
        received = []

        def handler(peer, n):
            peer.simple_session(
                rcpt_reply=lambda c: "550 5.1.1 <bad@picky.example>: no such user"
                if "bad@" in c else "250 2.1.5 ok",
                data_reply=lambda: received.append(1) or "250 2.0.0 queued")
        self.scripted("127.0.0.5", handler)
        send = self.sender()
        submit(send, "s@out.sender.test", ["a@picky.example", "bad@picky.example",
                                           "c@picky.example"], b"Subject: three\n\nx\n")
        send.wait_log("to=<c@picky.example>", timeout=30)
        self.assertRegex("\n".join(log_lines(send, "to=<bad@picky")),
                         r"dsn=5.1.1, status=bounced \(host picky.example\[127.0.0.5\]:\d+ "
                         r"said: 550 5.1.1 <bad@picky.example>: no such user\)")
        for who in ("a", "c"):
            self.assertRegex("\n".join(log_lines(send, "to=<%s@picky" % who)), "status=sent")
        self.assertEqual(len(received), 1)
        # The three went in one transaction, pipelined.
        self.assertEqual(len(log_lines(send, "picky.example.*status=deferred")), 0)
        self.assert_no_crash(send)

    def test_drop_mid_data_defers_without_loss(self):
        bodies = []

        def handler(peer, n):
            if n == 0:
                peer.send("220 dropper ESMTP\r\n")
                while True:
                    cmd = peer.line().upper()
                    if cmd.startswith("EHLO"):
                        peer.send("250-dropper\r\n250 PIPELINING\r\n")
                    elif cmd.startswith("DATA"):
                        peer.send("354 go\r\n")
                        peer.line()
                        return  # hang up in the middle of the content
                    else:
                        peer.send("250 ok\r\n")
            else:
                def take():
                    bodies.append(1)
                    return "250 2.0.0 got it"
                peer.simple_session(data_reply=take)
        self.scripted("127.0.0.6", handler)
        send = self.sender()
        body = b"Subject: drop\n\n" + b"line of text\n" * 5000
        submit(send, "s@out.sender.test", ["a@dropper.example"], body)
        send.wait_log("status=sent", timeout=30)
        lines = log_lines(send, r"to=<a@dropper.example>")
        self.assertRegex(lines[0], r"status=deferred \(lost connection with dropper.example"
                         r"\[127.0.0.6\]:\d+ while sending (message body|end of data)")
        self.assertEqual(len(bodies), 1)
        self.assert_no_crash(send)

    def test_hostile_servers(self):
        def overlong(peer, n):
            peer.send("220 " + "x" * 20000 + "\r\n")
            peer.line()

        def garbage(peer, n):
            peer.send("hello, I am not an SMTP server\r\n")
            peer.line()

        def mixed(peer, n):
            peer.send("220 mixed\r\n")
            peer.line()
            peer.send("250-mixed\r\n251-PIPELINING\r\n250 SIZE\r\n")
            peer.line()

        def silent(peer, n):
            peer.line()  # never greets

        def stall(peer, n):
            peer.send("220 stall\r\n")
            while True:
                cmd = peer.line().upper()
                if cmd.startswith("EHLO"):
                    peer.send("250 stall\r\n")
                elif cmd.startswith("DATA"):
                    peer.send("354 go\r\n")
                    peer.data()
                    time.sleep(8)  # no reply to the end of data
                    return
                else:
                    peer.send("250 ok\r\n")

        def refuse(peer, n):
            peer.send("554 5.7.1 no service for you\r\n")
            peer.line()
        for addr, handler in (("127.0.0.7", overlong), ("127.0.0.8", garbage),
                              ("127.0.0.10", mixed), ("127.0.0.11", silent),
                              ("127.0.0.12", stall), ("127.0.0.13", refuse)):
            self.scripted(addr, handler)
        send = self.sender(smtp_helo_timeout="2s", smtp_data_done_timeout="2s")
        rcpts = ["a@overlong.example", "a@garbage.example", "a@mixed.example",
                 "a@silent.example", "a@stall.example", "a@refuse.example"]
        for rcpt in rcpts:
            submit(send, "s@out.sender.test", [rcpt], b"Subject: hostile\n\nx\n")
        for rcpt in rcpts:
            send.wait_log("to=<%s>" % rcpt, timeout=60)
        text = send.read_log()

        def result(rcpt):
            return "\n".join(log_lines(send, "to=<%s>" % rcpt))
        self.assertRegex(result("a@overlong.example"),
                         r"status=deferred \(overlong reply line from overlong.example\[")
        self.assertRegex(result("a@garbage.example"), r"status=deferred \(malformed reply "
                         r"line from garbage.example\[127.0.0.8\]:\d+ while receiving the "
                         r"initial server greeting")
        self.assertRegex(result("a@mixed.example"), r"status=deferred \(inconsistent reply "
                         r"codes in a multi-line reply from mixed.example")
        self.assertRegex(result("a@silent.example"), r"status=deferred \(conversation with "
                         r"silent.example\[127.0.0.11\]:\d+ timed out while receiving the "
                         r"initial server greeting")
        self.assertRegex(result("a@stall.example"), r"status=deferred \(conversation with "
                         r"stall.example\[127.0.0.12\]:\d+ timed out while sending end of data")
        self.assertRegex(result("a@refuse.example"), r"status=deferred \(host refuse.example"
                         r"\[127.0.0.13\]:\d+ refused to talk to me: 554 5.7.1 no service")
        self.assertNotIn("killed by signal", text)

    def test_dsn_reports_name_the_remote_server(self):
        """A remote 5xx comes back with Remote-MTA and the server's reply as
        an smtp Diagnostic-Code; NOTIFY=SUCCESS to a server without DSN
        gives a "relayed" report, to one with DSN none from us (the request
        went on with RCPT, RFC 3461 4.1)."""
        import email
        reports = []

        def collecting(peer, n):
            peer.send("220 back ESMTP\r\n")
            while True:
                cmd = peer.line().upper()
                if cmd.startswith("DATA"):
                    peer.send("354 go\r\n")
                    reports.append(peer.data())
                    peer.send("250 2.0.0 ok\r\n")
                elif cmd.startswith("QUIT"):
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")
        self.scripted("127.0.0.20", collecting)
        self.scripted("127.0.0.21", lambda peer, n: peer.simple_session(
            rcpt_reply=lambda c: "550 5.1.1 <bad@nodsn.example>: no such user"
            if "bad@" in c else "250 2.1.5 ok"))
        self.scripted("127.0.0.22", lambda peer, n: peer.simple_session(
            ehlo_lines=("PIPELINING", "DSN", "8BITMIME")))
        send = self.sender()
        submit(send, "s@dsnback.example", ["good@nodsn.example", "bad@nodsn.example"],
               b"Subject: report me\n\nx\n", extra_args=["-N", "success,failure"])
        submit(send, "s@dsnback.example", ["good@withdsn.example"],
               b"Subject: passed on\n\nx\n", extra_args=["-N", "success,failure"])
        send.wait_log("to=<good@withdsn.example>", timeout=30)
        send.wait_log("success notification request(s) passed on to the next hop", timeout=30)
        wait_for(lambda: len(reports) >= 2, timeout=30, what="two reports")
        time.sleep(1)
        self.assertEqual(len(reports), 2, reports)
        actions = {}
        for text in reports:
            msg = email.message_from_string(text)
            status = [p for p in msg.walk()
                      if p.get_content_type() == "message/delivery-status"][0]
            fields = status.get_payload()[1]
            actions[fields["Action"]] = fields
        self.assertEqual(sorted(actions), ["failed", "relayed"])
        failed = actions["failed"]
        self.assertEqual(failed["Final-Recipient"], "rfc822; bad@nodsn.example")
        self.assertEqual(failed["Remote-MTA"], "dns; nodsn.example")
        self.assertEqual(failed["Diagnostic-Code"],
                         "smtp; 550 5.1.1 <bad@nodsn.example>: no such user")
        self.assertEqual(actions["relayed"]["Final-Recipient"], "rfc822; good@nodsn.example")
        self.assertEqual(actions["relayed"]["Status"], "2.0.0")
        self.assertEqual(actions["relayed"]["Remote-MTA"], "dns; nodsn.example")

    def test_smtputf8_bounces_only_when_needed(self):
        """To a server without SMTPUTF8, mail sent with SMTPUTF8 goes on
        when its envelope and header are ASCII (a UTF-8 body is 8BITMIME's
        business) and bounces 5.6.7 when they are not (RFC 6531 3.2)."""
        import smtplib
        got = []
        self.scripted("127.0.0.23", lambda peer, n: peer.simple_session(
            data_reply=lambda: got.append(1) or "250 2.0.0 ok"))
        inst, smtpd_port = self.sender_with_smtpd()
        cases = [("ascii@noutf8.example", b"Subject: plain\r\n\r\nplain\r\n", "sent"),
                 ("body@noutf8.example", b"Subject: plain\r\n\r\ncaf\xc3\xa9\r\n", "sent"),
                 ("header@noutf8.example", b"Subject: caf\xc3\xa9\r\n\r\nx\r\n", "bounced"),
                 ("j\u00f6rg@noutf8.example", b"Subject: plain\r\n\r\nx\r\n", "bounced")]
        with smtplib.SMTP("127.0.0.2", smtpd_port, timeout=30) as c:
            c.ehlo("client.example")
            for rcpt, body, _ in cases:
                c.sendmail("s@out.sender.test", [rcpt], body,
                           mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        for rcpt, body, outcome in cases:
            wait_for(lambda r=rcpt: log_lines(inst, "to=<%s>" % re.escape(r)), timeout=30,
                     what="an attempt for " + rcpt)
            line = "\n".join(log_lines(inst, "to=<%s>" % re.escape(rcpt)))
            self.assertIn("status=" + outcome, line, rcpt)
            if outcome == "bounced":
                self.assertIn("dsn=5.6.7", line)
        self.assertEqual(len(got), 2)

    def test_recipients_per_transaction_are_limited(self):
        """smtp_destination_recipient_limit: seven recipients with a limit of
        three go in three transactions (3, 3, 1), all delivered."""
        transactions = []

        def counting(peer, n):
            peer.send("220 many ESMTP\r\n")
            while True:
                cmd = peer.line().upper()
                if cmd.startswith("EHLO"):
                    peer.send("250-many\r\n250 PIPELINING\r\n")
                elif cmd.startswith("MAIL"):
                    transactions.append(0)
                    peer.send("250 2.1.0 ok\r\n")
                elif cmd.startswith("RCPT"):
                    transactions[-1] += 1
                    peer.send("250 2.1.5 ok\r\n")
                elif cmd.startswith("DATA"):
                    peer.send("354 go\r\n")
                    peer.data()
                    peer.send("250 2.0.0 ok\r\n")
                elif cmd.startswith("QUIT"):
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")
        self.scripted("127.0.0.24", counting)
        send = self.sender(smtp_destination_recipient_limit="3")
        rcpts = ["r%d@many.example" % i for i in range(7)]
        submit(send, "s@out.sender.test", rcpts, b"Subject: many\n\nx\n")
        for r in rcpts:
            send.wait_log("to=<%s>" % r, timeout=30)
        for r in rcpts:
            self.assertRegex("\n".join(log_lines(send, "to=<%s>" % r)), "status=sent")
        self.assertEqual(sorted(transactions), [1, 3, 3])
        self.assert_no_crash(send)

    def test_content_goes_out_in_crlf_lines(self):
        """Content stored with bare LF and bare CR (BDAT keeps them) goes
        out with every line ending in CRLF, by DATA (dot-stuffed) and by
        BDAT, so an SMTP smuggling sequence in it reaches the next hop as
        plain text."""
        import socket as socketmod
        captured = {}

        def raw_session(peer, n, chunking):
            peer.send("220 raw ESMTP\r\n")
            while True:
                cmd = peer.line()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    peer.send("250-raw\r\n250-CHUNKING\r\n250 8BITMIME\r\n" if chunking
                              else "250-raw\r\n250 8BITMIME\r\n")
                elif verb == "DATA":
                    peer.send("354 go\r\n")
                    while b"\r\n.\r\n" not in peer.buf:
                        chunk = peer.conn.recv(65536)
                        if not chunk:
                            raise EOFError()
                        peer.buf += chunk
                    raw, _, peer.buf = peer.buf.partition(b"\r\n.\r\n")
                    captured["data"] = raw + b"\r\n"
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "BDAT":
                    size = int(cmd.split()[1])
                    while len(peer.buf) < size:
                        chunk = peer.conn.recv(65536)
                        if not chunk:
                            raise EOFError()
                        peer.buf += chunk
                    captured["bdat"] = captured.get("bdat", b"") + peer.buf[:size]
                    peer.buf = peer.buf[size:]
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "QUIT":
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")
        for address, chunking in (("127.0.0.18", False), ("127.0.0.19", True)):
            server = ScriptedServer(address, self.port,
                                    lambda peer, n, c=chunking: raw_session(peer, n, c))
            self.addCleanup(server.stop)
        inst, smtpd_port = self.sender_with_smtpd()
        body = (b"Subject: wire\r\n\r\nbare\nLF\r\nx\r.\r\nMAIL FROM:<evil@x>\r\n"
                b"y\n.\nQUIT\r\n.dot\r\n" + b"L" * 1500 + b"\r\nend with bare CR\r")
        for rcpt in ("a@wire.example", "a@wirechunk.example"):
            with socketmod.create_connection(("127.0.0.2", smtpd_port), timeout=30) as c:
                f = c.makefile("rb")

                def expect(code):
                    while True:
                        line = f.readline().decode()
                        self.assertTrue(line.startswith(str(code)), line)
                        if line[3] == " ":
                            return line
                expect(220)
                c.sendall(b"EHLO client.example\r\n")
                expect(250)
                c.sendall(b"MAIL FROM:<s@out.sender.test>\r\n")
                expect(250)
                c.sendall(b"RCPT TO:<%s>\r\n" % rcpt.encode())
                expect(250)
                c.sendall(b"BDAT %d LAST\r\n" % len(body) + body)
                expect(250)
                c.sendall(b"QUIT\r\n")
            wait_for(lambda r=rcpt: log_lines(inst, r"to=<%s>.*status=sent" % r),
                     timeout=30, what="delivery to " + rcpt)
        # A line over smtp_line_length_limit (998) goes on in a continuation.
        expected = (b"bare\r\nLF\r\nx\r\n.\r\nMAIL FROM:<evil@x>\r\ny\r\n.\r\nQUIT\r\n.dot\r\n"
                    + b"L" * 998 + b"\r\n " + b"L" * 502 + b"\r\nend with bare CR\r\n")
        for key, stuffed in (("data", True), ("bdat", False)):
            raw = captured[key]
            # No CR without LF, no LF without CR.
            self.assertNotRegex(raw, rb"\r(?!\n)|(?<!\r)\n", key)
            want = expected.replace(b"\r\n.", b"\r\n..") if stuffed else expected
            self.assertTrue(raw.endswith(want), (key, raw))

    def test_esmtp_parameters_size_and_helo_fallback(self):
        import smtplib
        full = ScriptedServer("127.0.0.14", self.port, lambda peer, n: peer.simple_session(
            ehlo_lines=("PIPELINING", "SIZE 1000000", "8BITMIME", "DSN", "SMTPUTF8")))
        self.addCleanup(full.stop)
        small = ScriptedServer("127.0.0.15", self.port, lambda peer, n: peer.simple_session(
            ehlo_lines=("PIPELINING", "SIZE 100")))
        self.addCleanup(small.stop)

        def oldie_session(peer, n):
            peer.send("220 old server\r\n")
            while True:
                cmd = peer.line().upper()
                if cmd.startswith("EHLO"):
                    peer.send("500 5.5.1 what is EHLO\r\n")
                elif cmd.startswith("DATA"):
                    peer.send("354 go\r\n")
                    peer.data()
                    peer.send("250 ok\r\n")
                elif cmd.startswith("QUIT"):
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")
        oldie = ScriptedServer("127.0.0.16", self.port, oldie_session)
        self.addCleanup(oldie.stop)
        inst, smtpd_port = self.sender_with_smtpd()
        with smtplib.SMTP("127.0.0.2", smtpd_port, timeout=30) as c:
            c.ehlo("client.example")
            c.sendmail("s@out.sender.test", ["a@params.example"],
                       b"Subject: dsn\r\n\r\ncaf\xc3\xa9\r\n",
                       mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=env+2Bid"],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig@params.example"])
            c.sendmail("s@out.sender.test", ["a@small.example"],
                       b"Subject: big\r\n\r\n" + b"x" * 500 + b"\r\n")
            c.sendmail("s@out.sender.test", ["a@oldie.example"], b"Subject: 7bit\r\n\r\nplain\r\n")
            c.sendmail("s@out.sender.test", ["b@oldie.example"],
                       b"Subject: 8bit\r\n\r\ncaf\xc3\xa9\r\n", mail_options=["BODY=8BITMIME"])
        for rcpt in ("a@params.example", "a@small.example", "a@oldie.example", "b@oldie.example"):
            inst.wait_log("to=<%s>" % rcpt, timeout=30)
        mail = [l for l in full.transcript if l.startswith("MAIL")]
        rcpt = [l for l in full.transcript if l.startswith("RCPT")]
        self.assertRegex(mail[0], r"^MAIL FROM:<s@out.sender.test> SIZE=\d+ BODY=8BITMIME "
                         r"RET=HDRS ENVID=env\+2Bid$")
        self.assertEqual(rcpt[0], "RCPT TO:<a@params.example> NOTIFY=SUCCESS,FAILURE "
                         "ORCPT=rfc822;orig@params.example")
        self.assertRegex("\n".join(log_lines(inst, "to=<a@params.example>")), "status=sent")
        # Larger than the server's SIZE: bounced without sending it.
        self.assertRegex("\n".join(log_lines(inst, "to=<a@small.example>")),
                         r"dsn=5.3.4, status=bounced \(message size \d+ exceeds size limit 100")
        self.assertFalse(any(l.startswith("MAIL") for l in small.transcript))
        # HELO after a refused EHLO, no ESMTP parameters; 8-bit content goes
        # there as quoted-printable (more in test_smtp_8bitmime.py).
        self.assertIn("HELO out.sender.test", oldie.transcript)
        self.assertIn("MAIL FROM:<s@out.sender.test>", oldie.transcript)
        self.assertRegex("\n".join(log_lines(inst, "to=<a@oldie.example>")), "status=sent")
        self.assertRegex("\n".join(log_lines(inst, "to=<b@oldie.example>")), "status=sent")
        self.assertIn("caf=C3=A9", oldie.transcript)
        self.assertIn("Content-Transfer-Encoding: quoted-printable", oldie.transcript)


if __name__ == "__main__":
    unittest.main(verbosity=2)
