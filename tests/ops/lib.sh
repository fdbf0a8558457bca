# tests/ops/lib.sh: what the operations tests share (sourced).
# ok/fail/skip print one line each; finish prints "N passed, N failed"
# (what tests/run_all.sh and tests/ops/run.sh add up) and sets the status.
# The services are the test ones (tests/ops/run.sh starts them if needed):
# REDIS_PORT, MARIADB_PORT, KAFKA_PORT; ticketd and paymentd take the
# integration suite's private ports (the suites run one after the other).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export RUN_DIR=${RUN_DIR:-${TEST_RUN_DIR:-$ROOT/.run-test}}
export REDIS_PORT=${REDIS_PORT:-${TEST_REDIS_PORT:-6390}}
export MARIADB_PORT=${MARIADB_PORT:-${TEST_MARIADB_PORT:-3317}}
export KAFKA_PORT=${KAFKA_PORT:-${TEST_KAFKA_PORT:-9102}}
OPS_HTTP_PORT=${TICKETD_TEST_HTTP_PORT:-18080}
OPS_UDP_PORT=${TICKETD_TEST_UDP_PORT:-17000}
OPS_PAYMENTD_PORT=${PAYMENTD_TEST_PORT:-18085}
OPS_PIN_DIR=${TICKETD_TEST_PIN_DIR:-/sys/fs/bpf/ticket-test}-ops

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
skip() { printf 'skip %s\n' "$*"; }
check() { # check "what" command...: ok when the command succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# True when the test services answer (Redis, MariaDB, Kafka).
services_up() {
	bash "$ROOT/infra/services.sh" status >/dev/null 2>&1
}

# wait_http URL SECONDS [STATUS]: polls until URL answers STATUS (200).
wait_http() {
	local url=$1 secs=$2 want=${3:-200} i code
	for ((i = 0; i < secs * 5; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
		[ "$code" = "$want" ] && return 0
		sleep 0.2
	done
	return 1
}

# stop_pid PID: TERM, up to 15 s, then KILL; returns the exit status.
stop_pid() {
	local pid=$1 i rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# ticketd_args: the settings that point a ticketd at the test services on
# the ops tests' ports, pin dir and the state dir $1.
ticketd_args() {
	printf '%s\n' --http-port "$OPS_HTTP_PORT" --udp-port "$OPS_UDP_PORT" \
		--db-port "$MARIADB_PORT" --redis-port "$REDIS_PORT" \
		--kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
		--payment-url "http://127.0.0.1:$OPS_PAYMENTD_PORT" \
		--pin-dir "$OPS_PIN_DIR" --state-dir "$1" --hold-path socket
}
