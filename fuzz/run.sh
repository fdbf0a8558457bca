#!/usr/bin/env bash
# Runs libFuzzer harnesses built by fuzz/fuzz.mk, each for a bounded time,
# from its committed seeds (fuzz/corpus/<target>/, read only) plus what
# earlier runs found ($BUILD/fuzz/corpus/<target>/, where new inputs go).
# A crash is kept under $BUILD/fuzz/crashes/<target>/ and fails the run.
#
#   bash fuzz/run.sh [--seconds N] [target...]     default: 300 s, every target
#
# Every target: one per harness source fuzz/fuzz_*.c (fuzz/fuzz.mk links
# each to $BUILD/fuzz/bin/<name>); one that is not built fails the run.
#
# Ends with "N passed, N failed" (one per target), like the other sections
# of tests/run_all.sh.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
seconds=300
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if [ ${#targets[@]} -eq 0 ]; then
	for c in fuzz/fuzz_*.c; do
		targets+=("$(basename "$c" .c)")
	done
fi

passed=0 failed=0
for t in "${targets[@]}"; do
	bin="$BUILD/fuzz/bin/$t"
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built (make fuzz-build)"
		failed=$((failed + 1))
		continue
	fi
	corpus="$BUILD/fuzz/corpus/$t" crashes="$BUILD/fuzz/crashes/$t"
	mkdir -p "$corpus" "$crashes"
	dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	log="$BUILD/fuzz/$t.log"
	before=$(ls "$crashes" | wc -l)
	# timeout: a hang in the harness is a failure too, not a stuck test run
	timeout $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$crashes/" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	after=$(ls "$crashes" | wc -l)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
		echo "ok   $t: ${runs:-?} runs in ${seconds}s"
		passed=$((passed + 1))
	else
		echo "FAIL $t (exit $rc), log $log:"
		grep -E 'ERROR|SUMMARY|invariant|fuzz_http:|Test unit written' "$log" | head -20 | sed 's/^/     /'
		for c in $(ls -t "$crashes" | head -3); do
			echo "     reproduce: $bin $crashes/$c"
		done
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
