#!/usr/bin/env bash
# End-to-end encrypted text messages through `yesapp sim`: ours (a
# `yesapp serve` session, POST /messages) beside a Baileys 6 socket doing
# the same work (sendMessage), each to another simulated account whose
# phone decrypts them (bench/messages/side.mjs says how each is measured).
# Usage: bench/messages/run.sh quick|full [BUILD_DIR]
#   quick: N=300 messages, 15 latency samples, 3 rounds; full: N=3000,
#   100 samples, 5 rounds (MESSAGES_N, MESSAGES_SAMPLES, BENCH_REPS win)
# Prints (bench/lib.sh format):
#   bench messages-accept ours=<msg/s> peer=<msg/s> ...    accepted (202: the
#       row committed) text messages a second on POST /messages, wrk with
#       BENCH_CONNS (32) connections for ACCEPT_SECONDS (2 quick, 10 full)
#       a round, to one linked session that is reconnecting (nothing sends:
#       the queue only grows; QUEUE_MAX 1000000); the peer: the same-work
#       Express build of bench/http/peer.mjs on a copy of our database, one
#       worker (ACCEPT_PEER_WORKERS)
#   bench messages-accept-p99 ours=<ms> peer=<ms> ...      their p99 latency
#   bench messages-rate ours=<msg/s> peer=<msg/s> ...      higher is better
#   bench messages-latency ours=<ms> peer=<ms> ...         send -> decrypted
#       by the recipient's phone, median; lower is better
#   bench messages-e2e ours=<msg/s> peer=<msg/s> ...       E2E_SESSIONS (quick
#       50, full 100) sessions over wss:// to one `yesapp sim --tls`, each
#       sending E2E_M (quick 10, full 50) texts to its own simulated phone,
#       until the simulator has decrypted them all; ours: one `yesapp serve`
#       (rate limit off), the peer: as many Baileys 6 sockets in one Node
#       process (bench/messages/e2e.mjs); one round quick, 3 full
#       (E2E_REPS wins)
# Raw figures of every run go to stderr. messages-rate and -latency are one
# session and one socket over ws://. MESSAGES_ONLY=accept|rate|e2e runs one
# part. The quick run takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) n=${MESSAGES_N:-300} samples=${MESSAGES_SAMPLES:-15} en=${E2E_SESSIONS:-50} em=${E2E_M:-10} ereps=${E2E_REPS:-1} ;;
full) n=${MESSAGES_N:-3000} samples=${MESSAGES_SAMPLES:-100} en=${E2E_SESSIONS:-100} em=${E2E_M:-50} ereps=${E2E_REPS:-3} ;;
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

# MESSAGES_ONLY=accept|rate|e2e: only that part (rate: messages-rate and -latency)
want() { [ -z "${MESSAGES_ONLY:-}" ] || [ "$MESSAGES_ONLY" = "$1" ]; }
work=$(mktemp -d)
bench_atexit 'rm -rf "$work"'

# ---- messages-accept ----
if want accept; then
command -v wrk >/dev/null || { echo "wrk is missing: scripts/deps.sh bench" >&2; exit 1; }
case "$mode" in quick) asecs=${ACCEPT_SECONDS:-2} ;; full) asecs=${ACCEPT_SECONDS:-10} ;; esac
apids=()
accept_stop() {
	for p in "${apids[@]+"${apids[@]}"}"; do kill "$p" 2>/dev/null || true; done
	for p in "${apids[@]+"${apids[@]}"}"; do wait "$p" 2>/dev/null || true; done
	apids=()
}
bench_atexit accept_stop
akey=bench-accept-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
sid=$(node bench/messages/accept-setup.mjs "$work/ours" "$akey")
mkdir -p "$work/peer"
cp "$work/ours/db.sqlite" "$work/peer/peer.sqlite" # a clean stop left no WAL behind
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
aours=$(free_port)
env PORT="$aours" HOST=127.0.0.1 DATA_DIR="$work/ours" API_KEY="$akey" RATE_LIMIT_GLOBAL=1000000 \
	QUEUE_MAX=1000000 RATE_LIMIT_MESSAGES=0 WA_WS_URL=ws://127.0.0.1:1/ws/chat \
	LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" "$B/yesapp" serve >/dev/null 2>"$work/ours.err" &
apids+=($!)
# one worker: two cluster workers writing one SQLite file wait on each
# other's write lock (SQLite's busy handler sleeps), 218 vs 987 msg/s in one
# run (bench/RESULTS.md); the faster one is the peer
env PORT=0 API_KEY="$akey" RATE_LIMIT=1000000 DATA_DIR="$work/peer" PEER_MODE=same-work \
	PEER_WORKERS="${ACCEPT_PEER_WORKERS:-1}" QUEUE_MAX=1000000 node bench/http/peer.mjs >/dev/null 2>"$work/peer.err" &
apids+=($!)
for _ in $(seq 150); do
	curl -fsS "http://127.0.0.1:$aours/health" >/dev/null 2>&1 &&
		grep -q '^{"listening":[0-9]*}$' "$work/peer.err" && break
	sleep 0.1
done
apeer=$(sed -n 's/^{"listening":\([0-9]*\)}$/\1/p' "$work/peer.err")
curl -fsS "http://127.0.0.1:$aours/health" >/dev/null && [ -n "$apeer" ] ||
	{ echo "the accept servers did not start:" >&2; cat "$work/ours.err" "$work/peer.err" >&2; exit 1; }
accept() { # port
	local d=$asecs
	[ "${BENCH_WARMUP:-0}" = 1 ] && d=1
	bench_wrk "$d" "http://127.0.0.1:$1/api/v1/sessions/$sid/messages" \
		-H "X-API-Key: $akey" -s bench/messages/post.lua
}
ours_accept() { accept "$aours"; }
peer_accept() { accept "$apeer"; }
echo "# messages-accept: $BENCH_REPS rounds of ${asecs}s, wrk -t${BENCH_THREADS:-1} -c${BENCH_CONNS:-32}, $(nproc) cores, load $(cut -d" " -f1-3 /proc/loadavg)" >&2
bench_interleave ours-accept=ours_accept peer-accept=peer_accept
for side in ours peer; do
	printf 'messages-accept %s: %s\n' "$side" "$(awk -v l="$side-accept" '$1 == l { printf "%s=%s ", $3, $4 }' "$BENCH_OUT")" >&2
done
bench_line messages-accept rps msg/s fmt=%.0f ours=ours-accept peer=peer-accept
bench_line messages-accept-p99 p99 ms lower fmt=%.3f ours=ours-accept peer=peer-accept
accept_stop
fi

# ---- messages-rate, messages-latency ----
if want rate; then
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
fi

# ---- messages-e2e ----
want e2e || exit 0
bench_sim_tls "$B" "$work"
# the simulator holds both sides' sockets; serve and Node one side each
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((4 * en + 200)) ] ||
	ulimit -n $((4 * en + 200)) 2>/dev/null || { echo "ulimit -n too low for $en sessions" >&2; exit 1; }
e2e() { # ours|peer
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return # each run warms itself up
	out=$(node bench/messages/e2e.mjs "$1" "$BENCH_SIM_BASE" "$en" "$em")
	printf 'messages-e2e %s sessions=%s m=%s: %s\n' "$1" "$en" "$em" "$(printf '%s' "$out" | tr '\n' ' ')" >&2
	printf '%s\n' "$out" | grep -E '^rate ' | sed 's/^rate /e2e /'
}
e2e_ours() { e2e ours; }
e2e_peer() { e2e peer; }
BENCH_REPS=$ereps bench_interleave ours-e2e=e2e_ours peer-e2e=e2e_peer
bench_line messages-e2e e2e msg/s fmt=%.1f ours=ours-e2e peer=peer-e2e
