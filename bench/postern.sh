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

# The run's directory (Postern's queue, and the mailboxes or the private
# Postfix where a benchmark has them), in /var/spool beside the system
# Postfix's queue and where a packaged Postern keeps its own: a directory
# in /tmp shares its ext4 block group with whatever the test suite has just
# created and deleted there, and new inodes skip recently freed ones, which
# made the same build's accept rate vary by 2.5x with the tmp directory's
# recent history alone.
bench_work_dir() {
	work=$(mktemp -d /var/spool/postern-bench.XXXXXX)
	chmod 755 "$work"
}
