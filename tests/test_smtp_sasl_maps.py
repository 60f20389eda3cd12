"""Client AUTH credentials and relay choice as Postfix admins set them up:
smtp_sasl_password_maps searched by the server's host name when there is
no next-hop entry; smtp_sender_dependent_authentication (each sender's
own login, a sender without an entry falling back to the host's, and no
session shared between two logins); sender_dependent_relayhost_maps
(each sender's relay, relayhost for the others, a transport_maps next
hop still winning)."""

import base64
import grp
import os
import shutil
import ssl
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, free_port_on,  # noqa: E402
                        make_cert, maildir_messages, make_receiver, sender_params, submit)

PASSWORD = "secret password"
# One smtp process: deliveries go one at a time, and each finds the
# session the previous one kept.
ONE_SMTP = [s.replace("smtp unix - n n - - smtp", "smtp unix - n n - 1 smtp")
            for s in SENDER_SERVICES]


def build_table(inst, name, text, secret=False):
    path = os.path.join(inst.etc, name)
    with open(path, "w") as f:
        f.write(text)
    if secret:
        os.chmod(path, 0o640)
        if os.geteuid() == 0:
            os.chown(path, 0, grp.getgrnam("postern").gr_gid)
    inst.mailctl("map", "build", path, check=True)
    return path + ".lmdb"


class AuthServer:
    """A scripted relay with STARTTLS and AUTH PLAIN/LOGIN that records,
    per message, the connection, the login it came over and the sender."""

    def __init__(self, test, address, port):
        self.messages = []  # (connection number, user or None, sender)
        self.logins = []    # (connection number, user)
        self.lock = threading.Lock()
        directory = tempfile.mkdtemp(prefix="postern-sasl-cert.")
        test.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        cert, key = make_cert(directory, "relay.example")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.server = ScriptedServer(address, port, self.handle)
        test.addCleanup(self.server.stop)

    def handle(self, peer, n):
        user = None
        tls = False
        sender = None
        peer.send("220 scripted ESMTP\r\n")
        while True:
            cmd = peer.line()
            verb = cmd[:4].upper()
            if verb == "EHLO":
                ext = ["AUTH PLAIN LOGIN"] if tls else ["STARTTLS"]
                lines = ["scripted", "PIPELINING"] + ext
                peer.send("".join("250-%s\r\n" % x for x in lines[:-1]) + "250 %s\r\n" % lines[-1])
            elif verb == "STAR" and not tls:
                peer.send("220 2.0.0 go ahead\r\n")
                peer.conn = self.ctx.wrap_socket(peer.conn, server_side=True)
                tls = True
            elif cmd.upper().startswith("AUTH PLAIN"):
                parts = cmd.split()
                if len(parts) < 3:
                    peer.send("334 \r\n")
                    parts.append(peer.line())
                user = base64.b64decode(parts[2]).split(b"\0")[1].decode()
                with self.lock:
                    self.logins.append((n, user))
                peer.send("235 2.7.0 ok\r\n")
            elif cmd.upper().startswith("AUTH LOGIN"):
                peer.send("334 VXNlcm5hbWU6\r\n")
                user = base64.b64decode(peer.line()).decode()
                peer.send("334 UGFzc3dvcmQ6\r\n")
                peer.line()
                with self.lock:
                    self.logins.append((n, user))
                peer.send("235 2.7.0 ok\r\n")
            elif verb == "MAIL":
                sender = cmd.split("<", 1)[1].split(">", 1)[0]
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                peer.send("250 2.1.5 ok\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                peer.data()
                with self.lock:
                    self.messages.append((n, user, sender))
                peer.send("250 2.0.0 ok\r\n")
            elif verb == "RSET":
                peer.send("250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 2.0.0 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 no\r\n")


class SaslHostKeyTest(InstanceTestCase):
    """With relayhost = [relay.example]:port and only an entry for the
    host name relay.example, the client logs in with it (Postfix tries
    the host name, then the next hop as written)."""

    def test_host_name_key(self):
        port = free_port_on("127.0.0.2", "127.0.0.3")
        relay, vmail = make_receiver(
            self, "127.0.0.3", port, ["far.example"], ["u@far.example"],
            extra_params={"mynetworks": "192.0.2.0/24", "smtpd_tls_auth_only_exempt": ""},
            smtpd_options="-o smtpd_sasl_auth_enable=yes -o smtpd_auth_required=yes",
            extra_services=["auth unix y postern-auth n - - auth"],
            tls_name="relay.example")
        send = Instance(params=sender_params(None, port), services=SENDER_SERVICES)
        self.addCleanup(send.cleanup)
        hosts = os.path.join(send.etc, "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.3 relay.example\n")
        send.params["dns_hosts_file"] = hosts
        send.params["relayhost"] = "[relay.example]:%d" % port
        send.params["smtp_sasl_password_maps"] = build_table(
            send, "sasl_passwd",
            "other.example wrong@far.example:wrong\n"
            "relay.example u@far.example:%s\n" % PASSWORD, secret=True)
        send.write_config()
        send.start()
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: by host\n\nbody\n")
        wait_for(lambda: len(maildir_messages(vmail, "u@far.example")) == 1, timeout=30,
                 what="the relayed message")
        send.wait_log("status=sent", timeout=10)
        self.assertRegex(send.read_log(), r"to=<u@far.example>, relay=relay.example\[127.0.0.3\]")
        self.assertIn("sasl_method=PLAIN, sasl_username=u@far.example", relay.read_log())


class SenderDependentAuthTest(InstanceTestCase):
    """smtp_sender_dependent_authentication: the sender's entry, then its
    @domain, then the host's; every message goes over a login of its own
    sender's credentials, even with a session kept for reuse."""

    def test_each_sender_own_login(self):
        port = free_port_on("127.0.0.2", "127.0.0.4")
        server = AuthServer(self, "127.0.0.4", port)
        nexthop = "[127.0.0.4]:%d" % port
        send = Instance(params=sender_params(None, port, relayhost=nexthop,
                                             smtp_connection_cache_time_limit="5s",
                                             smtp_sender_dependent_authentication="yes"),
                        services=ONE_SMTP)
        self.addCleanup(send.cleanup)
        send.params["smtp_sasl_password_maps"] = build_table(
            send, "sasl_passwd",
            "alice@a.test alice-login:pw-a\n"
            "@b.test b-domain-login:pw-b\n"
            "127.0.0.4 host-login:pw-host\n"
            "%s nexthop-login:pw-nexthop\n" % nexthop, secret=True)
        send.write_config()
        send.start()
        # Neighbours with the same login may share a session; the others
        # may not.
        senders = ["alice@a.test", "alice@a.test", "bob@b.test", "dave@b.test",
                   "carol@c.test", "alice@a.test", "carol@c.test"]
        for i, sender in enumerate(senders):
            submit(send, sender, ["u@far.example"], b"Subject: %d\n\nbody\n" % i)
        wait_for(lambda: len(server.messages) == len(senders), timeout=60,
                 what="all messages at the relay")
        expected = {"alice@a.test": "alice-login", "bob@b.test": "b-domain-login",
                    "dave@b.test": "b-domain-login", "carol@c.test": "host-login"}
        for conn, user, sender in server.messages:
            self.assertEqual(user, expected[sender], server.messages)
        # One login per connection: a kept session never changed hands
        # between two logins.
        conns = [conn for conn, _ in server.logins]
        self.assertEqual(len(conns), len(set(conns)), server.logins)
        by_conn = {}
        for conn, user, _ in server.messages:
            by_conn.setdefault(conn, set()).add(user)
        self.assertTrue(all(len(users) == 1 for users in by_conn.values()), by_conn)
        # ... and sessions were still reused where the login was the same.
        self.assertLess(len(by_conn), len(senders), server.messages)
        send.wait_log("status=sent", count=len(senders), timeout=10)
        self.assertNotIn("status=deferred", send.read_log())

    def test_off_by_default(self):
        """Without the parameter the sender is not looked up: the next
        hop's entry serves everyone."""
        port = free_port_on("127.0.0.2", "127.0.0.4")
        server = AuthServer(self, "127.0.0.4", port)
        nexthop = "[127.0.0.4]:%d" % port
        send = Instance(params=sender_params(None, port, relayhost=nexthop), services=ONE_SMTP)
        self.addCleanup(send.cleanup)
        send.params["smtp_sasl_password_maps"] = build_table(
            send, "sasl_passwd",
            "alice@a.test alice-login:pw-a\n"
            "%s nexthop-login:pw-nexthop\n" % nexthop, secret=True)
        send.write_config()
        send.start()
        submit(send, "alice@a.test", ["u@far.example"], b"Subject: x\n\nbody\n")
        wait_for(lambda: len(server.messages) == 1, timeout=30, what="the message")
        self.assertEqual(server.messages[0][1], "nexthop-login")


class SenderDependentRelayhostTest(InstanceTestCase):
    """sender_dependent_relayhost_maps: one sender's mail to relay A,
    another domain's senders to relay B, everyone else to relayhost; a
    transport_maps next hop wins over the sender's relay, and local mail
    stays local."""

    def test_relay_per_sender(self):
        port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
        got = {}
        lock = threading.Lock()
        servers = {}
        for name, address in (("A", "127.0.0.3"), ("B", "127.0.0.4"), ("default", "127.0.0.5")):
            servers[name] = ScriptedServer(address, port, self._recording_handler(name, got, lock))
            self.addCleanup(servers[name].stop)
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.5]:%d" % port,
                                             smtp_tls_security_level="none"),
                        services=SENDER_SERVICES)
        self.addCleanup(send.cleanup)
        send.params["sender_dependent_relayhost_maps"] = build_table(
            send, "sender_relay",
            "ann@one.test [127.0.0.3]:%d\n"
            "@two.test [127.0.0.4]:%d\n"
            "dunno@one.test DUNNO\n" % (port, port))
        send.params["transport_maps"] = build_table(
            send, "transport", "pinned.example smtp:[127.0.0.5]:%d\n" % port)
        send.write_config()
        send.start()
        plan = [("ann@one.test", "u@far.example", "A"),
                ("Ann@One.test", "v@far.example", "A"),
                ("bob@two.test", "u@far.example", "B"),
                ("carl@two.test", "w@other.example", "B"),
                ("other@one.test", "u@far.example", "default"),
                ("dunno@one.test", "u@far.example", "default"),
                ("zed@three.test", "u@far.example", "default"),
                ("ann@one.test", "u@pinned.example", "default")]
        for sender, rcpt, _ in plan:
            submit(send, sender, [rcpt], b"Subject: x\n\nbody\n")
        wait_for(lambda: sum(len(v) for v in got.values()) == len(plan), timeout=60,
                 what="every message at a relay")
        want = {}
        for sender, _, where in plan:
            want.setdefault(where, []).append(sender.lower())
        for where in want:
            self.assertEqual(sorted(s.lower() for s in got.get(where, [])), sorted(want[where]),
                             got)
        send.wait_log("status=sent", count=len(plan), timeout=10)
        log = send.read_log()
        self.assertRegex(log, r"to=<u@pinned.example>, relay=127.0.0.5\[127.0.0.5\]")
        self.assertRegex(log, r"to=<w@other.example>, relay=127.0.0.4\[127.0.0.4\]")
        # Local mail is not relayed.
        submit(send, "ann@one.test", ["postmaster@out.sender.test"], b"Subject: l\n\nx\n")
        send.wait_log("to=<postmaster@out.sender.test>", timeout=30)
        self.assertNotRegex(log + send.read_log(),
                            r"to=<postmaster@out.sender.test>, relay=127")

    @staticmethod
    def _recording_handler(name, got, lock):
        def handler(peer, n):
            sender = [None]
            peer.send("220 scripted ESMTP\r\n")
            while True:
                cmd = peer.line()
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    peer.send("250-scripted\r\n250 PIPELINING\r\n")
                elif verb == "MAIL":
                    sender[0] = cmd.split("<", 1)[1].split(">", 1)[0]
                    peer.send("250 2.1.0 ok\r\n")
                elif verb == "RCPT":
                    peer.send("250 2.1.5 ok\r\n")
                elif verb == "DATA":
                    peer.send("354 go ahead\r\n")
                    peer.data()
                    with lock:
                        got.setdefault(name, []).append(sender[0])
                    peer.send("250 2.0.0 ok at %s\r\n" % name)
                elif verb == "RSET":
                    peer.send("250 2.0.0 ok\r\n")
                else:
                    peer.send("221 2.0.0 bye\r\n")
                    return
        return handler


if __name__ == "__main__":
    unittest.main(verbosity=2)
