#!/usr/bin/env bash
# Runs every benchmark: bench/run.sh quick|full [BUILD_DIR]
# Each bench/<name>/run.sh prints lines
#   bench <figure> ours=<value><unit> peer=<value><unit> ratio=<r> spread_ours=<min..max> ...
# (ratio > 1 means we are better): medians of runs of ours and the peer
# interleaved, warmed up and repeated, with their spreads (bench/lib.sh).
# A failing benchmark fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
B=${2:-build}
status=0
for r in bench/*/run.sh; do
	[ -x "$r" ] || continue
	echo "== $r $mode" >&2
	if ! YESAPP_BUILD="$B" "$r" "$mode"; then
		echo "bench: $r failed" >&2
		status=1
	fi
done
exit $status
