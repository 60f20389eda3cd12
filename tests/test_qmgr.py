#!/usr/bin/env python3
"""qmgr: incoming -> active -> delivered / bounced / deferred, against a fake
local delivery agent written here that speaks the protocol of
helper-notes/deliver-protocol.md on spool/private/local. Only qmgr runs
under master; queue files are written with tests/svc_queue_writer."""

import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ipc_records import ipc_decode, ipc_record, read_queue_file, read_records  # noqa: E402
from postern_test import BIN, InstanceTestCase, proc_status, processes_mentioning, wait_for  # noqa: E402

QMGR = "qmgr unix n - n 300 1 qmgr"
LOCAL_DOMAIN = "mx.example.test"
QUEUE_USER = "postern"


def wakeup(path, flush=False):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(ipc_record("wakeup", [("i", "flush", 1)] if flush else []))


class FakeLocal:
    """A local delivery agent on spool/private/local. answers maps a
    recipient to (state, status, reason); the default is delivered. With
    hang set, it reads a request and never answers until released."""

    def __init__(self, spool):
        self.path = os.path.join(spool, "private", "local")
        self.answers = {}
        self.requests = []
        self.hang = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                try:
                    self.serve(conn)
                except (OSError, AssertionError):
                    pass

    def serve(self, conn):
        conn.settimeout(10)
        data = b""
        while True:
            got = ipc_decode(data, 0)
            if got:
                break
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        name, attrs, _ = got
        assert name == "deliver", name
        request = {"queue_id": None, "queue_name": None, "sender": None, "rcpts": [],
                   "time": time.time()}
        for key, value in attrs:
            if key == "rcpt":
                request["rcpts"].append([value, None])
            elif key == "index":
                request["rcpts"][-1][1] = value
            else:
                request[key] = value
        with self.lock:
            self.requests.append(request)
        if self.hang.is_set():
            # Answer nothing; wait until qmgr goes away or the test ends.
            conn.settimeout(0.2)
            while not self.stopping.is_set():
                try:
                    if conn.recv(1) == b"":
                        return
                except socket.timeout:
                    continue
            return
        out = b""
        for rcpt, index in request["rcpts"]:
            state, status, reason = self.answers.get(
                rcpt, ("delivered", "2.0.0", "delivered to mailbox"))
            out += ipc_record("result", [("i", "index", index), ("s", "state", state),
                                         ("s", "status", status), ("s", "reason", reason)])
        conn.sendall(out + ipc_record("done"))

    def requested(self):
        with self.lock:
            return [dict(r) for r in self.requests]


class QmgrTest(InstanceTestCase):
    def setUp(self):
        self.inst = self.instance(params=self.params(), services=[QMGR])
        self.spool = self.inst.spool
        self.local = FakeLocal(self.spool)
        self.addCleanup(self.local.close)

    def params(self):
        return {"minimal_backoff_time": "1h", "maximal_backoff_time": "2h"}

    def queue(self, name):
        return os.path.join(self.spool, name)

    def listing(self, name):
        return sorted(os.listdir(self.queue(name)))

    def write_mail(self, sender, rcpts, content=None, arrival=None, notify=None, fields=()):
        """Queue a message; notify maps a recipient to its DSN NOTIFY list."""
        content = content or ("From: %s\r\nTo: %s\r\nSubject: test\r\n\r\nhello\r\n"
                              % (sender or "MAILER-DAEMON", rcpts[0]))
        cmd = [os.path.join(os.path.abspath(BIN), "svc_queue_writer"), "-s", sender, "-m", content]
        for r in rcpts:
            cmd += ["-r", r]
            if notify and r in notify:
                cmd += ["-n", notify[r]]
        for name, value in fields:
            cmd += ["-e", "%s=%s" % (name, value)]
        if arrival is not None:
            cmd += ["-a", str(arrival)]
        result = subprocess.run(cmd + [self.spool], capture_output=True, text=True, timeout=30,
                                user=QUEUE_USER, group=QUEUE_USER)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def wakeup(self, flush=False):
        wakeup(self.queue("public/qmgr"), flush)

    def wait_gone(self, qid, timeout=15):
        def gone():
            return all(qid not in self.listing(d) for d in ("incoming", "active", "deferred")) \
                and qid not in self.listing("status")
        wait_for(gone, timeout=timeout, what="%s to leave the queue" % qid)

    def qmgr_pids(self):
        pids = []
        for pid in processes_mentioning(self.inst.etc):
            try:
                if proc_status(pid).get("Name") == "qmgr":
                    pids.append(pid)
            except FileNotFoundError:
                pass
        return pids

    def notices(self, to):
        """{queue id: content} of every queued notice (null sender) to `to`.
        Files move between directories while we look: three looks."""
        found = {}
        for _ in range(3):
            for d in ("incoming", "active", "deferred"):
                for name in self.listing(d):
                    try:
                        env, rcpts, content = read_queue_file(os.path.join(self.queue(d), name))
                    except (OSError, AssertionError, TypeError):
                        continue
                    if env.get("sender") == "" and rcpts and rcpts[0]["address"] == to:
                        found[name] = (env, rcpts, content)
        return found

    def find_notice(self, to, timeout=15):
        """(envelope, recipients, content) of a queued notice to `to`."""
        def find():
            got = self.notices(to)
            return next(iter(got.values())) if got else None
        return wait_for(find, timeout=timeout, what="a notice to " + to)

    def test_delivered_mail_leaves_the_queue(self):
        rcpt = "alice@" + LOCAL_DOMAIN
        qid = self.write_mail("bob@remote.test", [rcpt, "carol@MX.Example.Test"])
        self.wakeup()
        self.wait_gone(qid)
        reqs = self.local.requested()
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs[0]["queue_id"], qid)
        self.assertEqual(reqs[0]["queue_name"], "active")
        self.assertEqual(reqs[0]["sender"], "bob@remote.test")
        self.assertEqual(reqs[0]["rcpts"], [[rcpt, 0], ["carol@MX.Example.Test", 1]])
        log = self.inst.wait_log("%s: removed" % qid)
        log = self.inst.read_log()
        self.assertIn("%s: to=<%s>, relay=local, delay=" % (qid, rcpt), log)
        self.assertIn("status=sent (delivered to mailbox)", log)
        self.assertIn("%s: from=<bob@remote.test>" % qid, log)
        self.assertEqual(self.listing("incoming") + self.listing("active"), [])

    def test_bounce_sends_a_dsn_to_the_sender(self):
        bad = "nobody@" + LOCAL_DOMAIN
        self.local.answers[bad] = ("bounced", "5.1.1", "unknown user: \"nobody\"")
        qid = self.write_mail("owner@remote.test", [bad, "ok@" + LOCAL_DOMAIN],
                              "Subject: original\r\nMessage-ID: <m1@remote.test>\r\n\r\nbody\r\n")
        self.wakeup()
        env, rcpts, content = self.find_notice("owner@remote.test")
        self.wait_gone(qid)
        self.assertEqual(env["origin"], "bounce")
        self.assertEqual(len(rcpts), 1)
        msg = email.message_from_bytes(content, policy=email.policy.compat32)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        parts = msg.get_payload()
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        blocks = parts[1].get_payload()
        fields = "\n".join(str(b) for b in blocks)
        self.assertIn("Status: 5.1.1", fields)
        self.assertIn("Final-Recipient: rfc822; " + bad, fields)
        self.assertNotIn("ok@" + LOCAL_DOMAIN, fields)
        self.assertIn("Subject: original", content.decode())
        log = self.inst.read_log()
        self.assertIn("to=<%s>, relay=local" % bad, log)
        self.assertIn("status=bounced (unknown user", log)
        # The notice itself goes to a remote sender; with no smtp service
        # in this instance it is deferred, not bounced again.
        self.inst.wait_log("to=<owner@remote.test>, relay=none")
        self.assertIn("dsn=4.3.0, status=deferred (delivery agent not available)",
                      self.inst.read_log())

    def test_null_sender_gets_no_notice(self):
        bad = "nobody@" + LOCAL_DOMAIN
        self.local.answers[bad] = ("bounced", "5.1.1", "unknown user")
        qid = self.write_mail("", [bad])
        self.wakeup()
        self.wait_gone(qid)
        time.sleep(0.5)
        self.assertEqual(self.listing("incoming") + self.listing("deferred")
                         + self.listing("active"), [])
        # Nor does it go to the postmaster: it is not one of our notices.
        self.assertEqual([r["rcpts"] for r in self.local.requested()], [[[bad, 0]]])
        self.assertIn("%s: from the null sender: no notification" % qid, self.inst.read_log())

    def test_double_bounce_discarded_by_default(self):
        # notify_classes as Postfix's default (resource, software): a
        # notice that cannot be delivered is logged and dropped.
        ghost, bad = "ghost@" + LOCAL_DOMAIN, "nobody@" + LOCAL_DOMAIN
        for r in (ghost, bad):
            self.local.answers[r] = ("bounced", "5.1.1", "unknown user")
        qid = self.write_mail(ghost, [bad])
        self.wakeup()
        self.inst.wait_log("undeliverable sender notification discarded (notify_classes has "
                           "no 2bounce)", timeout=20)
        wait_for(lambda: self.listing("incoming") + self.listing("active")
                 + self.listing("deferred") == [], what="an empty queue")
        time.sleep(1)
        reqs = self.local.requested()
        self.assertEqual([r["rcpts"][0][0] for r in reqs], [bad, ghost])
        self.assertEqual(reqs[0]["queue_id"], qid)
        self.assertNotIn("postmaster non-delivery notification", self.inst.read_log())

    def test_double_bounce_goes_to_postmaster_once(self):
        self.inst.params["notify_classes"] = "2bounce"
        self.inst.write_config()
        self.inst.mailctl("reload", check=True)
        time.sleep(1)
        ghost, bad = "ghost@" + LOCAL_DOMAIN, "nobody@" + LOCAL_DOMAIN
        for r in (ghost, bad, "postmaster"):
            self.local.answers[r] = ("bounced", "5.1.1", "unknown user")
        qid = self.write_mail(ghost, [bad])
        self.wakeup()
        self.inst.wait_log("undeliverable postmaster notification discarded", timeout=20)
        wait_for(lambda: self.listing("incoming") + self.listing("active")
                 + self.listing("deferred") == [], what="an empty queue")
        time.sleep(1)
        reqs = self.local.requested()
        # The message, the notice to ghost, one report to the postmaster.
        self.assertEqual([r["rcpts"][0][0] for r in reqs], [bad, ghost, "postmaster"])
        self.assertEqual(reqs[0]["queue_id"], qid)
        self.assertEqual(reqs[1]["sender"], "")
        self.assertEqual(reqs[2]["sender"], "")
        log = self.inst.read_log()
        self.assertEqual(log.count("postmaster non-delivery notification"), 1)

    def test_deferred_then_flushed(self):
        a, b = "a@" + LOCAL_DOMAIN, "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("s@remote.test", [a, b])
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        records = read_records(os.path.join(self.queue("status"), qid))
        states = {r["index"]: r["state"] for n, r in records if n == "rcpt_status"}
        self.assertEqual(states, {0: "delivered", 1: "deferred"})
        msg = [r for n, r in records if n == "message_status"]
        self.assertEqual(msg[-1]["attempts"], 1)
        self.assertGreaterEqual(msg[-1]["next_attempt"], time.time() + 3000)
        self.assertIn("status=deferred (mailbox full)", self.inst.read_log())
        # A plain wake-up does not retry it before its time.
        self.wakeup()
        time.sleep(1)
        self.assertEqual(len(self.local.requested()), 1)
        # A crash and restart of qmgr does not deliver a twice either.
        for pid in self.qmgr_pids():
            os.kill(pid, signal.SIGKILL)
        del self.local.answers[b]
        wait_for(lambda: not self.qmgr_pids(), what="qmgr to die")
        wait_for(lambda: (self.wakeup(flush=True), self.local.requested()[1:])[1], timeout=30,
                 interval=1, what="a retry")
        self.wait_gone(qid)
        reqs = self.local.requested()
        for r in reqs[1:]:
            self.assertEqual(r["rcpts"], [[b, 1]])
        self.assertIn("%s: to=<%s>, relay=local" % (qid, b), self.inst.read_log())

    def last_message_status(self, qid):
        records = read_records(os.path.join(self.queue("status"), qid))
        return [r for n, r in records if n == "message_status"][-1]

    def test_retry_now_restarts_the_backoff(self):
        """A flush (wake-up with flush=1, mailctl queue flush) or a requeue
        tries deferred mail at once, and when it fails again the wait is
        minimal_backoff_time again (1h), not the doubled one (2h)."""
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("s@remote.test", [b])
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        first = self.last_message_status(qid)
        self.assertEqual(first["attempts"], 1)
        retries = [lambda: self.wakeup(flush=True),
                   lambda: self.inst.mailctl("queue", "flush", check=True),
                   lambda: self.inst.mailctl("queue", "requeue", qid, check=True)]
        for k, retry in enumerate(retries, start=2):
            before = time.time()
            retry()
            wait_for(lambda: len(self.local.requested()) >= k, timeout=10,
                     what="retry %d at once" % k)
            wait_for(lambda: qid in self.listing("deferred") and
                     self.last_message_status(qid)["next_attempt"] >= before + 3000,
                     what="the message deferred again")
            status = self.last_message_status(qid)
            self.assertEqual(status["attempts"], 1, "attempt %d" % k)
            self.assertLessEqual(status["next_attempt"], time.time() + 3600 + 1)
        # Once the mailbox takes mail, a flush delivers it within seconds.
        del self.local.answers[b]
        self.inst.mailctl("queue", "flush", check=True)
        self.wait_gone(qid, timeout=10)
        self.assertEqual(len(self.local.requested()), 5)

    def test_corrupt_file_goes_to_corrupt(self):
        bogus = "0000000000001" + "ABC"
        path = os.path.join(self.queue("incoming"), bogus)
        with open(path, "wb") as f:
            f.write(b"POSTERN-QUEUE 1\nnot records at all")
        os.chown(path, *self.postern_ids())
        qid = self.write_mail("x@remote.test", ["y@" + LOCAL_DOMAIN])
        self.wakeup()
        wait_for(lambda: bogus in self.listing("corrupt"), what="the file in corrupt/")
        self.wait_gone(qid)
        self.inst.wait_log("%s: corrupt queue file" % bogus)

    def postern_ids(self):
        import pwd
        pw = pwd.getpwnam(QUEUE_USER)
        return pw.pw_uid, pw.pw_gid

    def test_crash_in_the_middle_loses_nothing(self):
        rcpts = ["u%d@%s" % (i, LOCAL_DOMAIN) for i in range(3)]
        self.local.hang.set()
        qid = self.write_mail("s@remote.test", rcpts)
        self.wakeup()
        wait_for(lambda: self.local.requested(), what="a delivery request")
        self.assertEqual(self.listing("active"), [qid])
        pids = self.qmgr_pids()
        self.assertEqual(len(pids), 1)
        os.kill(pids[0], signal.SIGKILL)
        self.local.hang.clear()
        wait_for(lambda: pids[0] not in self.qmgr_pids(), what="qmgr to die")
        self.assertIn(qid, self.listing("active"))
        # master starts a new qmgr on the next wake-up; it recovers active/.
        wait_for(lambda: (self.wakeup(), len(self.local.requested()) > 1)[1], timeout=30,
                 interval=1, what="a new delivery request")
        self.wait_gone(qid)
        self.assertEqual(self.local.requested()[-1]["rcpts"], [[r, i] for i, r in enumerate(rcpts)])


class QmgrRecipientLimitTest(QmgrTest):
    """qmgr_message_recipient_limit: a message with far more recipients
    than the limit is read and delivered in slices, every recipient
    exactly once, while qmgr never holds more than the limit."""

    LIMIT = 100

    def params(self):
        return {"minimal_backoff_time": "1h", "maximal_backoff_time": "2h",
                "qmgr_message_recipient_limit": str(self.LIMIT)}

    def test_big_message_delivered_in_slices(self):
        big = ["u%04d@%s" % (i, LOCAL_DOMAIN) for i in range(3000)]
        small = [["s%d-%03d@%s" % (m, i, LOCAL_DOMAIN) for i in range(150)] for m in range(2)]
        late = big[2500]
        self.local.answers[late] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("s@remote.test", big)
        others = [self.write_mail("s@remote.test", rcpts) for rcpts in small]
        self.wakeup()
        wait_for(lambda: qid in self.listing("deferred"), timeout=120,
                 what="the big message deferred for its one recipient")
        for other in others:
            self.wait_gone(other, timeout=60)
        records = read_records(os.path.join(self.queue("status"), qid))
        states = {}
        for name, r in records:
            if name == "rcpt_status":
                states[r["index"]] = r["state"]
        self.assertEqual(len(states), 3000)
        self.assertEqual(states.pop(2500), "deferred")
        self.assertEqual(set(states.values()), {"delivered"})
        # Retry: only the deferred one goes again.
        del self.local.answers[late]
        self.wakeup(flush=True)
        self.wait_gone(qid, timeout=60)

        asked = {}
        for req in self.local.requested():
            self.assertLessEqual(len(req["rcpts"]), self.LIMIT)
            for rcpt, index in req["rcpts"]:
                asked.setdefault(rcpt, []).append((req["queue_id"], index))
        for i, rcpt in enumerate(big):
            want = [(qid, i)] * (2 if rcpt == late else 1)
            self.assertEqual(asked.pop(rcpt), want, rcpt)
        for other, rcpts in zip(others, small):
            for i, rcpt in enumerate(rcpts):
                self.assertEqual(asked.pop(rcpt), [(other, i)], rcpt)
        self.assertEqual(asked, {})

        # The log shows the slices and what qmgr held: never over the limit.
        log = self.inst.read_log()
        slices = re.findall(r"%s: recipients (\d+) to (\d+) of 3000, (\d+) in memory "
                            r"\(qmgr_message_recipient_limit %d\)" % (qid, self.LIMIT), log)
        self.assertGreaterEqual(len(slices), 2 * 3000 // self.LIMIT)
        for first, last, held in slices:
            self.assertLessEqual(int(held), self.LIMIT)
            self.assertLessEqual(int(last) - int(first) + 1, self.LIMIT)
        # Each attempt covers 1..3000 in order without gaps.
        expect = 1
        for first, last, _ in slices:
            self.assertEqual(int(first), expect)
            expect = int(last) + 1 if int(last) < 3000 else 1
        self.assertEqual(expect, 1)
        self.assertIn("%s: from=<s@remote.test>, size=" % qid, log)
        self.assertIn("nrcpt=3000 (queue active)", log)

    test_delivered_mail_leaves_the_queue = None
    test_bounce_sends_a_dsn_to_the_sender = None
    test_null_sender_gets_no_notice = None
    test_deferred_then_flushed = None
    test_retry_now_restarts_the_backoff = None
    test_corrupt_file_goes_to_corrupt = None
    test_crash_in_the_middle_loses_nothing = None
    test_double_bounce_goes_to_postmaster_once = None
    test_double_bounce_discarded_by_default = None


class QmgrTimerTest(QmgrTest):
    """With a short back-off the timer retries deferred mail by itself."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}

    def test_timer_retries_deferred_mail(self):
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("s@remote.test", [b])
        self.wakeup()
        wait_for(lambda: len(self.local.requested()) >= 2, timeout=15, what="a timed retry")
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        records = read_records(os.path.join(self.queue("status"), qid))
        attempts = [r["attempts"] for n, r in records if n == "message_status"]
        self.assertGreaterEqual(attempts[-1], 2)
        del self.local.answers[b]
        self.wait_gone(qid, timeout=20)

    def test_expired_mail_bounces(self):
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        # Older than maximal_queue_lifetime (5d): it bounces when it defers.
        qid = self.write_mail("owner@remote.test", [b], arrival=int(time.time()) - 6 * 86400)
        self.wakeup()
        _, _, content = self.find_notice("owner@remote.test", timeout=30)
        self.wait_gone(qid)
        self.assertIn(b"Status: 5.4.7", content)
        self.assertIn(b"mailbox full", content)

    # The tests of the base class run again here only where timing matters.
    test_delivered_mail_leaves_the_queue = None
    test_bounce_sends_a_dsn_to_the_sender = None
    test_null_sender_gets_no_notice = None
    test_deferred_then_flushed = None
    test_retry_now_restarts_the_backoff = None
    test_corrupt_file_goes_to_corrupt = None
    test_crash_in_the_middle_loses_nothing = None
    test_double_bounce_goes_to_postmaster_once = None
    test_double_bounce_discarded_by_default = None


class QmgrBackoffTest(QmgrTimerTest):
    """Retries come at the back-off times: never early, not much late, and
    the wait doubles from minimal_backoff_time up to maximal_backoff_time."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "4s"}

    def test_backoff_times_respected(self):
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("s@remote.test", [b], notify={b: "NEVER"})
        self.wakeup()
        wait_for(lambda: len(self.local.requested()) >= 5, timeout=30, what="five attempts")
        wait_for(lambda: qid in self.listing("deferred"), what="the message in deferred/")
        times = [r["time"] for r in self.local.requested()[:5]]
        records = read_records(os.path.join(self.queue("status"), qid))
        due = [r["next_attempt"] for n, r in records if n == "message_status"]
        tried = [r["time"] for n, r in records if n == "rcpt_status"]
        # next_attempt = time of the attempt + 1, 2, 4, 4 seconds (the
        # result and the deferral may fall on either side of a second).
        for k, backoff in enumerate([1, 2, 4, 4]):
            self.assertIn(due[k] - tried[k], (backoff, backoff + 1), (due, tried))
            self.assertGreaterEqual(times[k + 1], due[k] - 0.05, "attempt %d early" % (k + 2))
            self.assertLess(times[k + 1], due[k] + 3.5, "attempt %d late" % (k + 2))
        del self.local.answers[b]
        self.wait_gone(qid, timeout=20)

    test_timer_retries_deferred_mail = None
    test_expired_mail_bounces = None


class QmgrLifetimeTest(QmgrTimerTest):
    """A short maximal_queue_lifetime: deferred mail bounces once it is
    older, not before."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "1s",
                "maximal_queue_lifetime": "3s"}

    def test_short_lifetime_bounces(self):
        b = "b@" + LOCAL_DOMAIN
        self.local.answers[b] = ("deferred", "4.2.2", "mailbox full")
        start = int(time.time())
        qid = self.write_mail("owner@remote.test", [b])
        self.wakeup()
        _, _, content = self.find_notice("owner@remote.test", timeout=30)
        self.wait_gone(qid)
        self.assertGreaterEqual(time.time(), start + 3)
        self.assertGreaterEqual(len(self.local.requested()), 2)
        msg = email.message_from_bytes(content, policy=email.policy.compat32)
        fields = "\n".join(str(b) for b in msg.get_payload()[1].get_payload())
        self.assertIn("Action: failed", fields)
        self.assertIn("Status: 5.4.7", fields)
        self.assertIn("message expired after", fields)
        self.assertEqual(len(self.notices("owner@remote.test")), 1)

    test_timer_retries_deferred_mail = None
    test_expired_mail_bounces = None


class QmgrBounceLifetimeTest(QmgrTimerTest):
    """bounce_queue_lifetime: mail from the null sender expires after it,
    other mail after maximal_queue_lifetime."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "1s",
                "bounce_queue_lifetime": "3s", "notify_classes": "2bounce"}

    def test_null_sender_mail_expires_first(self):
        b = "b@" + LOCAL_DOMAIN
        # The postmaster's mailbox is full too: the double bounce waits
        # in the queue to be looked at (it expires after 3 s itself).
        for r in (b, "postmaster"):
            self.local.answers[r] = ("deferred", "4.2.2", "mailbox full")
        start = int(time.time())
        bounce = self.write_mail("", [b], fields=(("origin", "bounce"),))
        plain = self.write_mail("owner@remote.test", [b])
        self.wakeup()
        # The bounce expires: a double bounce goes to the postmaster.
        env, _, content = self.find_notice("postmaster", timeout=30)
        self.assertEqual(env["origin"], "double-bounce")
        self.wait_gone(bounce)
        self.assertGreaterEqual(time.time(), start + 3)
        msg = email.message_from_bytes(content, policy=email.policy.compat32)
        fields = "\n".join(str(p) for p in msg.get_payload()[1].get_payload())
        self.assertIn("Status: 5.4.7", fields)
        self.assertIn("message expired after", fields)
        # The other message is still tried, not expired.
        n = len(self.local.requested())
        wait_for(lambda: len(self.local.requested()) >= n + 2, timeout=20,
                 what="more attempts")
        self.assertIn(plain, self.listing("deferred") + self.listing("active"))
        self.assertEqual(self.notices("owner@remote.test"), {})
        del self.local.answers[b]
        self.wait_gone(plain, timeout=20)
        # The double bounce expires in turn, and goes nowhere.
        self.inst.wait_log("undeliverable postmaster notification discarded", timeout=20)

    test_timer_retries_deferred_mail = None
    test_expired_mail_bounces = None


class QmgrDelayWarningTest(QmgrTimerTest):
    """delay_warning_time: one warning per message, for the recipients
    that did not opt out of DELAY notices."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "1s",
                "delay_warning_time": "2s"}

    def test_one_delay_warning(self):
        a, b, c = ("%s@%s" % (n, LOCAL_DOMAIN) for n in "abc")
        for r in (a, b, c):
            self.local.answers[r] = ("deferred", "4.2.2", "mailbox full")
        qid = self.write_mail("owner@remote.test", [a, b, c],
                              notify={b: "NEVER", c: "SUCCESS,FAILURE"})
        quiet = self.write_mail("quiet@remote.test", [c], notify={c: "FAILURE"})
        self.wakeup()
        _, _, content = self.find_notice("owner@remote.test", timeout=20)
        # Several more attempts: still one warning.
        n = len(self.local.requested())
        wait_for(lambda: len(self.local.requested()) >= n + 4, timeout=20,
                 what="more attempts")
        self.assertEqual(len(self.notices("owner@remote.test")), 1)
        self.assertEqual(self.notices("quiet@remote.test"), {})
        msg = email.message_from_bytes(content, policy=email.policy.compat32)
        self.assertEqual(msg["Subject"], "Delayed Mail (still being retried)")
        blocks = msg.get_payload()[1].get_payload()
        rcpt_blocks = [dict(bl.items()) for bl in blocks[1:]]
        self.assertEqual([bl["Final-Recipient"] for bl in rcpt_blocks], ["rfc822; " + a])
        self.assertEqual(rcpt_blocks[0]["Action"], "delayed")
        self.assertEqual(rcpt_blocks[0]["Status"], "4.2.2")
        self.assertIn("Will-Retry-Until", rcpt_blocks[0])
        # Only the header comes back with a warning.
        self.assertEqual(msg.get_payload()[2].get_content_type(), "text/rfc822-headers")
        records = read_records(os.path.join(self.queue("status"), qid))
        self.assertEqual(len([r for n, r in records if n == "delay_warning"]), 1)
        self.assertIn("%s: sender delay notification" % qid, self.inst.read_log())
        for r in (a, b, c):
            del self.local.answers[r]
        self.wait_gone(qid, timeout=20)
        self.wait_gone(quiet, timeout=20)

    test_timer_retries_deferred_mail = None
    test_expired_mail_bounces = None


class QmgrNotifyClassesTest(QmgrTimerTest):
    """notify_classes bounce and delay: the postmaster gets a copy of each
    failure report and delay warning, with the headers only and every
    recipient whatever its NOTIFY (bounce also sends double bounces)."""

    def params(self):
        return {"minimal_backoff_time": "1s", "maximal_backoff_time": "1s",
                "delay_warning_time": "2s", "notify_classes": "bounce, delay, resource",
                "bounce_notice_recipient": "bounces@" + LOCAL_DOMAIN,
                "delay_notice_recipient": "delays@" + LOCAL_DOMAIN}

    def test_bounce_copy_to_postmaster(self):
        a, b = "a@" + LOCAL_DOMAIN, "b@" + LOCAL_DOMAIN
        for r in (a, b):
            self.local.answers[r] = ("bounced", "5.1.1", "unknown user")
        self.local.answers["bounces@" + LOCAL_DOMAIN] = ("deferred", "4.2.2", "held")
        qid = self.write_mail("owner@remote.test", [a, b], notify={a: "NEVER"},
                              content=b"Subject: secret\r\n\r\nthe body\r\n")
        self.wakeup()
        _, _, content = self.find_notice("owner@remote.test", timeout=20)
        env, _, copy = self.find_notice("bounces@" + LOCAL_DOMAIN, timeout=20)
        self.assertEqual(env["origin"], "double-bounce")
        self.assertEqual(env["sender"], "")
        # The sender hears of b only (a said NEVER), with the message.
        sender = email.message_from_bytes(content, policy=email.policy.compat32)
        finals = [dict(bl.items())["Final-Recipient"]
                  for bl in sender.get_payload()[1].get_payload()[1:]]
        self.assertEqual(finals, ["rfc822; " + b])
        self.assertIn(b"the body", content)
        # The postmaster of both, with the headers only.
        msg = email.message_from_bytes(copy, policy=email.policy.compat32)
        finals = [dict(bl.items())["Final-Recipient"]
                  for bl in msg.get_payload()[1].get_payload()[1:]]
        self.assertEqual(sorted(finals), ["rfc822; " + a, "rfc822; " + b])
        self.assertEqual(msg.get_payload()[2].get_content_type(), "text/rfc822-headers")
        self.assertIn(b"Subject: secret", copy)
        self.assertNotIn(b"the body", copy)
        self.wait_gone(qid)
        self.assertIn("%s: postmaster non-delivery notification" % qid, self.inst.read_log())

    def test_delay_copy_to_postmaster(self):
        a = "a@" + LOCAL_DOMAIN
        self.local.answers[a] = ("deferred", "4.2.2", "mailbox full")
        self.local.answers["delays@" + LOCAL_DOMAIN] = ("deferred", "4.2.2", "held")
        qid = self.write_mail("owner@remote.test", [a], notify={a: "FAILURE"})
        self.wakeup()
        env, _, copy = self.find_notice("delays@" + LOCAL_DOMAIN, timeout=20)
        self.assertEqual(env["origin"], "double-bounce")
        msg = email.message_from_bytes(copy, policy=email.policy.compat32)
        self.assertEqual(msg["Subject"], "Delayed Mail (still being retried)")
        # The sender asked for no delay notice: only the postmaster's.
        self.assertEqual(self.notices("owner@remote.test"), {})
        self.inst.wait_log("%s: postmaster delay notification" % qid)
        del self.local.answers[a]
        self.wait_gone(qid, timeout=20)

    def test_mailctl_check_names_unknown_class(self):
        self.inst.params["notify_classes"] = "bounce, bogus"
        self.inst.write_config()
        out = self.inst.mailctl("check")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('notify_classes: unknown class "bogus"', out.stdout + out.stderr)

    test_timer_retries_deferred_mail = None
    test_expired_mail_bounces = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
