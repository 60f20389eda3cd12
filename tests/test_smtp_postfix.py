"""Interoperation with Postfix (Debian's package) in both directions:
Postern's smtp client delivers to Postfix's smtpd, and Postfix's smtp
client delivers to Postern's smtpd, which writes the mail to a Maildir."""

import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, Instance, InstanceTestCase, wait_for  # noqa: E402
from mail_peers import (SENDER_SERVICES, Postfix, free_port_on, have,  # noqa: E402
                        maildir_messages, make_receiver, sender_params, submit)


@unittest.skipUnless(have("postfix") and IS_ROOT, "needs postfix and root")
class PostfixInteropTest(InstanceTestCase):
    def test_both_directions(self):
        port = free_port_on("127.0.0.2", "127.0.0.3", "127.0.0.4")
        recv, vmail = make_receiver(self, "127.0.0.3", port, ["postern.example"],
                                    ["u@postern.example"])
        pf = Postfix("127.0.0.4:%d" % port, {
            "myhostname": "pf.example",
            "mydestination": "pf.example",
            "relayhost": "[127.0.0.3]:%d" % port,
            "smtp_bind_address": "127.0.0.4",
        }, hold_domains=["pf.example"])
        self.addCleanup(pf.stop)
        # Postern to Postfix.
        send = Instance(params=sender_params(None, port,
                                             relayhost="[127.0.0.4]:%d" % port),
                        services=list(SENDER_SERVICES))
        self.addCleanup(send.cleanup)
        send.start()
        body = b"Subject: to postfix\n\n" + b"".join(b"line %d\n" % i for i in range(200)) + \
            b".dot line\n"
        submit(send, "s@out.sender.test", ["a@pf.example", "b@pf.example"], body)
        send.wait_log("to=<b@pf.example>", timeout=60)
        log = send.read_log()
        self.assertRegex(log, r"to=<a@pf.example>, relay=127.0.0.4\[127.0.0.4\]:%d, delay=\d+, "
                         r"dsn=2.0.0, status=sent \(250 2.0.0 Ok: .*queued as .*\), tls=none" % port)
        held = wait_for(pf.held, timeout=20, what="the message in Postfix's hold queue")
        self.assertEqual(len(held), 1)
        self.assertIn(b"Subject: to postfix", held[0])
        self.assertIn(b"line 199", held[0])
        self.assertIn(b"\n.dot line", held[0])
        self.assertIn("from=<s@out.sender.test>", pf.read_log())
        # Postfix to Postern.
        with smtplib.SMTP("127.0.0.4", port, timeout=30) as c:
            c.sendmail("someone@pf.example", ["u@postern.example"],
                       "Subject: from postfix\r\n\r\nrelayed by Postfix\r\n")
        wait_for(lambda: maildir_messages(vmail, "u@postern.example"), timeout=60,
                 what="Postfix's delivery to Postern")
        msg = maildir_messages(vmail, "u@postern.example")[0]
        self.assertIn(b"relayed by Postfix", msg)
        self.assertIn(b"Subject: from postfix", msg)
        # Postfix logs the outcome after Postern's 250: wait for it.
        sent = (r"to=<u@postern.example>, relay=127.0.0.3\[127.0.0.3\]:%d, .*status=sent"
                % port)
        wait_for(lambda: re.search(sent, pf.read_log()), timeout=30,
                 what="Postfix's log of the delivery to Postern")


if __name__ == "__main__":
    unittest.main(verbosity=2)
