"""Helpers for tests of remote delivery: a local unbound serving test zones
(optionally DNSSEC-signed with ldns-signzone), a pair of Postern instances
on different loopback addresses, and scripted SMTP servers that misbehave
on purpose."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from postern_test import Instance, free_port, wait_for


def have(program):
    return shutil.which(program) is not None


class Unbound:
    """unbound on 127.0.0.1:port, authoritative for the given zones
    (name -> zone file text). signed: names of zones to sign; their keys
    become trust_anchor_file. refused: zones answered REFUSED (a client
    forwarding to this unbound gets SERVFAIL); dropped: zones whose queries
    are never answered (time-outs). log_queries: every query is logged
    (see queried())."""

    def __init__(self, zones, signed=(), refused=(), dropped=(), log_queries=False):
        self.dir = tempfile.mkdtemp(prefix="postern-dns-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.trust_anchor_file = os.path.join(self.dir, "trust-anchors")
        anchors = []
        self.probe_zone = next(iter(zones), "example")
        conf = [
            "server:",
            "  interface: 127.0.0.1",
            "  port: %d" % self.port,
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            '  directory: "%s"' % self.dir,
            '  pidfile: ""',
            "  use-syslog: no",
            '  logfile: "%s/unbound.log"' % self.dir,
            "  verbosity: 1",
            "  access-control: 127.0.0.0/8 allow",
            "  do-not-query-localhost: no",
            '  module-config: "iterator"',
            '  local-zone: "test." nodefault',
        ]
        if log_queries:
            conf.append("  log-queries: yes")
        if any(name == "127.in-addr.arpa" or name.endswith(".127.in-addr.arpa")
               for name in list(zones) + list(refused)):
            # unbound answers for loopback's reverse names itself unless told not to.
            conf.append('  local-zone: "127.in-addr.arpa." nodefault')
        for name in refused:
            conf.append('  local-zone: "%s." always_refuse' % name)
        for name in dropped:
            conf.append('  local-zone: "%s." deny' % name)
        for name, text in zones.items():
            path = os.path.join(self.dir, name + ".zone")
            with open(path, "w") as f:
                f.write(text)
            if name in signed:
                path, anchor = self._sign(name, path)
                anchors.append(anchor)
            conf += ["auth-zone:", '  name: "%s."' % name, '  zonefile: "%s"' % path,
                     "  for-downstream: yes", "  for-upstream: no"]
        conf += ["remote-control:", "  control-enable: no"]
        with open(os.path.join(self.dir, "unbound.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")
        with open(self.trust_anchor_file, "w") as f:
            f.write("".join(anchors))
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)
        self.proc = subprocess.Popen(["unbound", "-d", "-c",
                                      os.path.join(self.dir, "unbound.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_for(self._answers, timeout=10, what="unbound to answer")
        except BaseException:
            self.stop()
            raise

    def _sign(self, name, path):
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name],
                             cwd=self.dir, capture_output=True, text=True, check=True)
        base = os.path.join(self.dir, out.stdout.strip())
        subprocess.run(["ldns-signzone", "-n", path, base], cwd=self.dir, check=True,
                       capture_output=True)
        with open(base + ".ds") as f:
            anchor = f.read()
        return path + ".signed", anchor

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("unbound exited:\n" + self.log())
        # A query for the first zone's SOA (answered locally); any reply will do.
        qname = b"".join(bytes([len(label)]) + label.encode()
                         for label in self.probe_zone.split(".")) + b"\x00"
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.3)
                s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname +
                         b"\x00\x06\x00\x01", ("127.0.0.1", self.port))
                s.recvfrom(512)
                return True
        except OSError:
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log")) as f:
                return f.read()
        except OSError:
            return ""

    def queried(self, name):
        """True if a query for name (absolute, with the final dot) was logged."""
        return (" %s " % name) in self.log()

    def forwarder(self):
        return "127.0.0.1@%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port_on(*addresses):
    """A TCP port free on every one of the loopback addresses."""
    for _ in range(50):
        port = free_port()
        ok = True
        for addr in addresses:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((addr, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise AssertionError("no common free port")


SENDER_SERVICES = [
    "qmgr unix n - n 300 1 qmgr",
    "local unix - n n - - local",
    "smtp unix - n n - - smtp",
    "pickup unix n - n 60 1 pickup",
]


def sender_params(dns, port, **extra):
    params = {
        "myhostname": "out.sender.test",
        "mydomain": "sender.test",
        "mydestination": "out.sender.test, localhost",
        "mynetworks": "127.0.0.0/8",
        "dns_forwarders": dns.forwarder() if dns else "",
        "dns_hosts_file": "",
        "dns_query_timeout": "10s",
        "smtp_tcp_port": str(port),
        "smtp_bind_address": "127.0.0.2",
        "smtp_connect_timeout": "5s",
        "smtp_helo_timeout": "5s",
        "smtp_mail_timeout": "5s",
        "smtp_rcpt_timeout": "5s",
        "smtp_data_init_timeout": "5s",
        "smtp_data_xfer_timeout": "5s",
        "smtp_data_done_timeout": "5s",
        "smtp_quit_timeout": "2s",
        "smtp_starttls_timeout": "5s",
        "minimal_backoff_time": "1s",
        "maximal_backoff_time": "2s",
    }
    if dns and os.path.getsize(dns.trust_anchor_file) > 0:
        params["dns_trust_anchor_file"] = dns.trust_anchor_file
    params.update(extra)
    return params


def make_cert(directory, name):
    """A self-signed certificate for name (CN and subjectAltName)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o644)
    os.chmod(cert, 0o644)
    return cert, key


def make_receiver(test, address, port, domains, users, extra_params=None, smtpd_options="",
                  extra_services=(), tls_name=None):
    """A Postern instance taking mail for users (addresses) of domains
    (virtual mailboxes) on address:port, with a certificate for tls_name
    if given. Returns (instance, vmail dir)."""
    params = {
        "myhostname": "in.receiver.test",
        "mydomain": "receiver.test",
        "mydestination": "in.receiver.test, localhost",
        "virtual_mailbox_domains": ", ".join(domains),
        "mynetworks": "127.0.0.0/8",
        "inet_interfaces": address,
    }
    params.update(extra_params or {})
    inst = Instance(params=params, services=[
        "%s:%d inet n - n - - smtpd %s" % (address, port, smtpd_options),
        "qmgr unix n - n 300 1 qmgr",
        "local unix - n n - - local",
    ] + list(extra_services))
    test.addCleanup(inst.cleanup)
    if tls_name:
        cert, key = make_cert(inst.etc, tls_name)
        inst.params["smtpd_tls_cert_file"] = cert
        inst.params["smtpd_tls_key_file"] = key
    vmail = inst.add_vmail(users)
    inst.start()
    return inst, vmail


def maildir_messages(vmail, address):
    local, domain = address.split("@")
    new = os.path.join(vmail, domain, local, "Maildir", "new")
    if not os.path.isdir(new):
        return []
    out = []
    for name in sorted(os.listdir(new)):
        with open(os.path.join(new, name), "rb") as f:
            out.append(f.read())
    return out


def submit(inst, sender, rcpts, body, extra_args=()):
    """Queue a message on inst with its sendmail (no SMTP needed)."""
    subprocess.run([inst.program("sendmail"), "-C", inst.etc, "-f", sender] + list(extra_args)
                   + list(rcpts), input=body, check=True, timeout=60)


class ScriptedServer:
    """A hostile or scripted SMTP server on address:port. handler(conn,
    number) runs per connection in a thread (number counts from 0)."""

    def __init__(self, address, port, handler):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.handler = handler
        self.connections = 0
        self.transcript = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            n = self.connections
            self.connections += 1
            conn.settimeout(20)
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn, n):
        try:
            self.handler(Peer(conn, self.transcript), n)
        except (OSError, EOFError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(timeout=5)


class Peer:
    def __init__(self, conn, transcript):
        self.conn = conn
        self.buf = b""
        self.transcript = transcript

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.conn.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise EOFError()
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        text = line.rstrip(b"\r").decode("latin-1")
        self.transcript.append(text)
        return text

    def data(self):
        """Read a DATA body up to the lone dot; returns it."""
        lines = []
        while True:
            line = self.line()
            if line == ".":
                return "\r\n".join(lines)
            lines.append(line)

    def simple_session(self, rcpt_reply=lambda rcpt: "250 2.1.5 ok", data_reply="250 2.0.0 ok",
                       ehlo_lines=("PIPELINING", "8BITMIME", "SIZE 100000")):
        """A plain ESMTP server with pluggable RCPT and end-of-data replies."""
        self.send("220 scripted ESMTP\r\n")
        while True:
            cmd = self.line()
            verb = cmd[:4].upper()
            if verb == "EHLO":
                lines = ["scripted"] + list(ehlo_lines)
                out = "".join("250-%s\r\n" % l for l in lines[:-1]) + "250 %s\r\n" % lines[-1]
                self.send(out)
            elif verb == "HELO":
                self.send("250 scripted\r\n")
            elif verb == "MAIL":
                self.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                self.send(rcpt_reply(cmd) + "\r\n")
            elif verb == "DATA":
                self.send("354 go ahead\r\n")
                self.data()
                reply = data_reply() if callable(data_reply) else data_reply
                self.send(reply + "\r\n")
            elif verb == "RSET":
                self.send("250 ok\r\n")
            elif verb == "QUIT":
                self.send("221 bye\r\n")
                return
            else:
                self.send("502 no\r\n")


class RecordingServer:
    """A scripted ESMTP server that takes mail and keeps what it was sent:
    every command, the EHLO/HELO names, one dict per message (helo,
    sender, rcpts, data) and how many DATA phases ran at once (each lasting
    delay seconds). rcpt_reply(command) answers RCPT; only recipients
    answered 2xx go in the message."""

    def __init__(self, address, port, rcpt_reply=lambda cmd: "250 2.1.5 ok",
                 data_reply="250 2.0.0 ok", ehlo_lines=("PIPELINING", "8BITMIME", "SIZE 100000"),
                 delay=0.0):
        self.lock = threading.Lock()
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.ehlo_lines = ehlo_lines
        self.delay = delay
        self.commands = []
        self.helos = []
        self.messages = []
        self.now = 0
        self.max = 0
        self.server = ScriptedServer(address, port, self._session)

    def _session(self, peer, n):
        peer.send("220 scripted ESMTP\r\n")
        current, helo = None, ""
        while True:
            cmd = peer.line()
            with self.lock:
                self.commands.append(cmd)
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                helo = cmd[5:].strip()
                with self.lock:
                    self.helos.append(helo)
                lines = ["scripted"] + (list(self.ehlo_lines) if verb == "EHLO" else [])
                peer.send("".join("250-%s\r\n" % l for l in lines[:-1]) +
                          "250 %s\r\n" % lines[-1])
            elif verb == "MAIL":
                current = {"helo": helo, "sender": cmd[10:].split(">")[0].lstrip("<"),
                           "rcpts": []}
                peer.send("250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                reply = self.rcpt_reply(cmd)
                if reply.startswith("2") and current is not None:
                    current["rcpts"].append(cmd[8:].split(">")[0].lstrip("<"))
                peer.send(reply + "\r\n")
            elif verb == "DATA":
                peer.send("354 go ahead\r\n")
                current["data"] = peer.data()
                with self.lock:
                    self.now += 1
                    self.max = max(self.max, self.now)
                time.sleep(self.delay)
                with self.lock:
                    self.now -= 1
                    self.messages.append(current)
                peer.send(self.data_reply + "\r\n")
            elif verb == "STARTTLS":
                peer.send("454 4.7.0 TLS not available\r\n")
            elif verb == "RSET":
                peer.send("250 ok\r\n")
            elif verb == "QUIT":
                peer.send("221 bye\r\n")
                return
            else:
                peer.send("502 5.5.2 no\r\n")

    def done(self):
        """How many messages it took."""
        with self.lock:
            return len(self.messages)

    def transactions(self):
        """The recipients of each message, sorted."""
        with self.lock:
            return [sorted(m["rcpts"]) for m in self.messages]

    def recipients(self):
        with self.lock:
            return [r for m in self.messages for r in m["rcpts"]]

    def message_to(self, rcpt):
        with self.lock:
            for m in self.messages:
                if rcpt in m["rcpts"]:
                    return m
        return None

    def stop(self):
        self.server.stop()


POSTFIX_MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance (Debian's postfix package, run as root)
    listening on listen ("addr:port"); main.cf settings from params. Mail
    for the domains in hold_domains is accepted and kept in the hold
    queue, where tests read it."""

    def __init__(self, listen, params, hold_domains=()):
        self.dir = tempfile.mkdtemp(prefix="postern-postfix-")
        os.chmod(self.dir, 0o755)
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        os.makedirs(self.spool)
        import pwd
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.log = os.path.join(self.dir, "maillog")
        hold = ", ".join("%s=HOLD" % d for d in hold_domains)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "maillog_file": self.log,
            "maillog_file_prefixes": "/var, /dev/stdout, /tmp",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtpd_recipient_restrictions":
                ("check_recipient_access inline:{ %s }, " % hold if hold else "")
                + "permit_mynetworks, reject",
            "smtp_dns_support_level": "disabled",
            "disable_dns_lookups": "yes",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "queue_run_delay": "5s",
        }
        main.update(params)
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(listen=listen))
        self.env = dict(os.environ, MAIL_CONFIG=self.dir)
        run = subprocess.run(["postfix", "-c", self.dir, "start"], capture_output=True,
                             text=True, env=self.env, timeout=60)
        if run.returncode != 0:
            self.stop()
            raise AssertionError("postfix start failed:\n" + run.stdout + run.stderr)
        host, port = listen.rsplit(":", 1)

        def up():
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, timeout=20, what="postfix to listen")

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def held(self):
        """Contents of the messages in the hold queue (postcat -bh)."""
        hold = os.path.join(self.spool, "hold")
        out = []
        if not os.path.isdir(hold):
            return out
        for name in sorted(os.listdir(hold)):
            r = subprocess.run(["postcat", "-c", self.dir, "-hb", os.path.join(hold, name)],
                               capture_output=True, env=self.env, timeout=30)
            out.append(r.stdout)
        return out

    def stop(self):
        subprocess.run(["postfix", "-c", self.dir, "stop"], capture_output=True,
                       env=self.env, timeout=60)
        pid_file = os.path.join(self.spool, "pid", "master.pid")
        try:
            with open(pid_file) as f:
                pid = int(f.read().split()[0])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Dovecot:
    """A private Dovecot LMTP server (Debian's dovecot-core and
    dovecot-lmtpd, run as root): an LMTP socket at self.socket and on
    127.0.0.1:port, mail stored by Dovecot itself as the vmail user in
    Maildirs under self.mail/DOMAIN/USER/Maildir, for the users given
    (others are unknown to it: 550 5.1.1 at RCPT).

    With auth_socket (a path), Dovecot's authentication server listens
    there too (mode 0666, as the unix_listener an admin adds for
    Postfix's smtpd_sasl_type = dovecot), offering auth_mechanisms, and
    the users in passwords ({user: password}, each stored as a
    SHA512-CRYPT hash made by doveadm pw; or {user: (password, scheme)}
    for another of Dovecot's schemes, such as PLAIN, which CRAM-MD5 and
    SCRAM need) can log in; master_users ({name: password}, in a master
    passdb) may log in as any of them (PLAIN's authorization identity)."""

    def __init__(self, port, users, passwords=None, auth_socket=None,
                 auth_mechanisms="plain login", master_users=None, lda=False):
        import pwd
        self.dir = tempfile.mkdtemp(prefix="postern-dovecot-")
        os.chmod(self.dir, 0o755)
        self.run_dir = os.path.join(self.dir, "run")
        self.mail = os.path.join(self.dir, "mail")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.socket = os.path.join(self.run_dir, "lmtp")
        self.port = port
        os.makedirs(os.path.join(self.dir, "state"))
        os.makedirs(self.mail)
        pw = pwd.getpwnam("vmail")
        os.chown(self.mail, pw.pw_uid, pw.pw_gid)
        self.auth_socket = auth_socket
        passwords = passwords or {}
        users_file = os.path.join(self.dir, "users")
        with open(users_file, "w") as f:
            for u in list(users) + [u for u in passwords if u not in users]:
                entry = passwords.get(u)
                if isinstance(entry, tuple):
                    entry = self.hash(*entry)
                elif entry is not None:
                    entry = self.hash(entry)
                f.write("%s:%s:::::\n" % (u, entry or ""))
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, port=port, users=users_file,
                                        uid=pw.pw_uid, gid=pw.pw_gid,
                                        name=os.path.basename(self.dir)))
            if lda:
                # Dovecot's LDA (dovecot-lda -d USER) runs as vmail and
                # asks the auth server for the user: let it.
                f.write(DOVECOT_LDA_CONF)
            if auth_socket:
                f.write(DOVECOT_AUTH_CONF.format(socket=auth_socket,
                                                 mechanisms=auth_mechanisms))
            if master_users:
                masters_file = os.path.join(self.dir, "masters")
                with open(masters_file, "w") as m:
                    for name, password in master_users.items():
                        m.write("%s:%s\n" % (name, self.hash(password)))
                # pass = yes: the user logged in as must exist in the
                # ordinary passdb too.
                f.write(DOVECOT_MASTER_CONF.format(masters=masters_file))
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited:\n" + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return os.path.exists(self.socket) and (
                    not auth_socket or os.path.exists(auth_socket))
            except OSError:
                return False
        try:
            wait_for(up, timeout=20, what="dovecot to listen")
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def hash(password, scheme="SHA512-CRYPT"):
        """password as Dovecot stores it: {SHA512-CRYPT}$6$..."""
        return subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password],
                              check=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def messages(self, address):
        """The messages Dovecot stored in address's INBOX, oldest first."""
        local, domain = address.split("@")
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.mail, domain, local, "Maildir", sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    with open(os.path.join(d, name), "rb") as f:
                        out.append(f.read())
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.auth_socket:
            try:
                os.unlink(self.auth_socket)
            except OSError:
                pass


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
instance_name = {name}
protocols = lmtp
ssl = no
listen = 127.0.0.1
mail_location = maildir:{dir}/mail/%d/%n/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
  default_fields = home={dir}/mail/%d/%n
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""

DOVECOT_LDA_CONF = """\
service auth {
  unix_listener auth-userdb {
    mode = 0777
  }
}
"""

DOVECOT_MASTER_CONF = """\
passdb {{
  driver = passwd-file
  args = {masters}
  master = yes
  pass = yes
}}
"""

DOVECOT_AUTH_CONF = """\
auth_mechanisms = {mechanisms}
auth_verbose = yes
service auth {{
  unix_listener {socket} {{
    mode = 0666
  }}
}}
"""
