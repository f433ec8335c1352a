#!/usr/bin/env bash
# Idle-connection memory of the frame socket, ours and a Node `ws` peer.
# Usage: bench/socket/run.sh quick|full [BUILD_DIR]   (quick: 1000 connections,
# full: 5000). Needs a release build of build/bench/socket_bench (make bench).
# Prints "bench socket-idle-memory ours=<KiB>KiB peer=<KiB>KiB ratio=<peer/ours>":
# client-side RSS growth per idle connection, ours against Node `ws` (the
# peer, measured in the same run); the raw figures of both go to stderr.
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
ours_out=$("$bin" "$n")
printf '%s\n' "$ours_out" >&2
if ! command -v node >/dev/null || [ ! -d node_modules/ws ]; then
	echo "bench socket: no node/ws peer, figures above only" >&2
	exit 0
fi
peer_out=$(node --expose-gc bench/socket/node_idle.mjs "$bin" "$n")
printf '%s\n' "$peer_out" >&2
o=$(printf '%s\n' "$ours_out" | sed -n 's/.* ours=\([-0-9.]*\)KiB\/conn.*/\1/p')
p=$(printf '%s\n' "$peer_out" | sed -n 's/.* node-ws=\([-0-9.]*\)KiB\/conn.*/\1/p')
[ -n "$o" ] && [ -n "$p" ] || { echo "bench socket: missing figure" >&2; exit 1; }
awk -v o="$o" -v p="$p" 'BEGIN {
	printf "bench socket-idle-memory ours=%.2fKiB peer=%.2fKiB ratio=%s\n", o, p,
		(o > 0 ? sprintf("%.2f", p / o) : "inf") }'
