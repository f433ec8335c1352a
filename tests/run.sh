#!/usr/bin/env bash
# Runs every test against what `make test` built and ends with one line
# "N passed, N failed". Usage: tests/run.sh [BUILD_DIR]
#  - C unit tests: release and ASan/UBSan builds
#  - Node tests (node:test): interop with Baileys and HTTP tests against a real
#    `yesapp serve`, all on the ASan/UBSan build
#  - a short smoke run of each fuzz target
# Each binary that a source promises but BUILD_DIR lacks is a failure
# (tests/promised.sh), so nothing passes by being absent.
#  - the Docker image and its health check, where a Docker daemon exists
#    (scripts/docker-check.sh; elsewhere it says it skipped, and only it is)
# YESAPP_TEST_PARTS (default "unit node fuzz docker") picks the parts to run; the
# promised-binaries check always runs (tests/interop/runner.test.mjs runs
# "unit" alone against stub build directories).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
parts=" ${YESAPP_TEST_PARTS:-unit node fuzz docker} "
passed=0
failed=0
failures=()

count() { # name, output, exit code
	local line p f
	line=$(printf '%s\n' "$2" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1)); failures+=("$1 (no summary, exit $3)"); return
	fi
	p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" != 0 ] || [ "$3" != 0 ]; then
		failures+=("$1")
		[ "$f" = 0 ] && failed=$((failed + 1))
	fi
}

# Every binary a source file promises must be there (tests/promised.sh):
# each missing one counts as a failure.
echo "== promised binaries"
out=$(tests/promised.sh "$B"); rc=$?
if [ $rc != 0 ]; then
	printf '%s\n' "$out"
	n=0
	while read -r line; do
		failed=$((failed + 1)); failures+=("$line"); n=$((n + 1))
	done < <(printf '%s\n' "$out" | grep '^missing: ')
	[ $n = 0 ] && { failed=$((failed + 1)); failures+=("tests/promised.sh (exit $rc)"); }
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

[[ $parts == *" unit "* ]] && for dir in "$B" "$B/asan"; do
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== $t"
		out=$("$t" 2>&1); rc=$?
		printf '%s\n' "$out" | grep -v '^ok ' || true
		count "$t" "$out" "$rc"
	done
done

mapfile -t node_tests < <(find tests/interop tests/http -name '*.test.mjs' 2>/dev/null | sort)
if [ ${#node_tests[@]} -gt 0 ] && [[ $parts == *" node "* ]]; then
	echo "== node --test (${#node_tests[@]} files)"
	out=$(YESAPP_BUILD="$B/asan" node --test --test-reporter=tap --test-concurrency=1 --test-force-exit \
		"${node_tests[@]}" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -E '^(not ok|# (pass|fail|tests))|^ *not ok' || true
	# the whole TAP output is kept; a failure prints each failing test's own
	# diagnostics (its YAML block), not only the end of the run
	printf '%s\n' "$out" > "$B/node-tests.log"
	if [ $rc != 0 ]; then
		printf '%s\n' "$out" | awk '
			/^(    )?not ok / { p = 1; n = 0; print; next }
			p && /^(    )?(ok|not ok|# Subtest)/ { p = 0 }
			p && n++ < 60 { print }'
		printf '%s\n' "$out" | tail -n 20
		echo "(the whole node output: $B/node-tests.log)"
	fi
	p=$(printf '%s\n' "$out" | sed -n 's/^# pass \([0-9]*\)$/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^# fail \([0-9]*\)$/\1/p' | tail -n 1)
	count "node" "${p:-0} passed, ${f:-1} failed" "$rc"
fi

[[ $parts == *" fuzz "* ]] && for fz in "$B"/fuzz/fuzz_*; do
	[ -x "$fz" ] || continue
	name=$(basename "$fz")
	echo "== $name (smoke)"
	if tests/fuzz/run.sh "$B/fuzz" "${FUZZ_SMOKE_SECONDS:-10}" "$name" >"$B/fuzz/$name.log" 2>&1; then
		count "$name" "1 passed, 0 failed" 0
	else
		tail -n 30 "$B/fuzz/$name.log"
		count "$name" "0 passed, 1 failed" 1
	fi
done

if [[ $parts == *" docker "* ]]; then
	echo "== docker image"
	out=$(scripts/docker-check.sh 2>&1); rc=$?
	printf '%s\n' "$out"
	if ! printf '%s\n' "$out" | grep -q '^docker-check: skipped'; then
		if [ $rc = 0 ]; then count docker "1 passed, 0 failed" 0; else count docker "0 passed, 1 failed" 1; fi
	fi
fi

for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
