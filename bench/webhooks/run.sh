#!/usr/bin/env bash
# Webhook benchmarks (bench/lib.sh format, ours and the peer interleaved):
#   bench webhooks-drain      deliveries/s of a flood of BENCH_EVENTS events
#       (3,000 quick, 10,000 full) seeded into one session's outbox, to a
#       keep-alive receiver on 127.0.0.1, one at a time as the per-(session,
#       URL) order requires, every body signed (bench/webhooks/drain.mjs).
#       Peer: the same work in Node on the same database (better-sqlite3,
#       fetch, node:crypto HMAC; bench/webhooks/drain-peer.mjs).
#   bench webhooks-drain-rss  peak RSS of the process that drained (lower is better)
#   bench webhooks-slow-receiver-p50 / -p90
#       Baileys 6 -> our number -> the `message` event on our live stream, per
#       message (bench/webhooks/slowpath.mjs), while the session's webhook
#       receiver answers each delivery after 1 s ("ours") beside the same
#       run with a receiver that answers at once ("peer" here is that
#       baseline, not another product): ratio 1.00 means a slow receiver adds
#       nothing to the message path (the target); below 1 it slows it.
#   bench/webhooks/run.sh quick|full [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) events=${BENCH_EVENTS:-3000} msgs=${BENCH_MESSAGES:-20} BENCH_REPS=${BENCH_REPS:-1} ;;
full) events=${BENCH_EVENTS:-10000} msgs=${BENCH_MESSAGES:-60} BENCH_REPS=${BENCH_REPS:-3} ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/yesapp" ] && [ -x "$B/tools/seed_events" ] ||
	{ echo "$B/yesapp or $B/tools/seed_events is missing: make bench" >&2; exit 1; }
export YESAPP_BUILD=$B BENCH_EVENTS=$events BENCH_MESSAGES=$msgs
. bench/lib.sh

# Each program starts its own processes: nothing to warm up across runs.
drain_ours() { [ "$BENCH_WARMUP" = 1 ] || node bench/webhooks/drain.mjs; }
drain_peer() { [ "$BENCH_WARMUP" = 1 ] || node bench/webhooks/drain.mjs peer; }
slow_1s() { [ "$BENCH_WARMUP" = 1 ] || DELAY_MS=1000 node bench/webhooks/slowpath.mjs; }
slow_0() { [ "$BENCH_WARMUP" = 1 ] || DELAY_MS=0 node bench/webhooks/slowpath.mjs; }

bench_interleave ours=drain_ours peer=drain_peer
bench_line webhooks-drain deliveries_per_s /s higher fmt=%.0f
bench_line webhooks-drain-rss peak_rss_mib MiB lower fmt=%.1f
bench_reset
bench_interleave ours=slow_1s peer=slow_0
bench_line webhooks-slow-receiver-p50 p50_ms ms lower
bench_line webhooks-slow-receiver-p90 p90_ms ms lower
