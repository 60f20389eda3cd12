"""Mail loop detection in the smtp client, as Postfix does it, routed
through a local unbound serving a test zone: an MX host (or, without MX,
the domain itself) at one of the sender's own addresses (inet_interfaces,
proxy_interfaces) bounces with 5.4.6 "mail for DOMAIN loops back to
myself", and when better MX hosts exist only those are used; a server
that greets with the sender's myhostname is logged, one that answers EHLO
with it is a loop (5.4.6 from the best MX, else 4.4.6 and the next
server). As in Postfix, this is looked for only on the SMTP port, 25, so
the servers here listen on port 25 of loopback addresses (as root).
Every server that must not be reached counts its connections."""

import email
import email.policy
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, Unbound, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

SMTP_PORT = 25
MYHOSTNAME = "out.sender.test"  # sender_params' myhostname

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
self.hosts IN A 127.0.0.1
proxy.hosts IN A 127.0.0.7
primary.hosts IN A 127.0.0.3
worse.hosts IN A 127.0.0.4
busy.hosts IN A 127.0.0.6
greeter.hosts IN A 127.0.0.5
loop IN MX 10 self.hosts.example.
aself IN A 127.0.0.1
proxied IN MX 10 proxy.hosts.example.
backup IN MX 10 primary.hosts.example.
backup IN MX 20 self.hosts.example.
backup IN MX 30 worse.hosts.example.
backupbusy IN MX 10 busy.hosts.example.
backupbusy IN MX 20 self.hosts.example.
backupbusy IN MX 30 worse.hosts.example.
greet IN A 127.0.0.5
greet2 IN MX 10 busy.hosts.example.
greet2 IN MX 20 greeter.hosts.example.
greetonly IN A 127.0.0.8
"""

# The addresses whose port 25 the tests listen on.
ADDRESSES = ("127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7",
             "127.0.0.8")


def port_free(addresses, port):
    for addr in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


def log_lines(inst, pattern):
    return [l for l in inst.read_log().splitlines() if re.search(pattern, l)]


def delivery_status(raw):
    """The per-recipient field blocks of a DSN (bytes), as dicts."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    status = msg.get_payload()[1]
    assert status.get_content_type() == "message/delivery-status"
    return [dict(block.items()) for block in status.get_payload()[1:]]


def refuse_busy(peer, n):
    peer.send("421 4.7.0 too busy, try another MX\r\n")


@unittest.skipUnless(have("unbound"), "unbound is not installed")
@unittest.skipUnless(IS_ROOT, "the servers listen on port 25 (root only)")
class SmtpLoopTest(InstanceTestCase):
    def setUp(self):
        if not port_free(ADDRESSES, SMTP_PORT):
            self.skipTest("port 25 is in use on a loopback address")
        self.dns = Unbound({"example": ZONE})
        self.addCleanup(self.dns.stop)

    def sender(self, **extra):
        params = sender_params(self.dns, SMTP_PORT, proxy_interfaces="127.0.0.7", **extra)
        inst = Instance(params=params, services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst

    def scripted(self, address, handler, port=SMTP_PORT):
        server = ScriptedServer(address, port, handler)
        self.addCleanup(server.stop)
        return server

    def trap(self, address, port=SMTP_PORT):
        """A server that must not be reached (it would take the mail)."""
        return self.scripted(address, lambda peer, n: peer.simple_session(), port)

    def wait_outcomes(self, inst, rcpts):
        for rcpt in rcpts:
            inst.wait_log("to=<%s>" % rcpt, timeout=30)
        return "\n".join(log_lines(inst, r"to=<"))

    def test_own_address_as_mx(self):
        recv, vmail = make_receiver(self, "127.0.0.3", SMTP_PORT, ["backup.example"],
                                    ["u@backup.example", "bounces@backup.example"])
        self_trap = self.trap("127.0.0.1")
        proxy_trap = self.trap("127.0.0.7")
        worse_trap = self.trap("127.0.0.4")
        busy = self.scripted("127.0.0.6", refuse_busy)
        send = self.sender()
        rcpts = ["u@loop.example", "u@aself.example", "u@proxied.example", "u@backup.example",
                 "u@backupbusy.example"]
        submit(send, "bounces@backup.example", rcpts, b"Subject: loops\n\nhello\n")
        lines = self.wait_outcomes(send, rcpts)
        # The MX host is this host (inet_interfaces), as is the domain's
        # own address without MX, and a proxy_interfaces address.
        for domain in ("loop.example", "aself.example", "proxied.example"):
            self.assertRegex(lines, r"to=<u@%s>, relay=none, .*dsn=5.4.6, status=bounced "
                             r"\(mail for %s loops back to myself\)"
                             % (re.escape(domain), re.escape(domain)))
        # A better MX host than this one takes the mail; the worse one is
        # never tried, nor this host.
        wait_for(lambda: maildir_messages(vmail, "u@backup.example"), timeout=30,
                 what="delivery to the better MX")
        self.assertRegex(lines, r"to=<u@backup.example>, relay=primary.hosts.example"
                         r"\[127.0.0.3\]:25, .*status=sent")
        # When the better one fails, the mail waits for it.
        self.assertRegex(lines, r"to=<u@backupbusy.example>, relay=busy.hosts.example"
                         r"\[127.0.0.6\]:25, .*status=deferred \(host busy.hosts.example\[127.0.0.6\]:25 "
                         r"refused to talk to me: 421")
        self.assertGreaterEqual(busy.connections, 1)
        self.assertEqual(self_trap.connections, 0)
        self.assertEqual(proxy_trap.connections, 0)
        self.assertEqual(worse_trap.connections, 0)
        # The sender's notice: the three with 5.4.6 and the reason.
        wait_for(lambda: maildir_messages(vmail, "bounces@backup.example"), timeout=30,
                 what="the bounce notice")
        blocks = delivery_status(maildir_messages(vmail, "bounces@backup.example")[0])
        by_rcpt = {b["Final-Recipient"].split(";")[1].strip(): b for b in blocks}
        self.assertEqual(sorted(by_rcpt),
                         ["u@aself.example", "u@loop.example", "u@proxied.example"])
        for rcpt, block in by_rcpt.items():
            self.assertEqual(block["Action"], "failed")
            self.assertEqual(block["Status"], "5.4.6")
            self.assertIn("mail for %s loops back to myself" % rcpt.split("@")[1],
                          block["Diagnostic-Code"])
        self.assertNotIn("killed by signal", send.read_log())

    def test_server_with_my_hostname(self):
        mail_from = []

        def greeter(peer, n):
            # Postfix's loop: the reply to EHLO names the client's host.
            peer.send("220 %s ESMTP\r\n" % MYHOSTNAME)
            while True:
                cmd = peer.line()
                if cmd[:4].upper() == "EHLO":
                    peer.send("250-%s\r\n250 PIPELINING\r\n" % MYHOSTNAME)
                elif cmd[:4].upper() == "MAIL":
                    mail_from.append(cmd)
                    peer.send("250 ok\r\n")
                elif cmd[:4].upper() == "QUIT":
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")

        bodies = []

        def greet_only(peer, n):
            # The greeting alone is only logged: the mail goes in.
            peer.send("220 %s ESMTP\r\n" % MYHOSTNAME)
            while True:
                cmd = peer.line()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    peer.send("250-scripted\r\n250 8BITMIME\r\n")
                elif verb == "DATA":
                    peer.send("354 go ahead\r\n")
                    bodies.append(peer.data())
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "QUIT":
                    peer.send("221 bye\r\n")
                    return
                else:
                    peer.send("250 ok\r\n")

        greeter_server = self.scripted("127.0.0.5", greeter)
        self.scripted("127.0.0.8", greet_only)
        self.scripted("127.0.0.6", refuse_busy)
        send = self.sender()
        rcpts = ["u@greet.example", "u@greet2.example", "u@greetonly.example"]
        # Notices go to the server that takes mail in spite of its greeting.
        submit(send, "bounces@greetonly.example", rcpts, b"Subject: ehlo\n\nhello\n")
        lines = self.wait_outcomes(send, rcpts)
        log = send.read_log()
        # The only server (a best MX) is this host: the mail bounces.
        self.assertIn("warning: host greet.example[127.0.0.5]:25 greeted me with my own "
                      "hostname %s" % MYHOSTNAME, log)
        self.assertIn("warning: host greet.example[127.0.0.5]:25 replied to HELO/EHLO with "
                      "my own hostname %s" % MYHOSTNAME, log)
        self.assertRegex(lines, r"to=<u@greet.example>, relay=greet.example\[127.0.0.5\]:25, "
                         r".*dsn=5.4.6, status=bounced \(mail for greet.example loops back "
                         r"to myself\)")
        # A backup MX that is this host: deferred (4.4.6), the next tried.
        self.assertRegex(lines, r"to=<u@greet2.example>, relay=greeter.hosts.example"
                         r"\[127.0.0.5\]:25, .*dsn=4.4.6, status=deferred \(mail for "
                         r"greet2.example loops back to myself\)")
        self.assertIn("warning: host greetonly.example[127.0.0.8]:25 greeted me with my own "
                      "hostname %s" % MYHOSTNAME, log)
        self.assertNotIn("greetonly.example[127.0.0.8]:25 replied to HELO/EHLO", log)
        self.assertRegex(lines, r"to=<u@greetonly.example>, relay=greetonly.example"
                         r"\[127.0.0.8\]:25, .*status=sent")
        self.assertGreaterEqual(greeter_server.connections, 2)
        self.assertEqual(mail_from, [])
        # The notice, taken by greetonly.example: greet.example bounced.
        wait_for(lambda: any("delivery-status" in b for b in bodies), timeout=30,
                 what="the bounce notice")
        notice = [b for b in bodies if "delivery-status" in b][0]
        blocks = delivery_status(notice.replace("\r\n", "\n").encode())
        self.assertEqual(len(blocks), 1)
        self.assertIn("u@greet.example", blocks[0]["Final-Recipient"])
        self.assertEqual(blocks[0]["Status"], "5.4.6")
        self.assertIn("loops back to myself", blocks[0]["Diagnostic-Code"])

    def test_other_port_is_not_checked(self):
        # As in Postfix: this host's own address on another port is
        # another service (a content filter), not a loop.
        port = free_port_on("127.0.0.1")
        server = self.trap("127.0.0.1", port)
        send = self.sender(relayhost="loop.example:%d" % port)
        submit(send, "s@out.sender.test", ["u@elsewhere.example"], b"Subject: port\n\nx\n")
        lines = self.wait_outcomes(send, ["u@elsewhere.example"])
        self.assertRegex(lines, r"to=<u@elsewhere.example>, relay=self.hosts.example"
                         r"\[127.0.0.1\]:%d, .*status=sent" % port)
        self.assertEqual(server.connections, 1)
        self.assertNotIn("loops back", send.read_log())


if __name__ == "__main__":
    unittest.main()
