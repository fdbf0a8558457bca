#!/usr/bin/env bash
# `make run`: a complete local system in the foreground. Starts Redis,
# MariaDB, Kafka, the UDP namespace and ticketd (with demo data, serving the
# web page); Ctrl-C or SIGTERM stops everything it started. Data lives in
# .run/ and is kept between runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export RUN_DIR=${RUN_DIR:-$ROOT/.run}
export REDIS_PORT=${REDIS_PORT:-6380} MARIADB_PORT=${MARIADB_PORT:-3307}
export KAFKA_PORT=${KAFKA_PORT:-9092} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HTTP_PORT=${HTTP_PORT:-8080}
PAYMENTD_PORT=${PAYMENTD_PORT:-8084}
UDP_PORT=${UDP_PORT:-7000}
NETNS=${TKT_NETNS:-ticket}
NS_IF=${TKT_NS_IF:-tkt1}
HOST_IF=${TKT_HOST_IF:-tkt0}
NS_ADDR=${TKT_NS_ADDR:-10.77.0.2}

ticketd_pid=
paymentd_pid=
stopping=0
# Stops one child: TERM, then KILL after 10 s.
stop_pid() {
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
stop_all() {
	[ "$stopping" = 1 ] && return
	stopping=1
	echo
	echo "make run: stopping..."
	stop_pid "$ticketd_pid"
	stop_pid "$paymentd_pid"
	bash infra/netns.sh down || true
	bash infra/services.sh stop || true
	echo "make run: stopped; data kept in $RUN_DIR"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RUN_DIR/logs"
bash infra/services.sh start
hold_args=(--hold-path socket --udp-addr 127.0.0.1)
if bash infra/netns.sh up; then
	hold_args=(--hold-path auto --xdp-netns "$NETNS" --xdp-iface "$NS_IF"
		--xdp-peer-iface "$HOST_IF")
else
	echo "make run: no network namespace; the UDP door runs on a socket at 127.0.0.1:$UDP_PORT"
fi

./build/paymentd --port "$PAYMENTD_PORT" 2>>"$RUN_DIR/logs/paymentd.log" &
paymentd_pid=$!

./build/ticketd --http-port "$HTTP_PORT" --db-port "$MARIADB_PORT" \
	--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
	--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd" --demo-data \
	--payment-url "http://127.0.0.1:$PAYMENTD_PORT" \
	"${hold_args[@]}" "$@" 2>>"$RUN_DIR/logs/ticketd.log" &
ticketd_pid=$!

for _ in $(seq 1 300); do
	if ! kill -0 "$ticketd_pid" 2>/dev/null; then
		echo "make run: ticketd exited; last log lines:" >&2
		ticketd_pid=
		tail -20 "$RUN_DIR/logs/ticketd.log" >&2
		exit 1
	fi
	curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break
	sleep 0.2
done
hold_path=$(curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null |
	sed -n 's/.*"holdPath":"\([a-z]*\)".*/\1/p')
udp_where="127.0.0.1:$UDP_PORT (socket door)"
[ "$hold_path" = xdp ] && udp_where="$NS_ADDR:$UDP_PORT (XDP on $NS_IF in netns $NETNS)"
cat <<INFO

  ticketing edge is up (Ctrl-C stops everything)
    web page and REST  http://127.0.0.1:$HTTP_PORT/
    readiness          http://127.0.0.1:$HTTP_PORT/readyz
    UDP hold door      $udp_where
    payment gateway    http://127.0.0.1:$PAYMENTD_PORT (paymentd, simulated)
    Redis              redis-cli -p $REDIS_PORT
    MariaDB            MARIADB_PORT=$MARIADB_PORT infra/mariadb.sh sql
    Kafka              kcat -b 127.0.0.1:$KAFKA_PORT -C -t ticketing.orders
    logs               $RUN_DIR/logs/

INFO
wait "$ticketd_pid"
