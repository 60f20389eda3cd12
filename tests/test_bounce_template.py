"""bounce_template_file (Postfix's bounce(5)): a failure template's From,
Subject and text, with $name expansions and time units, replace the
built-in ones in the bounce that qmgr sends (read with Python's email at a
scripted next hop); the recipients' lines and the delivery-status part
follow as before. mailctl config -b shows the expanded templates (as
postconf -b); mailctl check names the file and line of a mistake, and qmgr
then keeps the built-in texts."""

import email
import email.policy
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import ipc_record  # noqa: E402
from mail_peers import RecordingServer  # noqa: E402
from postern_test import IS_ROOT, Instance, free_port, wait_for  # noqa: E402

TEMPLATES = """\
# our own texts
failure_template = <<EOF
Charset: us-ascii
From: MAILER-DAEMON (Postmaster at $mydomain)
Subject: Returned: could not deliver
Postmaster-Subject: Postmaster copy: could not deliver

Hello from $myhostname.

  Your message could not be delivered; we kept it for up to
  $maximal_queue_lifetime_days days. Cost: $$0.
EOF

delay_template = <<EOF
Subject: Still trying

Not yet: $delay_warning_time_hours hours so far.
EOF
"""


def queue(inst, sender, rcpt):
    """Queue a message (as the queue's owner when running as root) and
    wake qmgr."""
    owner = {"user": "postern", "group": "postern"} if IS_ROOT else {}
    subprocess.run([inst.program("svc_queue_writer"), "-s", sender, "-r", rcpt,
                    "-m", "Subject: lost\r\n\r\nbody\r\n", inst.spool],
                   check=True, capture_output=True, **owner)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(os.path.join(inst.spool, "public", "qmgr"))
        s.sendall(ipc_record("wakeup"))


class BounceTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.server = RecordingServer("127.0.0.1", cls.port)
        cls.inst = Instance(params={
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "relay_transport": "smtp:[127.0.0.1]:%d" % cls.port,
            "maximal_queue_lifetime": "3d",
            "delay_warning_time": "4h",
            "smtp_tls_security_level": "none",
            "minimal_backoff_time": "300s",
        }, services=["qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp",
                     "local unix - n n - - local"])
        cls.templates = os.path.join(cls.inst.etc, "bounce.cf")
        with open(cls.templates, "w") as f:
            f.write(TEMPLATES)
        os.chmod(cls.templates, 0o644)
        cls.inst.params["bounce_template_file"] = cls.templates
        cls.inst.write_config()
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

    def test_failure_template(self):
        queue(self.inst, "writer@relay.test", "nosuchuser@mx.example.test")
        wait_for(lambda: self.server.message_to("writer@relay.test") is not None, timeout=30,
                 what="the bounce")
        data = self.server.message_to("writer@relay.test")["data"]
        msg = email.message_from_string(data, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Returned: could not deliver")
        # The template's address, qualified with this host's name.
        self.assertIn("\nFrom: MAILER-DAEMON@mx.example.test (Postmaster at example.test)\n",
                      data.replace("\r\n", "\n"))
        text, status, original = list(msg.iter_parts())
        body = text.get_content().replace("\r\n", "\n")
        self.assertTrue(body.startswith("Hello from mx.example.test.\n\n  Your message could "
                                        "not be delivered; we kept it for up to\n  3 days. "
                                        "Cost: $0.\n"), body)
        # The recipients' lines come after the template's text.
        self.assertIn("<nosuchuser@mx.example.test>: ", body)
        self.assertEqual(status.get_payload()[1]["Action"], "failed")

    def test_config_b_and_check(self):
        out = self.inst.mailctl("config", "-b", check=True).stdout
        self.assertIn("failure_template = <<EOF\nCharset: us-ascii\n"
                      "From: MAILER-DAEMON (Postmaster at example.test)\n", out)
        self.assertIn("Not yet: 4 hours so far.\nEOF\n", out)
        self.assertEqual(self.inst.mailctl("check").returncode, 0)
        bad = os.path.join(self.inst.etc, "bad.cf")
        with open(bad, "w") as f:
            f.write("failure_template = <<EOF\nReply-To: me\n\ntext\nEOF\n")
        result = self.inst.mailctl("config", "-b", bad)
        self.assertEqual(result.returncode, 1)
        self.assertIn("%s:2: unknown template header" % bad, result.stderr)
        result = self.inst.mailctl("config", "-b", "/nonexistent/bounce.cf")
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/bounce.cf", result.stderr)


class BrokenTemplateTest(unittest.TestCase):
    def test_check_and_fallback(self):
        port = free_port()
        server = RecordingServer("127.0.0.1", port)
        self.addCleanup(server.stop)
        inst = Instance(params={
            "mydestination": "mx.example.test",
            "relay_domains": "relay.test",
            "relay_transport": "smtp:[127.0.0.1]:%d" % port,
            "smtp_tls_security_level": "none",
        }, services=["qmgr unix n - n 300 1 qmgr", "smtp unix - n n - - smtp",
                     "local unix - n n - - local"])
        self.addCleanup(inst.cleanup)
        path = os.path.join(inst.etc, "bounce.cf")
        with open(path, "w") as f:
            f.write("failure_template = <<EOF\nSubject: x\n\nno end\n")
        os.chmod(path, 0o644)
        inst.params["bounce_template_file"] = path
        inst.write_config()
        check = inst.mailctl("check")
        self.assertNotEqual(check.returncode, 0)
        self.assertIn("%s:1: error: failure_template: no \"EOF\" line ends it" % path,
                      check.stdout)
        inst.start()
        queue(inst, "writer@relay.test", "nosuchuser@mx.example.test")
        wait_for(lambda: server.message_to("writer@relay.test") is not None, timeout=30,
                 what="the bounce")
        msg = email.message_from_string(server.message_to("writer@relay.test")["data"],
                                        policy=email.policy.default)
        self.assertEqual(msg["Subject"], "Undelivered Mail Returned to Sender")
        inst.wait_log("bounce_template_file %s has errors" % path)


if __name__ == "__main__":
    unittest.main()
