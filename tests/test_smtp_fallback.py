"""smtp_fallback_relay, as Postfix's: recipients the next hop leaves open
go to the fallback relay, routed through a local unbound serving a test
zone. It gets the mail of a domain whose only MX refuses connections, of
recipients an MX answers 451 (one the MX answers 550 bounces, with a
notice to the sender), of a domain that does not exist (Postfix: "used
when an SMTP destination is not found") and of one whose MX look-up fails
(SERVFAIL), and the mail for an unreachable relayhost too, with the TLS
policy and AUTH credentials looked up for the fallback relay's own name.
It never gets mail for a null MX domain, mail that loops back to this
host, or mail for a domain this host is a backup MX of. Every server is
on loopback; the fallback relay is a scripted server (or, with AUTH, a
Postern instance)."""

import grp
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, RecordingServer, Unbound, free_port_on,  # noqa: E402
                        have, maildir_messages, make_receiver, sender_params, submit)

MYHOSTNAME = "out.sender.test"  # sender_params' myhostname

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
down.hosts IN A 127.0.0.5
grey.hosts IN A 127.0.0.4
mixed.hosts IN A 127.0.0.6
back.hosts IN A 127.0.0.9
down IN MX 10 down.hosts.example.
grey IN MX 10 grey.hosts.example.
mixed IN MX 10 mixed.hosts.example.
back IN MX 10 back.hosts.example.
nullmx IN MX 0 .
self IN MX 10 %(me)s.
backup IN MX 5 down.hosts.example.
backup IN MX 10 %(me)s.
""" % {"me": MYHOSTNAME}

# 127.0.0.2: the sender; .4 and .6: scripted MX hosts; .5: nothing
# listens (connection refused); .9: the fallback relay, also the MX of
# back.example, where the sender's notices go.
ADDRESSES = ("127.0.0.2", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.9")


def log_lines(inst, pattern):
    return [l for l in inst.read_log().splitlines() if re.search(pattern, l)]


@unittest.skipUnless(have("unbound"), "unbound is not installed")
class FallbackRelayTest(InstanceTestCase):
    def setUp(self):
        self.dns = Unbound({"example": ZONE}, refused=["refused.example"])
        self.addCleanup(self.dns.stop)
        self.port = free_port_on(*ADDRESSES)
        self.fallback_nexthop = "[127.0.0.9]:%d" % self.port
        self.fallback = RecordingServer("127.0.0.9", self.port,
                                        data_reply="250 2.0.0 fallback took it")
        self.addCleanup(self.fallback.stop)

    def scripted(self, address, rcpt_reply):
        server = RecordingServer(address, self.port, rcpt_reply=rcpt_reply)
        self.addCleanup(server.stop)
        return server

    def sender(self, **extra):
        params = {"smtp_fallback_relay": self.fallback_nexthop}
        params.update(extra)
        inst = Instance(params=sender_params(self.dns, self.port, **params),
                        services=list(SENDER_SERVICES))
        self.addCleanup(inst.cleanup)
        inst.start()
        return inst

    def assert_via_fallback(self, inst, rcpt):
        self.assertRegex("\n".join(log_lines(inst, "to=<%s>" % re.escape(rcpt))),
                         r"relay=127\.0\.0\.9\[127\.0\.0\.9\]:%d, delay=\d+, dsn=2\.0\.0, "
                         r"status=sent \(250 2\.0\.0 fallback took it\)" % self.port)

    def test_temporary_failures_go_to_the_fallback(self):
        grey = self.scripted("127.0.0.4", lambda c: "451 4.7.1 greylisted, try later")
        mixed = self.scripted(
            "127.0.0.6", lambda c: "550 5.1.1 <bad@mixed.example>: no such user"
            if "bad@" in c else "451 4.3.0 try again later")
        send = self.sender()
        sender = "owner@back.example"
        # (a) the only MX refuses connections; (b) the MX answers 451;
        # (c) 550 for one recipient, 451 for the other; (d) NXDOMAIN;
        # (e) SERVFAIL for the MX look-up.
        submit(send, sender, ["u@down.example"], b"Subject: down\n\nx\n")
        submit(send, sender, ["u@grey.example"], b"Subject: grey\n\nx\n")
        submit(send, sender, ["good@mixed.example", "bad@mixed.example"],
               b"Subject: mixed\n\nx\n")
        submit(send, sender, ["u@nx.example"], b"Subject: nx\n\nx\n")
        submit(send, sender, ["u@refused.example"], b"Subject: servfail\n\nx\n")
        for rcpt in ("u@down.example", "u@grey.example", "good@mixed.example",
                     "bad@mixed.example", "u@nx.example", "u@refused.example"):
            send.wait_log("to=<%s>" % rcpt, timeout=30)
        for rcpt in ("u@down.example", "u@grey.example", "good@mixed.example",
                     "u@nx.example", "u@refused.example"):
            self.assert_via_fallback(send, rcpt)
            message = self.fallback.message_to(rcpt)
            self.assertIsNotNone(message, rcpt)
            self.assertEqual(message["sender"], sender)
        log = send.read_log()
        self.assertIn("connect to down.hosts.example[127.0.0.5]:%d" % self.port, log)
        # The destinations' own servers were asked first.
        self.assertTrue(any(c.startswith("RCPT TO:<u@grey.example>")
                            for c in grey.server.transcript), grey.server.transcript)
        self.assertTrue(any(c.startswith("RCPT TO:<bad@mixed.example>")
                            for c in mixed.server.transcript), mixed.server.transcript)
        # The 550 stands: bounced from the destination's MX, never tried
        # at the fallback relay.
        self.assertRegex("\n".join(log_lines(send, "to=<bad@mixed.example>")),
                         r"relay=mixed\.hosts\.example\[127\.0\.0\.6\]:%d, .*dsn=5\.1\.1, "
                         r"status=bounced \(host mixed\.hosts\.example\[127\.0\.0\.6\]:%d said: "
                         r"550 5\.1\.1 <bad@mixed\.example>: no such user\)" % (self.port, self.port))
        self.assertNotIn("bad@mixed.example", self.fallback.recipients())
        self.assertEqual(len(log_lines(send, r"to=<.*status=deferred")), 0,
                         "\n".join(log_lines(send, "to=<")))
        # The sender's notice (to back.example's MX, the same host) names
        # the bounced recipient only.
        wait_for(lambda: any(m["sender"] == "" for m in self.fallback.messages), timeout=30,
                 what="the non-delivery notice")
        notice = [m for m in self.fallback.messages if m["sender"] == ""][0]
        self.assertEqual(notice["rcpts"], [sender])
        self.assertIn("bad@mixed.example", notice["data"])
        self.assertIn("5.1.1", notice["data"])
        self.assertNotIn("good@mixed.example", notice["data"])
        self.assertNotIn("killed by signal", log)

    def test_no_fallback_for_null_mx_and_loops(self):
        send = self.sender()
        sender = "owner@back.example"
        submit(send, sender, ["u@nullmx.example"], b"Subject: nullmx\n\nx\n")
        submit(send, sender, ["u@self.example"], b"Subject: self\n\nx\n")
        submit(send, sender, ["u@backup.example"], b"Subject: backup\n\nx\n")
        for rcpt in ("u@nullmx.example", "u@self.example", "u@backup.example"):
            send.wait_log("to=<%s>" % rcpt, timeout=30)
        lines = "\n".join(log_lines(send, "to=<"))
        # RFC 7505: a null MX domain takes no mail, through a relay neither.
        self.assertRegex(lines, r"to=<u@nullmx\.example>, relay=none, .*dsn=5\.1\.10, "
                         r"status=bounced \(Domain nullmx\.example does not accept mail")
        # This host is the best MX: a mail loop bounces.
        self.assertRegex(lines, r"to=<u@self\.example>, relay=none, .*dsn=5\.4\.6, "
                         r"status=bounced \(mail for self\.example loops back to myself\)")
        # This host is a backup MX and the better one is down: the mail
        # waits for it rather than going round through the fallback.
        self.assertRegex(lines, r"to=<u@backup\.example>, relay=down\.hosts\.example"
                         r"\[127\.0\.0\.5\]:%d, .*dsn=4\.4\.1, status=deferred \(connect to "
                         r"down\.hosts\.example\[127\.0\.0\.5\]:%d" % (self.port, self.port))
        # The notices for the two bounces are the only mail the fallback
        # relay's host got (as back.example's MX, not as the fallback).
        wait_for(lambda: len(self.fallback.messages) >= 2, timeout=30,
                 what="the two non-delivery notices")
        self.assertEqual(set(self.fallback.recipients()), {sender})
        self.assertEqual({m["sender"] for m in self.fallback.messages}, {""})
        self.assertFalse(any("backup.example" in c for c in self.fallback.commands),
                         self.fallback.commands)

    def test_relays_in_order_and_a_broken_one(self):
        """The list is tried in order: a fallback relay that does not
        exist is passed over for the next one; when it is the only one,
        the mail is deferred (4.3.5, a configuration problem), never
        bounced."""
        send = self.sender(smtp_fallback_relay="norelay.example, " + self.fallback_nexthop)
        submit(send, "s@out.sender.test", ["u@down.example"], b"Subject: down\n\nx\n")
        send.wait_log("to=<u@down.example>", timeout=30)
        self.assert_via_fallback(send, "u@down.example")
        only_broken = self.sender(smtp_fallback_relay="norelay.example")
        submit(only_broken, "s@out.sender.test", ["u@down.example"], b"Subject: down\n\nx\n")
        only_broken.wait_log("to=<u@down.example>", timeout=30)
        self.assertRegex("\n".join(log_lines(only_broken, "to=<u@down.example>")),
                         r"relay=none, .*dsn=4\.3\.5, status=deferred \(Host or domain name "
                         r"not found: norelay\.example\)")
        self.assertIn("warning: smtp_fallback_relay configuration problem: Host or domain name "
                      "not found: norelay.example", only_broken.read_log())
        self.assertNotIn("status=bounced", only_broken.read_log())
        self.assertEqual(len(self.fallback.messages), 1)

    def test_unreachable_relayhost_uses_the_fallback(self):
        """Postfix uses the fallback relays for mail to relayhost too; the
        fallback relay's TLS policy entry ([host]:port: none) is its own,
        not the relayhost's (encrypt, which this server would fail)."""
        self.fallback.ehlo_lines = ("PIPELINING", "STARTTLS", "SIZE 100000")
        send = Instance(params=sender_params(
            self.dns, self.port, relayhost="[127.0.0.5]:%d" % self.port,
            smtp_fallback_relay=self.fallback_nexthop), services=list(SENDER_SERVICES))
        self.addCleanup(send.cleanup)
        path = os.path.join(send.etc, "tls_policy")
        with open(path, "w") as f:
            f.write("[127.0.0.5]:%d encrypt\n%s none\n" % (self.port, self.fallback_nexthop))
        send.mailctl("map", "build", path, check=True)
        send.params["smtp_tls_policy_maps"] = path + ".lmdb"
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@anywhere.example"], b"Subject: relayed\n\nx\n")
        send.wait_log("to=<u@anywhere.example>", timeout=30)
        self.assert_via_fallback(send, "u@anywhere.example")
        self.assertIn("connect to 127.0.0.5[127.0.0.5]:%d" % self.port, send.read_log())
        self.assertNotIn("STARTTLS", self.fallback.commands)


PASSWORD = "secret password"


class FallbackRelayAuthTest(InstanceTestCase):
    """The AUTH credentials for the fallback relay are found under its
    own next hop in smtp_sasl_password_maps, over the TLS its own policy
    entry asks for (the default level here is none)."""

    def test_credentials_and_tls_of_the_fallback(self):
        port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.5")
        relay, vmail = make_receiver(
            self, "127.0.0.3", port, ["far.example"], ["u@far.example"],
            extra_params={"mynetworks": "192.0.2.0/24", "smtpd_tls_auth_only_exempt": ""},
            smtpd_options="-o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes",
            extra_services=["auth unix y postern-auth n - - auth"],
            tls_name="relay.example")
        fallback = "[127.0.0.3]:%d" % port
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.5]:%d" % port,
                                             smtp_fallback_relay=fallback,
                                             smtp_tls_security_level="none"),
                        services=list(SENDER_SERVICES))
        self.addCleanup(send.cleanup)
        sasl = os.path.join(send.etc, "sasl_passwd")
        with open(sasl, "w") as f:
            f.write("%s u@far.example:%s\n" % (fallback, PASSWORD))
        os.chmod(sasl, 0o640)
        if os.geteuid() == 0:
            os.chown(sasl, 0, grp.getgrnam("postern").gr_gid)
        send.mailctl("map", "build", sasl, check=True)
        policy = os.path.join(send.etc, "tls_policy")
        with open(policy, "w") as f:
            f.write("%s encrypt\n" % fallback)
        send.mailctl("map", "build", policy, check=True)
        send.params["smtp_sasl_password_maps"] = sasl + ".lmdb"
        send.params["smtp_tls_policy_maps"] = policy + ".lmdb"
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: via fallback\n\nx\n")
        wait_for(lambda: maildir_messages(vmail, "u@far.example"), timeout=30,
                 what="delivery through the fallback relay")
        send.wait_log("to=<u@far.example>", timeout=30)
        self.assertRegex("\n".join(log_lines(send, "to=<u@far.example>")),
                         r"relay=127\.0\.0\.3\[127\.0\.0\.3\]:%d, .*status=sent .*"
                         r"tls=TLSv1\.[23] " % port)
        self.assertIn("sasl_method=PLAIN, sasl_username=u@far.example", relay.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
