#!/usr/bin/env bash
# `make run`: a complete local system in the foreground. Starts Redis,
# MariaDB, Kafka, the UDP namespace and ticketd (with demo data, serving the
# web page); Ctrl-C or SIGTERM stops everything it started. Data lives in
# .run/ and is kept between runs.
# NODES=N (`make run NODES=3`, 1..8): N ticketd edge nodes instead of one,
# each in a network namespace of its own with its own veth and XDP program
# (infra/nodes.sh: 10.77.<i>.2:7000, HTTP 127.0.0.1:8080+i-1), sharing the
# services and paymentd; a node that exits leaves the others running
# (`bash infra/nodes.sh start-node I` brings it back); Ctrl-C stops them all
# and removes the namespaces. nginx (infra/nginx.sh) runs in front of them on
# 127.0.0.1:$NGINX_PORT (8088): one origin for the web page, nginx follows a
# node's 307 to the event's owner itself.
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
NODES=${NODES:-1}
NGINX_PORT=${NGINX_PORT:-8088}
nginx_started=0
[[ $NODES =~ ^[1-8]$ ]] || { echo "make run: NODES must be 1..8, not '$NODES'" >&2; exit 2; }
if ((NODES > 1)) && ((PAYMENTD_PORT >= HTTP_PORT && PAYMENTD_PORT < HTTP_PORT + NODES)); then
	echo "make run: the nodes' HTTP ports $HTTP_PORT..$((HTTP_PORT + NODES - 1)) include PAYMENTD_PORT $PAYMENTD_PORT; set HTTP_PORT or PAYMENTD_PORT" >&2
	exit 2
fi
export NODES_HTTP_BASE=$HTTP_PORT UDP_PORT PAYMENTD_PORT

# Signals. A terminal's Ctrl-C (SIGINT) and a SIGTERM to our process group
# reach every process in the group at once; if the children got them, they
# would die halfway through starting, or in the middle of the stop sequence
# (a second signal did, before: mariadbd, the broker and the namespace were
# left running). So every child runs in its own session (`spawn`) and only
# this script hears the terminal; on the first INT, TERM or HUP it ignores
# all further ones and runs the stop sequence to its end: a start still in
# progress is stopped (its whole session: TERM, 10 s, KILL), then ticketd,
# paymentd, the namespace and the services, then once more the services for
# a daemon that an interrupted start forked just before. Every wait is bounded.
ticketd_pid=
node_pids=()
paymentd_pid=
step_pid=
step_interrupted=0
stopping=0
# Starts "$@" in the background in a session of its own; sets spawned_pid
# (the session id: pid = process group id). A non-interactive shell's
# background child is not a group leader, so setsid execs without forking.
spawn() {
	setsid "$@" &
	spawned_pid=$!
}
# Runs one start step in its own session and waits for it; a signal
# interrupts the wait (not the step), and stop_all then stops the step.
run_step() {
	local rc=0
	spawn "$@"
	step_pid=$spawned_pid
	wait "$step_pid" || rc=$?
	step_pid=
	return "$rc"
}
# True while any process of the session/group $1 exists.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }
# Stops one child and everything in its session: TERM, then KILL after $2 s.
stop_group() {
	local pid=$1 grace=${2:-10} ticks
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for ((ticks = grace * 10; ticks > 0; ticks--)); do
		group_alive "$pid" || kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if group_alive "$pid" || kill -0 "$pid" 2>/dev/null; then
		echo "make run: pid $pid still running ${grace}s after SIGTERM; sending SIGKILL" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		for ((ticks = 50; ticks > 0; ticks--)); do
			group_alive "$pid" || break
			sleep 0.1
		done
	fi
	wait "$pid" 2>/dev/null || true
}
stop_all() {
	local rc=$? # the status we exit with
	trap '' INT TERM HUP # the stop sequence runs to its end, whatever arrives now
	[ "$stopping" = 1 ] && return
	stopping=1
	echo
	echo "make run: stopping..."
	if [ -n "$step_pid" ]; then
		step_interrupted=1
		stop_group "$step_pid" 10
	fi
	stop_group "$ticketd_pid" 10
	local node_pid
	for node_pid in "${node_pids[@]}"; do stop_group "$node_pid" 10; done
	stop_group "$paymentd_pid" 10
	if [ "$nginx_started" = 1 ]; then bash infra/nginx.sh stop || true; fi
	# Anything else we spawned whose pid was not yet recorded when the
	# signal came (the trap runs between two commands).
	local pid
	for pid in $(jobs -p); do stop_group "$pid" 10; done
	# NODES > 1: also a node brought back by hand (infra/nodes.sh
	# start-node), found by its pid file; then the namespaces
	if ((NODES > 1)); then bash infra/nodes.sh stop "$NODES" || true; else bash infra/netns.sh down || true; fi
	bash infra/services.sh stop || true
	if [ "$step_interrupted" = 1 ]; then
		# The interrupted start may have forked a daemon that detached
		# just before it was stopped and shows up only now.
		sleep 1
		bash infra/services.sh stop >/dev/null || true
	fi
	echo "make run: stopped; data kept in $RUN_DIR"
	exit "$rc"
}
on_signal() {
	trap '' INT TERM HUP
	exit "$1"
}
trap stop_all EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

mkdir -p "$RUN_DIR/logs"
run_step bash infra/services.sh start

# NODES > 1: the nodes of infra/nodes.sh, each in a session of its own
# (spawn), node 1 first (it creates the demo data), then the others.
run_nodes() {
	local i t ready up
	if ! run_step bash infra/nodes.sh up "$NODES"; then
		echo "make run: no network namespaces; the nodes' UDP doors run on sockets at 127.0.0.1:$((UDP_PORT + 1))..."
		export NODES_HOLD_PATH=socket
	fi
	spawn ./build/paymentd --port "$PAYMENTD_PORT" 2>>"$RUN_DIR/logs/paymentd.log"
	paymentd_pid=$spawned_pid
	# nginx in front connects from 127.0.0.1: its X-Forwarded-For names the
	# client for the nodes' per-address limits
	export NODES_ARGS="--trusted-proxies 127.0.0.1 ${NODES_ARGS:-}"
	for ((i = 1; i <= NODES; i++)); do
		spawn bash infra/nodes.sh exec "$i" "$@" 2>>"$RUN_DIR/logs/ticketd-n$i.log"
		node_pids+=("$spawned_pid")
		mkdir -p "${NODES_DIR:-$RUN_DIR/nodes}"
		echo "$spawned_pid" >"${NODES_DIR:-$RUN_DIR/nodes}/n$i.pid" # for nodes.sh addrs/status
		# node 1 ready before the others start; the others side by side
		if ((i == 1 || i == NODES)); then
			for ((t = 0; t < 300; t++)); do
				ready=0
				for ((up = 1; up <= i; up++)); do
					if ! kill -0 "${node_pids[up - 1]}" 2>/dev/null; then
						echo "make run: node n$up exited; last log lines:" >&2
						tail -20 "$RUN_DIR/logs/ticketd-n$up.log" >&2
						exit 1
					fi
					curl -fsS -o /dev/null "http://127.0.0.1:$((HTTP_PORT + up - 1))/readyz" 2>/dev/null &&
						ready=$((ready + 1))
				done
				((ready == i)) && break
				sleep 0.2
			done
		fi
	done
	# one origin in front of all nodes: nginx re-sends a request that a
	# non-owner answers with 307 to the owner itself (docs/ops/nginx.md)
	local ups=""
	for ((i = 1; i <= NODES; i++)); do ups+="127.0.0.1:$((HTTP_PORT + i - 1)) "; done
	if NGINX_UPSTREAMS=$ups NGINX_PORT=$NGINX_PORT run_step bash infra/nginx.sh start; then
		nginx_started=1
	else
		echo "make run: nginx did not start (make deps installs it); the page works only for the events of the node that served it" >&2
	fi
	echo
	echo "  ticketing edge: $NODES nodes are up (Ctrl-C stops everything)"
	bash infra/nodes.sh addrs "$NODES" | sed 's/^/    /'
	cat <<INFO
    web page and REST  http://127.0.0.1:$NGINX_PORT/ (nginx in front of all nodes; it follows
                       a node's 307 to the event's owner)
    one node directly  http://127.0.0.1:$HTTP_PORT/ (a non-owner answers 307 to the owner)
    shard map          ./build/ticketctl shards --admin http://127.0.0.1:$HTTP_PORT
                       (or curl -s http://127.0.0.1:$HTTP_PORT/api/shards)
    payment gateway    http://127.0.0.1:$PAYMENTD_PORT (paymentd, simulated)
    Redis              redis-cli -p $REDIS_PORT hgetall tkt:shards
    MariaDB            MARIADB_PORT=$MARIADB_PORT infra/mariadb.sh sql
    Kafka              kcat -b 127.0.0.1:$KAFKA_PORT -L
    logs               $RUN_DIR/logs/ticketd-n<i>.log
    kill one node      kill -9 <its pid>  (its events move to the others; make run stays up)
    bring it back      bash infra/nodes.sh start-node <i>

INFO
	# In the foreground until Ctrl-C, whatever happens to a node: a node
	# that dies is the point of the exercise (its events move to the
	# others); `bash infra/nodes.sh start-node I` brings it back, and the
	# stop sequence stops that one too (infra/nodes.sh stop).
	local gone=()
	while :; do
		for ((i = 1; i <= NODES; i++)); do
			[ -z "${gone[i]:-}" ] || continue
			if ! kill -0 "${node_pids[i - 1]}" 2>/dev/null; then
				gone[i]=1
				echo "make run: node n$i (pid ${node_pids[i - 1]}) exited; the others take its events over." \
					"Bring it back with: bash infra/nodes.sh start-node $i" >&2
			fi
		done
		sleep 1 &
		wait $! || true
	done
}
if ((NODES > 1)); then run_nodes "$@"; fi

hold_args=(--hold-path socket --udp-addr 127.0.0.1)
if run_step bash infra/netns.sh up; then
	hold_args=(--hold-path auto --xdp-netns "$NETNS" --xdp-iface "$NS_IF"
		--xdp-peer-iface "$HOST_IF")
else
	echo "make run: no network namespace; the UDP door runs on a socket at 127.0.0.1:$UDP_PORT"
fi

spawn ./build/paymentd --port "$PAYMENTD_PORT" 2>>"$RUN_DIR/logs/paymentd.log"
paymentd_pid=$spawned_pid

spawn ./build/ticketd --http-port "$HTTP_PORT" --db-port "$MARIADB_PORT" \
	--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
	--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd" --demo-data \
	--payment-url "http://127.0.0.1:$PAYMENTD_PORT" \
	"${hold_args[@]}" "$@" 2>>"$RUN_DIR/logs/ticketd.log"
ticketd_pid=$spawned_pid

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
rc=0
wait "$ticketd_pid" || rc=$?
ticketd_pid=
exit "$rc"
