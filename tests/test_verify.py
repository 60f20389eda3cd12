"""Address verification (Postfix's reject_unverified_recipient and
reject_unverified_sender) from end to end: smtpd sends a probe through the
queue, qmgr hands it to the smtp client with "verify", the smtp client goes
as far as RCPT TO at the next hop (a scripted server here) and no further,
qmgr writes the result into the verify cache, and smtpd answers the client
from it: deliverable accepted, undeliverable refused with
unverified_recipient_reject_code and the next hop's reply, a deferred probe
answered 450 "unverified address", a probe still on its way answered 450
"Address verification in progress". A second client asking about the same
address sends no second probe; probes never bounce or deliver; trusted
clients and our own domains are not probed; the sender is verified the
same way (4.1.7/5.1.7); with address_verify_negative_cache = no an
undeliverable result answers once. Probes are routed with the
address_verify_ routing parameters (address_verify_relayhost,
address_verify_transport_maps...) while mail keeps its own, and
address_verify_sender_ttl time-stamps the probe sender as Postfix does."""

import email
import email.policy
import json
import os
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail_peers import RecordingServer  # noqa: E402
from postern_test import Instance, free_port, wait_for  # noqa: E402


def rcpt_reply(cmd):
    address = cmd[8:].split(">")[0].lstrip("<").lower()
    if address.startswith("bad"):
        return "550 5.1.1 <%s>: no such user here" % address
    if address.startswith("slow"):
        return "451 4.3.2 try again later"
    return "250 2.1.5 ok"


class VerifyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.next_hop = free_port()
        cls.server = RecordingServer("127.0.0.1", cls.next_hop, rcpt_reply=rcpt_reply)
        services = {
            "wait": "-o smtpd_reject_unverified_recipient=yes -o address_verify_poll_count=20",
            "nowait": "-o smtpd_reject_unverified_recipient=yes -o address_verify_poll_count=1",
            "reject550": "-o smtpd_reject_unverified_recipient=yes "
                         "-o address_verify_poll_count=20 -o unverified_recipient_reject_code=550",
            "reason": "-o smtpd_reject_unverified_recipient=yes -o address_verify_poll_count=20 "
                      "-o unverified_recipient_reject_reason=Unknown_user",
            "dunno": "-o smtpd_reject_unverified_recipient=yes -o address_verify_poll_count=20 "
                     "-o unverified_recipient_tempfail_action=dunno",
            "trusted": "-o smtpd_reject_unverified_recipient=yes -o mynetworks=127.0.0.0/8",
            "sender": "-o smtpd_reject_unverified_sender=yes -o address_verify_poll_count=20 "
                      "-o unverified_sender_reject_code=550",
            "nonegative": "-o smtpd_reject_unverified_recipient=yes "
                          "-o address_verify_poll_count=20 -o address_verify_negative_cache=no",
        }
        cls.ports = {name: free_port() for name in services}
        cls.inst = Instance(params={
            "myhostname": "mx.example.test",
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "relay_transport": "smtp:[127.0.0.1]:%d" % cls.next_hop,
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
            "address_verify_poll_delay": "1s",
            "minimal_backoff_time": "300s",
            "smtp_tls_security_level": "none",
        }, services=["127.0.0.1:%d inet n - n - - smtpd %s" % (cls.ports[name], options)
                     for name, options in services.items()] +
            ["qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp",
             "local unix - n n - - local"])
        try:
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.server.stop()

    def rcpt(self, service, rcpt, sender="someone@outside.test"):
        with smtplib.SMTP("127.0.0.1", self.ports[service], timeout=60) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail(sender)[0], 250)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def probes_for(self, address):
        """RCPT commands the next hop saw for address."""
        with self.server.lock:
            return [c for c in self.server.commands
                    if c.upper().startswith("RCPT") and address in c.lower()]

    def send(self, service, rcpt, body):
        with smtplib.SMTP("127.0.0.1", self.ports[service], timeout=60) as c:
            c.ehlo("client.outside.test")
            return c.sendmail("someone@outside.test", [rcpt], body)

    def test_deliverable_then_cached(self):
        code, text = self.rcpt("wait", "good1@relay.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.probes_for("good1@relay.test")), 1)
        # The probe went from double-bounce@$myorigin and stopped at RCPT.
        self.assertNotIn("good1@relay.test", self.server.recipients())
        senders = [c for c in self.server.commands if c.upper().startswith("MAIL")]
        self.assertTrue(any("double-bounce@mx.example.test" in c for c in senders), senders)
        self.inst.wait_log("to=<good1@relay.test>, relay=127.0.0.1[127.0.0.1]:%d" % self.next_hop)
        self.assertRegex(self.inst.read_log(), r"to=<good1@relay.test>.*status=deliverable")
        # Another client: answered from the cache, no second probe; the
        # message itself is delivered.
        self.assertEqual(self.send("nowait", "good1@relay.test",
                                   "Subject: real\r\n\r\nthe real thing\r\n"), {})
        wait_for(lambda: self.server.message_to("good1@relay.test") is not None, timeout=30,
                 what="the real message at the next hop")
        self.assertIn("the real thing", self.server.message_to("good1@relay.test")["data"])
        # Two RCPTs: the probe's and the real message's, no second probe.
        self.assertEqual(len(self.probes_for("good1@relay.test")), 2)

    def test_undeliverable(self):
        code, text = self.rcpt("wait", "bad1@relay.test")
        self.assertEqual(code, 450, text)  # unverified_recipient_reject_code, Postfix's default
        self.assertIn("4.1.1 <bad1@relay.test>: Recipient address rejected: undeliverable "
                      "address: host 127.0.0.1[127.0.0.1]", text)
        self.assertIn("550 5.1.1", text)
        code, text = self.rcpt("reject550", "bad1@relay.test")
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.1.1 "), text)
        code, text = self.rcpt("reason", "bad1@relay.test")
        self.assertEqual((code, text), (450, "4.1.1 <bad1@relay.test>: Recipient address "
                                             "rejected: Unknown_user"))
        self.assertEqual(len(self.probes_for("bad1@relay.test")), 1)
        self.assertRegex(self.inst.read_log(), r"to=<bad1@relay.test>.*status=undeliverable")
        # No bounce for a probe: nothing left in the queue for it, and no
        # notification went anywhere.
        time.sleep(1)
        self.assertNotIn("double-bounce@mx.example.test", self.server.recipients())
        self.assertNotRegex(self.inst.read_log(), r"sender non-delivery notification")

    def test_deferred_probe(self):
        code, text = self.rcpt("wait", "slow1@relay.test")
        self.assertEqual(code, 450, text)
        self.assertIn("4.1.1 <slow1@relay.test>: Recipient address rejected: unverified address: "
                      "host 127.0.0.1[127.0.0.1]", text)
        self.assertIn("451 4.3.2 try again later", text)
        # tempfail_action dunno: accepted unverified.
        code, text = self.rcpt("dunno", "slow1@relay.test")
        self.assertEqual(code, 250, text)
        # The probe waits in the queue for its retry, to nobody's notice.
        queue = self.inst.mailctl("queue", "list", check=True).stdout
        self.assertIn("slow1@relay.test", queue)

    def test_in_progress(self):
        code, text = self.rcpt("nowait", "good2@relay.test")
        self.assertEqual((code, text), (450, "4.1.1 <good2@relay.test>: Recipient address "
                                             "rejected: unverified address: Address verification "
                                             "in progress"))
        wait_for(lambda: "status=deliverable" in "".join(
            line for line in self.inst.read_log().splitlines() if "good2@relay.test" in line),
            timeout=30, what="the probe's result")
        code, text = self.rcpt("nowait", "good2@relay.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.probes_for("good2@relay.test")), 1)

    def test_not_probed(self):
        # Trusted clients, our own domains.
        code, text = self.rcpt("trusted", "good3@relay.test")
        self.assertEqual(code, 250, text)
        code, text = self.rcpt("wait", "root@mx.example.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(self.probes_for("good3@relay.test"), [])
        self.assertEqual(self.probes_for("root@mx.example.test"), [])

    def test_sender(self):
        code, text = self.rcpt("sender", "good4@relay.test", sender="bad2@relay.test")
        self.assertEqual(code, 550, text)
        self.assertIn("5.1.7 <bad2@relay.test>: Sender address rejected: undeliverable address",
                      text)
        code, text = self.rcpt("sender", "good4@relay.test", sender="good5@relay.test")
        self.assertEqual(code, 250, text)
        # The null sender is never probed.
        code, text = self.rcpt("sender", "good4@relay.test", sender="")
        self.assertEqual(code, 250, text)

    def test_mailctl_verify(self):
        self.assertEqual(self.rcpt("wait", "good6@relay.test")[0], 250)
        self.assertEqual(self.rcpt("wait", "bad6@relay.test")[0], 450)
        out = self.inst.mailctl("verify", "list", check=True).stdout
        self.assertRegex(out, r"(?m)^good6@relay.test deliverable updated \S+ \S+ probed .*"
                              r"said: 250 2.1.5 ok$")
        self.assertRegex(out, r"(?m)^bad6@relay.test undeliverable .*550 5.1.1")
        entries = {e["address"]: e for e in json.loads(
            self.inst.mailctl("--json", "verify", "list", check=True).stdout)}
        self.assertEqual(entries["good6@relay.test"]["status"], "deliverable")
        self.assertGreater(entries["good6@relay.test"]["updated"], 0)
        # Forgotten: the next RCPT probes again (the admin fixed the user).
        result = self.inst.mailctl("verify", "delete", "BAD6@relay.test", "none@relay.test",
                                   check=True)
        self.assertEqual(result.stdout, "BAD6@relay.test: removed\n"
                                        "none@relay.test: not in the cache\n")
        self.assertEqual(self.rcpt("wait", "bad6@relay.test")[0], 450)
        self.assertEqual(len(self.probes_for("bad6@relay.test")), 2)
        self.assertEqual(self.inst.mailctl("verify", "bogus").returncode, 2)

    def test_no_negative_cache(self):
        code, text = self.rcpt("nonegative", "bad3@relay.test")
        self.assertEqual(code, 450, text)
        self.assertIn("undeliverable address", text)
        self.assertEqual(len(self.probes_for("bad3@relay.test")), 1)
        # Forgotten once answered: the next look-up sends another probe
        # (once the last one is older than the probe interval, which the
        # cache entry no longer holds).
        code, text = self.rcpt("nonegative", "bad3@relay.test")
        self.assertEqual(code, 450, text)
        self.assertEqual(len(self.probes_for("bad3@relay.test")), 2)


# Postfix's safe_ultostr digits in base 31, as make_verify_sender_addr
# writes the time stamp of address_verify_sender_ttl.
STAMP_DIGITS = "0123456789BCDFGHJKLMNPQRSTVWXYZ"


def sender_stamp(now, ttl):
    epoch, text = int(now) // ttl, ""
    while epoch:
        text = STAMP_DIGITS[epoch % 31] + text
        epoch //= 31
    return text


class ProbeRoutingTest(unittest.TestCase):
    """Postfix's address verification routing overrides: a probe is routed
    with address_verify_relayhost, address_verify_transport_maps and the
    address_verify_*_transport parameters, mail keeps relayhost and
    transport_maps; address_verify_sender_ttl time-stamps the probe
    sender."""

    TTL = 7 * 3600

    @classmethod
    def setUpClass(cls):
        cls.mail_hop = free_port()
        cls.probe_hop = free_port()
        cls.mail_server = RecordingServer("127.0.0.1", cls.mail_hop, rcpt_reply=rcpt_reply)
        cls.probe_server = RecordingServer("127.0.0.1", cls.probe_hop, rcpt_reply=rcpt_reply)
        cls.ports = {"verify": free_port(), "plain": free_port()}
        cls.inst = Instance(params={
            "myhostname": "mx.example.test",
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test, blocked.test, partner.test",
            "relayhost": "[127.0.0.1]:%d" % cls.mail_hop,
            "address_verify_relayhost": "[127.0.0.1]:%d" % cls.probe_hop,
            "address_verify_sender_ttl": "7h",
            "mynetworks": "192.0.2.0/24",
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
            "address_verify_poll_delay": "1s",
            "minimal_backoff_time": "300s",
            "smtp_tls_security_level": "none",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd -o smtpd_reject_unverified_recipient=yes "
            "-o address_verify_poll_count=20" % cls.ports["verify"],
            "127.0.0.1:%d inet n - n - - smtpd" % cls.ports["plain"],
            "qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp",
            "local unix - n n - - local"])
        # Probes for blocked.test go to the error transport, those for
        # partner.test to the mail next hop; mail has no transport_maps.
        table = os.path.join(cls.inst.etc, "verify_transport")
        with open(table, "w") as f:
            f.write("blocked.test error:probes to blocked.test are refused\n")
            f.write("partner.test smtp:[127.0.0.1]:%d\n" % cls.mail_hop)
        os.chmod(table, 0o644)
        cls.inst.params["address_verify_transport_maps"] = "texthash:" + table
        cls.inst.write_config()
        try:
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            cls.mail_server.stop()
            cls.probe_server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.mail_server.stop()
        cls.probe_server.stop()

    def rcpt(self, rcpt):
        with smtplib.SMTP("127.0.0.1", self.ports["verify"], timeout=60) as c:
            c.ehlo("client.outside.test")
            self.assertEqual(c.mail("someone@outside.test")[0], 250)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def send(self, rcpt, body):
        with smtplib.SMTP("127.0.0.1", self.ports["plain"], timeout=60) as c:
            c.ehlo("client.outside.test")
            return c.sendmail("someone@outside.test", [rcpt], body)

    @staticmethod
    def commands(server, verb, address=None):
        with server.lock:
            return [c for c in server.commands if c.upper().startswith(verb) and
                    (address is None or address in c.lower())]

    def test_relayhost(self):
        """Probes go to address_verify_relayhost, mail to relayhost."""
        code, text = self.rcpt("good1@relay.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.commands(self.probe_server, "RCPT", "good1@relay.test")), 1)
        self.assertEqual(self.commands(self.mail_server, "RCPT", "good1@relay.test"), [])
        self.inst.wait_log("to=<good1@relay.test>, relay=127.0.0.1[127.0.0.1]:%d"
                           % self.probe_hop)
        # The verified recipient's mail takes the route of mail.
        self.assertEqual(self.send("good1@relay.test", "Subject: real\r\n\r\nreal mail\r\n"),
                         {})
        wait_for(lambda: self.mail_server.message_to("good1@relay.test") is not None,
                 timeout=30, what="the mail at relayhost")
        self.assertIn("real mail", self.mail_server.message_to("good1@relay.test")["data"])
        self.assertEqual(len(self.commands(self.probe_server, "RCPT", "good1@relay.test")), 1)
        self.assertIsNone(self.probe_server.message_to("good1@relay.test"))
        # Undeliverable at the probe's next hop: refused with its reply.
        code, text = self.rcpt("bad1@relay.test")
        self.assertEqual(code, 450, text)
        self.assertIn("undeliverable address: host 127.0.0.1[127.0.0.1]:%d said: 550 5.1.1"
                      % self.probe_hop, text)
        self.assertEqual(self.commands(self.mail_server, "RCPT", "bad1@relay.test"), [])

    def test_transport_maps(self):
        """address_verify_transport_maps: probes for blocked.test go to the
        error transport (undeliverable, no connection anywhere), those for
        partner.test to its next hop; mail for both keeps relayhost."""
        code, text = self.rcpt("user@blocked.test")
        self.assertEqual(code, 450, text)
        self.assertEqual(text, "4.1.1 <user@blocked.test>: Recipient address rejected: "
                               "undeliverable address: probes to blocked.test are refused")
        self.assertEqual(self.commands(self.probe_server, "RCPT", "user@blocked.test"), [])
        self.assertEqual(self.commands(self.mail_server, "RCPT", "user@blocked.test"), [])
        self.assertRegex(self.inst.read_log(),
                         r"to=<user@blocked.test>, relay=none.*status=undeliverable")
        code, text = self.rcpt("user@partner.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.commands(self.mail_server, "RCPT", "user@partner.test")), 1)
        self.assertEqual(self.commands(self.probe_server, "RCPT", "user@partner.test"), [])
        # Mail is not routed with address_verify_transport_maps.
        self.assertEqual(self.send("user@blocked.test", "Subject: mail\r\n\r\nblocked\r\n"),
                         {})
        wait_for(lambda: self.mail_server.message_to("user@blocked.test") is not None,
                 timeout=30, what="mail for blocked.test at relayhost")

    def test_sender_ttl(self):
        """The probe sender is double-bounce, the time / 7h in base 31
        (Postfix's digits), @$myorigin; mail keeps its sender."""
        before = time.time()
        code, text = self.rcpt("good2@relay.test")
        after = time.time()
        self.assertEqual(code, 250, text)
        senders = [c[10:].split(">")[0].lstrip("<")
                   for c in self.commands(self.probe_server, "MAIL")]
        self.assertTrue(senders)
        stamps = {sender_stamp(before, self.TTL), sender_stamp(after, self.TTL)}
        expected = {"double-bounce%s@mx.example.test" % s for s in stamps}
        for sender in senders:
            self.assertRegex(sender, r"^double-bounce[0-9B-DF-HJ-NP-TV-Z]+@mx\.example\.test$")
        self.assertIn(senders[-1], expected)
        self.assertRegex(self.inst.read_log(), r"from=<double-bounce%s@mx.example.test>"
                         % "|".join(stamps).join("()"))
        self.assertEqual(self.send("good2@relay.test", "Subject: s\r\n\r\nsender\r\n"), {})
        wait_for(lambda: self.mail_server.message_to("good2@relay.test") is not None,
                 timeout=30, what="the mail at relayhost")
        self.assertEqual(self.mail_server.message_to("good2@relay.test")["sender"],
                         "someone@outside.test")


class SendmailVerifyTest(unittest.TestCase):
    """sendmail -bv: nothing is delivered; the sender gets one report of
    what would happen to each recipient (here the report goes to an
    address at the scripted next hop, to be read with Python's email)."""

    @classmethod
    def setUpClass(cls):
        cls.next_hop = free_port()
        cls.server = RecordingServer("127.0.0.1", cls.next_hop, rcpt_reply=rcpt_reply)
        cls.inst = Instance(params={
            "myhostname": "mx.example.test",
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "relay_transport": "smtp:[127.0.0.1]:%d" % cls.next_hop,
            "always_bcc": "archive@relay.test",
            "minimal_backoff_time": "300s",
            "smtp_tls_security_level": "none",
        }, services=["qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp",
                     "local unix - n n - - local", "pickup unix n - n 60 1 pickup"])
        try:
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()
        cls.server.stop()

    def test_report(self):
        result = subprocess.run(
            [self.inst.program("sendmail"), "-C", self.inst.etc, "-f", "reports@relay.test",
             "-bv", "good7@relay.test", "bad7@relay.test", "slow7@relay.test",
             "nosuchuser@mx.example.test"],
            input=b"Subject: what if\n\nnot to be sent\n", capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(result.stdout.decode(),
                         "Mail Delivery Status Report will be mailed to <reports@relay.test>.\n")
        wait_for(lambda: self.server.message_to("reports@relay.test") is not None, timeout=30,
                 what="the report")
        report = self.server.message_to("reports@relay.test")
        msg = email.message_from_string(report["data"], policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Mail Delivery Status Report")
        self.assertEqual(report["sender"], "")  # from the null sender
        text, status, headers = [part for part in msg.iter_parts()]
        body = text.get_content()
        self.assertIn("Enclosed is the mail delivery report that you requested.", body)
        self.assertIn("<good7@relay.test>: host 127.0.0.1 said: 250 2.1.5 ok", body)
        self.assertIn("<nosuchuser@mx.example.test>: user unknown", body)
        fields = status.get_payload()
        by_rcpt = {str(f["Final-Recipient"]).split(";")[1].strip(): f for f in fields[1:]}
        self.assertEqual(by_rcpt["good7@relay.test"]["Action"], "deliverable")
        self.assertEqual(by_rcpt["bad7@relay.test"]["Action"], "undeliverable")
        self.assertEqual(by_rcpt["bad7@relay.test"]["Status"], "5.1.1")
        self.assertEqual(by_rcpt["slow7@relay.test"]["Action"], "delayed")
        self.assertEqual(by_rcpt["nosuchuser@mx.example.test"]["Action"], "undeliverable")
        self.assertEqual(by_rcpt["nosuchuser@mx.example.test"]["Status"], "5.1.1")
        # No always_bcc copy is made of a verification.
        self.assertNotIn("archive@relay.test", by_rcpt)
        self.assertIn("what if", headers.as_string())
        # Nothing was delivered: the next hop got no DATA but the report's,
        # and the message is gone from the queue (deferred ones too).
        self.assertEqual([m["rcpts"] for m in self.server.messages], [["reports@relay.test"]])
        self.assertNotIn("not to be sent", report["data"])
        wait_for(lambda: "(queue active)" in self.inst.read_log() and
                 self.inst.mailctl("queue", "list").stdout.strip() in ("", "Mail queue is empty"),
                 timeout=30, what="an empty queue")


class SendmailTraceTest(SendmailVerifyTest):
    """sendmail -v: delivered as usual, and the sender gets one report of
    the first attempt (delivered, failed, delayed); the usual bounce for
    the failed recipient goes too."""

    test_report = None

    def test_trace_report(self):
        result = subprocess.run(
            [self.inst.program("sendmail"), "-C", self.inst.etc, "-f", "tracer@relay.test",
             "-v", "good8@relay.test", "bad8@relay.test", "slow8@relay.test"],
            input=b"Subject: traced\n\nreally sent\n", capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(result.stdout.decode(),
                         "Mail Delivery Status Report will be mailed to <tracer@relay.test>.\n")
        wait_for(lambda: len([m for m in self.server.messages
                              if "tracer@relay.test" in m["rcpts"]]) == 2,
                 timeout=30, what="the report and the bounce")
        # The message itself was delivered to the good recipient.
        self.assertIn("really sent", self.server.message_to("good8@relay.test")["data"])
        reports = [email.message_from_string(m["data"], policy=email.policy.default)
                   for m in self.server.messages if "tracer@relay.test" in m["rcpts"]]
        subjects = sorted(r["Subject"] for r in reports)
        self.assertEqual(subjects, ["Mail Delivery Status Report",
                                    "Undelivered Mail Returned to Sender"])
        report = [r for r in reports if r["Subject"] == "Mail Delivery Status Report"][0]
        text, status, _ = list(report.iter_parts())
        self.assertIn("Enclosed is the mail delivery report that you requested.",
                      text.get_content())
        actions = {str(f["Final-Recipient"]).split(";")[1].strip(): str(f["Action"])
                   for f in status.get_payload()[1:]}
        # always_bcc's copy is a recipient like the others (a real delivery).
        self.assertEqual(actions, {"good8@relay.test": "delivered",
                                   "bad8@relay.test": "failed",
                                   "slow8@relay.test": "delayed",
                                   "archive@relay.test": "delivered"})
        # The deferred recipient stays queued; no second report at its retry.
        self.assertIn("slow8@relay.test", self.inst.mailctl("queue", "list").stdout)


if __name__ == "__main__":
    unittest.main()
