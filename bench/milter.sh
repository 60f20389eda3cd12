#!/bin/sh
# Side-by-side SMTP accept rate with one milter: Postern's smtpd against
# Postfix's smtpd, both with the same pass-through libmilter filter
# (tests/milter_pass.c: it asks for every event, headers and body, and
# answers continue), same durability (each message fsync'd into the queue
# before 250), smtp-source (from the postfix package) as the load generator.
# Neither side delivers during the run (Postfix puts each message on hold
# with an end-of-data HOLD action; Postern runs no qmgr), so this measures
# receiving only: SMTP, a queue file written and fsync'd, the reply.
#
# Usage: sh bench/milter.sh [BUILD_DIR]   (as root: installs postfix)
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
milter_port=2628
[ -x "$build/bin/milter_pass" ] || { echo "bench: $build/bin/milter_pass not built (libmilter-dev)" >&2; exit 1; }
cleanup() {
	bench_stop_postfix
	"$build/bin/mailctl" -c "$work/postern/etc" stop >/dev/null 2>&1 || true
	[ -n "${milter_pid:-}" ] && kill "$milter_pid" 2>/dev/null || true
	bench_remove_work_dir
}
trap cleanup EXIT INT TERM

# --- The filter both servers use.
"$build/bin/milter_pass" -s "inet:$milter_port@127.0.0.1" &
milter_pid=$!

# --- Postfix: a private instance.
bench_private_postfix "$work/postfix" "$pf_port"
cat >>"$pf_conf/main.cf" <<CF
myhostname = bench.example.test
mydestination = bench.example.test
local_recipient_maps =
smtpd_end_of_data_restrictions = check_client_access static:HOLD
smtpd_milters = inet:127.0.0.1:$milter_port
milter_default_action = tempfail
CF
bench_start_postfix
pf_spool=$work/postfix/spool

# --- Postern: an instance with smtpd only.
mkdir -p "$work/postern/etc"
{
	bench_postern_main_conf
	cat <<CF
myhostname = bench.example.test
mydestination = bench.example.test
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_milters = inet:127.0.0.1:$milter_port
milter_default_action = tempfail
CF
} >"$work/postern/etc/main.conf"
echo "127.0.0.1:$pt_port inet n - n - - smtpd" >"$work/postern/etc/master.conf"
"$build/bin/mailctl" -c "$work/postern/etc" start

sleep 1
rate() { # port sessions size -> messages per second
	start=$(date +%s.%N)
	if ! smtp-source -c -s "$2" -m "$messages" -l "$3" -f bench@bench.example.test \
		-t root@bench.example.test "127.0.0.1:$1" >/dev/null; then
		echo "bench: smtp-source failed against port $1" >&2
	fi
	end=$(date +%s.%N)
	echo "$messages $start $end" | awk '{printf "%.0f", $1 / ($3 - $2)}'
}
queued=0
printf "%-9s %-7s %12s %12s %7s\n" sessions size postfix/s postern/s ratio
for size in $sizes; do
	for s in $sessions; do
		set -- $(bench_measure "rate $pf_port $s $size" "rate $pt_port $s $size")
		pf=$1 pt=$2
		printf "%-9s %-7s %12s %12s %7s\n" "$s" "$size" "$pf" "$pt" \
			"$(echo "$pt $pf" | awk '{printf "%.2f", $1 / $2}')"
		# Every message must have been accepted (not tempfailed by the
		# milter). The queues grow from run to run (see smtpd-accept.sh)
		# and are emptied at the end.
		queued=$((queued + messages * bench_repeats))
		pf_n=$(find "$pf_spool/hold" "$pf_spool/incoming" "$pf_spool/active" -type f 2>/dev/null | wc -l)
		pt_n=$(find "$work/postern/spool/incoming" -type f | wc -l)
		[ "$pf_n" -ge "$queued" ] || echo "bench: postfix queued only $pf_n of $queued" >&2
		[ "$pt_n" -ge "$queued" ] || echo "bench: postern queued only $pt_n of $queued" >&2
	done
done
