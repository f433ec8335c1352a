#!/usr/bin/env bash
# `yesapp sim` under load from our C client layers: registrations per second
# and simulator memory per open connection.
# Usage: bench/sim/run.sh quick|full [BUILD_DIR]  (quick: 500 connections, full: 3000)
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-build}
case "$mode" in
quick) n=500 ;;
full) n=3000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
bin="$B/bench/sim_bench"
[ -x "$bin" ] || { echo "missing $bin (run make bench)" >&2; exit 1; }
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((2 * n + 100)) ]; then
	ulimit -n $((2 * n + 100)) 2>/dev/null || { echo "ulimit -n too low for $n" >&2; exit 1; }
fi
"$bin" "$B/yesapp" "$n"
