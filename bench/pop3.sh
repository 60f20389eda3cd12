#!/bin/sh
# Side-by-side POP3: Postern's pop3d against Dovecot's pop3 on this machine,
# on two copies of the same Maildir of MESSAGES messages (default 10,000).
# For each server: the time to log in, STAT, LIST, UIDL and RETR every
# message (pipelined, by one client), the first time (index built at
# login) and again (index warm, best of five runs); then the memory per idle logged-in session
# (PSS of every server process, from /proc/PID/smaps_rollup, with SESSIONS
# sessions open minus without, divided by SESSIONS). Prints the ratios.
# Both run without TLS on loopback, with plain-text passwords checked by
# their own auth services.
#
# Usage: sh bench/pop3.sh [BUILD_DIR]   (as root: installs dovecot-pop3d)
# Env:   MESSAGES (10000), SIZE (bytes per message, 3000), SESSIONS (50)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
. "$top/bench/postern.sh"
messages=${MESSAGES:-10000}
size=${SIZE:-3000}
sessions=${SESSIONS:-50}
password="bench password 1"

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (installs dovecot, uses vmail)" >&2; exit 1; }
if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/pop3 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		dovecot-core dovecot-pop3d >/dev/null
	# The packaged service is not used: the bench runs its own instance.
	if command -v systemctl >/dev/null 2>&1; then systemctl stop dovecot >/dev/null 2>&1 || true; fi
	service dovecot stop >/dev/null 2>&1 || true
fi
sh "$top/scripts/create-users.sh"

work=$(mktemp -d /tmp/postern-pop3-bench.XXXXXX)
chmod 755 "$work"
pt_port=2710
dc_port=2711
cleanup() {
	[ -f "$work/dovecot/run/master.pid" ] && kill "$(cat "$work/dovecot/run/master.pid")" 2>/dev/null
	"$build/bin/mailctl" -c "$work/postern/etc" stop >/dev/null 2>&1 || true
	sleep 1
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# --- One Maildir of messages (CRLF, as Postern stores mail), copied to both.
python3 - "$work/maildir" "$messages" "$size" <<'PY'
import os, sys, random
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(path, d))
rnd = random.Random(1)
words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b".dot", b"zeta", b"eta"]
for i in range(count):
    head = (b"Return-Path: <sender@bench.test>\r\nDelivered-To: bench@example.test\r\n"
            b"From: sender@bench.test\r\nTo: bench@example.test\r\n"
            b"Subject: bench message %d\r\nMessage-ID: <b%d@bench.test>\r\n\r\n" % (i, i))
    body = bytearray()
    while len(head) + len(body) < size:
        body += b" ".join(rnd.choice(words) for _ in range(10)) + b"\r\n"
    data = head + bytes(body)
    # Named as local(8) names it: ",W=" is the size with CRLF line ends.
    name = "%d.M%dP1Q%d.bench,S=%d,W=%d" % (1700000000 + i, i, i, len(data), len(data))
    with open(os.path.join(path, "new", name), "wb") as f:
        f.write(data)
PY
vmail_uid=$(id -u vmail)
vmail_gid=$(id -g vmail)

# Users for the idle sessions (one POP3 session per mailbox), 20 messages each.
idle_users=""
mkdir -p "$work/small/new" "$work/small/cur" "$work/small/tmp"
ls "$work/maildir/new" | head -20 | while read -r f; do cp "$work/maildir/new/$f" "$work/small/new/"; done
i=1
while [ $i -le "$sessions" ]; do
	idle_users="$idle_users${idle_users:+,}idle$i@example.test"
	i=$((i + 1))
done

# --- Postern: master, auth and pop3d (as root, as on a real host).
mkdir -p "$work/postern/etc" "$work/postern/vmail/example.test/bench"
cp -r "$work/maildir" "$work/postern/vmail/example.test/bench/Maildir"
chown -R vmail:vmail "$work/postern/vmail"
{
	bench_postern_main_conf
	cat <<CF
myhostname = bench.example.test
virtual_mailbox_domains = example.test
virtual_mailbox_base = $work/postern/vmail
pop3d_tls_cert_file =
pop3d_tls_auth_only_exempt = 127.0.0.0/8
CF
} >"$work/postern/etc/main.conf"
cat >"$work/postern/etc/master.conf" <<CF
127.0.0.1:$pt_port inet n n n - 200 pop3d
auth unix y postern-auth n - - auth
CF
printf '%s\n' "$password" | "$build/bin/mailctl" -c "$work/postern/etc" user add bench@example.test >/dev/null
for u in $(echo "$idle_users" | tr , ' '); do
	printf '%s\n' "$password" | "$build/bin/mailctl" -c "$work/postern/etc" user add "$u" >/dev/null
	mkdir -p "$work/postern/vmail/example.test/${u%@*}"
	cp -r "$work/small" "$work/postern/vmail/example.test/${u%@*}/Maildir"
done
chown -R vmail:vmail "$work/postern/vmail"
"$build/bin/mailctl" -c "$work/postern/etc" start >/dev/null

# --- Dovecot: its own instance with a passwd-file and the vmail user.
mkdir -p "$work/dovecot/run" "$work/dovecot/home/bench"
cp -r "$work/maildir" "$work/dovecot/home/bench/Maildir"
chown -R vmail:vmail "$work/dovecot/home"
echo "bench@example.test:{PLAIN}$password" >"$work/dovecot/users"
for u in $(echo "$idle_users" | tr , ' '); do
	echo "$u:{PLAIN}$password" >>"$work/dovecot/users"
	mkdir -p "$work/dovecot/home/${u%@*}"
	cp -r "$work/small" "$work/dovecot/home/${u%@*}/Maildir"
done
chown -R vmail:vmail "$work/dovecot/home"
cat >"$work/dovecot/dovecot.conf" <<CF
protocols = pop3
listen = 127.0.0.1
base_dir = $work/dovecot/run
state_dir = $work/dovecot/state
log_path = $work/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = $work/dovecot/users
}
userdb {
  driver = static
  args = uid=$vmail_uid gid=$vmail_gid home=$work/dovecot/home/%n
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  inet_listener pop3 {
    port = $dc_port
  }
}
service pop3 {
  process_limit = 200
}
CF
/usr/sbin/dovecot -c "$work/dovecot/dovecot.conf"

# --- The client: pipelined commands, responses read as they come.
cat >"$work/client.py" <<'PY'
import os, socket, sys, threading, time

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = s.makefile("rb", buffering=1 << 16)
    return s, f

def login(port, user, password):
    s, f = connect(port)
    assert f.readline().startswith(b"+OK")
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(), password.encode()))
    assert f.readline().startswith(b"+OK")
    line = f.readline()
    assert line.startswith(b"+OK"), line
    return s, f

def multiline(f):
    n = 0
    while True:
        line = f.readline()
        if line == b".\r\n":
            return n
        if not line:
            raise EOFError
        n += len(line)

def fetch_all(port, user, password):
    start = time.monotonic()
    s, f = login(port, user, password)
    s.sendall(b"STAT\r\n")
    count = int(f.readline().split()[1])
    s.sendall(b"LIST\r\nUIDL\r\n")
    assert f.readline().startswith(b"+OK"); multiline(f)
    assert f.readline().startswith(b"+OK"); multiline(f)
    def writer():
        for i in range(1, count + 1):
            s.sendall(b"RETR %d\r\n" % i)
        s.sendall(b"QUIT\r\n")
    t = threading.Thread(target=writer)
    t.start()
    # Count the responses' terminators in raw chunks, so that the client
    # costs little next to the server (a dot-stuffed body never holds one).
    total, found, tail = 0, 0, b""
    while found < count:
        chunk = f.read1(1 << 16)
        if not chunk:
            raise EOFError
        data = tail + chunk
        found += data.count(b"\r\n.\r\n") - tail.count(b"\r\n.\r\n")
        total += len(chunk)
        tail = data[-4:]
    if b"-ERR" in tail:
        raise AssertionError("error response")
    t.join()
    s.close()
    return count, total, time.monotonic() - start

def pss(pids):
    kb = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        kb += int(line.split()[1])
        except OSError:
            pass
    return kb

def server_pids(names):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/comm" % e) as fh:
                    if fh.read().strip() in names:
                        out.append(int(e))
            except OSError:
                pass
    return out

if __name__ == "__main__":
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "fetch":
        count, total, secs = fetch_all(port, sys.argv[3], sys.argv[4])
        print("%d %d %.3f" % (count, total, secs))
    else:
        # idle PORT PASSWORD USERS NAMES: PSS per logged-in idle session.
        password, users, names = sys.argv[3], sys.argv[4].split(","), sys.argv[5].split(",")
        time.sleep(2)
        before = pss(server_pids(names))
        conns = [login(port, u, password) for u in users]
        time.sleep(2)
        after = pss(server_pids(names))
        for s, f in conns:
            s.sendall(b"QUIT\r\n")
            s.close()
        print("%.0f" % ((after - before) / len(users)))
PY
echo "bench: $messages messages of about $size bytes; $sessions idle sessions"
PY=python3
run_fetch() { $PY "$work/client.py" fetch "$1" bench@example.test "$password" x; }
for server in postern dovecot; do
	port=$pt_port; [ $server = dovecot ] && port=$dc_port
	sleep 1
	set -- $(run_fetch $port); echo "$server first:  $1 messages, $2 bytes in $3 s"; eval "${server}_first=$3"
	# Warm: the best of five runs (single runs of a fraction of a second are noisy).
	best=""
	for run in 1 2 3 4 5; do
		set -- $(run_fetch $port)
		best=$(echo "$best $3" | awk '{ m = $1; for (i = 2; i <= NF; i++) if ($i < m) m = $i; print m }')
	done
	echo "$server warm:   $1 messages, $2 bytes, best of 5 in $best s"; eval "${server}_second=$best"
done
for server in postern dovecot; do
	port=$pt_port names=master,pop3d
	[ $server = dovecot ] && port=$dc_port names=dovecot,pop3,pop3-login,anvil,log,config,stats
	kb=$($PY "$work/client.py" idle $port "$password" "$idle_users" $names)
	echo "$server: $kb KiB PSS per idle session"
	eval "${server}_kb=$kb"
done
echo
awk -v a="$postern_first" -v b="$dovecot_first" -v c="$postern_second" -v d="$dovecot_second" \
	-v e="$postern_kb" -v f="$dovecot_kb" -v n="$messages" 'BEGIN {
	printf "fetch %d messages, index built at login: postern %.2f s, dovecot %.2f s, dovecot/postern %.2f\n", n, a, b, b / a
	printf "fetch %d messages, index warm:           postern %.2f s, dovecot %.2f s, dovecot/postern %.2f\n", n, c, d, d / c
	printf "memory per idle session:                 postern %d KiB, dovecot %d KiB, dovecot/postern %.2f\n", e, f, f / e
}'
