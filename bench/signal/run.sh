#!/usr/bin/env bash
# Signal layer benchmark: our C layer (bench_signal, release build) beside
# libsignal-node 6.0.0 + Baileys 6's WASignalGroup (bench/signal/peer.mjs),
# same work on both sides, one process each, run one after the other.
#   bench/signal/run.sh quick|full [BUILD_DIR]
# quick: 40 sessions, 300 messages per figure; full: 200 / 2000.
# Prints, for session, msg-pingpong, msg-burst and skmsg:
#   bench signal-<figure> ours=<v>ops/s peer=<v>ops/s ratio=<ours/peer>
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${YESAPP_BUILD:-${2:-build}}
case "$mode" in
quick) s=40; m=300 ;;
full) s=200; m=2000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/bench/bench_signal" ] || { echo "$B/bench/bench_signal is missing: make bench" >&2; exit 1; }
ours=$("$B/bench/bench_signal" "$s" "$m")
peer=$(node bench/signal/peer.mjs "$s" "$m")
for fig in session msg-pingpong msg-burst skmsg; do
	o=$(printf '%s\n' "$ours" | awk -v f="$fig" '$1 == f { print $2 }')
	p=$(printf '%s\n' "$peer" | awk -v f="$fig" '$1 == f { print $2 }')
	[ -n "$o" ] && [ -n "$p" ] || { echo "bench signal: missing figure $fig" >&2; exit 1; }
	awk -v f="$fig" -v o="$o" -v p="$p" 'BEGIN { printf "bench signal-%s ours=%sops/s peer=%sops/s ratio=%.2f\n", f, o, p, o / p }'
done
