#!/bin/sh
# Installs what is needed, builds, and runs the whole test suite twice:
# a normal -Werror build and an AddressSanitizer + UBSan build.  Ends with
# one line "N passed, N failed" over both runs; exits non-zero on any
# failure or when no test ran.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh

run_suite() { # builddir [meson setup options...]
	dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; exit 1; }
	fi
	ninja -C "$dir"
	rm -f "$dir/meson-logs/testlog.json"
	# 'known-bug': tests of bugs not fixed yet (tests/meson.build says
	# which); run them by hand with --suite known-bug.
	meson test -C "$dir" --print-errorlogs --num-processes 2 \
		--no-suite known-bug || true
}

run_suite build
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
	run_suite build-asan -Db_sanitize=address,undefined -Dbench=false
python3 scripts/summary.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
