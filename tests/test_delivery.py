"""End to end: mail accepted by smtpd is scheduled by qmgr and written by
local into the virtual user's Maildir, with the trace headers, and leaves
the queue empty; sendmail's mail takes the same path through pickup."""

import json
import os
import pwd
import signal
import smtplib
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import IS_ROOT, InstanceTestCase, free_port, wait_for  # noqa: E402


def virtual_instance(test, port, user, local_maxproc="-", pickup=False):
    """A started instance with smtpd on port, qmgr and local, example.test as
    a virtual mailbox domain with user in it; returns it and its
    virtual_mailbox_base."""
    services = ["127.0.0.1:%d inet n - n - - smtpd" % port,
                "qmgr unix n - n 300 1 qmgr",
                "local unix - n n - %s local" % local_maxproc]
    if pickup:
        services.append("pickup unix n - n 60 1 pickup")
    inst = test.instance(params={
        "mydestination": "mx.example.test, localhost",
        "virtual_mailbox_domains": "example.test",
        "mynetworks": "127.0.0.0/8",
    }, services=services, start=False)
    vmail = inst.add_vmail([user])
    inst.start()
    return inst, vmail


class DeliveryTest(InstanceTestCase):
    def test_smtp_to_maildir(self):
        port = free_port()
        inst, vmail = virtual_instance(self, port, "alice@example.test", pickup=True)
        if IS_ROOT:
            pw = pwd.getpwnam("vmail")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            for i in range(5):
                c.sendmail("sender@outside.test", ["alice@example.test"],
                           "Subject: message %d\r\n\r\nbody %d\r\n.leading dot\r\n" % (i, i))
        subprocess.run([inst.program("sendmail"), "-C", inst.etc, "-f", "cron@example.test",
                        "alice@example.test"], input=b"Subject: from cron\n\nhello\n",
                       check=True, timeout=60)
        new = os.path.join(vmail, "example.test", "alice", "Maildir", "new")
        wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == 6, timeout=30,
                 what="six messages in the Maildir")
        bodies = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                bodies.append(f.read())
            if IS_ROOT:
                self.assertEqual(os.stat(os.path.join(new, name)).st_uid, pw.pw_uid)
        smtp_mail = [b for b in bodies if b"Subject: message" in b]
        self.assertEqual(len(smtp_mail), 5)
        for b in smtp_mail:
            # LF line ends, as Postfix's and Dovecot's deliveries write them.
            self.assertTrue(b.startswith(b"Return-Path: <sender@outside.test>\n"), b[:80])
            self.assertIn(b"Delivered-To: alice@example.test\n", b)
            self.assertIn(b"Received: from ", b)
            self.assertIn(b"\n.leading dot\n", b)
            self.assertNotIn(b"\r", b)
        self.assertTrue(any(b"Subject: from cron" in b and b"Return-Path: <cron@example.test>"
                            in b for b in bodies))
        # Nothing is left in the queue.
        wait_for(lambda: json.loads(inst.mailctl("--json", "queue", "list",
                                                 check=True).stdout)["count"] == 0,
                 timeout=20, what="an empty queue")
        # One line per delivery, qmgr's (with delay and dsn); local adds none.
        sent = [line for line in inst.read_log().splitlines()
                if "to=<alice@example.test>" in line and "status=sent" in line]
        self.assertEqual(len(sent), 6, sent)
        for line in sent:
            self.assertRegex(line, r"postern/qmgr\[\d+\]: [0-9A-F]+: to=<alice@example.test>, "
                                   r"relay=local, delay=\d+, dsn=2\.0\.0, status=sent \(")


def delivery_children(etc):
    """Pids of local's long-lived delivery children of the instance at etc:
    processes named local whose parent is a local of that instance."""
    def info(pid):
        try:
            with open("/proc/%s/status" % pid) as f:
                fields = dict(l.split(":", 1) for l in f if ":" in l)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
            return fields["Name"].strip(), fields["PPid"].strip(), cmd
        except (OSError, KeyError):
            return None
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        me = info(pid)
        if not me or me[0] != "local" or etc.encode() not in me[2]:
            continue
        parent = info(me[1])
        if parent and parent[0] == "local":
            found.append(int(pid))
    return found


class DeliveryChildTest(InstanceTestCase):
    def test_child_kept_between_deliveries_and_replaced_when_killed(self):
        port = free_port()
        inst, vmail = virtual_instance(self, port, "bob@example.test", local_maxproc="1")
        new = os.path.join(vmail, "example.test", "bob", "Maildir", "new")

        def send(n):
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
                c.sendmail("s@outside.test", ["bob@example.test"], "Subject: %d\r\n\r\nx\r\n" % n)
            wait_for(lambda: os.path.isdir(new) and len(os.listdir(new)) == n, timeout=30,
                     what="%d messages in the Maildir" % n)
        send(1)
        # The child that wrote it is still there, as the mailbox owner.
        children = delivery_children(inst.etc)
        self.assertEqual(len(children), 1, children)
        if IS_ROOT:
            self.assertEqual(os.stat("/proc/%d" % children[0]).st_uid,
                             pwd.getpwnam("vmail").pw_uid)
        send(2)
        self.assertEqual(delivery_children(inst.etc), children)  # the same one did it
        # A child that died between deliveries is replaced; nothing is lost.
        os.kill(children[0], signal.SIGKILL)
        send(3)
        again = delivery_children(inst.etc)
        self.assertEqual(len(again), 1)
        self.assertNotEqual(again, children)
        self.assertNotIn("status=deferred", inst.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
