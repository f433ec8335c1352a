#!/usr/bin/env bash
# Noise benchmark: handshakes/s and transport MiB/s of our Noise XX layer
# (bench_noise, release build). No peer is measured in this run, so the
# figures go to stderr only (no "bench" lines on stdout).
#   bench/noise/run.sh quick|full [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) arg=quick ;;
full) arg= ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/bench/bench_noise" ] || { echo "$B/bench/bench_noise is missing: make bench" >&2; exit 1; }
echo "# noise (no peer; figures only)" >&2
"$B/bench/bench_noise" $arg >&2
