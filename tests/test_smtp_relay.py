"""The smtp client towards a relay: relayhost as [address]:port (no DNS),
AUTH with credentials from smtp_sasl_password_maps over STARTTLS, several
messages over one reused session, and transport_maps overriding the
route per domain (an smtp next hop, an error transport)."""

import grp
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, free_port_on,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)

PASSWORD = "secret password"


class SmtpRelayTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
        # The relay takes mail only from authenticated clients.
        self.relay, self.vmail = make_receiver(
            self, "127.0.0.3", self.port, ["far.example"], ["u@far.example"],
            extra_params={"mynetworks": "192.0.2.0/24", "smtpd_tls_auth_only_exempt": ""},
            smtpd_options="-o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes",
            extra_services=["auth unix y postern-auth n - - auth"],
            tls_name="relay.example")

    def table(self, inst, name, text, secret=False):
        path = os.path.join(inst.etc, name)
        with open(path, "w") as f:
            f.write(text)
        if secret:
            # Credentials: readable by the mail system's group only.
            os.chmod(path, 0o640)
            if os.geteuid() == 0:
                os.chown(path, 0, grp.getgrnam("postern").gr_gid)
        inst.mailctl("map", "build", path, check=True)
        if secret:
            self.assertEqual(os.stat(path + ".lmdb").st_mode & 0o777, 0o640)
        return path + ".lmdb"

    def test_relayhost_auth_reuse_and_transport(self):
        direct = []

        def handler(peer, n):
            peer.simple_session(data_reply=lambda: direct.append(1) or "250 2.0.0 direct ok")
        server = ScriptedServer("127.0.0.4", self.port, handler)
        self.addCleanup(server.stop)
        nexthop = "[127.0.0.3]:%d" % self.port
        # One smtp process (so qmgr sends one delivery at a time): each
        # message finds the session the previous one left open.
        services = [s.replace("smtp unix - n n - - smtp", "smtp unix - n n - 1 smtp")
                    for s in SENDER_SERVICES]
        send = Instance(params=sender_params(None, self.port, relayhost=nexthop,
                                             smtp_connection_cache_time_limit="5s"),
                        services=services)
        self.addCleanup(send.cleanup)
        send.params["smtp_sasl_password_maps"] = self.table(
            send, "sasl_passwd", "%s u@far.example:%s\n" % (nexthop, PASSWORD), secret=True)
        send.params["transport_maps"] = self.table(
            send, "transport",
            "direct.example smtp:[127.0.0.4]\n"
            ".blocked.example error:mail for this domain is refused here\n")
        send.write_config()
        send.start()
        for i in range(4):
            submit(send, "s@out.sender.test", ["u@far.example"],
                   b"Subject: relayed %d\n\nbody\n" % i)
        submit(send, "s@out.sender.test", ["x@direct.example"], b"Subject: direct\n\nx\n")
        submit(send, "s@out.sender.test", ["x@sub.blocked.example"], b"Subject: no\n\nx\n")
        wait_for(lambda: len(maildir_messages(self.vmail, "u@far.example")) == 4, timeout=30,
                 what="four relayed messages")
        send.wait_log("to=<x@sub.blocked.example>", timeout=30)
        send.wait_log("to=<x@direct.example>", timeout=30)
        log = send.read_log()
        self.assertRegex(log, r"to=<u@far.example>, relay=127.0.0.3\[127.0.0.3\]:%d, delay=\d+, "
                         r"dsn=2.0.0, status=sent .*, tls=TLSv1\.[23] " % self.port)
        self.assertRegex(log, r"to=<x@direct.example>, relay=127.0.0.4\[127.0.0.4\]:%d.*"
                         r"status=sent \(250 2.0.0 direct ok\)" % self.port)
        self.assertRegex(log, r"to=<x@sub.blocked.example>, relay=none.*status=bounced "
                         r"\(mail for this domain is refused here\)")
        self.assertEqual(len(direct), 1)
        relay_log = self.relay.read_log()
        self.assertIn("sasl_method=PLAIN, sasl_username=u@far.example", relay_log)
        # Four messages, fewer sessions: the session was kept and reused.
        sessions = relay_log.count("connect from")
        self.assertGreaterEqual(sessions, 1)
        self.assertLess(sessions, 4, relay_log)
        self.assertNotIn("killed by signal", log)


class KeptSessionTest(InstanceTestCase):
    """A kept session is reused with RSET pipelined ahead of MAIL, RCPT
    and DATA (one round trip less), and a kept session whose server
    refuses RSET is dropped for a new one without deferring the mail."""

    def test_rset_pipelined_and_refused(self):
        port = free_port_on("127.0.0.2", "127.0.0.5")
        delivered, after_rset = [], []

        def handler(peer, n):
            if n > 0:
                peer.simple_session(data_reply=lambda: delivered.append(n) or "250 2.0.0 ok")
                return
            peer.send("220 scripted ESMTP\r\n")
            while True:
                verb = peer.line()[:4].upper()
                if verb == "EHLO":
                    peer.send("250-scripted\r\n250 PIPELINING\r\n")
                elif verb == "MAIL":
                    peer.send("250 2.1.0 ok\r\n")
                elif verb == "RCPT":
                    peer.send("250 2.1.5 ok\r\n")
                elif verb == "DATA":
                    peer.send("354 go ahead\r\n")
                    peer.data()
                    delivered.append(n)
                    peer.send("250 2.0.0 ok\r\n")
                elif verb == "RSET":
                    # Read on before answering: a pipelining client has sent MAIL.
                    after_rset.append(peer.line())
                    peer.send("421 4.3.2 going away\r\n")
                    return
                else:
                    peer.send("221 bye\r\n")
                    return
        server = ScriptedServer("127.0.0.5", port, handler)
        self.addCleanup(server.stop)
        services = [s.replace("smtp unix - n n - - smtp", "smtp unix - n n - 1 smtp")
                    for s in SENDER_SERVICES]
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.5]:%d" % port,
                                             smtp_connection_cache_time_limit="10s",
                                             smtp_tls_security_level="none"),
                        services=services)
        self.addCleanup(send.cleanup)
        send.start()
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: one\n\nbody\n")
        wait_for(lambda: len(delivered) == 1, timeout=30, what="the first message")
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: two\n\nbody\n")
        wait_for(lambda: len(delivered) == 2, timeout=30, what="the second message")
        self.assertEqual(delivered, [0, 1])
        self.assertEqual(len(after_rset), 1)
        self.assertTrue(after_rset[0].upper().startswith("MAIL FROM:<S@OUT.SENDER.TEST>"),
                        after_rset)
        send.wait_log("status=sent", count=2)
        self.assertNotIn("status=deferred", send.read_log())


class DestinationConcurrencyTest(InstanceTestCase):
    """default_destination_concurrency_limit: at most that many deliveries
    to one domain at a time, and mail for another domain is not held up
    behind them."""

    def test_limit_per_destination(self):
        port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
        lock = threading.Lock()
        state = {"slow": 0, "slow_max": 0, "slow_done": 0, "fast_done": 0,
                 "fast_first_done_with_slow_left": None}

        def slow_handler(peer, n):
            def reply():
                with lock:
                    state["slow"] += 1
                    state["slow_max"] = max(state["slow_max"], state["slow"])
                time.sleep(1.0)
                with lock:
                    state["slow"] -= 1
                    state["slow_done"] += 1
                return "250 2.0.0 slow ok"
            peer.simple_session(data_reply=reply)

        def fast_handler(peer, n):
            def reply():
                with lock:
                    state["fast_done"] += 1
                    if state["fast_first_done_with_slow_left"] is None:
                        state["fast_first_done_with_slow_left"] = 8 - state["slow_done"]
                return "250 2.0.0 fast ok"
            peer.simple_session(data_reply=reply)

        for address, handler in (("127.0.0.3", slow_handler), ("127.0.0.4", fast_handler)):
            server = ScriptedServer(address, port, handler)
            self.addCleanup(server.stop)
        # No qmgr at first: all the mail is queued before any of it goes.
        without_qmgr = [x for x in SENDER_SERVICES if not x.startswith("qmgr ")]
        send = Instance(params=sender_params(None, port, default_destination_concurrency_limit="2"),
                        services=without_qmgr)
        self.addCleanup(send.cleanup)
        path = os.path.join(send.etc, "transport")
        with open(path, "w") as f:
            f.write("slow.example smtp:[127.0.0.3]\nfast.example smtp:[127.0.0.4]\n")
        send.mailctl("map", "build", path, check=True)
        send.params["transport_maps"] = path + ".lmdb"
        send.write_config()
        send.start()
        for i in range(8):
            submit(send, "s@out.sender.test", ["u@slow.example"], b"Subject: slow %d\n\nx\n" % i)
        for i in range(3):
            submit(send, "s@out.sender.test", ["u@fast.example"], b"Subject: fast %d\n\nx\n" % i)
        wait_for(lambda: len(os.listdir(os.path.join(send.spool, "incoming"))) == 11,
                 timeout=30, what="eleven messages in incoming/")
        send.reload(services=SENDER_SERVICES)
        wait_for(lambda: state["slow_done"] == 8 and state["fast_done"] == 3, timeout=60,
                 what="all eleven deliveries")
        self.assertEqual(state["slow_max"], 2, state)
        # The fast domain went while most of the slow one still waited (a
        # slow delivery takes a second: four rounds of two).
        self.assertGreaterEqual(state["fast_first_done_with_slow_left"], 4, state)
        send.wait_log("status=sent (250 2.0.0 fast ok)", timeout=10)

    def test_busy_destination_holds_no_thread(self):
        """With fewer delivery threads than messages waiting for a busy
        destination, mail for another one still goes at once: a message
        that finds no room at its destination waits in line for it
        without holding a thread, and goes exactly once."""
        port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
        lock = threading.Lock()
        state = {"slow": 0, "slow_max": 0, "slow_done": 0, "fast_done": 0,
                 "slow_left_at_fast": None}

        def slow_handler(peer, n):
            def reply():
                with lock:
                    state["slow"] += 1
                    state["slow_max"] = max(state["slow_max"], state["slow"])
                time.sleep(0.8)
                with lock:
                    state["slow"] -= 1
                    state["slow_done"] += 1
                return "250 2.0.0 slow ok"
            peer.simple_session(data_reply=reply)

        def fast_handler(peer, n):
            def reply():
                with lock:
                    state["fast_done"] += 1
                    if state["slow_left_at_fast"] is None:
                        state["slow_left_at_fast"] = 6 - state["slow_done"]
                return "250 2.0.0 fast ok"
            peer.simple_session(data_reply=reply)

        for address, handler in (("127.0.0.3", slow_handler), ("127.0.0.4", fast_handler)):
            server = ScriptedServer(address, port, handler)
            self.addCleanup(server.stop)
        # Two delivery threads (qmgr has as many as local's process limit).
        services = [x if not x.startswith("local ") else "local unix - n n 2 - local"
                    for x in SENDER_SERVICES]
        without_qmgr = [x for x in services if not x.startswith("qmgr ")]
        send = Instance(params=sender_params(None, port, smtp_destination_concurrency_limit="1"),
                        services=without_qmgr)
        self.addCleanup(send.cleanup)
        path = os.path.join(send.etc, "transport")
        with open(path, "w") as f:
            f.write("slow.example smtp:[127.0.0.3]\nfast.example smtp:[127.0.0.4]\n")
        send.mailctl("map", "build", path, check=True)
        send.params["transport_maps"] = path + ".lmdb"
        send.write_config()
        send.start()
        # The slow destination's mail first, then one for the fast one
        # with a recipient at the slow one too.
        for i in range(5):
            submit(send, "s@out.sender.test", ["u@slow.example"], b"Subject: slow %d\n\nx\n" % i)
        submit(send, "s@out.sender.test", ["v@slow.example", "u@fast.example"],
               b"Subject: both\n\nx\n")
        wait_for(lambda: len(os.listdir(os.path.join(send.spool, "incoming"))) == 6,
                 timeout=30, what="six messages in incoming/")
        send.reload(services=services)
        wait_for(lambda: state["slow_done"] == 6 and state["fast_done"] == 1, timeout=60,
                 what="all seven deliveries")
        self.assertEqual(state["slow_max"], 1, state)
        # With threads held by the waiting messages, the fast recipient
        # would wait for most of the slow deliveries (0.8 s each).
        self.assertGreaterEqual(state["slow_left_at_fast"], 4, state)
        wait_for(lambda: not os.listdir(os.path.join(send.spool, "active")), timeout=20,
                 what="active/ empty")
        log = send.read_log()
        self.assertEqual(log.count("status=sent (250 2.0.0 slow ok)"), 6, log)
        self.assertEqual(log.count("status=sent (250 2.0.0 fast ok)"), 1, log)
        self.assertNotIn("status=deferred", log)
        self.assertEqual(log.count(": removed"), 6, log)
        # Each message taken into active/ once, back from waiting or not.
        self.assertEqual(log.count("(queue active)"), 6, log)

    def test_limit_per_relayhost(self):
        """Mail for many domains through one relayhost shares that next
        hop's smtp_destination_concurrency_limit (a limit per recipient
        domain would open one connection per domain to the relay)."""
        port = free_port_on("127.0.0.2", "127.0.0.3")
        lock = threading.Lock()
        state = {"now": 0, "max": 0, "done": 0}

        def handler(peer, n):
            def reply():
                with lock:
                    state["now"] += 1
                    state["max"] = max(state["max"], state["now"])
                time.sleep(0.5)
                with lock:
                    state["now"] -= 1
                    state["done"] += 1
                return "250 2.0.0 relayed"
            peer.simple_session(data_reply=reply)

        server = ScriptedServer("127.0.0.3", port, handler)
        self.addCleanup(server.stop)
        without_qmgr = [x for x in SENDER_SERVICES if not x.startswith("qmgr ")]
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.3]:%d" % port,
                                             default_destination_concurrency_limit="5",
                                             smtp_destination_concurrency_limit="2"),
                        services=without_qmgr)
        self.addCleanup(send.cleanup)
        send.start()
        for i in range(8):
            submit(send, "s@out.sender.test", ["u@d%d.example" % i], b"Subject: %d\n\nx\n" % i)
        wait_for(lambda: len(os.listdir(os.path.join(send.spool, "incoming"))) == 8,
                 timeout=30, what="eight messages in incoming/")
        send.reload(services=SENDER_SERVICES)
        wait_for(lambda: state["done"] == 8, timeout=60, what="all eight deliveries")
        self.assertEqual(state["max"], 2, state)
        for i in range(8):
            send.wait_log("to=<u@d%d.example>, relay=127.0.0.3" % i, timeout=10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
