#!/usr/bin/env bash
# tests/infra/test_kafka_cluster_id.sh: infra/kafka.sh formats and starts a
# broker whose random cluster id begins with '-' (one id in 64 does). The
# storage tool once took such an id after `-t` for an option, and a fresh
# clone's `make test` failed with "formatting Kafka storage failed". Private
# ports and RUN_DIR; ends with "N passed, N failed"; ~10 s.
# Env: KAFKA_ID_TEST_PORT (9131; the controller the next port).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export RUN_DIR
RUN_DIR=$(mktemp -d /tmp/kafka-id-test.XXXXXX)
export KAFKA_PORT=${KAFKA_ID_TEST_PORT:-9131} KAFKA_CONTROLLER_PORT=$((${KAFKA_ID_TEST_PORT:-9131} + 1))
export KAFKA_TOPICS=ticketing.orders KAFKA_TOPIC_PARTITIONS=1
cleanup() { bash "$ROOT/infra/kafka.sh" stop >/dev/null 2>&1; rm -rf "$RUN_DIR"; }
trap cleanup EXIT

passed=0 failed=0
check() { # name command...
	local name=$1
	shift
	if "$@"; then passed=$((passed + 1)); printf 'ok   %s\n' "$name"
	else failed=$((failed + 1)); printf 'FAIL %s\n' "$name"; fi
}

# 16 bytes whose first 6 bits are 111110: base64url '-'
mkdir -p "$RUN_DIR/kafka"
id=$({ printf '\370'; head -c 15 /dev/urandom; } | base64 | tr '+/' '-_' | tr -d '=\n')
printf '%s\n' "$id" >"$RUN_DIR/kafka/cluster.id"
check "the id begins with '-' ($id)" test "${id:0:1}" = "-"
check "the broker formats and starts with it" timeout 120 bash "$ROOT/infra/kafka.sh" start
check "it answers" timeout 30 bash "$ROOT/infra/kafka.sh" status

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
