#!/usr/bin/env bash
# Idle-connection memory of the frame socket, ours and a Node `ws` peer.
# Usage: bench/socket/run.sh quick|full [BUILD_DIR]   (quick: 1000 connections,
# full: 5000). Needs a release build of build/bench/socket_bench (make bench).
# Prints "bench socket-idle-memory ..." and "bench socket-idle-memory-peer ...".
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-build}
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
"$bin" "$n"
if command -v node >/dev/null && [ -d node_modules/ws ]; then
	node --expose-gc bench/socket/node_idle.mjs "$bin" "$n"
fi
