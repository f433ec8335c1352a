#!/usr/bin/env bash
# Signal layer benchmark: our C layer (bench_signal, release build) beside
# libsignal-node 6.0.0 + Baileys 6's WASignalGroup (bench/signal/peer.mjs),
# same work on both sides, one process each, interleaved and repeated
# (bench/lib.sh: 3 rounds quick, 5 full) after a short warm-up run of each.
#   bench/signal/run.sh quick|full [BUILD_DIR]
# quick: 20 sessions, 100 messages per figure; full: 200 / 2000; warm-up:
# 5 / 30. Rates are per wall-clock second (both sides).
# Prints, for session, msg-pingpong, msg-burst and skmsg, medians and spreads:
#   bench signal-<figure> ours=<v>ops/s peer=<v>ops/s ratio=<ours/peer> spread_...
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) s=20; m=100 ;;
full) s=200; m=2000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/bench/bench_signal" ] || { echo "$B/bench/bench_signal is missing: make bench" >&2; exit 1; }
. bench/lib.sh
bench_reps "$mode"
# one run: the program's "<figure> <ops/s>" lines
args() { if [ "${BENCH_WARMUP:-0}" = 1 ]; then echo 5 30; else echo "$s" "$m"; fi; }
ours() { "$B/bench/bench_signal" $(args); }
peer() { node bench/signal/peer.mjs $(args); }
bench_interleave ours=ours peer=peer
for fig in session msg-pingpong msg-burst skmsg; do
	bench_line "signal-$fig" "$fig" ops/s fmt=%.1f
done
