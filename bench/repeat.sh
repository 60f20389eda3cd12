# Repeated measurements, sourced by the benchmarks (not run): with
# REPEAT=N each side of a row is measured N times, the sides taking turns
# (Postfix, Postern, Postfix, ...) so that a drift in the machine's state
# falls on both, and the median of each side is what the row shows.

bench_repeats=${REPEAT:-1}
case $bench_repeats in
'' | *[!0-9]* | 0)
	echo "bench: REPEAT must be a positive number, not \"$bench_repeats\"" >&2
	exit 2
	;;
esac

# The median of the numbers given (of an even count, the lower middle one).
bench_median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Run each command given (one argument each, run by sh -c) REPEAT times in
# turn and print the median of each command's output, in order, on one line.
bench_measure() {
	n=0
	for cmd in "$@"; do
		n=$((n + 1))
		eval "bench_values_$n="
	done
	round=0
	while [ "$round" -lt "$bench_repeats" ]; do
		round=$((round + 1))
		n=0
		for cmd in "$@"; do
			n=$((n + 1))
			value=$(eval "$cmd")
			eval "bench_values_$n=\"\$bench_values_$n $value\""
		done
	done
	n=0
	line=
	for cmd in "$@"; do
		n=$((n + 1))
		eval "values=\$bench_values_$n"
		# shellcheck disable=SC2086,SC2154 # words on purpose; set by eval above
		line="$line $(bench_median $values)"
	done
	echo "$line"
}
