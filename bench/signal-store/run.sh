#!/usr/bin/env bash
# Signal store benchmark: decrypts/s of one session over the in-memory store,
# the SQLite-backed cache warm, cold (every record read from SQLite) and warm
# with DURABILITY=full (bench_signal_store, release build, temporary SQLite
# files). No peer is measured, so the figures go to stderr only.
#   bench/signal-store/run.sh quick|full [BUILD_DIR]
# quick: 50 peers, 2000 messages; full: 200 peers, 20000 messages.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) args="50 2000" ;;
full) args="200 20000" ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/bench/bench_signal_store" ] || { echo "$B/bench/bench_signal_store is missing: make bench" >&2; exit 1; }
echo "# signal-store decrypts/s (no peer; figures only)" >&2
# shellcheck disable=SC2086
"$B/bench/bench_signal_store" $args | sed 's/^/signal-store-/' >&2
