#!/usr/bin/env bash
# Codec benchmark: our C codec (codec_bench) against Baileys' WABinary on the
# same corpus, for dictionary v3 (Baileys 7) and v2 (Baileys 6).
# Usage: bench/codec/run.sh quick|full [BUILD_DIR]   (quick: a few seconds)
# Prints per dictionary:
#   bench codec-encode ours=<v>nodes/s peer=<v>nodes/s ratio=<r>
#   bench codec-decode ours=<v>nodes/s peer=<v>nodes/s ratio=<r>
# and the same in MB/s (bytes of encoded frames per second). Rates are per
# second of CPU time of each process, so that neighbours on a shared machine
# do not skew the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-build}
case "$mode" in
quick) secs=0.5; count=2000 ;;
full) secs=5; count=10000 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
# (the Makefile's bench pattern also matches codec_bench.d and prints a link
# error for it, harmlessly: show make's output only if the binary failed)
if ! out=$(make --no-print-directory MODE=release BUILD="$B" "$B/bench/codec_bench" 2>&1) ||
	[ ! -x "$B/bench/codec_bench" ]; then
	printf '%s\n' "$out" >&2
	exit 1
fi
val() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
for dict in 3 2; do
	corpus="$B/bench/codec-corpus-v$dict.bin"
	node bench/codec/make-corpus.mjs "$dict" "$count" "$corpus"
	ours=$("$B/bench/codec_bench" "$dict" "$corpus" "$secs")
	peer=$(node bench/codec/peer_bench.mjs "$dict" "$corpus" "$secs")
	echo "# dictionary v$dict, $count nodes, $(stat -c %s "$corpus") bytes (peer: baileys$((dict + 4)))"
	for op in encode decode; do
		o=$(val "$ours" "${op}_nodes_per_s"); p=$(val "$peer" "${op}_nodes_per_s")
		echo "bench codec-$op ours=${o}nodes/s peer=${p}nodes/s ratio=$(ratio "$o" "$p")"
		o=$(val "$ours" "${op}_mb_per_s"); p=$(val "$peer" "${op}_mb_per_s")
		echo "bench codec-$op-mb ours=${o}MB/s peer=${p}MB/s ratio=$(ratio "$o" "$p")"
	done
done
