#!/usr/bin/env bash
# Webhook benchmark: deliveries/s of a flood (BENCH_EVENTS, default 10000
# quick and full) queued in the outbox of one session, to a keep-alive
# receiver on 127.0.0.1, one at a time as the per-(session, URL) order
# requires, and the server's peak RSS while draining it (bench/webhooks/drain.mjs).
# No peer: figures on stderr only.
#   bench/webhooks/run.sh quick|full [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in
quick) reps=1 ;;
full) reps=3 ;;
*) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;;
esac
[ -x "$B/yesapp" ] && [ -x "$B/tools/seed_events" ] ||
	{ echo "$B/yesapp or $B/tools/seed_events is missing: make bench" >&2; exit 1; }
echo "# webhooks (no peer; figures only)" >&2
for ((i = 0; i < reps; i++)); do
	YESAPP_BUILD="$B" node bench/webhooks/drain.mjs | sed 's/^/webhooks-drain /' >&2
done
