"""Every refusal of smtpd's is logged once, in Postfix's form, so that the
tools written for Postfix's logs read it:
    NOQUEUE: reject: MAIL from name[addr]: REPLY; proto=ESMTP helo=<name>
with from=<...> in a transaction and to=<...> for a recipient: MAIL with a
SIZE over the limit, MAIL and RCPT syntax errors, too many recipients,
STARTTLS or AUTH required, a command ending in a bare <LF>, AUTH without
TLS. pflogsumm counts them; a session ended for too many errors is logged
as Postfix does and fail2ban's postfix filter (mode=errors) finds it. A
user database that fails (an NSS error, not "no such user") defers a
local recipient with 451 4.3.0 instead of refusing it."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import BIN, Instance, free_port, make_cert  # noqa: E402
from test_smtpd_limits import Client  # noqa: E402

CLIENT = "unknown[127.0.0.1]"  # smtpd_peername_lookup = no


def smtpd_lines(inst, text):
    """The log lines of smtpd's that contain text, without their prefix
    (time, host, postern/smtpd[pid]: )."""
    lines = []
    for line in inst.read_log().splitlines():
        prefix, sep, message = line.partition("postern/smtpd[")
        if sep and text in message:
            lines.append(message.split("]: ", 1)[1])
    return lines


# -- one refusal of each kind; each returns the log line it must give

def size_over_limit(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO size.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test> SIZE=100001"), 552, "5.3.4",
                     "Message size exceeds fixed limit")
    return ("NOQUEUE: reject: MAIL from %s: 552 5.3.4 Message size exceeds fixed limit; "
            "proto=ESMTP helo=<size.test>" % CLIENT)


def mail_syntax(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO mailsyntax.test")
    test.assertReply(c.cmd("MAIL FROM:<two words@outside.test>"), 501, "5.1.7",
                     "Bad sender address syntax")
    return ("NOQUEUE: reject: MAIL from %s: 501 5.1.7 Bad sender address syntax; "
            "proto=ESMTP helo=<mailsyntax.test> (" % CLIENT)


def rcpt_syntax(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO rcptsyntax.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
    test.assertReply(c.cmd("RCPT TO:<root@localhost"), 501, "5.5.4",
                     "Syntax: RCPT TO:<address>")
    return ("NOQUEUE: reject: RCPT from %s: 501 5.5.4 Syntax: RCPT TO:<address>; "
            "from=<a@outside.test> proto=ESMTP helo=<rcptsyntax.test>" % CLIENT)


def rcpt_non_ascii(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO utf8.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
    test.assertReply(c.cmd("RCPT TO:<j\u00f6rg@localhost>"), 553, "5.6.7",
                     "<j\u00f6rg@localhost>: Recipient address rejected: non-ASCII address "
                     "needs SMTPUTF8")
    return ("NOQUEUE: reject: RCPT from %s: 553 5.6.7 <j\u00f6rg@localhost>: Recipient "
            "address rejected: non-ASCII address needs SMTPUTF8; from=<a@outside.test> "
            "to=<j\u00f6rg@localhost> proto=ESMTP helo=<utf8.test>" % CLIENT)


def too_many_recipients(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO many.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
    test.assertReply(c.cmd("RCPT TO:<root@localhost>"), 250, "2.1.5")
    test.assertReply(c.cmd("RCPT TO:<postmaster@localhost>"), 452, "4.5.3",
                     "Error: too many recipients")
    return ("NOQUEUE: reject: RCPT from %s: 452 4.5.3 Error: too many recipients; "
            "from=<a@outside.test> to=<postmaster@localhost> proto=ESMTP helo=<many.test>"
            % CLIENT)


def starttls_required(test, ports):
    c = test.client(ports["sub"])
    c.cmd("EHLO tls.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 530, "5.7.0",
                     "Must issue a STARTTLS command first")
    return ("NOQUEUE: reject: MAIL from %s: 530 5.7.0 Must issue a STARTTLS command first; "
            "proto=ESMTP helo=<tls.test>" % CLIENT)


def auth_required(test, ports):
    c = test.client(ports["authreq"])
    c.cmd("EHLO authreq.test")
    test.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 530, "5.7.0",
                     "Authentication required")
    return ("NOQUEUE: reject: MAIL from %s: 530 5.7.0 Authentication required; "
            "proto=ESMTP helo=<authreq.test>" % CLIENT)


def auth_without_tls(test, ports):
    c = test.client(ports["sub"])
    c.cmd("EHLO auth.test")
    test.assertReply(c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB4"), 538, "5.7.11",
                     "Error: authentication requires TLS; send STARTTLS first")
    return ("NOQUEUE: reject: AUTH from %s: 538 5.7.11 Error: authentication requires TLS; "
            "send STARTTLS first; proto=ESMTP helo=<auth.test>" % CLIENT)


def bare_lf_command(test, ports):
    c = test.client(ports["mx"])
    c.cmd("EHLO bare.test")
    c.send("NOOP\n")
    test.assertReply(c.reply(), 500, "5.5.2",
                     "Error: bare <LF> received; lines must end in <CR><LF>")
    test.assertReply(c.cmd("NOOP"), 250, "2.0.0")  # the session goes on
    return ("NOQUEUE: reject: NOOP from %s: 500 5.5.2 Error: bare <LF> received; lines must "
            "end in <CR><LF>; proto=ESMTP helo=<bare.test>" % CLIENT)


REFUSALS = [size_over_limit, mail_syntax, rcpt_syntax, rcpt_non_ascii, too_many_recipients,
            starttls_required, auth_required, auth_without_tls, bare_lf_command]


def start_instance(test_class):
    """An instance with the services the refusals need, in test_class.inst
    and test_class.ports."""
    ports = {name: free_port() for name in ("mx", "sub", "authreq")}
    inst = Instance(params={
        "mydestination": "localhost",
        "mynetworks": "192.0.2.0/24",
        "message_size_limit": "100000",
        "smtpd_recipient_limit": "1",
        "smtpd_error_sleep_time": "0s",
        "smtpd_peername_lookup": "no",
        "smtpd_tls_auth_only_exempt": "",
    }, services=[
        "127.0.0.1:%d inet n - n - - smtpd" % ports["mx"],
        "127.0.0.1:%d inet n - n - - smtpd -o smtpd_tls_security_level=encrypt "
        "-o smtpd_sasl_auth_enable=yes" % ports["sub"],
        "127.0.0.1:%d inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes "
        "-o smtpd_auth_required=yes -o smtpd_tls_auth_only_exempt=127.0.0.0/8"
        % ports["authreq"],
    ])
    try:
        cert, key = make_cert(inst.etc, "mx.example.test")
        inst.params["smtpd_tls_cert_file"] = cert
        inst.params["smtpd_tls_key_file"] = key
        inst.write_config()
        inst.start()
    except BaseException:
        inst.cleanup()
        raise
    test_class.inst, test_class.ports = inst, ports


class ClientMixin:
    def client(self, port):
        c = Client(port)
        self.addCleanup(c.close)
        return c

    def assertReply(self, got, code, enhanced, text=None):
        self.assertEqual(got[:2], (code, enhanced), got)
        if text is not None:
            self.assertEqual(got[2], text)


class RejectLogTest(ClientMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_instance(cls)

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def check(self, refusal):
        expected = refusal(self, self.ports)
        self.inst.wait_log(expected)
        # One line per refusal, and only the one.
        helo = re.search(r"helo=<([^>]*)>", expected).group(1)
        lines = smtpd_lines(self.inst, "helo=<%s>" % helo)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(expected), lines[0])
        self.assertRegex(lines[0], r"helo=<%s>( \([^()]+\))?$" % re.escape(helo))

    def test_mail_size_over_limit(self):
        self.check(size_over_limit)

    def test_mail_syntax_error(self):
        self.check(mail_syntax)

    def test_rcpt_syntax_error(self):
        self.check(rcpt_syntax)

    def test_rcpt_non_ascii_without_smtputf8(self):
        self.check(rcpt_non_ascii)

    def test_too_many_recipients(self):
        self.check(too_many_recipients)

    def test_starttls_required(self):
        self.check(starttls_required)

    def test_auth_required(self):
        self.check(auth_required)

    def test_auth_without_tls(self):
        self.check(auth_without_tls)

    def test_bare_lf_command(self):
        self.check(bare_lf_command)

    @unittest.skipUnless(shutil.which("fail2ban-regex"), "fail2ban is not installed")
    def test_too_many_errors_found_by_fail2ban(self):
        c = self.client(self.ports["mx"])
        c.cmd("EHLO errors.test")
        for _ in range(19):
            self.assertReply(c.cmd("BOGUS"), 502, "5.5.2", "Error: command not recognized")
        self.assertReply(c.cmd("BOGUS"), 502, "5.5.2")
        self.assertReply(c.reply(), 421, "4.7.0", "mx.example.test Error: too many errors")
        self.assertTrue(c.closed())
        self.inst.wait_log("too many errors after UNKNOWN from %s" % CLIENT)
        out = subprocess.run(
            ["fail2ban-regex", "-o", "ip", self.inst.logfile,
             'postfix[mode=errors, _daemon="postern/\\w+"]'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["127.0.0.1"], self.inst.read_log())


@unittest.skipUnless(shutil.which("pflogsumm"), "pflogsumm is not installed")
class PflogsummRejectsTest(ClientMixin, unittest.TestCase):
    def setUp(self):
        start_instance(self)
        self.addCleanup(self.inst.cleanup)

    def test_every_refusal_is_counted(self):
        for refusal in REFUSALS:
            self.inst.wait_log(refusal(self, self.ports))
        out = subprocess.run(["pflogsumm", "--syslog-name=postern", self.inst.logfile],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        rejected = re.search(r"(?m)^\s+(\d+)\s+rejected\b", out.stdout)
        self.assertIsNotNone(rejected, out.stdout)
        self.assertEqual(int(rejected.group(1)), len(REFUSALS),
                         out.stdout + self.inst.read_log())
        # Its detail groups them by command, with the reasons it can read
        # out of Postfix's form (for AUTH and NOOP it reads none, as for
        # Postfix's own lines of other commands than MAIL and RCPT).
        detail = out.stdout.split("message reject detail", 1)[1].split("\n\n", 1)[0]
        self.assertEqual(re.findall(r"(?m)^  (\S+)$", detail), ["AUTH", "MAIL", "NOOP", "RCPT"],
                         detail)
        for text in ("5.3.4 Message size exceeds fixed limit", "5.1.7 Bad sender address syntax",
                     "5.7.0 Must issue a STARTTLS command first",
                     "5.7.0 Authentication required", "RCPT TO:<address>",
                     "Recipient address rejected: non-ASCII address needs SMTPUTF8",
                     "too many recipients"):
            self.assertRegex(detail, r"(?m)^    %s \(total: 1\)$" % re.escape(text))


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <string.h>

/* getpwnam_r for smtpd's tests: "nssdown" as an NSS back-end that cannot
 * answer (EIO), "nssbig" an entry that needs a 64 KiB buffer (ERANGE
 * below), others as the C library answers. */
int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
               struct passwd **result)
{
	*result = NULL;
	if (strcmp(name, "nssdown") == 0)
		return EIO;
	if (strcmp(name, "nssbig") == 0) {
		if (len < 65536)
			return ERANGE;
		memset(pw, 0, sizeof(*pw));
		strcpy(buf, "nssbig");
		pw->pw_name = buf;
		pw->pw_passwd = buf + 6; /* "" */
		pw->pw_gecos = buf + 6;
		pw->pw_dir = buf + 6;
		pw->pw_shell = buf + 6;
		pw->pw_uid = 4242;
		pw->pw_gid = 4242;
		*result = pw;
		return 0;
	}
	int (*next)(const char *, struct passwd *, char *, size_t, struct passwd **) =
	    (int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(
	        RTLD_NEXT, "getpwnam_r");
	return next(name, pw, buf, len, result);
}
"""


def asan_linked(program):
    out = subprocess.run(["ldd", program], capture_output=True, text=True)
    return "libasan" in out.stdout


@unittest.skipUnless(shutil.which("cc"), "no C compiler for the getpwnam_r shim")
class UserDatabaseFailureTest(ClientMixin, unittest.TestCase):
    """smtpd's look-up of system users, with getpwnam_r replaced through
    LD_PRELOAD (import_environment)."""

    @classmethod
    def setUpClass(cls):
        smtpd = os.path.join(os.path.abspath(BIN), "smtpd")
        if asan_linked(smtpd):
            raise unittest.SkipTest("smtpd is linked with a shared ASan runtime")
        cls.port = free_port()
        cls.inst = Instance(params={
            "mydestination": "localhost",
            "mynetworks": "192.0.2.0/24",
            "smtpd_error_sleep_time": "0s",
            "smtpd_peername_lookup": "no",
        }, services=["127.0.0.1:%d inet n - n - - smtpd" % cls.port])
        try:
            source = os.path.join(cls.inst.base, "shim.c")
            shim = os.path.join(cls.inst.base, "getpwnam_shim.so")
            with open(source, "w") as f:
                f.write(SHIM)
            subprocess.run(["cc", "-shared", "-fPIC", "-o", shim, source, "-ldl"],
                           check=True, capture_output=True)
            os.chmod(shim, 0o755)
            cls.inst.params["import_environment"] = "TZ LANG=C LD_PRELOAD=%s" % shim
            cls.inst.write_config()
            cls.inst.start()
        except BaseException:
            cls.inst.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.inst.cleanup()

    def test_lookup_failure_defers_and_too_small_buffer_is_retried(self):
        c = self.client(self.port)
        c.cmd("EHLO nss.test")
        self.assertReply(c.cmd("MAIL FROM:<a@outside.test>"), 250, "2.1.0")
        # The user database cannot answer: deferred, as local would defer.
        self.assertReply(c.cmd("RCPT TO:<nssdown@localhost>"), 451, "4.3.0",
                         "<nssdown@localhost>: Temporary lookup failure")
        # An entry larger than the first buffer: found on a retry.
        self.assertReply(c.cmd("RCPT TO:<nssbig@localhost>"), 250, "2.1.5")
        # No such user stays a refusal.
        self.assertReply(c.cmd("RCPT TO:<nosuchuser@localhost>"), 550, "5.1.1")
        self.assertReply(c.cmd("RCPT TO:<root@localhost>"), 250, "2.1.5")
        self.inst.wait_log("NOQUEUE: reject: RCPT from %s: 451 4.3.0 <nssdown@localhost>: "
                           "Temporary lookup failure; from=<a@outside.test> "
                           "to=<nssdown@localhost> proto=ESMTP helo=<nss.test>" % CLIENT)
        self.assertEqual(len(smtpd_lines(self.inst, "user database unavailable: getpwnam_r "
                                                    "nssdown: ")), 1, self.inst.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
