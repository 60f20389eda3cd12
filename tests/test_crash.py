#!/usr/bin/env python3
"""Crash safety under load: a stream of messages goes in by SMTP while qmgr
and local (with its delivery children) are killed with SIGKILL at random
moments; master restarts them. Afterwards every message that smtpd
accepted with 250 must be in its recipients' Maildirs: none lost.
Duplicates are possible only for a delivery cut off between writing the
mailbox and reporting it (to qmgr, or qmgr to its status log); they are
counted and must stay a small fraction of the deliveries."""

import collections
import json
import os
import random
import re
import signal
import smtplib
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (InstanceTestCase, free_port, proc_status,  # noqa: E402
                          processes_mentioning, wait_for)

DOMAIN = "example.test"
USERS = ("ann", "ben", "cat")
MESSAGES = 240
SEND_SECONDS = 25  # the stream is spread over this long, kills throughout


def wakeup(path):
    """A "wakeup" record (lib/util/ipc) on qmgr's socket."""
    name = b"wakeup"
    body = bytes([len(name)]) + name
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(struct.pack(">I", len(body)) + body)


class CrashTest(InstanceTestCase):
    def setUp(self):
        self.port = free_port()
        inst = self.instance(params={
            "mydestination": "mx.example.test, localhost",
            "virtual_mailbox_domains": DOMAIN,
            "mynetworks": "127.0.0.0/8",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "service_throttle_time": "1s",
        }, services=[
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
        ], start=False)
        self.inst = inst
        self.vmail = inst.add_vmail(["%s@%s" % (user, DOMAIN) for user in USERS])
        inst.start()

    def pids(self, name):
        out = []
        for pid in processes_mentioning(self.inst.etc):
            try:
                if proc_status(pid).get("Name") == name:
                    out.append(pid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        return out

    def killer(self, stop, kills):
        rng = random.Random(4)
        while not stop.is_set():
            time.sleep(rng.uniform(0.2, 1.2))
            name = rng.choice(("qmgr", "local", "local", "local"))
            for pid in self.pids(name):
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills[name] += 1
                except ProcessLookupError:
                    pass

    def send_stream(self):
        """Send the messages; the (token, recipients) that got a 250."""
        accepted = []
        client = None
        for i in range(MESSAGES):
            rcpts = ["%s@%s" % (USERS[i % 3], DOMAIN)]
            if i % 5 == 0:
                rcpts.append("%s@%s" % (USERS[(i + 1) % 3], DOMAIN))
            token = "crash-%04d" % i
            body = "Subject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\nbody of %s\r\n" % (
                token, token, token)
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
                client.sendmail("sender@outside.test", rcpts, body)
                accepted.append((token, rcpts))
            except (smtplib.SMTPException, OSError):
                client = None  # not accepted: it does not count
            time.sleep(SEND_SECONDS / MESSAGES)
        if client is not None:
            client.quit()
        return accepted

    def mailbox_tokens(self):
        """Counter of (user, token) over every file in the Maildirs."""
        found = collections.Counter()
        for user in USERS:
            for sub in ("new", "cur"):
                d = os.path.join(self.vmail, DOMAIN, user, "Maildir", sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    with open(os.path.join(d, name), "rb") as f:
                        m = re.search(rb"^Subject: (crash-\d+)\r?$", f.read(), re.M)
                    if m:
                        found[(user, m.group(1).decode())] += 1
        return found

    def queue_count(self):
        result = self.inst.mailctl("--json", "queue", "list", check=True)
        return json.loads(result.stdout)["count"]

    def test_sigkill_qmgr_and_local_loses_nothing(self):
        started = time.time()
        stop = threading.Event()
        kills = collections.Counter()
        thread = threading.Thread(target=self.killer, args=(stop, kills), daemon=True)
        thread.start()
        try:
            accepted = self.send_stream()
        finally:
            stop.set()
            thread.join(10)
        self.assertGreater(len(accepted), MESSAGES * 0.9)
        self.assertGreaterEqual(kills["qmgr"], 3, kills)
        self.assertGreaterEqual(kills["local"], 3, kills)

        # master restarts qmgr on the next wake-up; deferred mail comes back
        # after a second or two.
        def drained():
            try:
                wakeup(os.path.join(self.inst.spool, "public", "qmgr"))
            except OSError:
                pass
            return self.queue_count() == 0
        wait_for(drained, timeout=60, interval=1, what="the queue to drain")

        found = self.mailbox_tokens()
        expected = [(user.split("@")[0], token) for token, rcpts in accepted for user in rcpts]
        lost = [e for e in expected if found[e] == 0]
        duplicates = sum(n - 1 for n in found.values() if n > 1)
        print("\n%d messages (%d deliveries) accepted; %d kills of qmgr, %d of local; "
              "%d lost, %d duplicate deliveries; %.1f s" % (
                  len(accepted), len(expected), kills["qmgr"], kills["local"], len(lost),
                  duplicates, time.time() - started), file=sys.stderr)
        self.assertEqual(lost, [])
        # A duplicate needs a kill between a delivery becoming visible and
        # its result reaching the status log. local looks whether qmgr (and
        # its own parent) is still there just before it moves a message into
        # new/ and abandons the delivery if not, so a qmgr kill leaves next
        # to none; what remains are kills of local (and its children) after
        # the move, while the directory is synced and the result goes back.
        # Measured on 2 loaded cores: 0-21 of 288 deliveries (usually under
        # 10); before local looked, 25-43.
        self.assertLessEqual(duplicates, max(3, len(expected) // 10))


if __name__ == "__main__":
    unittest.main(verbosity=2)
