#!/bin/sh
# Side-by-side delivery rate: N messages sent by SMTP (smtp-source, from the
# postfix package) into local Maildirs, with Postern (smtpd -> qmgr -> local,
# a virtual user) and with Postfix (smtpd -> qmgr -> virtual(8), a virtual
# Maildir), both delivering as the vmail user. The clock runs from the first
# connection until every message is a file in the Maildir's new/, so it
# covers receiving, queueing, scheduling and delivery ("smtp->mailbox").
# A second run measures delivery alone ("queue->mailbox"): the messages are
# received with delivery stopped (Postfix: an end-of-data HOLD; Postern:
# no qmgr in master.conf), then released at once (postsuper -H ALL; a
# reload that adds qmgr) and timed until all are in the Maildir.
#
# Usage: sh bench/deliver.sh [BUILD_DIR]   (as root: installs postfix)
# Env:   MESSAGES (default 2000), SESSIONS (default 20), SIZE (bytes, 4096)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
. "$top/bench/postfix.sh"
. "$top/bench/postern.sh"
messages=${MESSAGES:-2000}
sessions=${SESSIONS:-20}
size=${SIZE:-4096}

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (Postfix and the vmail user)" >&2; exit 1; }
bench_need_postfix
sh "$top/scripts/create-users.sh"
vmail_uid=$(id -u vmail)
vmail_gid=$(id -g vmail)


bench_work_dir
pf_port=2626
pt_port=2627
domain=bench.example.test
cleanup() {
	bench_stop_postfix
	"$build/bin/mailctl" -c "$work/postern/etc" stop >/dev/null 2>&1 || true
	bench_remove_work_dir
}
trap cleanup EXIT INT TERM

mkdir -p "$work/pf-vmail" "$work/pt-vmail"
chown vmail:vmail "$work/pf-vmail" "$work/pt-vmail"

# --- Postfix: a private instance.
bench_private_postfix "$work/postfix" "$pf_port"
cat >>"$pf_conf/main.cf" <<CF
myhostname = mx.$domain
mydestination =
virtual_mailbox_domains = $domain
virtual_mailbox_base = $work/pf-vmail
virtual_mailbox_maps = inline:{user@$domain=$domain/user/Maildir/, drain@$domain=$domain/drain/Maildir/}
virtual_uid_maps = static:$vmail_uid
virtual_gid_maps = static:$vmail_gid
virtual_mailbox_limit = 0
CF
bench_start_postfix

# --- Postern: smtpd, qmgr and local; one virtual user.
mkdir -p "$work/postern/etc"
{
	bench_postern_main_conf
	cat <<CF
myhostname = mx.$domain
mydestination = localhost
virtual_mailbox_domains = $domain
virtual_mailbox_base = $work/pt-vmail
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
CF
} >"$work/postern/etc/main.conf"
cat >"$work/postern/etc/master.conf" <<CF
127.0.0.1:$pt_port inet n - n - - smtpd
qmgr unix n - n 300 1 qmgr
local unix - n n - - local
CF
echo "bench password" | "$build/bin/mailctl" -c "$work/postern/etc" user add "user@$domain" >/dev/null
"$build/bin/mailctl" -c "$work/postern/etc" start
sleep 1

# Both users' Maildirs: Postfix's virtual_mailbox_maps path and Postern's
# virtual_mailbox_base/DOMAIN/USER/Maildir.

# Run command $3, then wait until directory $1 holds $2 files (at most
# 600 s); prints the messages per second from the start of the command to
# the last file, then the seconds until the command returned and until
# the last file. One Python process does it all: it is started (and its
# interpreter loaded) before the clock starts, so its start-up takes no
# CPU from the servers being measured, and it looks every 20 ms (a shell
# loop of find | wc forked three processes a look, a fifth of the CPU).
timed_until_files() { # dir count command
	python3 - "$1" "$2" "$3" <<'PY'
import os, subprocess, sys, time
path, want, command = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def count():
    try:
        return sum(1 for e in os.scandir(path) if e.is_file())
    except FileNotFoundError:
        return 0
start = time.monotonic()
if subprocess.run(command, shell=True, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL).returncode != 0:
    sys.exit("bench: %s failed" % command)
sent = time.monotonic()
while count() < want:
    if time.monotonic() > start + 600:
        sys.exit("bench: only %d of %d delivered into %s" % (count(), want, path))
    time.sleep(0.02)
end = time.monotonic()
print("%.0f %.1f %.1f" % (want / (end - start), sent - start, end - start))
PY
}
rate() { # port maildir-new -> messages per second until all are delivered
	result=$(timed_until_files "$2" "$messages" \
		"smtp-source -c -s $sessions -m $messages -l $size -f bench@client.example.test -t user@$domain 127.0.0.1:$1") ||
		exit 1
	set -- $result
	echo "$1 (all sent after $2 s, delivered after $3 s)" >&2
	echo "$1"
}
drain() { # port maildir-new release-command -> messages per second from release to delivered
	smtp-source -c -s "$sessions" -m "$messages" -l "$size" \
		-f bench@client.example.test -t "drain@$domain" "127.0.0.1:$1" >/dev/null
	result=$(timed_until_files "$2" "$messages" "$3") || exit 1
	set -- $result
	echo "$1"
}

printf "postfix: " >&2
pf=$(rate $pf_port "$work/pf-vmail/$domain/user/Maildir/new")
printf "\npostern: " >&2
pt=$(rate $pt_port "$work/pt-vmail/$domain/user/Maildir/new")
echo >&2

# Delivery alone. Postfix: hold at end of data, then release all.
echo "smtpd_end_of_data_restrictions = check_client_access static:HOLD" >>"$pf_conf/main.cf"
bench_postfix postfix reload >/dev/null 2>&1
sleep 1
pf_drain=$(drain $pf_port "$work/pf-vmail/$domain/drain/Maildir/new" "MAIL_CONFIG=$pf_conf postsuper -c $pf_conf -H ALL; MAIL_CONFIG=$pf_conf postqueue -c $pf_conf -f")
# Postern: no qmgr until the mail is queued.
echo "bench password" | "$build/bin/mailctl" -c "$work/postern/etc" user add "drain@$domain" >/dev/null
grep -v '^qmgr' "$work/postern/etc/master.conf" >"$work/master.conf.noqmgr"
cp "$work/postern/etc/master.conf" "$work/master.conf.full"
cp "$work/master.conf.noqmgr" "$work/postern/etc/master.conf"
"$build/bin/mailctl" -c "$work/postern/etc" reload >/dev/null
sleep 1
pt_drain=$(drain $pt_port "$work/pt-vmail/$domain/drain/Maildir/new" \
	"cp $work/master.conf.full $work/postern/etc/master.conf && $build/bin/mailctl -c $work/postern/etc reload")

printf "%-16s %-9s %-9s %-6s %12s %12s %7s\n" measure messages sessions size postfix/s postern/s ratio
for row in "smtp->mailbox $pf $pt" "queue->mailbox $pf_drain $pt_drain"; do
	set -- $row
	printf "%-16s %-9s %-9s %-6s %12s %12s %7s\n" "$1" "$messages" "$sessions" "$size" "$2" "$3" \
		"$(echo "$3 $2" | awk '{printf "%.2f", $1 / $2}')"
done
