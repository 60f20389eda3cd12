"""master: on-demand processes, crashes and the throttle, max_use and
max_idle recycling, reload while connections stay open, wake-up requests,
graceful stop, the one-instance lock and (as root) privilege separation."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postern_test import (IS_ROOT, InstanceTestCase, LineClient, free_port,  # noqa: E402
                          proc_status, wait_for)


def probe_line(port, maxproc="-", extra="", unpriv="-", chroot="n"):
    return "127.0.0.1:%d inet n %s %s - %s svc_probe %s" % (port, unpriv, chroot, maxproc, extra)


def hello(client, timeout=10):
    line = client.readline(timeout=timeout)
    m = re.match(r"hello pid=(\d+) uid=(\d+) gid=(\d+) groups=(\S*) root=(\S*)", line)
    if not m:
        raise AssertionError("unexpected greeting %r" % line)
    return {"pid": int(m.group(1)), "uid": int(m.group(2)), "gid": int(m.group(3)),
            "groups": m.group(4), "root": m.group(5).split(",")}


class MasterTest(InstanceTestCase):
    def test_start_serve_status_stop(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port)])
        c = LineClient(("127.0.0.1", port))
        info = hello(c)
        c.send("echo ping")
        self.assertEqual(c.readline(), "ping")
        svc = inst.service_status("127.0.0.1:%d" % port)
        self.assertEqual(svc["processes"], 1)
        self.assertEqual(svc["busy"], 1)
        self.assertEqual(svc["pids"][0]["pid"], info["pid"])
        text = inst.mailctl("status", check=True).stdout
        self.assertIn("svc_probe", text)
        self.assertIn("master: running", text)
        c.send("quit")
        c.close()
        wait_for(lambda: inst.service_status("127.0.0.1:%d" % port)["idle"] == 1,
                 what="process to report idle")
        result = inst.mailctl("stop")
        self.assertEqual(result.returncode, 0, result.stderr)
        inst.proc.wait(timeout=20)
        self.assertEqual(inst.leftover_processes(), [])
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)

    def test_sigkill_restart_and_throttle(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port)])
        c = LineClient(("127.0.0.1", port))
        first = hello(c)["pid"]
        os.kill(first, signal.SIGKILL)
        inst.wait_log("process %d killed by signal 9" % first)
        # The next client is served by a new process once the 1 s throttle ends.
        started = time.monotonic()
        c2 = LineClient(("127.0.0.1", port))
        second = hello(c2, timeout=10)["pid"]
        self.assertNotEqual(first, second)
        svc = inst.service_status("127.0.0.1:%d" % port)
        self.assertEqual(svc["crashes"], 1)
        self.assertEqual(svc["restarts"], 1)
        # A second crash in a row doubles the pause before the next process.
        c2.send("crash")
        inst.wait_log("process %d killed by signal 6" % second)
        inst.wait_log("2 consecutive abnormal exits; no new process for 2000 ms")
        started = time.monotonic()
        c3 = LineClient(("127.0.0.1", port))
        hello(c3, timeout=10)
        self.assertGreater(time.monotonic() - started, 1.0)
        c3.send("quit")

    def test_crashing_program_does_not_spin(self):
        port = free_port()
        inst = self.instance(services=["127.0.0.1:%d inet n - n - - /bin/false" % port])
        clients = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            try:
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                pass
            time.sleep(0.2)
        svc = inst.service_status("127.0.0.1:%d" % port)
        # 1 s, 2 s, then 4 s (service_throttle_time) between attempts: a handful, not hundreds.
        self.assertGreaterEqual(svc["crashes"], 2)
        self.assertLessEqual(svc["spawned"], 5)
        self.assertIn("exited with status 1", inst.read_log())
        for s in clients:
            s.close()

    def test_on_demand_up_to_limit(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, maxproc="3")])
        clients = [LineClient(("127.0.0.1", port)) for _ in range(5)]
        served = []
        for c in clients[:3]:
            served.append(hello(c)["pid"])
        self.assertEqual(len(set(served)), 3)
        # The limit holds: the other two wait in the listen queue.
        for c in clients[3:]:
            with self.assertRaises(socket.timeout):
                c.readline(timeout=1.0)
        svc = inst.service_status("127.0.0.1:%d" % port)
        self.assertEqual((svc["processes"], svc["busy"]), (3, 3))
        clients[0].send("quit")
        clients[0].close()
        fourth = hello(clients[3], timeout=10)["pid"]
        self.assertIn(fourth, served)
        for c in clients[1:4]:
            c.send("quit")
        hello(clients[4], timeout=10)
        clients[4].send("quit")

    def test_multi_mode_spawns_when_full(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, extra="multi")])
        a = LineClient(("127.0.0.1", port))
        pa = hello(a)["pid"]
        b = LineClient(("127.0.0.1", port))
        pb = hello(b)["pid"]
        # One process holds two connections, then says it is busy: a third
        # client gets a second process.
        self.assertEqual(pa, pb)
        c = LineClient(("127.0.0.1", port))
        pc = hello(c)["pid"]
        self.assertNotEqual(pa, pc)
        svc = inst.service_status("127.0.0.1:%d" % port)
        self.assertEqual(svc["processes"], 2)
        a.sock.sendall(b"echo\n")
        self.assertEqual(a.readline(), "echo")

    def test_max_use_recycles(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, extra="-o max_use=2")])
        pids = []
        for _ in range(3):
            c = LineClient(("127.0.0.1", port))
            pids.append(hello(c)["pid"])
            c.send("quit")
            c.close()
            time.sleep(0.2)
        self.assertEqual(pids[0], pids[1])
        self.assertNotEqual(pids[1], pids[2])
        self.assertEqual(inst.service_status("127.0.0.1:%d" % port)["crashes"], 0)

    def test_max_idle_exits(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, extra="-o max_idle=1s")])
        c = LineClient(("127.0.0.1", port))
        pid = hello(c)["pid"]
        c.send("quit")
        c.close()
        wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                 proc_status(pid).get("State", "").startswith("Z"), timeout=10,
                 what="idle process to exit")
        wait_for(lambda: inst.service_status("127.0.0.1:%d" % port)["processes"] == 0,
                 what="status to show no process")

    def test_reload_adds_and_removes_with_open_connection(self):
        p1, p2 = free_port(), free_port()
        inst = self.instance(services=[probe_line(p1)])
        c = LineClient(("127.0.0.1", p1))
        old_pid = hello(c)["pid"]
        result = inst.reload(services=[probe_line(p1), probe_line(p2)])
        self.assertEqual(result.returncode, 0, result.stderr)
        c2 = LineClient(("127.0.0.1", p2))
        hello(c2)
        c2.send("quit")
        # The connection in progress is not dropped by the reload.
        c.send("echo still here")
        self.assertEqual(c.readline(), "still here")
        # Remove the first service while its connection is still open.
        inst.reload(services=[probe_line(p2)])
        wait_for(lambda: self._refused(p1), what="removed service to stop listening")
        c.send("echo after removal")
        self.assertEqual(c.readline(), "after removal")
        c.send("quit")
        c.close()
        wait_for(lambda: not os.path.exists("/proc/%d" % old_pid) or
                 proc_status(old_pid).get("State", "").startswith("Z"),
                 what="retired process to exit")
        names = [s["name"] for s in inst.status()["services"]]
        self.assertEqual(names, ["127.0.0.1:%d" % p2])

    def test_sighup_reload_and_bad_config_kept(self):
        p1, p2 = free_port(), free_port()
        inst = self.instance(services=[probe_line(p1)])
        inst.services.append(probe_line(p2))
        inst.write_config()
        inst.proc.send_signal(signal.SIGHUP)
        c = wait_for(lambda: self._connect(p2), what="service added by SIGHUP")
        hello(c)
        c.send("quit")
        # A broken master.conf is refused and the running services stay.
        inst.services.append("broken line")
        inst.write_config()
        result = inst.mailctl("reload")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("master.conf:4", result.stderr)
        c = LineClient(("127.0.0.1", p1))
        hello(c)
        c.send("quit")

    def test_wakeup_requests(self):
        inst = self.instance(services=["probe unix n - n 1 1 svc_probe"])
        inst.wait_log("wakeup received", count=2, timeout=10)
        sock_path = os.path.join(inst.spool, "public", "probe")
        c = LineClient(sock_path)
        hello(c)
        c.send("quit")

    def test_one_master_per_config(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port)])
        result = subprocess.run([inst.program("master"), "-c", inst.etc, "-f"],
                                capture_output=True, text=True, timeout=20)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("already running", result.stdout + result.stderr)
        result = inst.mailctl("start")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("already running", result.stderr)

    def test_mailctl_start_detaches_and_stops(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port)], start=False)
        result = inst.mailctl("start")
        self.assertEqual(result.returncode, 0, result.stderr)
        c = LineClient(("127.0.0.1", port))
        hello(c)
        c.send("quit")
        c.close()
        result = inst.mailctl("stop")
        self.assertEqual(result.returncode, 0, result.stderr)
        wait_for(lambda: inst.leftover_processes() == [], what="all processes to exit")
        result = inst.mailctl("status")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("not running", result.stderr)

    def test_start_fails_on_bad_config(self):
        inst = self.instance(services=["x inet n - n - - svc_probe"], start=False)
        inst.params["max_idle"] = "soon"
        inst.write_config()
        result = inst.mailctl("start")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("main.conf", result.stderr + inst.read_log())
        self.assertEqual(inst.leftover_processes(), [])

    @staticmethod
    def _connect(port):
        try:
            return LineClient(("127.0.0.1", port), timeout=5)
        except OSError:
            return None

    @staticmethod
    def _refused(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return False
        except OSError:
            return True


@unittest.skipUnless(IS_ROOT, "privilege separation needs root")
class PrivilegeTest(InstanceTestCase):
    def test_service_runs_as_named_user(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, unpriv="nobody")])
        c = LineClient(("127.0.0.1", port))
        info = hello(c)
        status = proc_status(info["pid"])
        uids = status["Uid"].split()
        gids = status["Gid"].split()
        self.assertEqual(set(uids), {"65534"})
        self.assertEqual(len(set(gids)), 1)
        self.assertNotEqual(gids[0], "0")
        self.assertIn(status["Groups"], ("", gids[0]))
        c.send("quit")

    def test_default_user_is_mail_owner(self):
        import pwd
        port = free_port()
        inst = self.instance(services=[probe_line(port)])
        c = LineClient(("127.0.0.1", port))
        info = hello(c)
        self.assertEqual(info["uid"], pwd.getpwnam("postern").pw_uid)
        c.send("quit")

    def test_chroot_sees_only_its_root(self):
        port = free_port()
        inst = self.instance(services=[], start=False)
        jail = os.path.join(inst.base, "jail")
        os.makedirs(os.path.join(jail, "only-in-jail"))
        os.chmod(jail, 0o755)
        inst.services = [probe_line(port, chroot=jail)]
        inst.write_config()
        inst.start()
        c = LineClient(("127.0.0.1", port))
        info = hello(c)
        self.assertEqual(info["root"], ["only-in-jail"])
        self.assertEqual(os.readlink("/proc/%d/root" % info["pid"]), jail)
        c.send("quit")

    def test_root_only_when_said(self):
        port = free_port()
        inst = self.instance(services=[probe_line(port, unpriv="root")], start=False)
        result = inst.mailctl("check")
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"master.conf:2: error: .*root")
        result = inst.mailctl("start")
        self.assertNotEqual(result.returncode, 0)
        # Said explicitly with 'n', root is allowed.
        inst.services = [probe_line(port, unpriv="n")]
        inst.write_config()
        inst.start()
        c = LineClient(("127.0.0.1", port))
        self.assertEqual(hello(c)["uid"], 0)
        c.send("quit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
