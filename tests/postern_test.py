"""Shared helpers for Postern's integration tests.

An Instance is a complete Postern configuration in a fresh temporary
directory (etc/, spool/, data/, log/), started with the built master in the
foreground and stopped (and every process it left behind killed) at the end.
Ports come from the kernel (bind to port 0), so tests never clash with each
other or with a running `make run`.
"""

import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("POSTERN_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")
IS_ROOT = os.geteuid() == 0


_ports_given = set()


def free_port():
    """A free TCP port on 127.0.0.1, never one this process was given before
    (the kernel may hand out the same free port twice in a row)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def processes_mentioning(text):
    """PIDs of processes whose command line contains text."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if text.encode() in cmdline:
            pids.append(int(entry))
    return pids


def proc_status(pid):
    """Fields of /proc/PID/status as a dict of strings ({} once the process
    is gone: it may exit between a caller's check and the read)."""
    fields = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return fields


def has_user(name):
    """Whether the system has the user name."""
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def add_test_user(test, prefix, home, options=(), remove_home=True):
    """A login user made for one test (root only): prefix and a number no
    user has, home directory home (created); removed when the test ends.
    Returns the name."""
    name = None
    for _ in range(1000):
        candidate = "%s%d" % (prefix, random.randrange(10000, 100000))
        if not has_user(candidate):
            name = candidate
            break
    if name is None:
        raise AssertionError("no free user name with prefix %r" % prefix)
    subprocess.run(["useradd", "--create-home", "--home-dir", home, "--shell",
                    "/usr/sbin/nologin"] + list(options) + [name],
                   check=True, capture_output=True, timeout=60)
    test.addCleanup(remove_test_user, name, remove_home)
    return name


def remove_test_user(name, remove_home=True):
    """userdel, again for a while if a process of the user is still ending
    (exit status 8), so that no test user is left behind."""
    deadline = time.time() + 15
    while True:
        done = subprocess.run(["userdel"] + (["-r"] if remove_home else []) + [name],
                              capture_output=True, timeout=60)
        if done.returncode != 8 or time.time() > deadline:
            return done
        time.sleep(0.2)


def make_ca(directory, common_name="Postern Test CA"):
    """A fresh self-signed CA in directory: (ca cert, ca key)."""
    cert = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "ca-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + common_name, "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def make_cert(directory, common_name="localhost", ca=None, names=()):
    """A fresh certificate and its key in directory: (cert, key). Self-signed,
    or issued by ca ((cert, key) from make_ca) with subjectAltName DNS names
    (common_name and names)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=" + common_name, "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
    else:
        csr = os.path.join(directory, "cert.csr")
        ext = os.path.join(directory, "cert.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n" % ",".join(
                "DNS:" + n for n in [common_name] + list(names)))
        subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=" + common_name, "-keyout", key, "-out", csr],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert],
                       check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def make_ca_dir(directory, certs):
    """A CApath directory: copies of the PEM certificates certs under
    the subject-hash names `openssl rehash` gives them."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    for i, cert in enumerate(certs):
        shutil.copy(cert, os.path.join(directory, "cert%d.pem" % i))
    subprocess.run(["openssl", "rehash", directory], check=True, capture_output=True)
    return directory


# -- the IPC record format (lib/util/ipc.h), written independently here

def encode_record(name, attrs):
    """attrs: list of (name, value); str values are 's', int 'i', bytes 'd'."""
    body = bytes([len(name)]) + name.encode()
    for attr_name, value in attrs:
        if isinstance(value, int):
            kind, data = b"i", struct.pack(">q", value)
        elif isinstance(value, bytes):
            kind, data = b"d", value
        else:
            kind, data = b"s", value.encode()
        body += kind + bytes([len(attr_name)]) + attr_name.encode()
        body += struct.pack(">I", len(data)) + data
    return struct.pack(">I", len(body)) + body


def decode_attrs(body):
    """(name, [(attr, value)]) of a record's body (without its length), in
    order, repeated names kept."""
    n = body[0]
    name = body[1:1 + n].decode()
    pos = 1 + n
    attrs = []
    while pos < len(body):
        kind = chr(body[pos])
        alen = body[pos + 1]
        attr_name = body[pos + 2:pos + 2 + alen].decode()
        pos += 2 + alen
        (vlen,) = struct.unpack(">I", body[pos:pos + 4])
        value = body[pos + 4:pos + 4 + vlen]
        pos += 4 + vlen
        if kind == "i":
            value = struct.unpack(">q", value)[0]
        elif kind == "s":
            value = value.decode()
        attrs.append((attr_name, value))
    if pos != len(body):
        raise AssertionError("record overruns its body")
    return name, attrs


def decode_record(body):
    """(name, {attr: value}) of a record's body (without its length)."""
    name, attrs = decode_attrs(body)
    return name, dict(attrs)


def read_exact(sock, n):
    """n bytes from sock; EOFError if it closes first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def read_record(sock):
    """The next record on sock: (name, {attr: value})."""
    (length,) = struct.unpack(">I", read_exact(sock, 4))
    return decode_record(read_exact(sock, length))


class Instance:
    def __init__(self, params=None, services=None):
        self.base = tempfile.mkdtemp(prefix="postern-test-")
        os.chmod(self.base, 0o755)
        self.etc = os.path.join(self.base, "etc")
        self.spool = os.path.join(self.base, "spool")
        self.logfile = os.path.join(self.base, "log", "postern.log")
        for d in ("etc", "log"):
            os.makedirs(os.path.join(self.base, d), mode=0o755)
        self.params = {
            "queue_directory": self.spool,
            "data_directory": os.path.join(self.base, "data"),
            "daemon_directory": os.path.abspath(BIN),
            "maillog_file": self.logfile,
            "inet_interfaces": "127.0.0.1",
            "service_throttle_time": "4s",
            "master_stop_timeout": "5s",
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
        }
        self.params.update(params or {})
        self.services = list(services or [])
        self.proc = None
        self.write_config()

    def write_config(self):
        with open(os.path.join(self.etc, "main.conf"), "w") as f:
            f.write("# written by tests/postern_test.py\n")
            for name, value in self.params.items():
                f.write("%s = %s\n" % (name, value))
        with open(os.path.join(self.etc, "master.conf"), "w") as f:
            f.write("# service type private unpriv chroot wakeup maxproc command\n")
            for line in self.services:
                f.write(line + "\n")
        for name in ("main.conf", "master.conf"):
            os.chmod(os.path.join(self.etc, name), 0o644)

    def program(self, name):
        return os.path.join(os.path.abspath(BIN), name)

    def add_vmail(self, users=(), password="secret password"):
        """Give the instance a virtual_mailbox_base (owned by vmail when the
        tests run as root), write the configuration and add the virtual
        users. Returns the base's path."""
        vmail = os.path.join(self.base, "vmail")
        os.makedirs(vmail, exist_ok=True)
        if IS_ROOT:
            pw = pwd.getpwnam("vmail")
            os.chown(vmail, pw.pw_uid, pw.pw_gid)
        self.params["virtual_mailbox_base"] = vmail
        self.write_config()
        for user in users:
            self.mailctl("user", "add", user, input=password + "\n", check=True)
        return vmail

    def mailctl(self, *args, check=False, timeout=60, input=None):
        cmd = [self.program("mailctl"), "-c", self.etc] + list(args)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                input=input)
        if check and result.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (
                " ".join(cmd), result.returncode, result.stdout, result.stderr))
        return result

    def start(self):
        self.master_out = open(os.path.join(self.base, "log", "master.out"), "w")
        self.proc = subprocess.Popen(
            [self.program("master"), "-c", self.etc, "-f"],
            stdout=self.master_out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        control = os.path.join(self.spool, "private", "master.ctl")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("master exited (%d):\n%s" % (
                    self.proc.returncode, self.read_log()))
            return os.path.exists(control) and self.mailctl("status").returncode == 0
        wait_for(up, timeout=20, what="master to start")
        return self

    def status(self):
        import json
        result = self.mailctl("--json", "status", check=True)
        return json.loads(result.stdout)

    def service_status(self, name):
        for svc in self.status()["services"]:
            if svc["name"] == name:
                return svc
        raise AssertionError("no service %s in status" % name)

    def read_log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        try:
            with open(os.path.join(self.base, "log", "master.out"), errors="replace") as f:
                text += f.read()
        except FileNotFoundError:
            pass
        return text

    def wait_log(self, text, timeout=10, count=1):
        return wait_for(lambda: self.read_log().count(text) >= count, timeout=timeout,
                        what="log line %r" % text)

    def reload(self, services=None, params=None):
        if services is not None:
            self.services = list(services)
        if params:
            self.params.update(params)
        self.write_config()
        return self.mailctl("reload")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.mailctl("stop")
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def leftover_processes(self):
        return processes_mentioning(self.etc)

    def cleanup(self):
        try:
            self.stop()
        finally:
            for pid in self.leftover_processes():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if getattr(self, "master_out", None):
                self.master_out.close()
            if os.environ.get("POSTERN_KEEP_TEST_DIR"):
                print("kept", self.base)
            else:
                shutil.rmtree(self.base, ignore_errors=True)


class LineClient:
    """A small line-oriented TCP or UNIX client with timeouts."""

    def __init__(self, address, timeout=10.0):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = b""

    def readline(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode()

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def close(self):
        self.sock.close()


class InstanceTestCase(unittest.TestCase):
    """Gives each test self.instance(...) that is cleaned up afterwards."""

    def instance(self, params=None, services=None, start=True):
        inst = Instance(params=params, services=services)
        self.addCleanup(inst.cleanup)
        if start:
            inst.start()
        return inst
