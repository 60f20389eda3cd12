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
