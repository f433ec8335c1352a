#!/usr/bin/env bash
# Idle-connection memory of the frame socket, ours and a Node `ws` peer.
# Usage: bench/socket/run.sh quick|full [BUILD_DIR]   (quick: 1000 connections,
# full: 5000). Needs a release build of build/bench/socket_bench (make bench).
# Prints "bench socket-idle-memory ours=<KiB>KiB peer=<KiB>KiB ratio=<peer/ours> spread_...":
# client-side RSS growth per idle connection, ours against Node `ws` (the
# peer), medians of runs interleaved and repeated (bench/lib.sh: 3 rounds
# quick, 5 full; each program warms up with one connection before it
# measures); the raw figures of every run go to stderr.
# Then the same over wss:// ("bench socket-idle-memory-tls ..."): the listener
# serves TLS 1.3 with a throw-away P-256 certificate made here by openssl(1),
# which both clients trust.
# Without node and node_modules/ws there is no peer: figures on stderr only.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) n=1000 ;;
full) n=5000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
bin="$B/bench/socket_bench"
[ -x "$bin" ] || { echo "missing $bin (run make bench)" >&2; exit 1; }
# client and server each hold n sockets
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((n + 100)) ]; then
	ulimit -n $((n + 100)) 2>/dev/null || { echo "ulimit -n too low for $n" >&2; exit 1; }
fi
tls=$(mktemp -d)
trap 'rm -rf "$tls"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
cp "$tls/cert.pem" "$tls/ca.pem"
if ! command -v node >/dev/null || [ ! -d node_modules/ws ]; then
	"$bin" "$n" >&2
	"$bin" --tls "$tls" "$n" >&2
	echo "bench socket: no node/ws peer, figures above only" >&2
	exit 0
fi
. bench/lib.sh
bench_atexit 'rm -rf "$tls"'
bench_reps "$mode"
targs=()
# one run each: the raw line to stderr, "kib <KiB per connection>" kept
ours() {
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return
	out=$("$bin" "${targs[@]}" "$n")
	printf '%s\n' "$out" >&2
	printf '%s\n' "$out" | sed -n 's/.* ours=\([-0-9.]*\)KiB\/conn.*/kib \1/p'
}
peer() {
	local out
	[ "${BENCH_WARMUP:-0}" = 1 ] && return
	out=$(node --expose-gc bench/socket/node_idle.mjs "$bin" "$n" ${targs[@]:+"$tls"})
	printf '%s\n' "$out" >&2
	printf '%s\n' "$out" | sed -n 's/.* node-ws=\([-0-9.]*\)KiB\/conn.*/kib \1/p'
}
bench_interleave ours=ours peer=peer
bench_line socket-idle-memory kib KiB lower fmt=%.2f
bench_reset
targs=(--tls "$tls")
bench_interleave ours=ours peer=peer
bench_line socket-idle-memory-tls kib KiB lower fmt=%.2f
