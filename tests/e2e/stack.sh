#!/usr/bin/env bash
# A stack for the end-to-end test: paymentd and ticketd (--dev-mode, serving
# web/dist) on ports of their own, over Redis, MariaDB and Kafka.
#   tests/e2e/stack.sh start|stop|url|admin-key-file
# By default it also starts its own Redis, MariaDB and Kafka through
# infra/services.sh (RUN_DIR tests/e2e/.run, ports below), so it can run
# beside `make run` and the other tests. With E2E_EXTERNAL_SERVICES=1 it uses
# the caller's running services instead (RUN_DIR, REDIS_PORT, MARIADB_PORT,
# KAFKA_PORT as infra/services.sh reads them) and leaves them alone: that is
# how tests/run_all.sh can run it after the integration tests.
# Every browser of the test comes from 127.0.0.1: the per-address limits are
# set generous here (the defaults stay as they are).
# Env: E2E_RUN_DIR (tests/e2e/.run), E2E_HTTP_PORT (18093), E2E_PAYMENTD_PORT
# (18096), E2E_UDP_PORT (17093), E2E_PIN_DIR (/sys/fs/bpf/ticket-e2e),
# E2E_REDIS_PORT (6395), E2E_MARIADB_PORT (3321),
# E2E_KAFKA_PORT (9110), E2E_KAFKA_CONTROLLER_PORT (9111).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
external=${E2E_EXTERNAL_SERVICES:-0}
if [[ $external == 1 ]]; then
	: "${RUN_DIR:?E2E_EXTERNAL_SERVICES=1 needs RUN_DIR}" "${REDIS_PORT:?}" "${MARIADB_PORT:?}" "${KAFKA_PORT:?}"
else
	export RUN_DIR=${E2E_RUN_DIR:-$here/.run}
	export REDIS_PORT=${E2E_REDIS_PORT:-6395} MARIADB_PORT=${E2E_MARIADB_PORT:-3321}
	export KAFKA_PORT=${E2E_KAFKA_PORT:-9110} KAFKA_CONTROLLER_PORT=${E2E_KAFKA_CONTROLLER_PORT:-9111}
fi
HTTP_PORT=${E2E_HTTP_PORT:-18093}
PAYMENTD_PORT=${E2E_PAYMENTD_PORT:-18096}
UDP_PORT=${E2E_UDP_PORT:-17093}
PIDS=$RUN_DIR/e2e-pids
LOGS=$RUN_DIR/logs/e2e

stop_pid() { # name: TERM, wait up to 10 s, then KILL
	local f=$PIDS/$1.pid pid
	[[ -s $f ]] || return 0
	pid=$(tr -dc '0-9' <"$f")
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

case ${1:-} in
start)
	mkdir -p "$PIDS" "$LOGS"
	if [[ $external == 1 ]]; then
		# Other ticketds have changed these services' data since this node last
		# ran: start it fresh, so it rebuilds its seat table from MariaDB and
		# Redis instead of reusing an older one from its state folder.
		rm -rf "$RUN_DIR/ticketd-e2e"
	else
		bash "$ROOT/infra/services.sh" start
	fi
	"$ROOT/build/paymentd" --port "$PAYMENTD_PORT" >>"$LOGS/paymentd.log" 2>&1 &
	echo $! >"$PIDS/paymentd.pid"
	"$ROOT/build/ticketd" --http-port "$HTTP_PORT" --db-port "$MARIADB_PORT" \
		--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
		--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd-e2e" --pin-dir "${E2E_PIN_DIR:-/sys/fs/bpf/ticket-e2e}" \
		--hold-path socket --demo-data --dev-mode \
		--payment-url "http://127.0.0.1:$PAYMENTD_PORT" --web-root "$ROOT/web/dist" \
		--session-rate-per-addr 100000 --session-burst-per-addr 100000 \
		--sse-max-streams-per-addr 100000 --http-max-connections-per-addr 0 \
		--origin-hold-limit 0 \
		>>"$LOGS/ticketd.log" 2>&1 &
	echo $! >"$PIDS/ticketd.pid"
	for _ in $(seq 1 300); do
		curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && exit 0
		kill -0 "$(cat "$PIDS/ticketd.pid")" 2>/dev/null || break
		sleep 0.2
	done
	echo "stack: ticketd did not get ready; last log lines:" >&2
	tail -20 "$LOGS/ticketd.log" >&2
	exit 1
	;;
stop)
	stop_pid ticketd
	stop_pid paymentd
	[[ $external == 1 ]] || bash "$ROOT/infra/services.sh" stop
	;;
url)
	echo "http://127.0.0.1:$HTTP_PORT"
	;;
admin-key-file) # ticketd writes it at start (the room's admin API, issue #12)
	echo "$RUN_DIR/ticketd-e2e/admin.key"
	;;
*)
	echo "usage: $0 start|stop|url|admin-key-file" >&2
	exit 2
	;;
esac
