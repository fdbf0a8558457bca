#!/usr/bin/env bash
# tests/ops/run.sh (`make test-ops`; tests/run_all.sh runs it as one step):
# every tests/ops/test_*.sh in turn (other suites drop theirs in here), each
# ending with "N passed, N failed"; prints the totals the same way and
# fails when any test does. Tests that need Redis, MariaDB and Kafka use the
# test services: when they are not up (make test-ops alone), this runner
# starts them (infra/services.sh, test ports, .run-test) and stops them at
# the end. Each test is bounded (OPS_TEST_TIMEOUT, 600 s).
# Env: BUILD (build), TEST_RUN_DIR, TEST_{REDIS,MARIADB,KAFKA,KAFKA_CONTROLLER}_PORT.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export BUILD=${BUILD:-build}
export RUN_DIR=${RUN_DIR:-${TEST_RUN_DIR:-$ROOT/.run-test}}
export REDIS_PORT=${REDIS_PORT:-${TEST_REDIS_PORT:-6390}} MARIADB_PORT=${MARIADB_PORT:-${TEST_MARIADB_PORT:-3317}}
export KAFKA_PORT=${KAFKA_PORT:-${TEST_KAFKA_PORT:-9102}}
export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-${TEST_KAFKA_CONTROLLER_PORT:-9103}}

passed=0 failed=0
failures=()
started_services=0
if ! bash infra/services.sh status >/dev/null 2>&1; then
	echo "ops: starting the test services (infra/services.sh, $RUN_DIR)"
	mkdir -p "$RUN_DIR"
	if bash infra/services.sh start 9>&- >"$RUN_DIR/ops-services.log" 2>&1; then
		started_services=1
	else
		tail -20 "$RUN_DIR/ops-services.log"
		echo "ops: the test services did not start; tests that need them fail"
	fi
fi
cleanup() {
	if [ "$started_services" = 1 ]; then
		echo "ops: stopping the test services"
		bash infra/services.sh stop >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

for t in tests/ops/test_*.sh; do
	[ -f "$t" ] || continue
	echo "== $t"
	start=$SECONDS
	out=$(timeout -k 10 "${OPS_TEST_TIMEOUT:-600}" bash "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
	passed=$((passed + ${p:-0}))
	if [ "$rc" -ne 0 ] || [ "${f:-0}" -ne 0 ]; then
		[ "${f:-0}" -gt 0 ] || f=1
		failed=$((failed + f))
		failures+=("$t")
	fi
	echo "-- $t: $((SECONDS - start)) s"
done

[ "${#failures[@]}" -eq 0 ] || printf 'failing: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
