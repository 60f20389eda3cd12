"""Transports defined in master.conf, as Postfix admins add them to
master.cf: the smtp program run under another service name ("slow",
"relay") with its own -o settings, routed to by transport_maps, with
per-transport limits in main.conf (TRANSPORT_destination_concurrency_limit,
TRANSPORT_destination_recipient_limit); a transport that master.conf does
not define defers; the per-transport parameters are known to the config
loader and to mailctl."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, RecordingServer, Unbound, free_port_on,  # noqa: E402
                        have, maildir_messages, sender_params, submit)

ZONE = """$ORIGIN example.
$TTL 300
@ IN SOA ns.example. admin.example. 1 3600 600 86400 300
@ IN NS ns.example.
ns IN A 127.0.0.1
bydomain IN A 127.0.0.3
"""


class SmtpTransportsTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")

    def recorder(self, address, delay=0.0):
        """A receiver on address that keeps what it was sent."""
        server = RecordingServer(address, self.port, data_reply="250 2.0.0 recorded",
                                 ehlo_lines=("PIPELINING", "8BITMIME"), delay=delay)
        self.addCleanup(server.stop)
        return server

    def sender(self, services, transport, start_qmgr=True, dns=None, **params):
        """A sending instance with these extra master.conf services and
        transport table. Without start_qmgr, qmgr is left out until
        release() (so that all the mail is queued before any goes)."""
        base = [x for x in SENDER_SERVICES if start_qmgr or not x.startswith("qmgr ")]
        inst = Instance(params=sender_params(dns, self.port, **params),
                        services=base + list(services))
        self.addCleanup(inst.cleanup)
        path = os.path.join(inst.etc, "transport")
        with open(path, "w") as f:
            f.write(transport.replace("PORT", str(self.port)))
        inst.mailctl("map", "build", path, check=True)
        inst.params["transport_maps"] = path + ".lmdb"
        inst.write_config()
        inst.start()
        inst.all_services = list(SENDER_SERVICES) + list(services)
        return inst

    def release(self, inst, count):
        wait_for(lambda: len(os.listdir(os.path.join(inst.spool, "incoming"))) == count,
                 timeout=30, what="%d messages in incoming/" % count)
        inst.reload(services=inst.all_services)

    def test_slow_transport_concurrency(self):
        """slow_destination_concurrency_limit = 1 holds the slow transport
        to one delivery at a time at its next hop; the plain smtp
        transport to another receiver is not limited by it."""
        slow = self.recorder("127.0.0.3", delay=0.6)
        fast = self.recorder("127.0.0.4", delay=0.6)
        send = self.sender(["slow unix - n n - - smtp"],
                           "slow.example slow:[127.0.0.3]:PORT\n"
                           "fast.example smtp:[127.0.0.4]:PORT\n",
                           start_qmgr=False, slow_destination_concurrency_limit="1")
        for i in range(4):
            submit(send, "s@out.sender.test", ["u%d@slow.example" % i],
                   b"Subject: slow %d\n\nx\n" % i)
            submit(send, "s@out.sender.test", ["u%d@fast.example" % i],
                   b"Subject: fast %d\n\nx\n" % i)
        self.release(send, 8)
        wait_for(lambda: slow.done() == 4 and fast.done() == 4, timeout=60,
                 what="all eight deliveries")
        self.assertEqual(slow.max, 1, slow.transactions())
        self.assertGreaterEqual(fast.max, 2, fast.transactions())
        for i in range(4):
            send.wait_log("to=<u%d@slow.example>, relay=127.0.0.3[127.0.0.3]:%d"
                          % (i, self.port), timeout=10)
        # The slow transport is its own service in master.
        names = [svc["name"] for svc in send.status()["services"]]
        self.assertIn("slow", names)
        self.assertNotIn("unknown parameter", send.read_log())

    def test_relay_helo_and_recipient_limit(self):
        """A relay service with -o smtp_helo_name: its receiver sees that
        EHLO name, the plain smtp transport's does not; and
        relay_destination_recipient_limit = 2 splits five recipients into
        three transactions, where smtp takes them in one."""
        relay = self.recorder("127.0.0.3")
        plain = self.recorder("127.0.0.4")
        send = self.sender(["relay unix - n n - - smtp -o smtp_helo_name=relay-helo.example"],
                           "relayed.example relay:[127.0.0.3]:PORT\n"
                           "plain.example smtp:[127.0.0.4]:PORT\n",
                           relay_destination_recipient_limit="2")
        submit(send, "s@out.sender.test", ["r%d@relayed.example" % i for i in range(5)],
               b"Subject: relayed\n\nx\n")
        submit(send, "s@out.sender.test", ["p%d@plain.example" % i for i in range(5)],
               b"Subject: plain\n\nx\n")
        wait_for(lambda: relay.done() == 3 and plain.done() == 1, timeout=60,
                 what="the deliveries")
        self.assertEqual(sorted(len(t) for t in relay.transactions()), [1, 2, 2],
                         relay.transactions())
        self.assertEqual(sorted(sum(relay.transactions(), [])),
                         ["r%d@relayed.example" % i for i in range(5)])
        self.assertEqual(plain.transactions(), [["p%d@plain.example" % i for i in range(5)]])
        self.assertTrue(relay.helos)
        self.assertEqual(set(relay.helos), {"relay-helo.example"})
        self.assertTrue(plain.helos)
        self.assertEqual(set(plain.helos), {"out.sender.test"})
        wait_for(lambda: send.read_log().count("status=sent (250 2.0.0 recorded)") == 10,
                 timeout=10, what="ten delivered recipients in the log")

    @unittest.skipUnless(have("unbound"), "unbound is not installed")
    def test_empty_nexthop_is_recipient_domain(self):
        """"relay:" without a next hop delivers to the recipient's domain
        (as Postfix resets the next hop), not to relayhost."""
        dns = Unbound({"example": ZONE})
        self.addCleanup(dns.stop)
        relay = self.recorder("127.0.0.3")
        other = self.recorder("127.0.0.4")
        send = self.sender(["relay unix - n n - - smtp -o smtp_helo_name=relay-helo.example"],
                           "bydomain.example relay:\n", dns=dns,
                           relayhost="[127.0.0.4]:%d" % self.port)
        submit(send, "s@out.sender.test", ["u@bydomain.example"], b"Subject: d\n\nx\n")
        wait_for(lambda: relay.done() == 1, timeout=30, what="the delivery")
        self.assertEqual(relay.transactions(), [["u@bydomain.example"]])
        self.assertEqual(set(relay.helos), {"relay-helo.example"})
        self.assertEqual(other.done(), 0)

    def test_local_under_another_name(self):
        """A service running local is a local transport: mail routed to
        it is delivered (here into a virtual mailbox) through its own
        socket (private/mylocal), here one recipient a request."""
        inst = Instance(params=sender_params(None, self.port,
                                             virtual_mailbox_domains="virt.example",
                                             mylocal_destination_recipient_limit="1"),
                        services=list(SENDER_SERVICES) + ["mylocal unix - n n - - local"])
        self.addCleanup(inst.cleanup)
        vmail = inst.add_vmail(["a@virt.example", "b@virt.example"])
        path = os.path.join(inst.etc, "transport")
        with open(path, "w") as f:
            f.write("virt.example mylocal:\n")
        inst.mailctl("map", "build", path, check=True)
        inst.params["transport_maps"] = path + ".lmdb"
        inst.write_config()
        inst.start()
        submit(inst, "s@out.sender.test", ["a@virt.example", "b@virt.example"],
               b"Subject: local\n\nx\n")
        for rcpt in ("a@virt.example", "b@virt.example"):
            inst.wait_log("to=<%s>, relay=mylocal," % rcpt, timeout=30)
            wait_for(lambda: len(maildir_messages(vmail, rcpt)) == 1, timeout=10,
                     what="the message in %s's mailbox" % rcpt)
        self.assertIn("mylocal", [svc["name"] for svc in inst.status()["services"]])

    def test_undefined_transport_defers(self):
        """A transport that master.conf does not define, or whose service
        runs something other than a delivery agent, defers the recipient
        with a reason naming it; other mail of the message still goes."""
        plain = self.recorder("127.0.0.4")
        send = self.sender(["weird unix n - n - 1 svc_probe"],
                           "nosuch.example nosuch:[127.0.0.3]:PORT\n"
                           "weird.example weird:\n"
                           "plain.example smtp:[127.0.0.4]:PORT\n")
        submit(send, "s@out.sender.test",
               ["a@nosuch.example", "b@weird.example", "c@plain.example"],
               b"Subject: mixed\n\nx\n")
        send.wait_log('to=<a@nosuch.example>, relay=none', timeout=30)
        send.wait_log('to=<b@weird.example>, relay=none', timeout=30)
        log = send.read_log()
        self.assertRegex(log, r'to=<a@nosuch\.example>, relay=none.*dsn=4\.3\.5, '
                         r'status=deferred \(unknown transport "nosuch" in transport_maps: '
                         r'no unix service of that name in master\.conf\)')
        self.assertRegex(log, r'to=<b@weird\.example>, relay=none.*dsn=4\.3\.5, '
                         r'status=deferred \(transport "weird" in transport_maps: its '
                         r'master\.conf service runs svc_probe, not smtp, lmtp, pipe, local, error or discard\)')
        wait_for(lambda: plain.done() == 1, timeout=30, what="the plain delivery")
        self.assertEqual(plain.transactions(), [["c@plain.example"]])

    def test_parameters_are_known(self):
        """Per-transport parameters load without an "unknown parameter"
        warning, in main.conf and in -o; mailctl prints them and checks
        that a service of that name exists."""
        inst = self.instance(params={
            "slow_destination_concurrency_limit": "1",
            "relay_destination_recipient_limit": "2",
            "gone_destination_concurrency_limit": "3",
            "default_destination_recipient_limit": "40",
        }, services=[
            "slow unix - n n - - smtp",
            "relay unix - n n - - smtp -o relay_destination_recipient_limit=5",
            "qmgr unix n - n 300 1 qmgr",
        ], start=False)
        result = inst.mailctl("check")
        self.assertNotIn("unknown parameter", result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"main\.conf:\d+: warning: gone_destination_concurrency_"
                         r"limit: no unix service gone in master\.conf")
        self.assertNotRegex(result.stdout, r"(slow|relay)_destination")
        self.assertEqual(result.returncode, 0, result.stdout)
        out = inst.mailctl("config", "slow_destination_concurrency_limit",
                           "relay_destination_concurrency_limit",
                           "relay_destination_recipient_limit", check=True).stdout
        self.assertEqual(out.splitlines(), [
            "slow_destination_concurrency_limit = 1",
            "relay_destination_concurrency_limit = $default_destination_concurrency_limit",
            "relay_destination_recipient_limit = 2"])
        out = inst.mailctl("config", "-x", "slow_destination_recipient_limit",
                           check=True).stdout
        self.assertEqual(out.strip(), "slow_destination_recipient_limit = 40")
        listing = inst.mailctl("config", check=True).stdout
        self.assertIn("relay_destination_recipient_limit = 2\n", listing)
        doc = json.loads(inst.mailctl("--json", "config", "-n", check=True).stdout)
        known = {p["name"]: p["known"] for p in doc["parameters"]}
        self.assertTrue(known["slow_destination_concurrency_limit"])
        # A bad value is an error like any integer parameter's.
        inst.params["slow_destination_concurrency_limit"] = "one"
        inst.write_config()
        result = inst.mailctl("check")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertRegex(result.stdout, r"slow_destination_concurrency_limit: invalid integer")
        inst.params["slow_destination_concurrency_limit"] = "1"
        inst.write_config()
        # master and qmgr (woken at start) read main.conf without the warning.
        inst.start()
        wait_for(lambda: inst.service_status("qmgr").get("processes", 0) >= 1,
                 timeout=10, what="qmgr running")
        self.assertNotIn("unknown parameter", inst.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
