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
# For iterating on ours (not for a published comparison):
#   SESSIONS_OURS_ONLY=1   skip Baileys (no peer= in the lines)
#   SESSIONS_KEEP=DIR      keep the simulator's state and certificates and our
#       data directory in DIR: the first run links N2 sessions there, later
#       runs with the same N2 only restart serve on it (prints
#       sessions-restore and the server's RSS after the restore, rss3=, on
#       stderr). Implies SESSIONS_OURS_ONLY.
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
# each process holds at most N2 sessions' sockets at a time (the simulator
# one contestant's, which is stopped before the next starts), plus its files
# and control connections
want=$((n2 + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $want ]; then
	ulimit -n $want 2>/dev/null || { echo "ulimit -n too low for $n2 sessions" >&2; exit 1; }
fi
export YESAPP_BUILD=$B
. bench/lib.sh
BENCH_REPS=${BENCH_REPS:-1}
work=$(mktemp -d)
bench_atexit 'rm -rf "$work"'
keep=${SESSIONS_KEEP:-}
sim_args=()
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	keep=$(cd "$keep" && pwd)
	export SESSIONS_KEEP=$keep SESSIONS_OURS_ONLY=1
	sim_args=(--state "$keep/sim-state.json" --certs "$keep/certs")
fi
"$B/yesapp" sim --listen 127.0.0.1:0 --tls "${sim_args[@]}" >"$work/sim.log" 2>"$work/sim.err" &
sim_pid=$!
bench_atexit "kill $sim_pid 2>/dev/null; wait $sim_pid 2>/dev/null"
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*"message":"sim listening".*"port":\([0-9]*\).*/\1/p' "$work/sim.log" | head -n 1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "sim did not start: $(cat "$work/sim.err")" >&2; exit 1; }
base="http://127.0.0.1:$port"

# one run each: raw lines to stderr, "rss", "restore" and "link" kept
ours() {
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return
	out=$(node --expose-gc bench/sessions/ours.mjs "$base" "$n1" "$n2")
	printf 'sessions ours n1=%s n2=%s: %s\n' "$n1" "$n2" "$(printf '%s' "$out" | tr '\n' ' ')" >&2
	printf '%s\n' "$out" | grep -E '^(rss|restore|link) '
}
if [ "${SESSIONS_OURS_ONLY:-0}" = 1 ]; then
	bench_interleave ours=ours
	# ours alone: "bench NAME ours=<median> spread_ours=<min>..<max> n=" for
	# the figures this run measured (a restore-only run has no rss or link)
	for f in rss:KiB restore:s link:s; do
		st=$(_bench_stats ours "${f%%:*}") || continue
		set -- $st
		printf 'bench sessions-%s ours=%.2f%s spread_ours=%.2f..%.2f n=%d (no peer)\n' \
			"${f%%:*}" "$1" "${f#*:}" "$2" "$3" "$4"
	done
	exit 0
fi
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
