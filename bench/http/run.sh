#!/usr/bin/env bash
# HTTP serving benchmark: `yesapp serve` (release build) beside an Express 4
# peer (bench/http/peer.mjs) on the same routes, measured with wrk, ours and
# the peer's two builds interleaved (bench/lib.sh), warmed up, repeated.
#   bench/http/run.sh quick|full [BUILD_DIR]
# quick: 3 rounds of 2 s per figure and server, full: 5 rounds of 10 s (1 s
# warm-up each). Two comparisons (bench/http/README.md):
#   *-as-designed  the peer as it is usually built (PEER_MODE=as-designed:
#                  one process, SQLite queries through sql.js per request)
#   *-same-work    the peer doing what ours does (PEER_MODE=same-work:
#                  2-second key cache, in-memory sessions, access log,
#                  better-sqlite3, 2 cluster workers for our 2 HTTP threads)
# Rate limits are raised for all (RATE_LIMIT_GLOBAL=1000000/min) so the run
# measures serving, not refusing; every limiter still runs. Our server keeps
# its default access log (info level; stdout is discarded). Prints, for
# health and session (an authenticated GET /api/v1/sessions/{id}):
#   bench http-health-as-designed ours=<v>req/s peer=<v>req/s ratio=<ours/peer> spread_...
#   bench http-health-as-designed-p99 ours=<v>ms peer=<v>ms ratio=<peer/ours> ...
#   bench http-health-same-work ... / bench http-health-same-work-p99 ...
# Env: BENCH_CONNS (default 32 connections), BENCH_THREADS (wrk threads, 1),
# BENCH_LOG_LEVEL (our LOG_LEVEL, default info: one access-log line per
# request), BENCH_REPS (rounds).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) dur=2 ;;
full) dur=10 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
. bench/lib.sh
bench_reps "$mode"
conns=${BENCH_CONNS:-32}
wthreads=${BENCH_THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: scripts/deps.sh bench" >&2; exit 1; }
[ -x "$B/yesapp" ] || { echo "$B/yesapp is missing: make" >&2; exit 1; }
node -e 'require("better-sqlite3")' 2>/dev/null ||
	{ echo "better-sqlite3 is missing from node_modules: scripts/deps.sh bench" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
bench_atexit cleanup

key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

# Starts a peer build (stdout, its access log, discarded) and sets the
# variable NAME to its port, from its {"listening":PORT} line on stderr.
# Args: NAME, env assignments...
start_peer() {
	local name=$1 port
	shift
	mkdir -p "$tmp/$name"
	env "$@" PORT=0 API_KEY="$key" RATE_LIMIT=1000000 DATA_DIR="$tmp/$name" \
		node bench/http/peer.mjs >/dev/null 2>"$tmp/$name.err" &
	pids+=($!)
	for _ in $(seq 150); do
		grep -q '^{"listening":[0-9]*}$' "$tmp/$name.err" && break
		sleep 0.1
	done
	port=$(sed -n 's/^{"listening":\([0-9]*\)}$/\1/p' "$tmp/$name.err")
	[ -n "$port" ] || { echo "$name did not start:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
	printf -v "$name" %s "$port"
}

# Ours listens on a port picked here (its "listening" log line is not
# printed below LOG_LEVEL=info); ready once /health answers.
ours=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
env PORT="$ours" HOST=127.0.0.1 DATA_DIR="$tmp/data" API_KEY="$key" RATE_LIMIT_GLOBAL=1000000 \
	WA_WS_URL=ws://127.0.0.1:1/ws/chat \
	LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" "$B/yesapp" serve >/dev/null 2>"$tmp/ours.err" &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$ours/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$ours/health" >/dev/null || { echo "ours did not start:" >&2; cat "$tmp/ours.err" >&2; exit 1; }
start_peer peer PEER_MODE=as-designed
start_peer same PEER_MODE=same-work

session_id() { # base URL
	curl -fsS -X POST -H "X-API-Key: $key" -H 'Content-Type: application/json' \
		-d '{"name":"bench"}' "$1/api/v1/sessions" | sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p'
}
ours_id=$(session_id "http://127.0.0.1:$ours")
peer_id=$(session_id "http://127.0.0.1:$peer")
same_id=$(session_id "http://127.0.0.1:$same")
[ -n "$ours_id" ] && [ -n "$peer_id" ] && [ -n "$same_id" ] ||
	{ echo "could not create the bench sessions" >&2; exit 1; }

# One wrk run of dur seconds (1 s as a warm-up): "rps" and "p99" lines.
measure() { # url
	local d=$dur
	[ "${BENCH_WARMUP:-0}" = 1 ] && d=1
	BENCH_THREADS=$wthreads BENCH_CONNS=$conns bench_wrk "$d" "$1" -H "X-API-Key: $key"
}

ours_health() { measure "http://127.0.0.1:$ours/health"; }
peer_health() { measure "http://127.0.0.1:$peer/health"; }
same_health() { measure "http://127.0.0.1:$same/health"; }
ours_session() { measure "http://127.0.0.1:$ours/api/v1/sessions/$ours_id"; }
peer_session() { measure "http://127.0.0.1:$peer/api/v1/sessions/$peer_id"; }
same_session() { measure "http://127.0.0.1:$same/api/v1/sessions/$same_id"; }

echo "# $mode: $BENCH_REPS rounds of ${dur}s per figure and server, wrk -t$wthreads -c$conns, $(nproc) cores, LOG_LEVEL=${BENCH_LOG_LEVEL:-info}, load $(cut -d" " -f1-3 /proc/loadavg)" >&2
for route in health session; do
	bench_interleave "ours-$route=ours_$route" "peer-$route=peer_$route" "same-$route=same_$route"
	for cmp in as-designed:peer same-work:same; do
		bench_line "http-$route-${cmp%:*}" rps req/s fmt=%.0f "ours=ours-$route" "peer=${cmp#*:}-$route"
		bench_line "http-$route-${cmp%:*}-p99" p99 ms lower fmt=%.3f "ours=ours-$route" "peer=${cmp#*:}-$route"
	done
done
