#!/usr/bin/env bash
# End-to-end encrypted text messages through `yesapp sim`: ours (a
# `yesapp serve` session, POST /messages) beside a Baileys 6 socket doing
# the same work (sendMessage), each to another simulated account whose
# phone decrypts them (bench/messages/side.mjs says how each is measured).
# Usage: bench/messages/run.sh quick|full [BUILD_DIR]
#   quick: N=300 messages, 15 latency samples, 3 rounds; full: N=3000,
#   100 samples, 5 rounds (MESSAGES_N, MESSAGES_SAMPLES, BENCH_REPS win)
# Prints (bench/lib.sh format):
#   bench messages-rate ours=<msg/s> peer=<msg/s> ...      higher is better
#   bench messages-latency ours=<ms> peer=<ms> ...         send -> decrypted
#       by the recipient's phone, median; lower is better
# Raw figures of every run go to stderr. One session and one socket: the
# 100-session, wss:// run of the issue is not measured here yet.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) n=${MESSAGES_N:-300} samples=${MESSAGES_SAMPLES:-15} ;;
full) n=${MESSAGES_N:-3000} samples=${MESSAGES_SAMPLES:-100} ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/yesapp" ] || { echo "missing $B/yesapp (run make bench)" >&2; exit 1; }
if ! command -v node >/dev/null || [ ! -d node_modules/baileys6 ]; then
	echo "bench messages: needs node and node_modules/baileys6" >&2
	exit 1
fi
export YESAPP_BUILD=$B
. bench/lib.sh
bench_reps "$mode"

side() { # ours|peer
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return # each run warms itself up
	out=$(node bench/messages/side.mjs "$1" "$n" "$samples")
	printf 'messages %s n=%s: %s\n' "$1" "$n" "$(printf '%s' "$out" | tr '\n' ' ')" >&2
	printf '%s\n' "$out" | grep -E '^(rate|latency) '
}
ours() { side ours; }
peer() { side peer; }
bench_interleave ours=ours peer=peer
bench_line messages-rate rate msg/s higher fmt=%.1f
bench_line messages-latency latency ms lower fmt=%.2f
