"""mailctl queue list, show and delete over a queue filled by
svc_queue_writer (the library's own queue writer); no master needed.
Damaged files must be listed with an error, never skipped."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import BIN, InstanceTestCase, encode_record  # noqa: E402

ARRIVAL = 1700000000
QUEUES = ("incoming", "active", "deferred", "hold")


def local_time(seconds):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class QueueCliTest(InstanceTestCase):
    def setUp(self):
        self.inst = self.instance(start=False)
        self.spool = self.inst.spool

    # ---- helpers ----

    def write(self, content, sender="", rcpts=(), queue="incoming", arrival=ARRIVAL,
              fields=(), utf8=False):
        """Queue a message; rcpts are addresses or (address, orcpt, notify)."""
        cmd = [os.path.join(os.path.abspath(BIN), "svc_queue_writer"), "-s", sender,
               "-a", str(arrival), "-q", queue]
        for r in rcpts:
            if isinstance(r, str):
                r = (r, "", "")
            cmd += ["-r", r[0]]
            if r[1]:
                cmd += ["-o", r[1]]
            if r[2]:
                cmd += ["-n", r[2]]
        for name, value in fields:
            cmd += ["-e", "%s=%s" % (name, value)]
        if utf8:
            cmd.append("-u")
        cmd.append(self.spool)
        result = subprocess.run(cmd, input=content, capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        qid = result.stdout.decode().strip()
        self.assertRegex(qid, r"^[0-9A-F]{16}$")
        return qid

    def path(self, queue, name):
        return os.path.join(self.spool, queue, name)

    def mailctl(self, *args):
        """Run mailctl; stdout as bytes (content must not be re-encoded)."""
        cmd = [self.inst.program("mailctl"), "-c", self.inst.etc] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=30)

    def ok(self, *args):
        result = self.mailctl(*args)
        self.assertEqual(result.returncode, 0,
                         "%s: %s%s" % (args, result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace")))
        return result.stdout

    def json(self, *args):
        return json.loads(self.ok("--json", *args).decode("utf-8"))

    def fill(self):
        """Three good messages and two damaged files."""
        m = {}
        m["a"] = self.write(b"Subject: one\r\n\r\nfirst\r\n", sender="alice@example.org",
                            rcpts=[("bob@example.net", "rfc822;bob@example.net",
                                    "SUCCESS,FAILURE"), "carol@example.net",
                                   ("dave@example.com", "", "NEVER")],
                            fields=[("helo", "mx.example.org"), ("client_addr", "192.0.2.7"),
                                    ("origin", "smtp"), ("ret", "HDRS")])
        m["b"] = self.write(b"Subject: two\r\n\r\nsecond\r\n", rcpts=["erin@example.net"],
                            queue="hold", arrival=ARRIVAL + 60)
        m["c"] = self.write(b"x" * 5000, sender="frank@example.org",
                            rcpts=["grace@example.net"], queue="deferred",
                            arrival=ARRIVAL + 120)
        # Damaged: garbage under a valid id, and a truncated copy of a good file.
        m["garbage"] = "0000000000000001"
        with open(self.path("active", m["garbage"]), "wb") as f:
            f.write(b"this is not a queue file\n")
        with open(self.path("incoming", m["a"]), "rb") as f:
            data = f.read()
        m["cut"] = "0000000000000002"
        with open(self.path("deferred", m["cut"]), "wb") as f:
            f.write(data[:-10])
        return m

    def remaining(self):
        return sorted(name for q in QUEUES for name in os.listdir(os.path.join(self.spool, q)))

    # ---- list ----

    def test_list_empty(self):
        os.makedirs(self.spool, exist_ok=True)
        self.assertIn(b"Mail queue is empty", self.ok("queue", "list"))
        self.assertIn(b"Mail queue is empty", self.ok("queue"))
        data = self.json("queue", "list")
        self.assertEqual(data["messages"], [])
        self.assertEqual(data["count"], 0)

    def test_list_while_a_message_moves(self):
        """A message moving between queues during a listing (qmgr and mailctl
        rename files all the time) is listed once: never twice, never as an
        unreadable file, and missing only if every pass saw it move."""
        qid = self.write(b"Subject: moving\r\n\r\nm\r\n", sender="a@example.org",
                         rcpts=["b@example.net"])
        # Mail that stays put around it (a pass done again takes it over).
        still = {self.write(b"Subject: still\r\n\r\ns\r\n", sender="s%d@example.org" % i,
                            rcpts=["r%d@example.net" % i], queue=QUEUES[i % 4]): i
                 for i in range(6)}
        stop = threading.Event()
        moves = [0]

        def mover():
            order = QUEUES + ("incoming",)
            while not stop.is_set():
                for src, dst in zip(order, order[1:]):
                    os.rename(self.path(src, qid), self.path(dst, qid))
                    moves[0] += 1
                    time.sleep(0.01)

        thread = threading.Thread(target=mover)
        thread.start()
        missed = 0
        try:
            for _ in range(60):
                data = self.json("queue", "list")
                for m in data["messages"]:
                    if m["id"] in still:
                        i = still[m["id"]]
                        self.assertEqual((m["queue"], m["sender"], m["recipients"][0]["address"]),
                                         (QUEUES[i % 4], "s%d@example.org" % i,
                                          "r%d@example.net" % i), m)
                self.assertEqual(sorted(m["id"] for m in data["messages"] if m["id"] in still),
                                 sorted(still))
                seen = [(m["id"], m["valid"]) for m in data["messages"] if m["id"] not in still]
                # Never twice, never as a damaged file caught mid-move.
                self.assertIn(seen, ([(qid, True)], []), data)
                missed += not seen
        finally:
            stop.set()
            thread.join()
        self.assertGreater(moves[0], 10)
        # Missing only when every pass saw a move (a very busy machine).
        self.assertLessEqual(missed, 3)

    def test_list_text(self):
        m = self.fill()
        out = self.ok("queue", "list").decode()
        lines = out.splitlines()

        def line_of(text):
            found = [line for line in lines if text in line]
            self.assertEqual(len(found), 1, "%r in:\n%s" % (text, out))
            return found[0]

        first = line_of(m["a"])
        self.assertRegex(first, r"^%s\s+incoming\s+%d\s+%s\s+alice@example\.org$" % (
            m["a"], len(b"Subject: one\r\n\r\nfirst\r\n"), local_time(ARRIVAL)))
        for rcpt in ("bob@example.net", "carol@example.net", "dave@example.com"):
            self.assertRegex(line_of(rcpt), r"^\s+%s \(queued\)$" % rcpt)
        # The recipients follow their message, in order.
        i = lines.index(first)
        self.assertIn("bob@example.net", lines[i + 1])
        self.assertIn("carol@example.net", lines[i + 2])
        self.assertIn("dave@example.com", lines[i + 3])
        self.assertRegex(line_of(m["b"]), r"^%s\s+hold\s+\d+\s+%s\s+<>$" % (
            m["b"], local_time(ARRIVAL + 60)))
        self.assertRegex(line_of(m["c"]), r"^%s\s+deferred\s+5000\s" % m["c"])
        self.assertRegex(line_of(m["garbage"]), r"^%s\s+active\s+ERROR: \S" % m["garbage"])
        self.assertRegex(line_of(m["cut"]), r"^%s\s+deferred\s+ERROR: \S" % m["cut"])
        self.assertIn("-- 3 messages", out)
        self.assertIn("2 damaged", out)

    def test_shape(self):
        """queue shape, qshape's table: waiting recipients by domain and
        age bucket (5, 10, 20 ... minutes), TOTAL first, busiest domain
        next; a delivered recipient is not counted; --sender counts
        messages by sender domain; --parent adds .parent rows; named
        queues; --top; --json; bad arguments exit 2."""
        os.makedirs(self.spool, exist_ok=True)
        now = int(time.time())
        a = self.write(b"Subject: a\r\n\r\nx\r\n", sender="alice@example.org",
                       rcpts=["bob@example.net", "carol@example.net", "dave@mx.example.com"],
                       arrival=now - 60)            # 1 minute: bucket 5
        self.write(b"Subject: b\r\n\r\nx\r\n", sender="",
                   rcpts=["erin@EXAMPLE.net"], queue="active",
                   arrival=now - 7 * 60)            # 7 minutes: bucket 10
        self.write(b"Subject: c\r\n\r\nx\r\n", sender="frank@example.org",
                   rcpts=["grace@other.test"], queue="deferred",
                   arrival=now - 3 * 86400)         # 3 days: 1280+
        with open(os.path.join(self.spool, "status", a), "wb") as f:
            f.write(encode_record("rcpt_status", [
                ("index", 1), ("state", "delivered"), ("status", "2.0.0"), ("reason", "ok"),
                ("time", now)]))
        out = self.ok("queue", "shape").decode()
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["T", "5", "10", "20", "40", "80", "160", "320",
                                            "640", "1280", "1280+"])
        self.assertEqual(lines[1].split(), ["TOTAL", "3", "2", "1"] + ["0"] * 8)
        self.assertEqual(lines[2].split(), ["example.net", "2", "1", "1"] + ["0"] * 8)
        self.assertEqual(lines[3].split(), ["mx.example.com", "1", "1"] + ["0"] * 9)
        self.assertEqual(len(lines), 4)
        # All queues, by sender domain, parents, the top one only.
        out = self.ok("queue", "shape", "--sender", "incoming", "active", "deferred").decode()
        rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()[1:]}
        self.assertEqual(rows["TOTAL"][0], "3")
        self.assertEqual(rows["example.org"], ["2", "1"] + ["0"] * 8 + ["1"])
        self.assertEqual(rows["MAILER-DAEMON"], ["1", "0", "1"] + ["0"] * 8)
        out = self.ok("queue", "shape", "--parent", "deferred", "incoming").decode()
        rows = {l.split()[0]: l.split()[1] for l in out.splitlines()[1:]}
        self.assertEqual(rows, {"TOTAL": "3", "example.net": "1", "mx.example.com": "1",
                                ".example.com": "1", "other.test": "1"})
        out = self.ok("queue", "shape", "--top", "1", "--buckets", "3", "--minutes", "2").decode()
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["T", "2", "4", "4+"])
        self.assertEqual([l.split()[0] for l in lines[1:]], ["TOTAL", "example.net"])
        self.assertEqual(lines[2].split(), ["example.net", "2", "1", "0", "1"])
        j = self.json("queue", "shape", "--buckets", "3")
        self.assertEqual(j["buckets"], [5, 10, None])
        self.assertEqual(j["rows"][0], {"domain": "TOTAL", "total": 3, "counts": [2, 1, 0]})
        for bad in (["--top"], ["--top", "0"], ["--buckets", "99"], ["queued"], ["--x"]):
            r = self.mailctl("queue", "shape", *bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn(b"queue shape", r.stderr)

    def test_list_mailq_format(self):
        # Postfix's showq format (sendmail -bp, mailq), which scripts parse.
        os.makedirs(self.spool, exist_ok=True)
        self.assertEqual(self.ok("queue", "list", "--mailq"), b"Mail queue is empty\n")
        m = self.fill()
        # c's recipient was deferred; a's first was delivered and its second deferred.
        with open(os.path.join(self.spool, "status", m["c"]), "wb") as f:
            f.write(encode_record("rcpt_status", [
                ("index", 0), ("state", "deferred"), ("status", "4.4.1"),
                ("reason", "connect to mx.example.net[192.0.2.9]:25: Connection timed out"),
                ("time", ARRIVAL + 200)]))
        with open(os.path.join(self.spool, "status", m["a"]), "wb") as f:
            f.write(encode_record("rcpt_status", [
                ("index", 0), ("state", "delivered"), ("status", "2.0.0"), ("reason", "ok"),
                ("time", ARRIVAL + 10)]))
            f.write(encode_record("rcpt_status", [
                ("index", 1), ("state", "deferred"), ("status", "4.2.2"),
                ("reason", "mailbox full"), ("time", ARRIVAL + 10)]))
        out = self.ok("queue", "list", "--mailq").decode()
        when = time.strftime("%a %b %e %H:%M:%S", time.localtime(ARRIVAL))
        size_a = len(b"Subject: one\r\n\r\nfirst\r\n")
        pad = " " * 41
        self.assertEqual(out, "".join([
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n",
            "%s  %8d %-20s alice@example.org\n" % (m["a"], size_a, when),
            "(mailbox full)\n",
            pad + "carol@example.net\n",
            pad + "dave@example.com\n",
            "\n",
            "%s! %8d %-20s MAILER-DAEMON\n" % (
                m["b"], len(b"Subject: two\r\n\r\nsecond\r\n"),
                time.strftime("%a %b %e %H:%M:%S", time.localtime(ARRIVAL + 60))),
            pad + "erin@example.net\n",
            "\n",
            "%s  %8d %-20s frank@example.org\n" % (
                m["c"], 5000, time.strftime("%a %b %e %H:%M:%S", time.localtime(ARRIVAL + 120))),
            "(connect to mx.example.net[192.0.2.9]:25: Connection timed out)\n",
            pad + "grace@example.net\n",
            "\n",
            "-- 5 Kbytes in 3 Requests.\n",  # 5051 bytes, rounded up
        ]))

    def test_list_json(self):
        m = self.fill()
        with open(os.path.join(self.spool, "status", m["b"]), "w") as f:
            f.write("")
        data = self.json("queue", "list")
        self.assertEqual(data["count"], 5)
        self.assertEqual(data["damaged"], 2)
        by_id = {msg["id"]: msg for msg in data["messages"]}
        self.assertEqual(sorted(by_id), sorted(m.values()))
        # Sorted by id, that is by arrival.
        self.assertEqual([msg["id"] for msg in data["messages"]], sorted(by_id))
        a = by_id[m["a"]]
        self.assertTrue(a["valid"])
        self.assertEqual(a["queue"], "incoming")
        self.assertEqual(a["sender"], "alice@example.org")
        self.assertEqual(a["arrival"], ARRIVAL)
        self.assertEqual(a["size"], len(b"Subject: one\r\n\r\nfirst\r\n"))
        self.assertFalse(a["status_log"])
        self.assertEqual(a["recipients"], [
            {"address": "bob@example.net", "orcpt": "rfc822;bob@example.net",
             "notify": "SUCCESS,FAILURE", "state": "queued"},
            {"address": "carol@example.net", "orcpt": "", "notify": "", "state": "queued"},
            {"address": "dave@example.com", "orcpt": "", "notify": "NEVER", "state": "queued"},
        ])
        b = by_id[m["b"]]
        self.assertEqual((b["queue"], b["sender"], b["status_log"]), ("hold", "", True))
        self.assertEqual([r["state"] for r in b["recipients"]], ["queued"])
        self.assertEqual((by_id[m["c"]]["queue"], by_id[m["c"]]["size"]), ("deferred", 5000))
        for bad in ("garbage", "cut"):
            entry = by_id[m[bad]]
            self.assertFalse(entry["valid"])
            self.assertTrue(entry["error"])
            self.assertNotIn("recipients", entry)
        self.assertEqual(by_id[m["garbage"]]["queue"], "active")

    def test_list_hostile_fields(self):
        """Control characters never reach the terminal; JSON stays valid UTF-8."""
        self.write(b"hi\r\n", sender="evil\x1b[31m@example.org",
                   rcpts=["x\x07y@example.net"])
        out = self.ok("queue", "list")
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x07", out)
        self.assertIn(b"evil?[31m@example.org", out)
        msg = self.json("queue", "list")["messages"][0]
        self.assertEqual(msg["sender"], "evil\x1b[31m@example.org")
        self.assertEqual(msg["recipients"][0]["address"], "x\x07y@example.net")

    def test_file_name_must_match_id(self):
        qid = self.write(b"hi\r\n", rcpts=["a@example.net"])
        other = "0000000000000003"
        os.rename(self.path("incoming", qid), self.path("incoming", other))
        msg = self.json("queue", "list")["messages"][0]
        self.assertEqual(msg["id"], other)
        self.assertFalse(msg["valid"])
        self.assertIn(qid, msg["error"])

    # ---- show ----

    def test_show_text(self):
        content = b"From: alice@example.org\r\nSubject: one\r\n\r\nline 1\r\nline 2\r\n"
        qid = self.write(content, sender="alice@example.org",
                         rcpts=[("bob@example.net", "rfc822;bob@example.net", "DELAY"),
                                "carol@example.net"],
                         fields=[("helo", "mx.example.org"), ("client_addr", "192.0.2.7"),
                                 ("protocol", "ESMTP"), ("body", "8BITMIME")], utf8=True)
        out = self.ok("queue", "show", qid)
        head, sep, rest = out.partition(b"*** MESSAGE CONTENT ***\n")
        self.assertEqual(sep, b"*** MESSAGE CONTENT ***\n")
        self.assertEqual(rest, content + b"*** END OF MESSAGE ***\n")
        fields = head.decode().splitlines()
        for line in ("id: " + qid, "queue: incoming", "sender: alice@example.org",
                     "helo: mx.example.org", "client_addr: 192.0.2.7", "protocol: ESMTP",
                     "body: 8BITMIME", "smtputf8: yes", "size: %d" % len(content),
                     "arrival: %s (%d)" % (local_time(ARRIVAL), ARRIVAL),
                     "recipient: bob@example.net (queued) orcpt=rfc822;bob@example.net "
                     "notify=DELAY",
                     "recipient: carol@example.net (queued)"):
            self.assertIn(line, fields)
        # Lower-case ids are accepted.
        self.assertEqual(self.ok("queue", "show", qid.lower()), out)

    def test_show_json(self):
        content = b"Subject: bin\r\n\r\n\xff\xfe\x00 caf\xc3\xa9\r\n"
        qid = self.write(content, sender="alice@example.org",
                         rcpts=["bob@example.net"], queue="hold",
                         fields=[("envid", "ENV-9"), ("auth_user", "alice"),
                                 ("tls", "TLSv1.3")])
        data = self.json("queue", "show", qid)
        self.assertEqual(data["id"], qid)
        self.assertEqual(data["queue"], "hold")
        self.assertTrue(data["valid"])
        self.assertEqual(data["sender"], "alice@example.org")
        self.assertEqual(data["envid"], "ENV-9")
        self.assertEqual(data["auth_user"], "alice")
        self.assertEqual(data["tls"], "TLSv1.3")
        self.assertEqual(data["arrival"], ARRIVAL)
        self.assertFalse(data["smtputf8"])
        self.assertEqual(data["size"], len(content))
        self.assertEqual([r["address"] for r in data["recipients"]], ["bob@example.net"])
        self.assertEqual(base64.b64decode(data["content_base64"]), content)
        self.assertTrue(data["content"].startswith("Subject: bin\r\n\r\n"))
        self.assertTrue(data["content"].endswith(" caf\u00e9\r\n"))

    def test_show_errors(self):
        m = self.fill()
        result = self.mailctl("queue", "show", "0123456789ABCDEF")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"no such message", result.stderr)
        result = self.mailctl("queue", "show", "../../etc/passwd")
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"not a queue id", result.stderr)
        result = self.mailctl("queue", "show", m["cut"])
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"damaged", result.stderr)
        self.assertEqual(self.mailctl("queue", "show").returncode, 2)
        self.assertEqual(self.mailctl("queue", "frobnicate").returncode, 2)

    # ---- delete ----

    def test_delete_one(self):
        m = self.fill()
        status = os.path.join(self.spool, "status", m["a"])
        with open(status, "w") as f:
            f.write("")
        out = self.ok("queue", "delete", m["a"]).decode()
        self.assertIn(m["a"], out)
        self.assertFalse(os.path.exists(self.path("incoming", m["a"])))
        self.assertFalse(os.path.exists(status))
        self.assertEqual(self.remaining(),
                         sorted([m["b"], m["c"], m["garbage"], m["cut"]]))
        result = self.mailctl("queue", "delete", m["a"])
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"no such message", result.stderr)
        # A damaged file can be deleted by its name too.
        data = self.json("queue", "delete", m["cut"])
        self.assertEqual(data["count"], 1)
        self.assertEqual(data["deleted"], [{"id": m["cut"], "queue": "deferred"}])
        self.assertEqual(self.mailctl("queue", "delete", "nonsense").returncode, 1)
        self.assertEqual(self.remaining(), sorted([m["b"], m["c"], m["garbage"]]))

    def test_delete_all(self):
        m = self.fill()
        for qid in (m["b"], m["c"]):
            with open(os.path.join(self.spool, "status", qid), "w") as f:
                f.write("")
        data = self.json("queue", "delete", "ALL")
        self.assertEqual(data["count"], 5)
        self.assertEqual(sorted(d["id"] for d in data["deleted"]), sorted(m.values()))
        self.assertEqual(self.remaining(), [])
        self.assertEqual(os.listdir(os.path.join(self.spool, "status")), [])
        self.assertIn(b"Mail queue is empty", self.ok("queue", "list"))
        self.assertIn(b"0 messages deleted", self.ok("queue", "delete", "ALL"))


    # ---- selection, hold, release, requeue, flush ----

    def test_list_and_delete_by_selection(self):
        m = self.fill()
        ids = [e["id"] for e in self.json("queue", "list", "--sender", "alice@EXAMPLE.org")
               ["messages"]]
        self.assertEqual(ids, [m["a"]])
        ids = [e["id"] for e in self.json("queue", "list", "--recipient", "@example.net")
               ["messages"]]
        self.assertEqual(sorted(ids), sorted([m["a"], m["b"], m["c"]]))
        ids = [e["id"] for e in self.json("queue", "list", "--sender", "<>")["messages"]]
        self.assertEqual(ids, [m["b"]])
        # Everything in fill() arrived in 2023: older than a day; none younger.
        self.assertEqual(self.json("queue", "list", "--older-than", "1d")["count"], 3)
        young = self.write(b"Subject: new\r\n\r\nnew\r\n", sender="alice@example.org",
                           rcpts=["zed@example.net"], arrival=int(time.time()))
        ids = [e["id"] for e in self.json("queue", "list", "--sender", "alice@example.org",
                                          "--older-than", "1h")["messages"]]
        self.assertEqual(ids, [m["a"]])
        self.assertEqual(self.mailctl("queue", "list", "--older-than", "soon").returncode, 1)
        self.assertEqual(self.mailctl("queue", "list", "--bogus").returncode, 1)
        # delete by recipient removes only the matching message.
        data = self.json("queue", "delete", "--recipient", "GRACE@example.net")
        self.assertEqual(data["deleted"], [{"id": m["c"], "queue": "deferred"}])
        self.assertIn(young, self.remaining())
        self.assertEqual(self.mailctl("queue", "delete").returncode, 2)

    def test_hold_release_requeue_flush(self):
        d1 = self.write(b"Subject: d1\r\n\r\nx\r\n", sender="s@example.org",
                        rcpts=["r1@example.net"], queue="deferred")
        d2 = self.write(b"Subject: d2\r\n\r\nx\r\n", sender="t@example.org",
                        rcpts=["r2@example.net"], queue="deferred", arrival=int(time.time()))
        i1 = self.write(b"Subject: i1\r\n\r\nx\r\n", sender="s@example.org",
                        rcpts=["r3@example.net"], queue="incoming")
        # A selection is required for hold.
        self.assertEqual(self.mailctl("queue", "hold").returncode, 2)
        data = self.json("queue", "hold", "--sender", "s@example.org")
        self.assertEqual(data["action"], "hold")
        self.assertEqual(sorted((h["id"], h["from"]) for h in data["held"]),
                         sorted([(d1, "deferred"), (i1, "incoming")]))
        self.assertEqual(data["errors"], [])
        self.assertEqual(sorted(os.listdir(os.path.join(self.spool, "hold"))), sorted([d1, i1]))
        listed = {e["id"]: e["queue"] for e in self.json("queue", "list")["messages"]}
        self.assertEqual(listed, {d1: "hold", i1: "hold", d2: "deferred"})
        # Holding it again is an error for a named id.
        result = self.mailctl("queue", "hold", d1.lower())
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"already in hold/", result.stderr)
        # release takes only held mail; qmgr is not running, so mailctl says
        # the mail waits in incoming/.
        result = self.mailctl("queue", "release", d2)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"is in deferred/; release takes mail from hold/", result.stderr)
        result = self.mailctl("queue", "release", i1)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"%s: released (from hold/)" % i1.encode(), result.stdout)
        self.assertIn(b"1 message released", result.stdout)
        self.assertIn(b"qmgr is not running", result.stderr)
        self.assertTrue(os.path.exists(self.path("incoming", i1)))
        # requeue takes held and deferred mail back to incoming/.
        data = self.json("queue", "requeue", "ALL")
        self.assertEqual(sorted((r["id"], r["from"]) for r in data["requeued"]),
                         sorted([(d1, "hold"), (d2, "deferred")]))
        self.assertFalse(data["qmgr_notified"])
        self.assertEqual(sorted(os.listdir(os.path.join(self.spool, "incoming"))),
                         sorted([d1, d2, i1]))
        # flush with no selection takes all deferred mail, here some by age.
        self.json("queue", "hold", d1, d2)
        self.json("queue", "release", "ALL")
        os.rename(self.path("incoming", d1), self.path("deferred", d1))
        os.rename(self.path("incoming", d2), self.path("deferred", d2))
        data = self.json("queue", "flush", "--older-than", "1h")
        self.assertEqual([f["id"] for f in data["flushed"]], [d1])
        data = self.json("queue", "flush")
        self.assertEqual([f["id"] for f in data["flushed"]], [d2])
        self.assertEqual(os.listdir(os.path.join(self.spool, "deferred")), [])
        # Unknown ids are errors; the others are still acted on.
        result = self.mailctl("--json", "queue", "hold", d1, "00000000000000AA")
        self.assertEqual(result.returncode, 1)
        data = json.loads(result.stdout)
        self.assertEqual(data["count"], 1)
        self.assertEqual(data["errors"], [{"id": "00000000000000AA",
                                           "error": "no such message in the queue"}])

if __name__ == "__main__":
    unittest.main(verbosity=2)
