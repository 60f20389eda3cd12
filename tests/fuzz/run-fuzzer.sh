#!/bin/sh
# Runs one libFuzzer target briefly over its seed corpus (a copy, so the
# checked-in corpus is not changed). FUZZ_SECONDS overrides the run time.
set -eu
fuzzer=$1
corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$corpus" ]; then
	cp -r "$corpus"/. "$work"/
fi
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=65536 -timeout=10 \
	-artifact_prefix="$work/" -print_final_stats=1 "$work"
