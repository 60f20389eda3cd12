#!/usr/bin/env python3
"""qmgr when the status log (spool/status/ID) cannot be written or read, when
a message cannot be moved out of active/, when a status log outlives its
message, and when mailctl queue delete removes a message qmgr is delivering.
Only qmgr runs under master, with the fake local agent of test_qmgr.py;
queue files are written with tests/svc_queue_writer. The failures are made
by taking write permission from qmgr (it runs as mail_owner), or by a
directory where the status log should be, so these tests need root."""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_qmgr as tq  # noqa: E402
from postern_test import (BIN, IS_ROOT, InstanceTestCase, proc_status,  # noqa: E402
                          processes_mentioning, wait_for)

LOCAL_DOMAIN = tq.LOCAL_DOMAIN


class GatedConnection:
    """A connection of the fake agent that answers only once gate is set."""

    def __init__(self, conn, gate):
        self.conn = conn
        self.gate = gate

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def sendall(self, data):
        self.gate.wait(30)
        self.conn.sendall(data)


@unittest.skipUnless(IS_ROOT, "needs root: qmgr runs as mail_owner and loses write access")
class StatusLogTest(InstanceTestCase):
    BACKOFF = "3s"

    def setUp(self):
        self.inst = self.instance(params=self.params(), services=[tq.QMGR])
        self.spool = self.inst.spool
        self.local = tq.FakeLocal(self.spool)
        self.addCleanup(self.local.close)

    def params(self):
        return {"minimal_backoff_time": self.BACKOFF, "maximal_backoff_time": self.BACKOFF}

    def queue(self, name):
        return os.path.join(self.spool, name)

    def listing(self, name):
        return sorted(os.listdir(self.queue(name)))

    def write_mail(self, rcpts, queue=None):
        cmd = [os.path.join(os.path.abspath(BIN), "svc_queue_writer"), "-s", "s@remote.test",
               "-m", "Subject: test\r\n\r\nhello\r\n"]
        for r in rcpts:
            cmd += ["-r", r]
        if queue:
            cmd += ["-q", queue]
        result = subprocess.run(cmd + [self.spool], capture_output=True, text=True, timeout=30,
                                user=tq.QUEUE_USER, group=tq.QUEUE_USER)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def wakeup(self, flush=False):
        tq.wakeup(self.queue("public/qmgr"), flush)

    def queued(self, qid):
        return [d for d in ("incoming", "active", "deferred", "hold", "corrupt")
                if qid in self.listing(d)]

    def wait_gone(self, qid, timeout=20):
        wait_for(lambda: not self.queued(qid) and qid not in self.listing("status"),
                 timeout=timeout, what="%s to leave the queue" % qid)

    def requests_for(self, qid):
        return [r for r in self.local.requested() if r["queue_id"] == qid]

    def qmgr_pids(self):
        return [pid for pid in processes_mentioning(self.inst.etc)
                if proc_status(pid).get("Name") == "qmgr"]

    def restart_qmgr(self):
        """Kill qmgr; master starts a new one on the next wake-up."""
        old = self.qmgr_pids()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not set(old) & set(self.qmgr_pids()), what="qmgr to die")
        wait_for(lambda: (self.wakeup(), self.qmgr_pids())[1], timeout=30, interval=0.5,
                 what="a new qmgr")

    def unwritable(self, name):
        """Take write permission on spool/name from qmgr until the test ends
        (or until the returned function gives it back)."""
        path = self.queue(name)
        mode = os.stat(path).st_mode & 0o7777
        os.chmod(path, 0o555)

        def restore():
            os.chmod(path, mode)
        self.addCleanup(restore)
        return restore


class StatusLogFailureTest(StatusLogTest):
    BACKOFF = "6s"

    def test_unwritable_status_log_defers_until_fixed(self):
        """The outcome of an attempt cannot be written (status/ refuses new
        files): the message is deferred all the same, waits for its
        back-off even across a qmgr restart (the queue file's time says
        when it is due), and once the log can be written again it is
        delivered, once."""
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        fix = self.unwritable("status")
        qid = self.write_mail([b])
        started = time.time()
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        self.inst.wait_log("%s: cannot write the status log" % qid)
        self.assertNotIn(qid, self.listing("status"))
        due = os.stat(os.path.join(self.queue("deferred"), qid)).st_mtime
        self.assertGreaterEqual(due, started + 5)
        self.assertLessEqual(due, time.time() + 7)
        # A new qmgr has no status log to go by: it waits all the same.
        self.restart_qmgr()
        time.sleep(max(0, started + 4 - time.time()))
        self.assertEqual(len(self.requests_for(qid)), 1)
        self.assertIn(qid, self.listing("deferred"))
        fix()
        del self.local.answers[b]
        self.wait_gone(qid, timeout=30)
        reqs = self.requests_for(qid)
        self.assertEqual(len(reqs), 2)
        self.assertGreaterEqual(reqs[1]["time"], due - 1)
        self.assertIn("%s: to=<%s>, relay=local" % (qid, b), self.inst.read_log())
        time.sleep(1)
        self.assertEqual(len(self.requests_for(qid)), 2)

    def test_unreadable_status_log_defers_until_fixed(self):
        """A status log that cannot be read (here a directory in its place):
        nothing is tried, the message goes to deferred/ (it does not stay in
        active/ until qmgr restarts), and is delivered once the log can be
        read."""
        b = "b@" + LOCAL_DOMAIN
        qid = self.write_mail([b])
        blocker = os.path.join(self.queue("status"), qid)
        os.mkdir(blocker)
        self.addCleanup(lambda: os.path.isdir(blocker) and os.rmdir(blocker))
        self.wakeup()
        self.inst.wait_log("%s: cannot read its status log" % qid)
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        self.assertEqual(self.requests_for(qid), [])
        # Tried again at its back-off (6s), not at once: still one failure.
        time.sleep(2)
        self.assertEqual(self.inst.read_log().count("%s: cannot read its status log" % qid), 1)
        os.rmdir(blocker)
        self.wait_gone(qid, timeout=30)
        self.assertEqual(len(self.requests_for(qid)), 1)


    def test_unopenable_queue_file_defers_not_corrupt(self):
        """A queue file qmgr cannot open (here its mode taken away; also
        what too many open files or an I/O error give) is not corrupt: it
        waits in deferred/ and is delivered once it can be read."""
        b = "b@" + LOCAL_DOMAIN
        qid = self.write_mail([b])
        path = os.path.join(self.queue("incoming"), qid)
        os.chmod(path, 0)
        self.wakeup()
        self.inst.wait_log("%s: cannot open its queue file" % qid)
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        self.assertNotIn(qid, self.listing("corrupt"))
        self.assertEqual(self.requests_for(qid), [])
        os.chmod(os.path.join(self.queue("deferred"), qid), 0o600)
        self.wait_gone(qid, timeout=30)
        self.assertEqual(len(self.requests_for(qid)), 1)


class StatusLogDiskFullTest(StatusLogTest):
    BACKOFF = "1h"
    PAGE = 4096

    def test_disk_full_leaves_no_torn_record(self):
        """status/ on a small full file system: an append that gets only part
        of its record onto the disk is cut back, so the log stays whole and
        later records are read; the message stays deferred and goes once
        there is room again."""
        status = self.queue("status")
        owner = os.stat(status)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700,uid=%d,gid=%d"
             % (owner.st_uid, owner.st_gid), "tmpfs", status], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % mounted.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", status], capture_output=True)
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail([b])
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        log = os.path.join(status, qid)
        # Fill the log's first page up to 20 bytes with a record qmgr skips,
        # then the file system: the next record gets 20 bytes on disk.
        whole = self.PAGE - 20
        with open(log, "ab") as f:
            bare = len(tq.ipc_record("padding", [("s", "x", "")]))
            f.write(tq.ipc_record("padding", [("s", "x", "x" * (whole - f.tell() - bare))]))
        self.assertEqual(os.path.getsize(log), whole)
        filler = os.path.join(status, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * self.PAGE)
        except OSError:
            pass
        finally:
            os.close(fd)
        self.inst.mailctl("queue", "flush", check=True)
        self.inst.wait_log("%s: cannot write the status log" % qid)
        wait_for(lambda: len(self.requests_for(qid)) == 2 and qid in self.listing("deferred"),
                 what="the message deferred again")
        self.assertEqual(os.path.getsize(log), whole)
        # Whole records to the end, the padding last: nothing torn.
        with open(log, "rb") as f:
            data = f.read()
        pos, last = 0, None
        while pos < len(data):
            got = tq.ipc_decode(data, pos)
            self.assertIsNotNone(got, "a torn record at %d of %d" % (pos, len(data)))
            last, _, pos = got
        self.assertEqual(last, "padding")
        os.unlink(filler)
        del self.local.answers[b]
        self.inst.mailctl("queue", "flush", check=True)
        self.wait_gone(qid)
        self.assertEqual(len(self.requests_for(qid)), 3)


class LeftInActiveTest(StatusLogTest):
    BACKOFF = "2s"

    def test_message_that_cannot_leave_active_is_retried(self):
        """deferred/ refuses the message: it stays in active/, is tried
        again at its back-off (not in a loop, and without a qmgr restart),
        and goes once deferred/ takes files again."""
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        fix = self.unwritable("deferred")
        qid = self.write_mail([b])
        pids = self.qmgr_pids()
        self.wakeup()
        self.inst.wait_log("%s: cannot move it to deferred/" % qid)
        self.assertEqual(self.listing("active"), [qid])
        wait_for(lambda: len(self.requests_for(qid)) >= 2, timeout=15, what="a second attempt")
        self.inst.wait_log("%s: left in active/ by an earlier attempt: trying it again" % qid)
        time.sleep(3)
        reqs = self.requests_for(qid)
        # At most one attempt per 2s back-off (and some slack).
        self.assertLessEqual(len(reqs), 2 + 3)
        for earlier, later in zip(reqs, reqs[1:]):
            self.assertGreaterEqual(later["time"] - earlier["time"], 0.9)
        # Its recipient was recorded at each attempt.
        records = tq.read_records(os.path.join(self.queue("status"), qid))
        self.assertGreaterEqual(max(r["attempts"] for n, r in records if n == "message_status"), 2)
        fix()
        del self.local.answers[b]
        self.wait_gone(qid, timeout=20)
        self.assertEqual(self.qmgr_pids(), pids)
        self.assertIn("%s: to=<%s>, relay=local" % (qid, b), self.inst.read_log())


class OrphanLogTest(StatusLogTest):
    def write_log(self, name, records=()):
        path = os.path.join(self.queue("status"), name)
        with open(path, "wb") as f:
            for rec_name, attrs in records:
                f.write(tq.ipc_record(rec_name, attrs))
        return path

    def test_orphan_logs_removed_at_start(self):
        """At start qmgr removes a status log whose message is in no queue,
        and keeps those of messages in hold/, deferred/ and corrupt/ (also
        as ID.N), and files that are not a queue id's."""
        later = int(time.time()) + 3600
        waiting = [("message_status", [("i", "attempts", 1), ("i", "next_attempt", later)])]
        held = self.write_mail(["h@" + LOCAL_DOMAIN], queue="hold")
        deferred = self.write_mail(["d@" + LOCAL_DOMAIN], queue="deferred")
        broken = self.write_mail(["c@" + LOCAL_DOMAIN], queue="hold")
        os.rename(os.path.join(self.queue("hold"), broken),
                  os.path.join(self.queue("corrupt"), broken + ".1"))
        orphan = "0000000000001ABC"
        self.assertEqual(self.queued(orphan), [])
        for name in (held, deferred, broken, orphan, "not-a-queue-id"):
            self.write_log(name, waiting)
        self.restart_qmgr()
        self.inst.wait_log("%s: status log removed: the message is in no queue" % orphan)
        self.assertNotIn(orphan, self.listing("status"))
        for name in (held, deferred, broken, "not-a-queue-id"):
            self.assertIn(name, self.listing("status"))
        self.assertNotIn("%s: status log removed" % held, self.inst.read_log())
        self.assertEqual(self.local.requested(), [])


class DeleteDuringDeliveryTest(StatusLogTest):
    def params(self):
        return {"minimal_backoff_time": "1h", "maximal_backoff_time": "2h",
                "ipc_timeout": "4s"}

    def test_delete_of_a_message_being_delivered(self):
        """mailctl queue delete removes a message (and its status log) while
        qmgr waits for the agent; when the attempt ends qmgr drops the
        message without writing its status log again, and keeps running."""
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail([b])
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        self.assertIn(qid, self.listing("status"))
        pids = self.qmgr_pids()
        # The next attempt hangs in the agent (until ipc_timeout, 4s).
        self.local.hang.set()
        self.inst.mailctl("queue", "flush", check=True)
        wait_for(lambda: len(self.requests_for(qid)) == 2, what="the second attempt")
        self.assertEqual(self.listing("active"), [qid])
        result = self.inst.mailctl("queue", "delete", qid, check=True)
        self.assertIn("%s: deleted from active" % qid, result.stdout)
        self.assertNotIn(qid, self.listing("status"))
        # The agent times out: the recipient is deferred, the attempt ends.
        self.inst.wait_log("%s: to=<%s>, relay=" % (qid, b), count=2, timeout=20)
        time.sleep(1)
        self.assertEqual(self.queued(qid), [])
        self.assertNotIn(qid, self.listing("status"))
        self.assertIn("%s: deleted from the queue while it was being delivered" % qid,
                      self.inst.read_log())
        self.assertEqual(self.qmgr_pids(), pids)
        # qmgr goes on with other mail.
        self.local.hang.clear()
        del self.local.answers[b]
        other = self.write_mail([b])
        self.wakeup()
        self.wait_gone(other)
        self.assertEqual(self.qmgr_pids(), pids)
        self.assertNotIn(qid, self.listing("status"))

    def test_delete_of_a_message_delivered_meanwhile(self):
        """The same when the agent answers, after the delete, that it
        delivered one recipient and deferred the other (qmgr records both
        and defers the message), or delivered everything (qmgr removes it):
        neither the message nor its status log is left."""
        gate = threading.Event()
        gate.set()
        serve = self.local.serve
        self.local.serve = lambda conn: serve(GatedConnection(conn, gate))
        b, c = "b@" + LOCAL_DOMAIN, "c@" + LOCAL_DOMAIN
        for answer_b in (("deferred", "4.2.2", "mailbox full"),
                         ("delivered", "2.0.0", "delivered to mailbox")):
            self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
            qid = self.write_mail([b, c])
            self.wakeup()
            wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
            self.local.answers[b] = answer_b
            gate.clear()
            self.inst.mailctl("queue", "flush", check=True)
            wait_for(lambda: len(self.requests_for(qid)) == 2, what="the second attempt")
            self.inst.mailctl("queue", "delete", qid, check=True)
            gate.set()
            self.inst.wait_log("%s: to=<%s>, relay=local, delay=" % (qid, b), count=2)
            time.sleep(1)
            self.assertEqual(self.queued(qid), [])
            self.assertNotIn(qid, self.listing("status"))

if __name__ == "__main__":
    unittest.main(verbosity=2)
