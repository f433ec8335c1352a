#!/usr/bin/env bash
# Runs fuzz targets. Usage: tests/fuzz/run.sh FUZZ_BUILD_DIR SECONDS [TARGET...]
# Each target starts from its seed corpus tests/fuzz/corpus/<name>/ (if any)
# and writes new inputs to build/fuzz/corpus/<name>/. Fails on any crash,
# leak or sanitizer report. Before fuzzing, each seed runs once with
# FUZZ_SEEDS_EXPECT_OK=1: a target that honours it (fuzz_signal) aborts when
# a seed no longer does what it was written for (e.g. pass the MAC).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$1; secs=$2; shift 2
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	for f in "$dir"/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
for t in "${targets[@]}"; do
	work="$dir/corpus/$t"; mkdir -p "$work"
	seeds=()
	[ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
	if [ -d "tests/fuzz/corpus/$t" ]; then
		echo "fuzz: $t seeds"
		FUZZ_SEEDS_EXPECT_OK=1 "$dir/$t" tests/fuzz/corpus/"$t"/* >"$dir/$t-seeds.log" 2>&1 ||
			{ tail -n 20 "$dir/$t-seeds.log"; exit 1; }
	fi
	echo "fuzz: $t for ${secs}s"
	"$dir/$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$dir/$t-" "$work" "${seeds[@]+"${seeds[@]}"}"
done
