#!/usr/bin/env bash
# HTTP serving benchmark: `yesapp serve` (release build) beside an Express 4
# peer (bench/http/peer.mjs) on the same routes, measured with wrk in one run.
#   bench/http/run.sh quick|full [BUILD_DIR]
# quick: 5 s per figure, full: 20 s. Rate limits are raised for both servers
# (RATE_LIMIT_GLOBAL=1000000/min) so the run measures serving, not refusing;
# both still run their rate limiter. Our server keeps its default access log
# (info level; stdout is discarded). Prints:
#   bench http-health ours=<v>req/s peer=<v>req/s ratio=<ours/peer>
#   bench http-health-p99 ours=<v>ms peer=<v>ms ratio=<peer/ours>
#   bench http-session ... / bench http-session-p99 ...
# Env: BENCH_CONNS (default 32 connections), BENCH_THREADS (wrk threads, 1),
# BENCH_LOG_LEVEL (our LOG_LEVEL, default info: one access-log line per request).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) dur=5 ;;
full) dur=20 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
conns=${BENCH_CONNS:-32}
wthreads=${BENCH_THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing: scripts/deps.sh bench" >&2; exit 1; }
[ -x "$B/yesapp" ] || { echo "$B/yesapp is missing: make" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

# Starts a server whose stdout goes through a FIFO; the first line matching
# the port regex gives the port. Args: name, sed expression, command...
start() {
	local name=$1 expr=$2 port=""
	shift 2
	mkfifo "$tmp/$name.out"
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pids+=($!)
	# Read until the port shows up, then drain the FIFO with cat (fast).
	{ while IFS= read -r line; do
		port=$(printf '%s\n' "$line" | sed -n "$expr")
		if [ -n "$port" ]; then
			echo "$port" >"$tmp/$name.port"
			break
		fi
	  done
	  cat >/dev/null; } <"$tmp/$name.out" >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[ -s "$tmp/$name.port" ] && break
		sleep 0.1
	done
	[ -s "$tmp/$name.port" ] || { echo "$name did not start:" >&2; cat "$tmp/$name.err" >&2; exit 1; }
}

# Ours listens on a port picked here (its "listening" log line is not
# printed below LOG_LEVEL=info); ready once /health answers.
ours=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
env PORT="$ours" HOST=127.0.0.1 DATA_DIR="$tmp/data" API_KEY="$key" RATE_LIMIT_GLOBAL=1000000 \
	LOG_LEVEL="${BENCH_LOG_LEVEL:-info}" "$B/yesapp" serve >/dev/null 2>"$tmp/ours.err" &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$ours/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "http://127.0.0.1:$ours/health" >/dev/null || { echo "ours did not start:" >&2; cat "$tmp/ours.err" >&2; exit 1; }
start peer 's/^{"listening":\([0-9]*\)}$/\1/p' \
	env PORT=0 API_KEY="$key" RATE_LIMIT=1000000 node bench/http/peer.mjs
peer=$(cat "$tmp/peer.port")

session_id() { # base URL
	curl -fsS -X POST -H "X-API-Key: $key" -H 'Content-Type: application/json' \
		-d '{"name":"bench"}' "$1/api/v1/sessions" | sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p'
}
ours_id=$(session_id "http://127.0.0.1:$ours")
peer_id=$(session_id "http://127.0.0.1:$peer")
[ -n "$ours_id" ] && [ -n "$peer_id" ] || { echo "could not create the bench sessions" >&2; exit 1; }

# wrk run -> "<req/s> <p99 ms>"; fails if any response was not 2xx.
measure() { # url seconds
	local out rps p99
	out=$(wrk -t"$wthreads" -c"$conns" -d"$2"s --latency -H "X-API-Key: $key" "$1")
	if printf '%s\n' "$out" | grep -q 'Non-2xx'; then
		echo "non-2xx responses from $1:" >&2
		printf '%s\n' "$out" >&2
		exit 1
	fi
	rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
	p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
		printf "%.3f", v }')
	echo "$rps $p99"
}

report() { # name ours_url peer_url
	local o p
	measure "$2" 1 >/dev/null
	o=$(measure "$2" "$dur")
	measure "$3" 1 >/dev/null
	p=$(measure "$3" "$dur")
	set -- "$1" $o $p
	awk -v n="$1" -v orps="$2" -v op99="$3" -v prps="$4" -v pp99="$5" 'BEGIN {
		printf "bench %s ours=%.0freq/s peer=%.0freq/s ratio=%.2f\n", n, orps, prps, orps / prps
		printf "bench %s-p99 ours=%.3fms peer=%.3fms ratio=%.2f\n", n, op99, pp99, pp99 / op99 }'
}

echo "# $mode: ${dur}s per figure, wrk -t$wthreads -c$conns, $(nproc) cores, LOG_LEVEL=${BENCH_LOG_LEVEL:-info}, load $(cut -d" " -f1-3 /proc/loadavg)" >&2
report http-health "http://127.0.0.1:$ours/health" "http://127.0.0.1:$peer/health"
report http-session "http://127.0.0.1:$ours/api/v1/sessions/$ours_id" \
	"http://127.0.0.1:$peer/api/v1/sessions/$peer_id"
