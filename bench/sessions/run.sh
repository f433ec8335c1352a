#!/usr/bin/env bash
# Idle connected sessions over wss://, ours beside Baileys 6, against one
# `yesapp sim --tls` started here for both.
# Usage: bench/sessions/run.sh quick|full [BUILD_DIR]
#   quick: N1=20, N2=100; full: N1=1000, N2=5000 (SESSIONS_N1, SESSIONS_N2 win)
# Prints (bench/lib.sh format; one round each unless BENCH_REPS is set, as a
# round links thousands of numbers):
#   bench sessions-rss ours=<KiB> peer=<KiB> ...      marginal RSS per idle
#       connected session: (RSS at N2 - RSS at N1) / (N2 - N1), of the
#       `yesapp serve` process (ours) and of the Node process holding the
#       Baileys sockets (peer)
#   bench sessions-restore ours=<s> peer=<s> ...      from the start of a new
#       process (serve on the same data directory; Node with the saved
#       creds) until all N2 sessions are connected again
#   bench sessions-link ours=<s> peer=<s> ...         linking N2 numbers by QR
#       (/sim/scan), SESSIONS_PARALLEL (50) at a time
# Raw figures of every run go to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) n1=${SESSIONS_N1:-20} n2=${SESSIONS_N2:-100} ;;
full) n1=${SESSIONS_N1:-1000} n2=${SESSIONS_N2:-5000} ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/yesapp" ] || { echo "missing $B/yesapp (run make bench)" >&2; exit 1; }
if ! command -v node >/dev/null || [ ! -d node_modules/baileys6 ]; then
	echo "bench sessions: needs node and node_modules/baileys6" >&2
	exit 1
fi
# the simulator holds both sides' sockets; serve and Node one side each
want=$((2 * n2 + 200))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $want ]; then
	ulimit -n $want 2>/dev/null || { echo "ulimit -n too low for $n2 sessions" >&2; exit 1; }
fi
export YESAPP_BUILD=$B
. bench/lib.sh
BENCH_REPS=${BENCH_REPS:-1}
work=$(mktemp -d)
bench_atexit 'rm -rf "$work"'
bench_sim_tls "$B" "$work"
base=$BENCH_SIM_BASE

# one run each: raw lines to stderr, "rss", "restore" and "link" kept
ours() {
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return
	out=$(node --expose-gc bench/sessions/ours.mjs "$base" "$n1" "$n2")
	printf 'sessions ours n1=%s n2=%s: %s\n' "$n1" "$n2" "$(printf '%s' "$out" | tr '\n' ' ')" >&2
	printf '%s\n' "$out" | grep -E '^(rss|restore|link) '
}
peer() {
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return
	out=$(node --expose-gc bench/sessions/peer.mjs link "$base" "$n1" "$n2" "$work/creds.json")
	out+=$'\n'$(node --expose-gc bench/sessions/peer.mjs restore "$base" "$work/creds.json")
	printf 'sessions baileys6 n1=%s n2=%s: %s\n' "$n1" "$n2" "$(printf '%s' "$out" | tr '\n' ' ')" >&2
	printf '%s\n' "$out" | grep -E '^(rss|restore|link) '
}
bench_interleave ours=ours peer=peer
bench_line sessions-rss rss KiB lower fmt=%.2f
bench_line sessions-restore restore s lower fmt=%.2f
bench_line sessions-link link s lower fmt=%.2f
