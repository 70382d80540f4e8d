#!/usr/bin/env bash
#
# tests/asan.sh - the suites of make test (unit, black-box, expect, soak)
# against a build with clang's AddressSanitizer and UndefinedBehaviorSanitizer
# (make check-asan builds it, then runs this).
#
# A sanitizer report goes to a file of its own, REPORTS/SUITE.PID (a test
# that reads stderr cannot swallow it), and ends the process with status
# 86, which no chat status is. Every suite runs, even after a failure, so
# that every report is collected; then the reports are shown, at most
# SHOW_MAX of them, and how many were not.
#
# Usage: bash tests/asan.sh [BUILD_DIR]
# BUILD_DIR (default tests/out/asan) holds chat and unit as
# `make tests/out/asan/chat tests/out/asan/unit` builds them; the reports go
# to BUILD_DIR/reports, emptied first. Exits 1 if a suite failed or a
# report appeared, and says which on its last line.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHOW_MAX=5		# reports shown in full; the rest are only counted
# Not detect_stack_use_after_return: its fake stacks, mapped on first use,
# add a megabyte to the peak memory that a black-box test bounds.
ASAN_BASE=halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1
ASAN_BASE+=:strict_string_checks=1:print_stacktrace=1
UBSAN_BASE=halt_on_error=1:exitcode=86:print_stacktrace=1:report_error_type=1
SUITES=0		# the suites run
FAILED=()		# the suites that failed

# === Running the suites ======================================================

# suite NAME COMMAND...: run COMMAND with the sanitizers' reports going to
# REPORTS/NAME.PID; add NAME to FAILED if it fails.
suite() {
	local name=$1

	shift
	echo "== $name (ASan+UBSan)"
	(( ++SUITES ))
	ASAN_OPTIONS=$ASAN_BASE:log_path=$REPORTS/$name \
	    UBSAN_OPTIONS=$UBSAN_BASE:log_path=$REPORTS/$name \
	    CHAT=$OUT/chat "$@" || FAILED+=("$name")
}

# show_reports: print the first SHOW_MAX reports to stderr, and how many
# were not shown; set REPORT_COUNT.
show_reports() {
	local reports report

	shopt -s nullglob
	reports=("$REPORTS"/*)
	shopt -u nullglob
	REPORT_COUNT=${#reports[@]}
	for report in "${reports[@]:0:SHOW_MAX}"; do
		echo "asan.sh: sanitizer report $report:"
		cat -- "$report"
	done >&2
	(( REPORT_COUNT > SHOW_MAX )) &&
	    echo "asan.sh: $(( REPORT_COUNT - SHOW_MAX )) more report(s) not" \
	    "shown (ls $REPORTS)" >&2
	return 0
}

# === Main ====================================================================

if (( $# > 1 )); then
	echo "usage: bash tests/asan.sh [BUILD_DIR]" >&2
	exit 2
fi
OUT=$(cd "${1:-$ROOT/tests/out/asan}" 2>/dev/null && pwd) || {
	echo "asan.sh: no build directory ${1:-$ROOT/tests/out/asan};" \
	    "run make tests/out/asan/chat tests/out/asan/unit" >&2
	exit 1
}
for program in chat unit; do
	if [[ ! -x $OUT/$program ]]; then
		echo "asan.sh: $OUT/$program is not built;" \
		    "run make tests/out/asan/chat tests/out/asan/unit" >&2
		exit 1
	fi
done
REPORTS=$OUT/reports
rm -rf -- "$REPORTS" && mkdir -p -- "$REPORTS" || exit 1
# A suite stopped by ^C stops the rest too.
trap 'exit 130' INT TERM HUP
cd "$ROOT" || exit 1

suite unit "$OUT/unit"
suite blackbox bash tests/blackbox.sh
suite interactive sh tests/expect.sh tests/interactive.exp
suite editor sh tests/expect.sh tests/editor.exp
suite screen bash tests/screen.sh
suite soak bash tests/soak.sh

show_reports
if (( ${#FAILED[@]} || REPORT_COUNT )); then
	echo "asan.sh: FAILED: ${#FAILED[@]} of $SUITES suites failed" \
	    "${FAILED[*]:+(${FAILED[*]}) }and $REPORT_COUNT sanitizer" \
	    "report(s) in $REPORTS" >&2
	exit 1
fi
echo "asan.sh: all $SUITES suites passed, no sanitizer reports"
