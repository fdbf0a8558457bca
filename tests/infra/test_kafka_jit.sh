#!/usr/bin/env bash
# tests/infra/test_kafka_jit.sh: infra/kafka.sh's KAFKA_JIT. By default (c1)
# the broker JVM compiles with C1 only (-XX:TieredStopAtLevel=1, the fastest
# start, for tests); KAFKA_JIT=full leaves C2 on (the orders benchmark: less
# broker CPU per order once warm); any other value is refused before
# anything starts. Private ports and RUN_DIR; ends with "N passed, N
# failed"; ~15 s.
# Env: KAFKA_JIT_TEST_PORT (9135; the controller the next port).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RUN_DIR
RUN_DIR=$(mktemp -d /tmp/kafka-jit-test.XXXXXX)
export KAFKA_PORT=${KAFKA_JIT_TEST_PORT:-9135} KAFKA_CONTROLLER_PORT=$((${KAFKA_JIT_TEST_PORT:-9135} + 1))
export KAFKA_TOPICS=ticketing.orders KAFKA_TOPIC_PARTITIONS=1
unset KAFKA_JIT KAFKA_JVM_OPTS
cleanup() { bash "$ROOT/infra/kafka.sh" stop >/dev/null 2>&1; rm -rf "$RUN_DIR"; }
trap cleanup EXIT

passed=0 failed=0
check() { # name command...
	local name=$1
	shift
	if "$@"; then passed=$((passed + 1)); printf 'ok   %s\n' "$name"
	else failed=$((failed + 1)); printf 'FAIL %s\n' "$name"; fi
}

broker_cmdline() {
	local pid
	pid=$(pgrep -f "kafka.Kafka $RUN_DIR/kafka/server.properties" | head -n 1) || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline"
}
c1_only() { broker_cmdline | grep -q -- '-XX:TieredStopAtLevel=1 '; }
with_c2() { broker_cmdline >/dev/null && ! c1_only; }

check "KAFKA_JIT=c2 is refused" eval '! KAFKA_JIT=c2 timeout 30 bash "$ROOT/infra/kafka.sh" start >"$RUN_DIR/refused.out" 2>&1'
check "with the reason" grep -q 'KAFKA_JIT must be c1 or full' "$RUN_DIR/refused.out"
check "the default broker starts" timeout 120 bash "$ROOT/infra/kafka.sh" start
check "with C1 only" c1_only
check "it stops" timeout 60 bash "$ROOT/infra/kafka.sh" stop
check "KAFKA_JIT=full starts" env KAFKA_JIT=full timeout 120 bash "$ROOT/infra/kafka.sh" start
check "with C2 left on" with_c2

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
