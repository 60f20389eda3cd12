# The Postern instance a benchmark runs, in $work/postern with the programs
# of $build; sourced by the benchmarks (not run).

# The part of main.conf every benchmark's instance has: its own queue,
# data and log under $work, loopback only, as many processes as Postfix.
bench_postern_main_conf() {
	cat <<CF
queue_directory = $work/postern/spool
data_directory = $work/postern/data
daemon_directory = $build/bin
maillog_file = $work/postern.log
inet_interfaces = 127.0.0.1
default_process_limit = 200
CF
}

# The run's directory, $work: Postern's instance, the private Postfix and
# the mailboxes of both. As root it is a fresh ext4 file system with the
# default options (a journal, as on a typical server), in an image file
# mounted there for the run: this machine's root file system has no
# journal, and there a new inode skips every one deleted in the last
# minutes, so a file-per-message benchmark ran up to 2.5x slower for
# whichever side's directory had seen the test suite's or an earlier
# run's deletions. Its inode tables and journal are written at mkfs time,
# so that no background initialisation runs during the measurement.
# Without root (or loop devices) it is a plain directory.
bench_work_dir() {
	work=$(mktemp -d /var/tmp/postern-bench.XXXXXX)
	bench_image=
	if [ "$(id -u)" -eq 0 ] && truncate -s "${BENCH_FS_SIZE:-8G}" "$work.img" &&
		mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work.img" &&
		mount -o loop "$work.img" "$work"; then
		bench_image=$work.img
	else
		rm -f "$work.img"
		echo "bench: no file system of its own; $work is on $(df --output=target "$work" | tail -1)" >&2
	fi
	chmod 755 "$work"
}

bench_remove_work_dir() {
	[ -n "${work:-}" ] || return 0
	if [ -n "${bench_image:-}" ]; then
		umount "$work" 2>/dev/null || umount -l "$work" 2>/dev/null || true
		rm -f "$bench_image"
	fi
	rm -rf "$work"
}
