#!/bin/sh
# Side-by-side relay throughput: smtp-source -> MTA -> smtp-sink, once
# through Postern (smtpd, qmgr, smtp with relayhost) and once through
# Postfix (a private instance in a temporary directory, so the system's
# Postfix and other benchmarks are left alone), both relaying everything
# to their own smtp-sink. A run is timed from the first message sent until
# the sink has received the last one, so it covers receiving, queueing
# (fsync'd), scheduling and the SMTP client. Prints messages per second and
# the Postern/Postfix ratio.
#
# Usage: sh bench/relay.sh [BUILD_DIR]   (as root: installs postfix)
# Env:   MESSAGES (default 2000), SESSIONS ("1 20"), SIZE (bytes, 4096),
#        REPEAT (runs per row, median shown; default 1)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
. "$top/bench/postfix.sh"
. "$top/bench/postern.sh"
. "$top/bench/repeat.sh"
messages=${MESSAGES:-2000}
sessions=${SESSIONS:-"1 20"}
size=${SIZE:-4096}

bench_need_postfix
sh "$top/scripts/create-users.sh"

bench_work_dir
pf_port=2646
pt_port=2647
pf_sink=2648
pt_sink=2649
pf_dir=$work/postfix
sink_pid=
cleanup() {
	[ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
	bench_stop_postfix
	"$build/bin/mailctl" -c "$work/postern/etc" stop >/dev/null 2>&1 || true
	bench_remove_work_dir
}
trap cleanup EXIT INT TERM

# --- Postfix: a private instance relaying everything to its sink.
bench_private_postfix "$pf_dir" "$pf_port"
cat >>"$pf_conf/main.cf" <<CF
myhostname = bench.example.test
mydestination =
relay_domains = relay.example.test
relayhost = [127.0.0.1]:$pf_sink
smtp_tls_security_level = none
smtp_dns_support_level = disabled
CF
bench_start_postfix
greets() { # port: true once a server there sends its greeting
	python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); sys.exit(0 if s.recv(4).startswith(b"220") else 1)' "$1" 2>/dev/null
}

# --- Postern: smtpd, qmgr and smtp relaying everything to its sink.
mkdir -p "$work/postern/etc"
{
	bench_postern_main_conf
	cat <<CF
myhostname = bench.example.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = relay.example.test
relayhost = [127.0.0.1]:$pt_sink
smtpd_peername_lookup = no
smtp_tls_security_level = none
CF
} >"$work/postern/etc/main.conf"
cat >"$work/postern/etc/master.conf" <<CF
127.0.0.1:$pt_port inet n - n - - smtpd
qmgr unix n - n 300 1 qmgr
smtp unix - n n - - smtp
CF
"$build/bin/mailctl" -c "$work/postern/etc" start
for port in $pf_port $pt_port; do
	n=0
	until greets "$port"; do
		n=$((n + 1))
		[ $n -gt 100 ] && { echo "bench: nothing answers on port $port" >&2; exit 1; }
		sleep 0.1
	done
done

# Messages per second from the first message sent until the sink on
# sink_port has counted `messages` of them.
rate() { # mta_port sink_port sessions
	out="$work/sink.$2.$3"
	smtp-sink -c -u postfix "127.0.0.1:$2" 256 >"$out" 2>&1 &
	sink_pid=$!
	sleep 0.5
	start=$(date +%s.%N)
	smtp-source -c -s "$3" -m "$messages" -l "$size" -f bench@bench.example.test \
		-t user@relay.example.test "127.0.0.1:$1" >/dev/null || {
		kill "$sink_pid"
		return 1
	}
	deadline=$(($(date +%s) + 300))
	while :; do
		# smtp-sink -c writes "sess=N quit=N mesg=N" with carriage returns.
		got=$(tr '\r' '\n' <"$out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1)
		[ "${got:-0}" -ge "$messages" ] && break
		[ "$(date +%s)" -gt "$deadline" ] && { echo "bench: only ${got:-0} arrived" >&2; break; }
		sleep 0.05
	done
	end=$(date +%s.%N)
	kill "$sink_pid" 2>/dev/null || true
	wait "$sink_pid" 2>/dev/null || true
	sink_pid=
	echo "$messages $start $end" | awk '{printf "%.0f", $1 / ($3 - $2)}'
}
printf "%-9s %-7s %12s %12s %7s\n" sessions size postfix/s postern/s ratio
for s in $sessions; do
	set -- $(bench_measure "rate $pf_port $pf_sink $s" "rate $pt_port $pt_sink $s")
	pf=$1 pt=$2
	printf "%-9s %-7s %12s %12s %7s\n" "$s" "$size" "$pf" "$pt" \
		"$(echo "$pt $pf" | awk '{printf "%.2f", $1 / $2}')"
done
