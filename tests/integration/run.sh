#!/usr/bin/env bash
# Runs the integration suite (pytest, arguments passed on) against running
# services (infra/services.sh start, same environment).
#   tests/integration/run.sh [--asan] [pytest args...]   (default: -q tests/integration)
# --asan: against the ASan + UBSan ticketd ($BUILD/asan/ticketd), with options
# that make any report fail the run: every error halts ticketd, ASan/LSan
# reports go to $RUN_DIR/sanitizer/asan.<pid> (UBSan's to ticketd's log),
# and the run fails if any report shows up (a report from a ticketd that a
# test stopped or restarted counts too);
# leaks are checked at each clean exit, with tests/sanitizers/lsan.supp for
# known third-party leaks.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
RUN_DIR=${RUN_DIR:-$ROOT/.run-test}
asan=0
if [[ ${1:-} == --asan ]]; then asan=1; shift; fi
(($#)) || set -- -q tests/integration

if ((asan == 0)); then
	exec python3 -m pytest -p no:cacheprovider "$@"
fi
bin=$ROOT/$BUILD/asan/ticketd
[[ -x $bin ]] || { echo "integration: $bin not built (make $BUILD/asan/ticketd)" >&2; exit 1; }
san=$RUN_DIR/sanitizer
rm -rf "$san"
mkdir -p "$san"
supp=$ROOT/tests/sanitizers/lsan.supp
export TICKETD_BIN=$bin
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$san/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
# UBSan inside an ASan build ignores log_path and writes to stderr, which
# conftest.py sends to $RUN_DIR/logs/*.log: remember how long each log is
# now and look only at what this run appends.
declare -A log_size=()
for f in "$RUN_DIR"/logs/*.log; do
	[[ -f $f ]] && log_size[$f]=$(stat -c %s "$f")
done
python3 -m pytest -p no:cacheprovider "$@"
rc=$?
found=0
for f in $(find "$san" -type f 2>/dev/null | sort); do
	((found++ == 0)) && echo "integration: sanitizer reports from the ASan + UBSan ticketd:" >&2
	printf -- '--- %s\n' "$f" >&2
	head -60 "$f" >&2
done
for f in "$RUN_DIR"/logs/*.log; do
	[[ -f $f ]] || continue
	hits=$(tail -c "+$((${log_size[$f]:-0} + 1))" "$f" |
		grep -a -n -A20 -E 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' | head -60)
	[[ -n $hits ]] || continue
	((found++ == 0)) && echo "integration: sanitizer reports from the ASan + UBSan ticketd:" >&2
	printf -- '--- %s (new lines)\n%s\n' "$f" "$hits" >&2
done
if ((found)); then
	echo "integration: FAILED: sanitizer reports (above; $san, $RUN_DIR/logs)" >&2
	((rc)) || rc=1
fi
exit "$rc"
