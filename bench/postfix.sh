# The Debian Postfix the benchmarks compare against; sourced by them (not
# run). Each run starts a private instance of it (configuration, queue,
# data and log in a directory of the run's, smtpd on a port of its own,
# no chroot), so the system's Postfix is never touched and both servers'
# queues live side by side in the run's directory (bench_work_dir).

# Install postfix (with smtp-source and smtp-sink) if it is missing.
bench_need_postfix() {
	if command -v smtp-source >/dev/null && [ -x /usr/sbin/postfix ]; then
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || { echo "bench: install postfix first (needs root)" >&2; exit 1; }
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
}

# A private instance in directory $1 listening on 127.0.0.1:$2: writes its
# master.cf and the common part of its main.cf (loopback only, mynetworks
# relays, no client limits, no client name look-up (as Postern's instances
# in the benchmarks), as many processes as Postern may use). The
# caller appends its own settings to "$pf_conf/main.cf", then runs
# bench_start_postfix; its cleanup runs bench_stop_postfix.
bench_private_postfix() { # dir port
	pf_conf=$1
	mkdir -p "$1/spool" "$1/data"
	chown postfix "$1/data"
	cat >"$1/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $1/spool
data_directory = $1/data
maillog_file = $1/maillog
maillog_file_prefixes = /var, /dev/stdout, /tmp
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_peername_lookup = no
default_process_limit = 200
CF
	cat >"$1/master.cf" <<CF
127.0.0.1:$2 inet n - n - - smtpd
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
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
}

# Postfix's commands on the private instance.
bench_postfix() { # postfix|postsuper|postqueue|postconf args...
	cmd=$1
	shift
	MAIL_CONFIG=$pf_conf "$cmd" -c "$pf_conf" "$@"
}

bench_start_postfix() {
	bench_postfix postfix start >/dev/null 2>&1 ||
		{ echo "bench: postfix did not start (see $pf_conf/maillog)" >&2; exit 1; }
}

bench_stop_postfix() {
	[ -n "${pf_conf:-}" ] || return 0
	bench_postfix postfix stop >/dev/null 2>&1 || true
}
