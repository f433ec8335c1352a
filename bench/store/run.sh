#!/usr/bin/env bash
# Store benchmark: ops/s of the store calls on the request path (bench_store,
# release build, temporary SQLite file). No peer is measured in this run, so
# the figures go to stderr only (no "bench" lines on stdout).
#   bench/store/run.sh quick|full [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) arg=quick ;;
full) arg= ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/bench/bench_store" ] || { echo "$B/bench/bench_store is missing: make bench" >&2; exit 1; }
echo "# store (no peer; figures only)" >&2
"$B/bench/bench_store" $arg >&2
