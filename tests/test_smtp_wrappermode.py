"""Implicit TLS in the smtp client (smtp_tls_wrappermode, RFC 8314): a
sender with relayhost = [127.0.0.3]:PORT delivers into a receiving
Postern's submissions service (smtpd -o smtpd_tls_wrappermode=yes, AUTH
required) with credentials from smtp_sasl_password_maps, over one reused
session; the same through -o smtp_tls_wrappermode=yes on the smtp line of
master.conf, at the verify level against the receiver's certificate; a
server that speaks plain text on that port defers the mail with a TLS
reason and is never sent a command in clear (not even under may); and
openssl s_server, an implementation not our own, sees the handshake come
before the greeting."""

import grp
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, ScriptedServer, free_port_on, have,  # noqa: E402
                        make_cert, maildir_messages, make_receiver, sender_params, submit)

PASSWORD = "secret password"
# One smtp process, so that each message finds the session the one
# before left open.
ONE_SMTP = [s.replace("smtp unix - n n - - smtp", "smtp unix - n n - 1 smtp")
            for s in SENDER_SERVICES]


def outcome(inst, rcpt, count=1):
    """The sender's log lines for rcpt's outcomes (waiting for count)."""
    inst.wait_log("to=<%s>" % rcpt, timeout=30, count=count)
    return "\n".join(l for l in inst.read_log().splitlines() if "to=<%s>" % rcpt in l)


class WrapperModeTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
        # The receiver's submissions service: implicit TLS, AUTH required
        # (the sender is not in its mynetworks).
        self.relay, self.vmail = make_receiver(
            self, "127.0.0.3", self.port, ["far.example"], ["u@far.example"],
            extra_params={"mynetworks": "192.0.2.0/24", "smtpd_tls_auth_only_exempt": ""},
            smtpd_options="-o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes "
                          "-o smtpd_sasl_authenticated_header=yes "
                          "-o smtpd_auth_required=yes",
            extra_services=["auth unix y postern-auth n - - auth"],
            tls_name="relay.example")
        self.relay.mailctl("user", "add", "sender@far.example", input=PASSWORD + "\n",
                           check=True)

    def passwords(self, inst, nexthop):
        """smtp_sasl_password_maps with the account for nexthop."""
        path = os.path.join(inst.etc, "sasl_passwd")
        with open(path, "w") as f:
            f.write("%s sender@far.example:%s\n" % (nexthop, PASSWORD))
        os.chmod(path, 0o640)
        if os.geteuid() == 0:
            os.chown(path, 0, grp.getgrnam("postern").gr_gid)
        inst.mailctl("map", "build", path, check=True)
        return path + ".lmdb"

    def sender(self, nexthop, services=ONE_SMTP, **params):
        inst = Instance(params=sender_params(None, self.port, relayhost=nexthop,
                                             smtp_connection_cache_time_limit="5s", **params),
                        services=services)
        self.addCleanup(inst.cleanup)
        inst.params["smtp_sasl_password_maps"] = self.passwords(inst, nexthop)
        inst.write_config()
        inst.start()
        return inst

    def test_relay_over_implicit_tls_with_auth_and_reuse(self):
        nexthop = "[127.0.0.3]:%d" % self.port
        send = self.sender(nexthop, smtp_tls_wrappermode="yes",
                           smtp_tls_security_level="encrypt")
        for i in range(3):
            submit(send, "s@out.sender.test", ["u@far.example"],
                   b"Subject: implicit %d\n\nbody %d\n" % (i, i))
        wait_for(lambda: len(maildir_messages(self.vmail, "u@far.example")) == 3, timeout=30,
                 what="three relayed messages")
        for msg in maildir_messages(self.vmail, "u@far.example"):
            received = msg.split(b"\n\n")[0].decode()
            self.assertRegex(received, r"\(using TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\)")
            self.assertIn("(Authenticated sender: sender@far.example)", received)
            self.assertRegex(received, r"by in.receiver.test \(Postern\) with ESMTPSA id ")
        lines = outcome(send, "u@far.example", count=3)
        self.assertEqual(len(re.findall(
            r"to=<u@far.example>, relay=127.0.0.3\[127.0.0.3\]:%d, delay=\d+, dsn=2.0.0, "
            r"status=sent \(250 .*\), tls=TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\), "
            r"untrusted" % self.port, lines)), 3, lines)
        relay_log = self.relay.read_log()
        # The receiver saw TLS first (no STARTTLS on this service), then AUTH.
        self.assertRegex(relay_log, r"TLS established: TLSv1\.[23] with cipher")
        self.assertIn("sasl_method=PLAIN, sasl_username=sender@far.example", relay_log)
        self.assertNotIn("STARTTLS", relay_log)
        # Three messages, fewer sessions: the TLS session was kept and reused.
        sessions = relay_log.count("connect from")
        self.assertGreaterEqual(sessions, 1)
        self.assertLess(sessions, 3, relay_log)
        log = send.read_log()
        self.assertNotIn("status=deferred", log)
        self.assertNotIn("killed by signal", log)

    def test_master_conf_override_at_verify_level(self):
        """-o smtp_tls_wrappermode=yes on the smtp line (main.conf does not
        set it), with the receiver's certificate verified against it as
        CA and the name it carries."""
        nexthop = "[127.0.0.3]:%d" % self.port
        cert = self.relay.params["smtpd_tls_cert_file"]
        services = [s.replace("smtp unix - n n - - smtp",
                              "smtp unix - n n - 1 smtp -o smtp_tls_wrappermode=yes")
                    for s in SENDER_SERVICES]
        send = self.sender(nexthop, services=services, smtp_tls_security_level="verify",
                           smtp_tls_CAfile=cert, smtp_tls_verify_cert_match="relay.example")
        self.assertNotIn("smtp_tls_wrappermode", open(os.path.join(send.etc, "main.conf")).read())
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: override\n\nx\n")
        wait_for(lambda: maildir_messages(self.vmail, "u@far.example"), timeout=30,
                 what="the relayed message")
        self.assertRegex(outcome(send, "u@far.example"),
                         r"dsn=2.0.0, status=sent .*, tls=TLSv1\.[23] with cipher \S+ "
                         r"\(\d+/\d+ bits\), verified")
        received = maildir_messages(self.vmail, "u@far.example")[0].split(b"\n\n")[0].decode()
        self.assertIn("with ESMTPSA id", received)

    def test_wrong_name_at_verify_level_defers(self):
        nexthop = "[127.0.0.3]:%d" % self.port
        send = self.sender(nexthop, smtp_tls_wrappermode="yes", smtp_tls_security_level="verify",
                           smtp_tls_CAfile=self.relay.params["smtpd_tls_cert_file"],
                           smtp_tls_verify_cert_match="other.example")
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: wrong\n\nx\n")
        self.assertRegex(outcome(send, "u@far.example"),
                         r"dsn=4.7.5, status=deferred \(implicit TLS \(smtp_tls_wrappermode\) "
                         r"with 127.0.0.3\[127.0.0.3\]:%d failed: .*not verified" % self.port)
        self.assertEqual(maildir_messages(self.vmail, "u@far.example"), [])
        self.assertNotIn("sasl_method=", self.relay.read_log())

    def test_plain_text_server_defers_without_sending_in_clear(self):
        """A server that answers in plain text on the implicit-TLS port:
        the handshake fails, the mail is deferred 4.7.5 with the TLS
        reason, and no SMTP command (let alone AUTH) goes out in clear,
        even at the may level, whose STARTTLS failures are retried in
        plain text."""
        server = ScriptedServer("127.0.0.4", self.port, lambda peer, n: peer.simple_session())
        self.addCleanup(server.stop)
        nexthop = "[127.0.0.4]:%d" % self.port
        send = self.sender(nexthop, smtp_tls_wrappermode="yes", smtp_tls_security_level="may")
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: clear\n\nx\n")
        lines = outcome(send, "u@far.example")
        self.assertRegex(lines, r"to=<u@far.example>, relay=127.0.0.4\[127.0.0.4\]:%d, "
                         r"delay=\d+, dsn=4.7.5, status=deferred \(implicit TLS "
                         r"\(smtp_tls_wrappermode\) with 127.0.0.4\[127.0.0.4\]:%d failed: "
                         r".+\), tls=none" % (self.port, self.port))
        time.sleep(1)
        self.assertGreaterEqual(server.connections, 1)
        for line in server.transcript:
            self.assertFalse(re.match(r"(?i)(EHLO|HELO|AUTH|MAIL|RCPT|DATA|QUIT)\b", line),
                             server.transcript)
        log = send.read_log()
        self.assertNotIn("trying again without TLS", log)
        self.assertNotIn("status=sent", log)


@unittest.skipUnless(have("openssl"), "openssl is not installed")
class OpensslServerTest(InstanceTestCase):
    """openssl s_server on the relay port, given a canned SMTP dialogue on
    its standard input once the handshake is done: it logs the handshake
    (protocol, cipher) and then what the client sent through it, from the
    EHLO on."""

    def test_s_server_sees_tls_before_smtp(self):
        port = free_port_on("127.0.0.2", "127.0.0.5")
        tmp = tempfile.mkdtemp(prefix="postern-sserver-")
        cert, key = make_cert(tmp, "relay.example")
        out = open(os.path.join(tmp, "out"), "w+")
        proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.5:%d" % port, "-cert", cert,
             "-key", key, "-naccept", "1"],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)

        def stop():
            proc.kill()
            proc.wait(timeout=10)
            proc.stdin.close()
            out.close()
            subprocess.run(["rm", "-rf", tmp])
        self.addCleanup(stop)

        def output():
            with open(out.name, errors="replace") as f:
                return f.read()
        wait_for(lambda: "ACCEPT" in output(), timeout=10, what="openssl s_server")
        send = Instance(params=sender_params(None, port, relayhost="[127.0.0.5]:%d" % port,
                                             smtp_tls_wrappermode="yes",
                                             smtp_tls_security_level="encrypt"),
                        services=list(SENDER_SERVICES))
        self.addCleanup(send.cleanup)
        send.start()
        submit(send, "s@out.sender.test", ["u@far.example"], b"Subject: s_server\n\nx\n")
        # s_server reports the handshake as soon as it is done; only then
        # does it get the SMTP replies to send (the client waits for the
        # greeting meanwhile), so nothing can have gone before TLS.
        wait_for(lambda: "CIPHER is" in output(), timeout=30, what="the TLS handshake")
        proc.stdin.write(b"220 s_server ESMTP\r\n250 s_server\r\n250 2.1.0 ok\r\n"
                         b"250 2.1.5 ok\r\n354 go ahead\r\n250 2.0.0 queued by s_server\r\n"
                         b"221 bye\r\n")
        proc.stdin.flush()
        line = outcome(send, "u@far.example")
        self.assertRegex(line, r"dsn=2.0.0, status=sent \(250 2.0.0 queued by s_server\), "
                         r"tls=TLSv1\.[23] with cipher ")
        text = wait_for(lambda: "Subject: s_server" in output() and output(), timeout=10,
                        what="the message at s_server")
        # Both ends name the same cipher (s_server's "CIPHER is" line, the
        # tls= field of the delivery line).
        cipher = re.search(r"(?m)^CIPHER is (\S+)$", text).group(1)
        self.assertIn(" with cipher %s " % cipher, line)
        handshake = text.index("CIPHER is")
        self.assertGreater(text.index("EHLO out.sender.test"), handshake)
        self.assertGreater(text.index("MAIL FROM:<s@out.sender.test>"), handshake)


if __name__ == "__main__":
    unittest.main(verbosity=2)
