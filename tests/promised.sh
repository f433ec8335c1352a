#!/usr/bin/env bash
# Checks that a build directory holds every binary the sources promise, so
# that tests/run.sh cannot pass by omission (a binary that failed to build,
# or was never built, would otherwise be skipped silently).
# Usage: tests/promised.sh BUILD_DIR
# Promised: for tests/unit/test_X.c, BUILD_DIR/tests/test_X and
# BUILD_DIR/asan/tests/test_X; for tests/tools/X.c, BUILD_DIR/asan/tools/X
# (the Node tests run them); for tests/fuzz/fuzz_X.c, BUILD_DIR/fuzz/fuzz_X.
# Prints "missing: PATH" for each absent (or non-executable) one; exits 1 if any.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:?usage: tests/promised.sh BUILD_DIR}
missing=0
want() {
	if [ ! -x "$1" ]; then
		echo "missing: $1"
		missing=$((missing + 1))
	fi
}
for src in tests/unit/test_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	want "$B/tests/$name"
	want "$B/asan/tests/$name"
done
for src in tests/tools/*.c; do
	[ -e "$src" ] || continue
	want "$B/asan/tools/$(basename "$src" .c)"
done
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	want "$B/fuzz/$(basename "$src" .c)"
done
[ "$missing" = 0 ]
