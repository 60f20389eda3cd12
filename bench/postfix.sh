# The Debian Postfix the benchmarks compare against; sourced by them (not
# run). The system instance is borrowed for a run: one benchmark at a time
# (a lock), its main.cf and master.cf saved and put back at the end.

# Install postfix (with smtp-source and smtp-sink) if it is missing.
bench_need_postfix() {
	if command -v smtp-source >/dev/null && [ -x /usr/sbin/postfix ]; then
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || { echo "bench: install postfix first (needs root)" >&2; exit 1; }
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
}

pf_conf=/etc/postfix

# Take the system Postfix for this run: wait for the lock, stop it, save
# its configuration into directory $1 and put Debian's default master.cf
# in place with smtpd listening on port $2. The caller writes main.cf
# (bench_postfix_main_cf gives the common part) and runs
# bench_start_postfix; its cleanup runs bench_give_back_postfix $1.
bench_take_postfix() { # work_dir port
	exec 9>/tmp/postern-bench-postfix.lock
	flock 9
	postfix stop >/dev/null 2>&1 || true
	for f in main.cf master.cf; do
		if [ -f "$pf_conf/$f" ]; then cp "$pf_conf/$f" "$1/$f.orig"; fi
	done
	cp /usr/share/postfix/master.cf.dist "$pf_conf/master.cf"
	sed -i -e "s/^smtp      inet/$2      inet/" "$pf_conf/master.cf"
	pf_taken=yes
}

# What every benchmark's Postfix has: loopback only, mynetworks relays, no
# client limits, as many processes as Postern may use.
bench_postfix_main_cf() {
	cat <<CF
compatibility_level = 3.6
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
CF
}

bench_start_postfix() {
	postfix check >/dev/null 2>&1 || true
	postfix start >/dev/null 2>&1 || { echo "bench: postfix did not start" >&2; exit 1; }
}

bench_give_back_postfix() { # work_dir
	[ "${pf_taken:-}" = yes ] || return 0 # nothing was changed
	postfix stop >/dev/null 2>&1 || true
	# The mail the runs left queued: benchmarks hold what they send.
	spool=$(postconf -h queue_directory 2>/dev/null || true)
	if [ -n "$spool" ]; then
		find "$spool/hold" "$spool/incoming" "$spool/active" -type f -delete 2>/dev/null || true
	fi
	for f in main.cf master.cf; do
		if [ -f "$1/$f.orig" ]; then cp "$1/$f.orig" "$pf_conf/$f"; else rm -f "$pf_conf/$f"; fi
	done
}
