#!/usr/bin/env bash
# Codec benchmark: our C codec (codec_bench) against Baileys' WABinary on the
# same corpus, for dictionary v3 (Baileys 7) and v2 (Baileys 6).
# Usage: bench/codec/run.sh quick|full [BUILD_DIR]   (quick: a few seconds)
# Ours and the peer run interleaved, repeated (bench/lib.sh: 3 rounds quick,
# 5 full), each process warming up in itself (SECONDS / 2 untimed per op).
# Prints per dictionary (v3, v2), medians and spreads:
#   bench codec-encode-v3 ours=<v>nodes/s peer=<v>nodes/s ratio=<r> spread_... wall_ours=.. wall_peer=.. wall_ratio=..
#   bench codec-decode-v3 ...
# and the same in MB/s (codec-encode-mb-v3, ...: bytes of encoded frames per
# second). ours=/peer= are per second of CPU time of each process, so that
# neighbours on a shared machine do not skew the ratio; wall_ours=/wall_peer=
# are the same runs per wall-clock second.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) secs=0.3; count=2000 ;;
full) secs=5; count=10000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
. bench/lib.sh
bench_reps "$mode"
# (the Makefile's bench pattern also matches codec_bench.d and prints a link
# error for it, harmlessly: show make's output only if the binary failed)
if ! out=$(make --no-print-directory MODE=release BUILD="$B" "$B/bench/codec_bench" 2>&1) ||
	[ ! -x "$B/bench/codec_bench" ]; then
	printf '%s\n' "$out" >&2
	exit 1
fi
# "<figure> <value>" lines from a program's key=value line
figures() { tr ' ' '\n' | sed -n 's/^\([a-z_]*\)=\([0-9.]*\)$/\1 \2/p'; }
ours() { [ "${BENCH_WARMUP:-0}" = 1 ] || "$B/bench/codec_bench" "$dict" "$corpus" "$secs" | figures; }
peer() { [ "${BENCH_WARMUP:-0}" = 1 ] || node bench/codec/peer_bench.mjs "$dict" "$corpus" "$secs" | figures; }
for dict in 3 2; do
	corpus="$B/bench/codec-corpus-v$dict.bin"
	node bench/codec/make-corpus.mjs "$dict" "$count" "$corpus"
	echo "# dictionary v$dict, $count nodes, $(stat -c %s "$corpus") bytes (peer: baileys$((dict + 4))), $BENCH_REPS rounds" >&2
	bench_reset
	bench_interleave ours=ours peer=peer
	for op in encode decode; do
		bench_line "codec-$op-v$dict" "${op}_nodes_per_s" nodes/s fmt=%.0f "wall=${op}_wall_nodes_per_s"
		bench_line "codec-$op-mb-v$dict" "${op}_mb_per_s" MB/s fmt=%.2f "wall=${op}_wall_mb_per_s"
	done
done
