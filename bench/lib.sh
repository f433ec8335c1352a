# Shared by the bench/<name>/run.sh that measure ours beside a peer (source
# it; it needs bash, awk and sort). How every such benchmark runs:
#
#   bench_reps quick|full    BENCH_REPS: repetitions per contestant, 3 quick,
#                            5 full (a BENCH_REPS already set wins)
#   bench_interleave LABEL=FN ...
#                            Calls every FN once as a warm-up with
#                            BENCH_WARMUP=1 (output discarded; an FN whose
#                            program warms itself up may return at once), then
#                            BENCH_REPS rounds of FN1 FN2 ... in that order
#                            (A B A B ...: each contestant sees the same
#                            neighbours on a shared machine). An FN measures
#                            once and prints lines "<figure> <value>"; they
#                            are kept as "<label> <round> <figure> <value>".
#   bench_line NAME FIGURE UNIT [higher|lower] [fmt=%.2f] [ours=L] [peer=L] [wall=FIGURE]
#                            Prints, from the kept values,
#     bench NAME ours=<median><unit> peer=<median><unit> ratio=<r>
#           spread_ours=<min>..<max> spread_peer=<min>..<max> spread_ratio=<min>..<max> n=<rounds>
#                            on one line. ratio (of the medians) > 1 means
#                            ours is better: ours/peer for `higher` (the
#                            default: rates), peer/ours for `lower` (latency,
#                            memory). spread_ratio is the range of the
#                            per-round ratios. wall=FIGURE (for figures
#                            measured in CPU time) appends
#                            wall_ours=<median><unit> wall_peer=<median><unit> wall_ratio=<r>.
#                            ours= and peer= name the labels (default: ours,
#                            peer). Fails when a value is missing.
#   bench_wrk SECONDS URL [WRK_ARGS...]
#                            One wrk run (wrk -t1 -c32 unless BENCH_THREADS /
#                            BENCH_CONNS say otherwise, --latency, the extra
#                            args) printing "rps <req/s>" and "p99 <ms>"; fails
#                            when any answer was not 2xx.
#   bench_sim_tls BUILD DIR  starts `BUILD/yesapp sim --tls` on an ephemeral
#                            port (its logs in DIR), stopped at exit; sets
#                            BENCH_SIM_BASE (http://127.0.0.1:<port>)
#   bench_reset              forgets the kept values (a new set of figures)
#   bench_atexit CMD         runs CMD when the script exits (use it instead
#                            of trap ... EXIT, which would drop the others)
#
# The leading "bench NAME ours= peer= ratio=" fields are what tools parse;
# the fields after them may grow.

shopt -s inherit_errexit # set -e holds inside $(FN) too
BENCH_OUT=$(mktemp)
_bench_atexit=('rm -f "$BENCH_OUT"')
_bench_exit() {
	local i
	for ((i = ${#_bench_atexit[@]} - 1; i >= 0; i--)); do eval "${_bench_atexit[i]}" || true; done
}
trap _bench_exit EXIT
bench_atexit() { _bench_atexit+=("$1"); }

bench_reset() { : >"$BENCH_OUT"; }

bench_sim_tls() {
	local pid port=""
	"$1/yesapp" sim --listen 127.0.0.1:0 --tls >"$2/sim.log" 2>"$2/sim.err" &
	pid=$!
	bench_atexit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for _ in $(seq 100); do
		port=$(sed -n 's/.*"message":"sim listening".*"port":\([0-9]*\).*/\1/p' "$2/sim.log" | head -n 1)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "sim did not start: $(cat "$2/sim.err")" >&2; return 1; }
	BENCH_SIM_BASE="http://127.0.0.1:$port"
}

bench_wrk() {
	local out d=$1 url=$2
	shift 2
	out=$(wrk -t"${BENCH_THREADS:-1}" -c"${BENCH_CONNS:-32}" -d"$d"s --latency "$@" "$url")
	if printf '%s\n' "$out" | grep -q 'Non-2xx'; then
		echo "failed requests to $url:" >&2
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" | awk '/^Requests\/sec:/ { print "rps", $2 }
		$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
			printf "p99 %.3f\n", v }'
}

bench_reps() {
	case "$1" in
	quick) BENCH_REPS=${BENCH_REPS:-3} ;;
	full) BENCH_REPS=${BENCH_REPS:-5} ;;
	*) echo "bench_reps: quick or full, not '$1'" >&2; return 2 ;;
	esac
}

# Runs one FN and keeps its lines under label and round; fails when the FN
# fails or prints nothing.
_bench_one() { # label round fn
	local out
	out=$(BENCH_WARMUP=0 "$3")
	[ -n "$out" ] || { echo "bench: $1 printed no figures (round $2)" >&2; return 1; }
	printf '%s\n' "$out" | awk -v l="$1" -v r="$2" 'NF >= 2 { print l, r, $1, $2 }' >>"$BENCH_OUT"
}

bench_interleave() {
	local pair round
	for pair in "$@"; do
		BENCH_WARMUP=1 "${pair#*=}" >/dev/null
	done
	for round in $(seq "${BENCH_REPS:?bench_reps first}"); do
		for pair in "$@"; do
			_bench_one "${pair%%=*}" "$round" "${pair#*=}"
		done
	done
}

# "<median> <min> <max> <n>" of one label's figure.
_bench_stats() { # label figure
	awk -v l="$1" -v f="$2" '$1 == l && $3 == f { print $4 }' "$BENCH_OUT" | sort -g |
		awk '{ v[NR] = $1 }
		END { if (!NR) exit 1
		      m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      print m, v[1], v[NR], NR }'
}

bench_line() {
	local name=$1 fig=$2 unit=$3 dir=higher fmt=%.2f ol=ours pl=peer wall="" o p w1="" w2="" rr arg
	shift 3
	for arg in "$@"; do
		case "$arg" in
		higher | lower) dir=$arg ;;
		fmt=*) fmt=${arg#fmt=} ;;
		ours=*) ol=${arg#ours=} ;;
		peer=*) pl=${arg#peer=} ;;
		wall=*) wall=${arg#wall=} ;;
		*) echo "bench_line: unknown option $arg" >&2; return 2 ;;
		esac
	done
	o=$(_bench_stats "$ol" "$fig") && p=$(_bench_stats "$pl" "$fig") ||
		{ echo "bench $name: no $fig figure from $ol or $pl" >&2; return 1; }
	# per-round ratios, same orientation as ratio
	rr=$(awk -v ol="$ol" -v pl="$pl" -v f="$fig" -v d="$dir" '
		$3 == f && $1 == ol { o[$2] = $4 } $3 == f && $1 == pl { p[$2] = $4 }
		END { n = 0
		      for (r in o) if (r in p && o[r] > 0 && p[r] > 0) {
			x = d == "lower" ? p[r] / o[r] : o[r] / p[r]
			if (!n || x < lo) lo = x; if (!n || x > hi) hi = x; n++ }
		      if (n) printf "%.2f..%.2f", lo, hi; else printf "none" }' "$BENCH_OUT")
	if [ -n "$wall" ]; then
		w1=$(_bench_stats "$ol" "$wall") && w2=$(_bench_stats "$pl" "$wall") ||
			{ echo "bench $name: no $wall figure from $ol or $pl" >&2; return 1; }
	fi
	set -- $o $p $w1 $w2
	awk -v n="$name" -v u="$unit" -v d="$dir" -v f="$fmt" -v rr="$rr" -v wall="$wall" \
		-v om="$1" -v olo="$2" -v ohi="$3" -v cnt="$4" -v pm="$5" -v plo="$6" -v phi="$7" \
		-v wo="${9:-0}" -v wp="${13:-0}" '
		function ratio(a, b) { return (d == "lower" ? (a > 0 ? b / a : 0) : (b > 0 ? a / b : 0)) }
		function v(x) { return sprintf(f, x) }
		BEGIN {
			printf "bench %s ours=%s%s peer=%s%s ratio=%.2f", n, v(om), u, v(pm), u, ratio(om, pm)
			printf " spread_ours=%s..%s spread_peer=%s..%s spread_ratio=%s n=%d", v(olo), v(ohi), v(plo), v(phi), rr, cnt
			if (wall != "")
				printf " wall_ours=%s%s wall_peer=%s%s wall_ratio=%.2f", v(wo), u, v(wp), u, ratio(wo, wp)
			printf "\n" }'
}
