#!/bin/sh
# Side-by-side SMTP accept rate: Postern's smtpd against Postfix's smtpd on
# this machine, same durability (each message fsync'd into the queue before
# 250), smtp-source (from the postfix package) as the load generator.
# Neither side delivers during the run (Postfix puts each message on hold
# with an end-of-data HOLD action; Postern runs no qmgr), so this measures
# receiving only: SMTP, a queue file written and fsync'd, the reply.
# A third column, sink/s, is smtp-source into smtp-sink (Postfix's test
# server: no queue, no disk, one process) with the same sessions and size:
# the most this machine does for the SMTP exchange alone, load generator
# included, so the headroom left for queueing is plain to see.
# The queues grow from run to run and go with the run's file system
# (bench_work_dir): nothing is deleted while the benchmark runs.
#
# Usage: sh bench/smtpd-accept.sh [BUILD_DIR]   (as root: installs postfix)
# Env:   MESSAGES (default 2000 per run), SESSIONS ("1 20 100"), SIZES ("2048 51200"),
#        REPEAT (runs per row, median shown; default 1)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
. "$top/bench/postfix.sh"
. "$top/bench/postern.sh"
. "$top/bench/repeat.sh"
messages=${MESSAGES:-2000}
sessions=${SESSIONS:-"1 20 100"}
sizes=${SIZES:-"2048 51200"}

bench_need_postfix
sh "$top/scripts/create-users.sh"

bench_work_dir
pf_port=2626
pt_port=2627
sink_port=2628
cleanup() {
	[ -z "${sink_pid:-}" ] || kill "$sink_pid" 2>/dev/null || true
	bench_stop_postfix
	"$build/bin/mailctl" -c "$work/postern/etc" stop >/dev/null 2>&1 || true
	bench_remove_work_dir
}
trap cleanup EXIT INT TERM

# --- Postfix: a private instance.
bench_private_postfix "$work/postfix" "$pf_port"
cat >>"$pf_conf/main.cf" <<CF
myhostname = bench.example.test
mydestination = bench.example.test
local_recipient_maps =
smtpd_end_of_data_restrictions = check_client_access static:HOLD
CF
bench_start_postfix

# --- Postern: an instance with smtpd only.
mkdir -p "$work/postern/etc"
{
	bench_postern_main_conf
	cat <<CF
myhostname = bench.example.test
mydestination = bench.example.test
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
CF
} >"$work/postern/etc/main.conf"
echo "127.0.0.1:$pt_port inet n - n - - smtpd" >"$work/postern/etc/master.conf"
"$build/bin/mailctl" -c "$work/postern/etc" start

# --- The ceiling: smtp-sink accepts and forgets (as root it needs a user).
smtp-sink -u postfix -c "127.0.0.1:$sink_port" 1000 >/dev/null 2>&1 &
sink_pid=$!

sleep 1
rate() { # port sessions size -> messages per second
	start=$(date +%s.%N)
	smtp-source -c -s "$2" -m "$messages" -l "$3" -f bench@bench.example.test \
		-t root@bench.example.test "127.0.0.1:$1" >/dev/null
	end=$(date +%s.%N)
	echo "$messages $start $end" | awk '{printf "%.0f", $1 / ($3 - $2)}'
}
printf "%-9s %-7s %12s %12s %7s %10s\n" sessions size postfix/s postern/s ratio sink/s
for size in $sizes; do
	for s in $sessions; do
		set -- $(bench_measure "rate $pf_port $s $size" "rate $pt_port $s $size" \
			"rate $sink_port $s $size")
		pf=$1 pt=$2 sink=$3
		printf "%-9s %-7s %12s %12s %7s %10s\n" "$s" "$size" "$pf" "$pt" \
			"$(echo "$pt $pf" | awk '{printf "%.2f", $1 / $2}')" "$sink"
	done
done
