"""The transports of the address classes, as in Postfix's main.cf:
default_transport (error:text bounces outbound mail while local mail is
delivered; another smtp transport with its own next hop, which wins over
relayhost), relay_transport (mail for relay_domains through a relay
service with its own -o settings, other mail through smtp), and a
transport that master.conf does not define (the mail is deferred with a
reason naming the parameter; mailctl check warns), and
sender_dependent_default_transport_maps (a sender's own transport for
its outbound mail; transport_maps still wins)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, InstanceTestCase, add_test_user, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, RecordingServer, free_port_on,  # noqa: E402
                        maildir_messages, sender_params, submit)


class Receiver(RecordingServer):
    """A receiver that keeps, per transaction, the EHLO name of its
    session and its recipients."""

    def __init__(self, test, address, port):
        super().__init__(address, port, data_reply="250 2.0.0 received",
                         ehlo_lines=("PIPELINING", "8BITMIME"))
        test.addCleanup(self.stop)

    def received(self):
        with self.lock:
            return [(m["helo"], sorted(m["rcpts"])) for m in self.messages]


class DefaultTransportsTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")

    def sender(self, services=(), users=(), **params):
        """A sending instance with virtual mailboxes in virt.example for
        users and these extra master.conf services and parameters.
        Returns (instance, vmail dir)."""
        params.setdefault("virtual_mailbox_domains", "virt.example")
        inst = Instance(params=sender_params(None, self.port, **params),
                        services=list(SENDER_SERVICES) + list(services))
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(users)
        return inst, vmail

    def test_error_default_transport(self):
        """default_transport = error:text bounces outbound mail with that
        text (relayhost is not used), while mail for a local system user
        and a virtual mailbox is delivered; the sender gets the bounce."""
        relay = Receiver(self, "127.0.0.3", self.port)
        inst, vmail = self.sender(users=["a@virt.example"],
                                  default_transport="error:outbound mail is disabled here",
                                  relayhost="[127.0.0.3]:%d" % self.port)
        rcpts = ["x@remote.example", "a@virt.example"]
        home = None
        if IS_ROOT:
            home = os.path.join(inst.base, "home-user")
            name = add_test_user(self, "pstdeftr", home)
            rcpts.append(name + "@out.sender.test")
        inst.start()
        submit(inst, "a@virt.example", rcpts, b"Subject: three classes\n\nx\n")
        inst.wait_log("to=<x@remote.example>, relay=none", timeout=30)
        self.assertRegex(inst.read_log(), r"to=<x@remote\.example>, relay=none, .*dsn=5\.0\.0, "
                         r"status=bounced \(outbound mail is disabled here\)")
        # The virtual mailbox has the message and then the bounce.
        wait_for(lambda: len(maildir_messages(vmail, "a@virt.example")) == 2, timeout=30,
                 what="the message and the bounce in a@virt.example's mailbox")
        mails = maildir_messages(vmail, "a@virt.example")
        self.assertEqual(sum(b"Subject: three classes" in m for m in mails), 2)
        self.assertTrue(any(b"outbound mail is disabled here" in m for m in mails))
        if home is not None:
            new = os.path.join(home, "Maildir", "new")
            wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 1, timeout=30,
                     what="the message in the system user's Maildir")
        self.assertEqual(relay.received(), [])
        self.assertEqual(relay.server.connections, 0)

    def test_discard_and_error_with_status(self):
        """transport_maps to qmgr's own discard and error transports, as
        Postfix's discard(8) and error(8): discard: is "sent" with its
        reason (the domain when it has none), error: with a 4.x.x status
        defers, with a 5.x.x one bounces with that status; nothing goes
        to the relay."""
        relay = Receiver(self, "127.0.0.3", self.port)
        inst, vmail = self.sender(users=["a@virt.example"],
                                  relayhost="[127.0.0.3]:%d" % self.port)
        table = os.path.join(inst.etc, "transport")
        with open(table, "w") as f:
            f.write("gone.example discard:dropped by policy\n"
                    "quiet.example discard:\n"
                    "soft.example error:4.7.1 come back later\n"
                    "hard.example error:5.1.2 no such domain here\n")
        inst.params["transport_maps"] = "texthash:" + table
        inst.write_config()
        inst.start()
        submit(inst, "a@virt.example", ["x@gone.example", "y@quiet.example",
                                        "z@soft.example", "w@hard.example"],
               b"Subject: built-in transports\n\nx\n")
        inst.wait_log("to=<w@hard.example>, relay=none", timeout=30)
        inst.wait_log("to=<z@soft.example>, relay=none", timeout=30)
        log = inst.read_log()
        self.assertRegex(log, r"to=<x@gone\.example>, relay=none, .*dsn=2\.0\.0, "
                         r"status=sent \(dropped by policy\)")
        self.assertRegex(log, r"to=<y@quiet\.example>, relay=none, .*dsn=2\.0\.0, "
                         r"status=sent \(quiet\.example\)")
        self.assertRegex(log, r"to=<z@soft\.example>, relay=none, .*dsn=4\.7\.1, "
                         r"status=deferred \(come back later\)")
        self.assertRegex(log, r"to=<w@hard\.example>, relay=none, .*dsn=5\.1\.2, "
                         r"status=bounced \(no such domain here\)")
        # The sender's bounce names the hard failure only.
        wait_for(lambda: any(b"no such domain here" in m
                             for m in maildir_messages(vmail, "a@virt.example")),
                 timeout=30, what="the bounce")
        self.assertEqual(relay.received(), [])

    def test_relay_transport(self):
        """relay_transport = relay with a relay service of its own: mail
        for relay_domains goes through it (its EHLO name), other outbound
        mail through smtp; both to relayhost."""
        receiver = Receiver(self, "127.0.0.3", self.port)
        inst, _ = self.sender(
            services=["relay unix - n n - - smtp -o smtp_helo_name=relay-helo.example"],
            relay_domains="relayed.example", relay_transport="relay",
            relayhost="[127.0.0.3]:%d" % self.port)
        inst.start()
        submit(inst, "s@out.sender.test", ["r1@relayed.example", "r2@relayed.example",
                                           "o@other.example"], b"Subject: relay\n\nx\n")
        wait_for(lambda: len(receiver.received()) == 2, timeout=30, what="two transactions")
        self.assertEqual(sorted(receiver.received()), [
            ("out.sender.test", ["o@other.example"]),
            ("relay-helo.example", ["r1@relayed.example", "r2@relayed.example"]),
        ])
        inst.wait_log("status=sent (250 2.0.0 received)", count=3, timeout=10)

    def test_smtp_transport_with_nexthop(self):
        """default_transport = slow:[127.0.0.3]:PORT (a slow smtp service)
        sends outbound mail there, not to relayhost (the transport's next
        hop wins, as in Postfix); relay_domains keep relay_transport
        (smtp, to relayhost)."""
        slow = Receiver(self, "127.0.0.3", self.port)
        relayhost = Receiver(self, "127.0.0.4", self.port)
        inst, _ = self.sender(
            services=["slow unix - n n - - smtp -o smtp_helo_name=slow-helo.example"],
            default_transport="slow:[127.0.0.3]:%d" % self.port,
            relay_domains="relayed.example",
            relayhost="[127.0.0.4]:%d" % self.port)
        inst.start()
        submit(inst, "s@out.sender.test", ["u@far.example", "r@relayed.example"],
               b"Subject: slow\n\nx\n")
        wait_for(lambda: len(slow.received()) == 1 and len(relayhost.received()) == 1,
                 timeout=30, what="the two deliveries")
        self.assertEqual(slow.received(), [("slow-helo.example", ["u@far.example"])])
        self.assertEqual(relayhost.received(), [("out.sender.test", ["r@relayed.example"])])
        inst.wait_log("to=<u@far.example>, relay=127.0.0.3[127.0.0.3]:%d" % self.port,
                      timeout=10)

    def test_sender_dependent_default_transport(self):
        """sender_dependent_default_transport_maps: bulk@ senders' outbound
        mail goes through the bulk service (its EHLO name) to relayhost,
        vip@ to its own next hop, others' through smtp; a transport_maps
        entry wins over the sender's, and local mail is not affected."""
        relayhost = Receiver(self, "127.0.0.3", self.port)
        vip = Receiver(self, "127.0.0.4", self.port)
        inst, vmail = self.sender(
            services=["bulk unix - n n - - smtp -o smtp_helo_name=bulk-helo.example"],
            users=["a@virt.example"],
            relayhost="[127.0.0.3]:%d" % self.port)
        senders = os.path.join(inst.etc, "sender_transport")
        with open(senders, "w") as f:
            f.write("@bulk.example bulk\nvip@bulk.example smtp:[127.0.0.4]:%d\n"
                    "plain@bulk.example DUNNO\n" % self.port)
        transport = os.path.join(inst.etc, "transport")
        with open(transport, "w") as f:
            f.write("pinned.example smtp:[127.0.0.3]:%d\n" % self.port)
        for path in (senders, transport):
            os.chmod(path, 0o644)
            inst.mailctl("map", "build", path, check=True)
        inst.params["sender_dependent_default_transport_maps"] = "hash:" + senders
        inst.params["transport_maps"] = "hash:" + transport
        inst.write_config()
        self.assertEqual(inst.mailctl("check").returncode, 0)
        inst.start()
        submit(inst, "news@bulk.example", ["u@far.example", "p@pinned.example",
                                           "a@virt.example"], b"Subject: bulk\n\nx\n")
        submit(inst, "vip@bulk.example", ["v@far.example"], b"Subject: vip\n\nx\n")
        submit(inst, "plain@bulk.example", ["w@far.example"], b"Subject: plain\n\nx\n")
        wait_for(lambda: len(relayhost.received()) == 3 and len(vip.received()) == 1,
                 timeout=30, what="the four outbound deliveries")
        self.assertEqual(sorted(relayhost.received()), [
            ("bulk-helo.example", ["u@far.example"]),
            ("out.sender.test", ["p@pinned.example"]),
            ("out.sender.test", ["w@far.example"]),
        ])
        self.assertEqual(vip.received(), [("out.sender.test", ["v@far.example"])])
        wait_for(lambda: len(maildir_messages(vmail, "a@virt.example")) == 1, timeout=30,
                 what="the local delivery")
        # A table that cannot be read: mailctl check says so.
        os.unlink(senders + ".lmdb")
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("sender_transport", result.stdout)

    def test_undefined_transport_defers(self):
        """A default_transport that master.conf does not define defers
        outbound mail with a reason naming it and the parameter; local
        mail still goes; mailctl check and qmgr warn about it."""
        inst, vmail = self.sender(users=["a@virt.example"], default_transport="nosuch")
        result = inst.mailctl("check")
        self.assertRegex(result.stdout, r"main\.conf:\d+: warning: default_transport = nosuch: "
                         r"no unix service nosuch in master\.conf")
        self.assertEqual(result.returncode, 0, result.stdout)
        inst.start()
        submit(inst, "s@out.sender.test", ["x@remote.example", "a@virt.example"],
               b"Subject: undefined\n\nx\n")
        inst.wait_log("to=<x@remote.example>, relay=none", timeout=30)
        self.assertRegex(inst.read_log(), r'to=<x@remote\.example>, relay=none, .*dsn=4\.3\.5, '
                         r'status=deferred \(unknown transport "nosuch" in default_transport: '
                         r'no unix service of that name in master\.conf\)')
        self.assertIn("default_transport = nosuch: no unix service nosuch in master.conf",
                      inst.read_log())
        wait_for(lambda: len(maildir_messages(vmail, "a@virt.example")) == 1, timeout=30,
                 what="the local delivery")
        listing = inst.mailctl("queue", "list", check=True).stdout
        self.assertIn("x@remote.example", listing)

    def test_check_class_transports(self):
        """mailctl check: a class transport of a service that runs no
        delivery agent is a warning, one with no transport an error; the
        defaults and defined services pass."""
        inst = self.instance(params={"relay_transport": "relay:[mx.example]",
                                     "virtual_transport": "weird",
                                     "local_transport": ":x"},
                             services=["relay unix - n n - - smtp",
                                       "weird unix n - n - 1 svc_probe",
                                       "qmgr unix n - n 300 1 qmgr"], start=False)
        result = inst.mailctl("check")
        out = result.stdout
        self.assertEqual(result.returncode, 1, out)
        self.assertRegex(out, r"main\.conf:\d+: error: local_transport = :x: no transport named")
        self.assertRegex(out, r"main\.conf:\d+: warning: virtual_transport = weird: service "
                         r"weird runs svc_probe, not smtp, lmtp, pipe, local, error or discard")
        self.assertNotIn("relay_transport", out)
        self.assertNotIn("default_transport", out)
        self.assertNotIn("unknown parameter", out + result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
