"""Relaying by TLS client certificate (smtpd/clientcerts.c): Postfix's
permit_tls_clientcerts (relay_clientcerts) and permit_tls_all_clientcerts
(smtpd_relay_all_clientcerts), driven with smtplib and Python's ssl from
loopback, which is not in mynetworks:

- a certificate whose fingerprint (sha256 over the DER, in Postfix's
  upper-case hex with colons, computed here with hashlib) is a key of
  relay_clientcerts relays, logged once at the handshake; so does one
  whose public key fingerprint is listed; none, or another certificate,
  gets 554 5.7.1 Relay access denied;
- a client trusted by its certificate is trusted as mynetworks is for the
  other checks too (reject_non_fqdn_helo_hostname);
- smtpd_tls_fingerprint_digest = md5 and a texthash: table with lower-case
  keys; implicit TLS (smtpd_tls_wrappermode);
- without smtpd_tls_ask_ccert no certificate is asked for: no relaying;
- a relay_clientcerts table that cannot be read defers (451 4.3.0);
- smtpd_relay_all_clientcerts with smtpd_tls_CAfile: a certificate the CA
  issued relays, a self-signed one does not;
- mailctl check: relay_clientcerts without any service that asks for
  certificates, smtpd_relay_all_clientcerts without a CA, keys that are
  not fingerprints of the digest, a table that does not exist."""

import hashlib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import Instance, free_port, make_ca, make_ca_dir, make_cert, wait_for  # noqa: E402

HELO = "client.outside.test"
SENDER = "sender@outside.test"
OUTSIDE = "someone@elsewhere.test"
CLIENT = "unknown[127.0.0.1]"  # smtpd_peername_lookup = no
TIMEOUT = 30


def der_of(cert):
    with open(cert) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def spki_of(cert):
    """The certificate's DER SubjectPublicKeyInfo."""
    return subprocess.run(
        "openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform DER" % cert,
        shell=True, check=True, capture_output=True, timeout=TIMEOUT).stdout


def postfix_form(data, digest="sha256"):
    return ":".join("%02X" % b for b in hashlib.new(digest, data).digest())


def client_context(cert=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


class ClientCertRelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="postern-clientcerts-")
        os.chmod(cls.cert_dir, 0o755)

        def cert(name, **kw):
            d = os.path.join(cls.cert_dir, name)
            os.mkdir(d)
            os.chmod(d, 0o755)
            return make_cert(d, name + ".outside.test", **kw)

        cls.server = cert("server")
        cls.listed = cert("listed")        # its certificate fingerprint is listed
        cls.by_key = cert("bykey")         # its public key fingerprint is listed
        cls.other = cert("other")          # not listed, self-signed
        ca_dir = os.path.join(cls.cert_dir, "ca")
        os.mkdir(ca_dir)
        os.chmod(ca_dir, 0o755)
        cls.ca = make_ca(ca_dir, "Postern Test Client CA")
        cls.issued = cert("issued", ca=cls.ca)  # issued by the CA, not listed
        ca2_dir = os.path.join(cls.cert_dir, "ca2")
        os.mkdir(ca2_dir)
        os.chmod(ca2_dir, 0o755)
        cls.ca2 = make_ca(ca2_dir, "Postern Test Other CA")
        cls.listed_fp = postfix_form(der_of(cls.listed[0]))
        cls.by_key_fp = postfix_form(spki_of(cls.by_key[0]))

        (cls.ask, cls.noask, cls.md5, cls.wrapper, cls.broken, cls.all, cls.all2,
         cls.helo, cls.all_dir) = (free_port() for _ in range(9))
        ca_path = make_ca_dir(os.path.join(cls.cert_dir, "capath"), [cls.ca[0]])
        svc = "127.0.0.1:%d inet n - n - - smtpd"
        tls = (" -o smtpd_tls_cert_file=%s -o smtpd_tls_key_file=%s"
               % cls.server)
        cls.inst = Instance(params={
            "mydestination": "mx.example.test",
            "mynetworks": "192.0.2.0/24",  # loopback is not trusted
            "smtpd_peername_lookup": "no",
            "smtpd_error_sleep_time": "0s",
        }, services=[
            svc % cls.ask + tls + " -o smtpd_tls_ask_ccert=yes",
            svc % cls.noask + tls,
            svc % cls.md5 + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_tls_fingerprint_digest=md5 -o relay_clientcerts=texthash:"
            + os.path.join(cls.cert_dir, "md5certs"),
            svc % cls.wrapper + tls + " -o smtpd_tls_ask_ccert=yes -o smtpd_tls_wrappermode=yes",
            svc % cls.broken + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o relay_clientcerts=hash:" + os.path.join(cls.cert_dir, "missing"),
            svc % cls.all + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_relay_all_clientcerts=yes -o smtpd_tls_CAfile=" + cls.ca[0],
            svc % cls.all2 + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_relay_all_clientcerts=yes -o smtpd_tls_CAfile=" + cls.ca2[0],
            svc % cls.all_dir + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_relay_all_clientcerts=yes -o smtpd_tls_CApath=" + ca_path,
            svc % cls.helo + tls + " -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_reject_non_fqdn_helo_hostname=yes",
        ])
        try:
            source = os.path.join(cls.inst.etc, "relay_clientcerts")
            with open(source, "w") as f:
                f.write("# fingerprint  comment\n%s listed client\n%s by public key\n"
                        % (cls.listed_fp, cls.by_key_fp))
            cls.inst.mailctl("map", "build", "hash:" + source, check=True)
            cls.inst.params["relay_clientcerts"] = "hash:" + source
            cls.inst.write_config()
            with open(os.path.join(cls.cert_dir, "md5certs"), "w") as f:
                f.write("%s md5, lower case\n"
                        % postfix_form(der_of(cls.listed[0]), "md5").lower())
            os.chmod(os.path.join(cls.cert_dir, "md5certs"), 0o644)
            cls.inst.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.inst.cleanup()
        finally:
            shutil.rmtree(cls.cert_dir, ignore_errors=True)

    def rcpt(self, port, cert=None, tls=True, helo=HELO, rcpt=OUTSIDE, wrapper=False):
        """The reply to RCPT TO (code, text) in a fresh session, after
        STARTTLS (or implicit TLS) with cert (None: no certificate)."""
        if wrapper:
            c = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname=helo, timeout=TIMEOUT,
                                 context=client_context(cert))
        else:
            c = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=TIMEOUT)
        with c:
            c.ehlo()
            if tls and not wrapper:
                code, text = c.starttls(context=client_context(cert))
                self.assertEqual(code, 220, text)
                c.ehlo()
            code, text = c.mail(SENDER)
            self.assertEqual(code, 250, text)
            code, text = c.rcpt(rcpt)
            return code, text.decode()

    def denied(self, rcpt=OUTSIDE):
        return (554, "5.7.1 <%s>: Relay access denied" % rcpt)

    def test_listed_certificate_relays(self):
        self.assertEqual(self.rcpt(self.ask, self.listed)[0], 250)
        self.inst.wait_log("%s: client certificate fingerprint %s trusted (relay_clientcerts)"
                           % (CLIENT, self.listed_fp))

    def test_listed_public_key_relays(self):
        self.assertEqual(self.rcpt(self.ask, self.by_key)[0], 250)
        self.inst.wait_log("%s: client public key fingerprint %s trusted (relay_clientcerts)"
                           % (CLIENT, self.by_key_fp))

    def test_no_or_other_certificate_is_denied(self):
        self.assertEqual(self.rcpt(self.ask, None), self.denied())
        self.assertEqual(self.rcpt(self.ask, self.other), self.denied())
        self.assertEqual(self.rcpt(self.ask, tls=False), self.denied())
        # A certificate the CA issued relays only where that is asked for.
        self.assertEqual(self.rcpt(self.ask, self.issued), self.denied())
        self.assertNotIn(postfix_form(der_of(self.other[0])) + " trusted", self.inst.read_log())
        # Mail for our own domains still needs no certificate.
        self.assertEqual(self.rcpt(self.ask, None, rcpt="postmaster@mx.example.test")[0], 250)

    def maillog(self):
        with open(self.inst.logfile, errors="replace") as f:
            return f.read()

    def test_without_ask_ccert_no_certificate_is_asked_for(self):
        before = self.maillog()
        self.assertEqual(self.rcpt(self.noask, self.listed), self.denied())
        wait_for(lambda: self.maillog()[len(before):].count("disconnect from"),
                 timeout=TIMEOUT, what="the session's end in the log")
        new = self.maillog()[len(before):]
        self.assertIn("TLS established", new)
        self.assertNotIn("client certificate", new)

    def test_md5_digest_and_lower_case_keys(self):
        self.assertEqual(self.rcpt(self.md5, self.listed)[0], 250)
        self.inst.wait_log("client certificate fingerprint %s trusted (relay_clientcerts)"
                           % postfix_form(der_of(self.listed[0]), "md5"))
        # The sha256 listing of main.conf is not this service's table.
        self.assertEqual(self.rcpt(self.md5, self.by_key), self.denied())

    def test_implicit_tls(self):
        self.assertEqual(self.rcpt(self.wrapper, self.listed, wrapper=True)[0], 250)
        self.assertEqual(self.rcpt(self.wrapper, None, wrapper=True), self.denied())

    def test_resumed_session_keeps_its_certificate(self):
        """A session resumed with a ticket (no certificate request then)
        is trusted by the certificate of its first handshake, with TLS 1.3
        and 1.2; one first made without a certificate is not."""
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            for cert, code in ((self.listed, 250), (None, 554)):
                with self.subTest(version=version, cert=cert):
                    context = client_context(cert)
                    context.minimum_version = context.maximum_version = version
                    session, reused = self.raw_session(self.ask, context)
                    self.assertFalse(reused)
                    self.assertTrue(session is not None and session.has_ticket,
                                    "no ticket given")
                    before = self.maillog().count("(resumed)")
                    _, reused = self.raw_session(self.ask, context, session, rcpt_code=code)
                    self.assertTrue(reused, "the session was not resumed")
                    wait_for(lambda: self.maillog().count("(resumed)") > before,
                             timeout=TIMEOUT, what="the resumed session's log line")

    def test_session_resumes_only_under_the_same_ca_file(self):
        """A session whose certificate the CA verified resumes where that
        CA file verifies, not on a service with another one (which would
        take the verification result along)."""
        context = client_context(self.issued)
        session, _ = self.raw_session(self.all, context, rcpt_code=250)
        self.assertTrue(session is not None and session.has_ticket, "no ticket given")
        _, reused = self.raw_session(self.all, context, session, rcpt_code=250)
        self.assertTrue(reused, "the session was not resumed")
        _, reused = self.raw_session(self.all2, context, session, rcpt_code=554)
        self.assertFalse(reused, "resumed under another smtpd_tls_CAfile")
        # Nor on a service that verifies against none.
        _, reused = self.raw_session(self.ask, context, session, rcpt_code=554)
        self.assertFalse(reused, "resumed without smtpd_tls_CAfile")

    def raw_session(self, port, context, session=None, rcpt_code=None):
        """STARTTLS by hand (smtplib cannot offer a session); with
        rcpt_code, the reply to RCPT TO:<OUTSIDE>. (session, reused)."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        buf = [b""]

        def expect(code):
            while True:
                while b"\n" not in buf[0]:
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise EOFError("closed")
                    buf[0] += chunk
                line, _, buf[0] = buf[0].partition(b"\n")
                if line[3:4] != b"-":
                    self.assertEqual(int(line[:3]), code, line)
                    return

        def command(text, code):
            sock.sendall(text.encode() + b"\r\n")
            expect(code)

        try:
            expect(220)
            command("EHLO " + HELO, 250)
            command("STARTTLS", 220)
            sock = context.wrap_socket(sock, session=session)
            command("EHLO " + HELO, 250)
            if rcpt_code is not None:
                command("MAIL FROM:<%s>" % SENDER, 250)
                command("RCPT TO:<%s>" % OUTSIDE, rcpt_code)
            command("QUIT", 221)
            return sock.session, sock.session_reused
        finally:
            sock.close()

    def test_unreadable_table_defers(self):
        self.assertEqual(self.rcpt(self.broken, self.listed),
                         (451, "4.3.0 <%s>: Temporary lookup failure" % OUTSIDE))
        # Without a certificate there is nothing to look up.
        self.assertEqual(self.rcpt(self.broken, None), self.denied())

    def test_all_verified_certificates(self):
        self.assertEqual(self.rcpt(self.all, self.issued)[0], 250)
        self.inst.wait_log("%s: client certificate CN=\"issued.outside.test\" verified: "
                           "trusted (smtpd_relay_all_clientcerts)" % CLIENT)
        self.assertEqual(self.rcpt(self.all, self.other), self.denied())
        self.assertEqual(self.rcpt(self.all, None), self.denied())
        # relay_clientcerts applies there too.
        self.assertEqual(self.rcpt(self.all, self.listed)[0], 250)

    def test_all_verified_certificates_through_a_ca_directory(self):
        """smtpd_tls_CApath verifies as smtpd_tls_CAfile does."""
        self.assertEqual(self.rcpt(self.all_dir, self.issued)[0], 250)
        self.assertEqual(self.rcpt(self.all_dir, self.other), self.denied())
        # A session verified under the CA file does not resume under the
        # directory (another trust setting).
        context = client_context(self.issued)
        session, _ = self.raw_session(self.all, context, rcpt_code=250)
        _, reused = self.raw_session(self.all_dir, context, session, rcpt_code=250)
        self.assertFalse(reused, "resumed under another trust setting")

    def test_trusted_as_mynetworks_for_other_checks(self):
        """reject_non_fqdn_helo_hostname spares trusted clients: a
        certificate client is one."""
        code, text = self.rcpt(self.helo, None, helo="nodots")
        self.assertEqual((code, text),
                         (504, "5.5.2 <nodots>: Helo command rejected: need fully-qualified "
                          "hostname"))
        self.assertEqual(self.rcpt(self.helo, self.listed, helo="nodots")[0], 250)


class ClientCertCheckTest(unittest.TestCase):
    """mailctl check on relay_clientcerts and smtpd_relay_all_clientcerts."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-clientcerts-check-")
        os.chmod(self.dir, 0o755)
        self.server = make_cert(self.dir, "mx.example.test")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, params, services):
        inst = Instance(params=params, services=services)
        self.addCleanup(inst.cleanup)
        return inst, inst.mailctl("check", timeout=TIMEOUT)

    def table(self, inst, keys):
        source = os.path.join(inst.etc, "relay_clientcerts")
        with open(source, "w") as f:
            for key in keys:
                f.write("%s client\n" % key)
        inst.mailctl("map", "build", "hash:" + source, check=True)
        return "hash:" + source

    def test_no_service_asks_for_certificates(self):
        port = free_port()
        inst, _ = self.check({}, ["127.0.0.1:%d inet n - n - - smtpd" % port])
        spec = self.table(inst, ["AB:" * 31 + "CD"])
        inst.params.update({"relay_clientcerts": spec,
                            "smtpd_tls_cert_file": self.server[0],
                            "smtpd_tls_key_file": self.server[1]})
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertRegex(out, r"main\.conf:\d+: warning: relay_clientcerts is set but no smtpd "
                              r"service that uses it asks for client certificates")
        # Asked for on one service: no warning.
        inst.services = ["127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_ask_ccert=yes" % port]
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertNotIn("relay_clientcerts", out)
        # smtpd_tls_ask_ccert without a certificate of smtpd's own asks nothing.
        inst.params["smtpd_tls_cert_file"] = ""
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertIn("relay_clientcerts is set but no smtpd service", out)

    def test_all_clientcerts_without_ca(self):
        port = free_port()
        inst, result = self.check({
            "smtpd_tls_cert_file": self.server[0], "smtpd_tls_key_file": self.server[1],
        }, ["127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_ask_ccert=yes"
            " -o smtpd_relay_all_clientcerts=yes" % port])
        self.assertRegex(result.stdout,
                         r"master\.conf:\d+: warning: service 127\.0\.0\.1:%d: "
                         r"smtpd_relay_all_clientcerts = yes but smtpd_tls_CAfile and smtpd_tls_CApath "
                         r"are empty"
                         % port)
        inst.params["smtpd_tls_CAfile"] = self.server[0]
        inst.write_config()
        self.assertNotIn("smtpd_relay_all_clientcerts",
                         inst.mailctl("check", timeout=TIMEOUT).stdout)
        # A CA directory verifies as well; one that is not a directory is an error.
        inst.params["smtpd_tls_CAfile"] = ""
        inst.params["smtpd_tls_CApath"] = make_ca_dir(os.path.join(self.dir, "capath"),
                                                      [self.server[0]])
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertNotIn("smtpd_relay_all_clientcerts", out)
        self.assertNotIn("smtpd_tls_CApath", out)
        inst.params["smtpd_tls_CApath"] = self.server[0]
        inst.write_config()
        self.assertRegex(inst.mailctl("check", timeout=TIMEOUT).stdout,
                         r"main\.conf:\d+: error: smtpd_tls_CApath = \S+: not a directory")

    def test_keys_that_are_not_fingerprints(self):
        port = free_port()
        inst, _ = self.check({
            "smtpd_tls_cert_file": self.server[0], "smtpd_tls_key_file": self.server[1],
            "smtpd_tls_ask_ccert": "yes",
        }, ["127.0.0.1:%d inet n - n - - smtpd" % port])
        sha256 = postfix_form(b"x")
        md5 = postfix_form(b"x", "md5")
        spec = self.table(inst, [sha256, sha256.lower(), md5, "client.example.test"])
        inst.params["relay_clientcerts"] = spec
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertIn('"%s" is not a sha256 fingerprint (32 bytes' % md5, out)
        self.assertIn('"client.example.test" is not a sha256 fingerprint', out)
        self.assertNotIn('"%s" is not' % sha256, out)
        self.assertNotIn('"%s" is not' % sha256.lower(), out)
        # With md5 the sha256 keys are the wrong ones.
        inst.params["smtpd_tls_fingerprint_digest"] = "md5"
        inst.write_config()
        out = inst.mailctl("check", timeout=TIMEOUT).stdout
        self.assertIn('"%s" is not a md5 fingerprint (16 bytes' % sha256, out)
        self.assertNotIn('"%s" is not' % md5, out)

    def test_missing_table(self):
        port = free_port()
        inst, result = self.check({
            "relay_clientcerts": "hash:" + os.path.join(self.dir, "nothing"),
            "smtpd_tls_cert_file": self.server[0], "smtpd_tls_key_file": self.server[1],
            "smtpd_tls_ask_ccert": "yes",
        }, ["127.0.0.1:%d inet n - n - - smtpd" % port])
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertRegex(result.stdout, r"main\.conf:\d+: error: .*nothing")


if __name__ == "__main__":
    unittest.main()
