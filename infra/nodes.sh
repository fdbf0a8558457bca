#!/usr/bin/env bash
# N ticketd edge nodes on one machine (issue 16): one network namespace per
# node, each with its own veth pair, addresses and XDP program, all sharing
# one Redis, MariaDB, Kafka and paymentd (which the caller starts).
#
#   infra/nodes.sh up N            namespaces and veths of nodes 1..N
#   infra/nodes.sh down N          removes them (and any leftover up to 16)
#   infra/nodes.sh status N        what exists, exit 0 when all of 1..N do
#   infra/nodes.sh addrs N         one line per node: name, HTTP, UDP, netns
#   infra/nodes.sh exec I [ARGS]   runs node I's ticketd in the foreground
#                                  (exec: the caller's pid becomes ticketd's);
#                                  ARGS go to ticketd after ours
#   infra/nodes.sh start N [ARGS]  up, then nodes 1..N in the background
#                                  (node 1 first: it creates the demo data),
#                                  waits for each /readyz, prints addrs
#   infra/nodes.sh start-node I [ARGS]  (re)starts node I in the background
#   infra/nodes.sh stop-node I [SIG]    SIG (TERM) to node I, bounded wait,
#                                  then KILL; `stop-node I KILL` is a crash
#   infra/nodes.sh stop N          stops every node started here, then down
#
# Node I (1..16):
#   netns   $NODES_NETNS_PREFIX<I>          (default tktnode<I>)
#   veth    host $NODES_IF_PREFIX<I>h  <->  $NODES_IF_PREFIX<I>n in the netns
#           (default tkn<I>h / tkn<I>n); GRO on at both ends (PITFALLS: a
#           veth drops XDP_TX frames unless its peer's NAPI runs)
#   address host $NODES_NET.<NODES_NET_BASE+I>.1/24, netns ...2/24
#           (default 10.77.<I>.1 and 10.77.<I>.2; make run's single
#           namespace keeps 10.77.0.0/24)
#   UDP     XDP on the netns end, $NODES_NET.<base+I>.2:$UDP_PORT (7000);
#           NODES_HOLD_PATH=socket: a socket door on 127.0.0.1:$((UDP_PORT+I))
#   HTTP    127.0.0.1:$((NODES_HTTP_BASE + I - 1)) (default 8080, 8081, ...)
#   ticketd --node-id n<I> --advertise-udp ... --advertise-http ...,
#           --state-dir $NODES_DIR/n<I>, --pin-dir $NODES_PIN_BASE-n<I>
#           (default /sys/fs/bpf/ticket-n<I>), log $RUN_DIR/logs/ticketd-n<I>.log
# Every node gets the same token key (sessions minted on one node are
# valid on all): $NODES_DIR/token.key, made once (from $RUN_DIR/ticketd/
# token.key when a single-node `make run` made one, so its sessions stay
# valid) and copied into each node's state dir.
#
# Environment: RUN_DIR (.run), REDIS_PORT (6380), MARIADB_PORT (3307),
# KAFKA_PORT (9092), PAYMENTD_PORT (8084), UDP_PORT (7000), NODES_DIR
# ($RUN_DIR/nodes), NODES_HTTP_BASE (8080), NODES_NETNS_PREFIX (tktnode),
# NODES_IF_PREFIX (tkn), NODES_NET (10.77), NODES_NET_BASE (0),
# NODES_PIN_BASE (/sys/fs/bpf/ticket), NODES_HOLD_PATH (auto: XDP when it
# attaches, else the socket door; xdp; socket), NODES_PARTITIONS (16),
# NODES_TICKETD (build/ticketd), NODES_READY_TIMEOUT (60 s), NODES_ARGS
# (extra ticketd arguments, word-split, before the command line's).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RUN_DIR=${RUN_DIR:-$ROOT/.run}
REDIS_PORT=${REDIS_PORT:-6380}
MARIADB_PORT=${MARIADB_PORT:-3307}
KAFKA_PORT=${KAFKA_PORT:-9092}
PAYMENTD_PORT=${PAYMENTD_PORT:-8084}
UDP_PORT=${UDP_PORT:-7000}
NODES_DIR=${NODES_DIR:-$RUN_DIR/nodes}
NODES_HTTP_BASE=${NODES_HTTP_BASE:-8080}
NODES_NETNS_PREFIX=${NODES_NETNS_PREFIX:-tktnode}
NODES_IF_PREFIX=${NODES_IF_PREFIX:-tkn}
NODES_NET=${NODES_NET:-10.77}
NODES_NET_BASE=${NODES_NET_BASE:-0}
NODES_PIN_BASE=${NODES_PIN_BASE:-/sys/fs/bpf/ticket}
NODES_HOLD_PATH=${NODES_HOLD_PATH:-auto}
NODES_PARTITIONS=${NODES_PARTITIONS:-16}
NODES_TICKETD=${NODES_TICKETD:-$ROOT/build/ticketd}
NODES_READY_TIMEOUT=${NODES_READY_TIMEOUT:-60}
NODES_MAX=16

say() { printf 'nodes: %s\n' "$*" >&2; }
die() { printf 'nodes: error: %s\n' "$*" >&2; exit 1; }

count_ok() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= NODES_MAX)); }
need_count() { count_ok "${1:-}" || die "node count/number must be 1..$NODES_MAX, not '${1:-}'"; }
[[ $NODES_NET =~ ^[0-9]+\.[0-9]+$ ]] || die "NODES_NET must be two octets, e.g. 10.77"
[[ $NODES_NET_BASE =~ ^[0-9]+$ ]] && ((NODES_NET_BASE + NODES_MAX <= 254)) ||
	die "NODES_NET_BASE must be 0..$((254 - NODES_MAX))"
case $NODES_HOLD_PATH in auto | xdp | socket) ;; *) die "NODES_HOLD_PATH: auto, xdp or socket" ;; esac
((${#NODES_IF_PREFIX} <= 11)) || die "NODES_IF_PREFIX: at most 11 characters (interface names)"

# Per-node names and addresses.
ns_of() { echo "$NODES_NETNS_PREFIX$1"; }
hif_of() { echo "$NODES_IF_PREFIX$1h"; }
nif_of() { echo "$NODES_IF_PREFIX$1n"; }
net_of() { echo "$NODES_NET.$((NODES_NET_BASE + $1))"; }
http_of() { echo "$((NODES_HTTP_BASE + $1 - 1))"; }
udp_of() { # the address clients send to
	if [ "$NODES_HOLD_PATH" = socket ]; then
		echo "127.0.0.1:$((UDP_PORT + $1))"
	else
		echo "$(net_of "$1").2:$UDP_PORT"
	fi
}
pidfile_of() { echo "$NODES_DIR/n$1.pid"; }
log_of() { echo "$RUN_DIR/logs/ticketd-n$1.log"; }

ns_exists() { [[ -e /run/netns/$1 ]] && ip netns exec "$1" true 2>/dev/null; }

node_up() {
	local i=$1 ns hif nif net
	ns=$(ns_of "$i") hif=$(hif_of "$i") nif=$(nif_of "$i") net=$(net_of "$i")
	ns_exists "$ns" || ip netns add "$ns" || die "cannot create network namespace $ns"
	if ip link show dev "$hif" >/dev/null 2>&1; then
		ip -n "$ns" link show dev "$nif" >/dev/null 2>&1 ||
			die "$hif exists but its peer $nif is not in $ns; run '$0 down' first"
	else
		ip -n "$ns" link del dev "$nif" 2>/dev/null || true
		ip link add "$hif" type veth peer name "$nif" netns "$ns" ||
			die "cannot create veth pair $hif/$nif"
	fi
	ip addr replace "$net.1/24" dev "$hif"
	ip -n "$ns" addr replace "$net.2/24" dev "$nif"
	ip -n "$ns" link set dev lo up
	ip link set dev "$hif" up
	ip -n "$ns" link set dev "$nif" up
	ethtool -K "$hif" gro on >/dev/null 2>&1 || die "cannot enable GRO on $hif"
	ip netns exec "$ns" ethtool -K "$nif" gro on >/dev/null 2>&1 || die "cannot enable GRO on $nif"
	say "up: n$i $hif $net.1 <-> $nif $net.2 in netns $ns"
}

node_down() {
	local i=$1 ns hif did=0
	ns=$(ns_of "$i") hif=$(hif_of "$i")
	if ip link show dev "$hif" >/dev/null 2>&1; then ip link del dev "$hif" && did=1; fi
	if [[ -e /run/netns/$ns ]]; then ip netns del "$ns" && did=1; fi
	if ((did)); then say "down: removed $hif and netns $ns"; fi
	return 0
}

cmd_up() {
	need_count "${1:-}"
	[[ $EUID == 0 ]] || die "needs root (ip netns / ip link)"
	for c in ip ethtool; do command -v "$c" >/dev/null || die "'$c' not found; run 'make deps'"; done
	local i
	for ((i = 1; i <= $1; i++)); do node_up "$i"; done
}

cmd_down() {
	[[ $EUID == 0 ]] || die "needs root (ip netns / ip link)"
	local i n=${1:-$NODES_MAX}
	count_ok "$n" || n=$NODES_MAX
	# the ones asked for, and any leftover of a larger run with our names
	for ((i = 1; i <= NODES_MAX; i++)); do
		if ((i <= n)) || [[ -e /run/netns/$(ns_of "$i") ]] ||
			ip link show dev "$(hif_of "$i")" >/dev/null 2>&1; then
			node_down "$i"
		fi
	done
}

cmd_status() {
	need_count "${1:-}"
	local i rc=0 ns
	for ((i = 1; i <= $1; i++)); do
		ns=$(ns_of "$i")
		if ns_exists "$ns" && ip -n "$ns" link show dev "$(nif_of "$i")" >/dev/null 2>&1; then
			printf 'n%s netns %s: %s\n' "$i" "$ns" \
				"$(ip -n "$ns" -br addr show dev "$(nif_of "$i")" | tr -s ' ')"
		else
			printf 'n%s netns %s: absent\n' "$i" "$ns"
			rc=3
		fi
		if [ -s "$(pidfile_of "$i")" ] && kill -0 "$(cat "$(pidfile_of "$i")")" 2>/dev/null; then
			printf 'n%s ticketd pid %s\n' "$i" "$(cat "$(pidfile_of "$i")")"
		fi
	done
	return "$rc"
}

cmd_addrs() {
	need_count "${1:-}"
	local i
	for ((i = 1; i <= $1; i++)); do
		printf 'n%s http=127.0.0.1:%s udp=%s netns=%s pid=%s\n' "$i" "$(http_of "$i")" \
			"$(udp_of "$i")" "$(ns_of "$i")" "$(cat "$(pidfile_of "$i")" 2>/dev/null || echo -)"
	done
}

# True when this ticketd build has the multi-node settings (the ownership
# core of issue 16); without them the nodes run as independent single nodes.
multinode_supported() {
	"$NODES_TICKETD" --help 2>&1 | grep -q -- '--advertise-udp'
}

# The one token key of all nodes.
shared_key() {
	local key=$NODES_DIR/token.key
	mkdir -p "$NODES_DIR"
	if [ ! -s "$key" ]; then
		if [ -s "$RUN_DIR/ticketd/token.key" ]; then
			cp "$RUN_DIR/ticketd/token.key" "$key.tmp"
		else
			head -c 16 /dev/urandom >"$key.tmp"
		fi
		chmod 600 "$key.tmp"
		mv -n "$key.tmp" "$key" 2>/dev/null || rm -f "$key.tmp"
	fi
	echo "$key"
}

# The ticketd command line of node I (into the array NODE_CMD).
node_cmd() {
	local i=$1 key
	shift
	key=$(shared_key)
	mkdir -p "$NODES_DIR/n$i"
	cmp -s "$key" "$NODES_DIR/n$i/token.key" 2>/dev/null ||
		install -m 600 "$key" "$NODES_DIR/n$i/token.key"
	NODE_CMD=("$NODES_TICKETD" --http-port "$(http_of "$i")" --db-port "$MARIADB_PORT"
		--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT"
		--state-dir "$NODES_DIR/n$i" --pin-dir "$NODES_PIN_BASE-n$i"
		--payment-url "http://127.0.0.1:$PAYMENTD_PORT" --demo-data)
	if [ "$NODES_HOLD_PATH" = socket ]; then
		NODE_CMD+=(--hold-path socket --udp-addr 127.0.0.1 --udp-port "$((UDP_PORT + i))")
	else
		NODE_CMD+=(--hold-path "$NODES_HOLD_PATH" --udp-port "$UDP_PORT"
			--xdp-netns "$(ns_of "$i")" --xdp-iface "$(nif_of "$i")"
			--xdp-peer-iface "$(hif_of "$i")")
	fi
	if multinode_supported; then
		NODE_CMD+=(--node-id "n$i" --shard-partitions "$NODES_PARTITIONS"
			--advertise-udp "$(udp_of "$i")" --advertise-http "127.0.0.1:$(http_of "$i")")
	else
		say "this ticketd has no multi-node settings (--advertise-udp): n$i runs as an independent single node"
		NODE_CMD+=(--node-id "n$i")
	fi
	# shellcheck disable=SC2206
	NODE_CMD+=(${NODES_ARGS:-} "$@")
}

cmd_exec() {
	need_count "${1:-}"
	local i=$1
	shift
	node_cmd "$i" "$@"
	exec "${NODE_CMD[@]}"
}

# Waits for node I's /readyz (200); fails early when its process is gone.
wait_ready() {
	local i=$1 pid=$2 t
	for ((t = 0; t < NODES_READY_TIMEOUT * 10; t++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			say "n$i (pid $pid) exited while starting; its log:"
			tail -n 15 "$(log_of "$i")" >&2 || true
			return 1
		fi
		curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$(http_of "$i")/readyz" 2>/dev/null && return 0
		sleep 0.1
	done
	say "n$i not ready in ${NODES_READY_TIMEOUT}s; its log:"
	tail -n 15 "$(log_of "$i")" >&2 || true
	return 1
}

# Starts node I in a session of its own, in the background; prints its pid.
launch() {
	local i=$1 pid
	shift
	mkdir -p "$RUN_DIR/logs" "$NODES_DIR"
	if [ -s "$(pidfile_of "$i")" ] && kill -0 "$(cat "$(pidfile_of "$i")")" 2>/dev/null; then
		die "n$i already runs (pid $(cat "$(pidfile_of "$i")"))"
	fi
	echo "---- $(date -u +%FT%TZ) n$i start" >>"$(log_of "$i")"
	# 9>&-: a caller's flock (HELPERS.md) must not live on in the daemon
	setsid bash "$ROOT/infra/nodes.sh" exec "$i" "$@" </dev/null >>"$(log_of "$i")" 2>&1 9>&- &
	pid=$!
	echo "$pid" >"$(pidfile_of "$i")"
	echo "$pid"
}

cmd_start_node() {
	need_count "${1:-}"
	local i=$1 pid
	shift
	pid=$(launch "$i" "$@") && [ -n "$pid" ] || return 1
	wait_ready "$i" "$pid" || return 1
	say "n$i ready (pid $pid, http 127.0.0.1:$(http_of "$i"), udp $(udp_of "$i"))"
}

cmd_start() {
	need_count "${1:-}"
	local n=$1 i pid rc=0
	shift
	[ -x "$NODES_TICKETD" ] || die "$NODES_TICKETD not built (make build-all)"
	if [ "$NODES_HOLD_PATH" != socket ]; then cmd_up "$n"; fi
	for ((i = 1; i <= n; i++)); do
		if curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$(http_of "$i")/healthz" 2>/dev/null; then
			die "something already answers on 127.0.0.1:$(http_of "$i") (NODES_HTTP_BASE)"
		fi
	done
	# node 1 alone first: it applies the migrations and creates the demo
	# events; then the others side by side
	cmd_start_node 1 "$@" || return 1
	declare -A pids=()
	for ((i = 2; i <= n; i++)); do pids[$i]=$(launch "$i" "$@") || return 1; done
	for ((i = 2; i <= n; i++)); do
		if wait_ready "$i" "${pids[$i]}"; then
			say "n$i ready (pid ${pids[$i]}, http 127.0.0.1:$(http_of "$i"), udp $(udp_of "$i"))"
		else
			rc=1
		fi
	done
	((rc == 0)) || return 1
	cmd_addrs "$n"
}

cmd_stop_node() {
	need_count "${1:-}"
	local i=$1 sig=${2:-TERM} pid t
	pid=$(cat "$(pidfile_of "$i")" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((t = 0; t < 150; t++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "n$i (pid $pid) still runs 15 s after SIG$sig; SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for ((t = 0; t < 50; t++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
		fi
		say "n$i (pid $pid) stopped (SIG$sig)"
	fi
	rm -f "$(pidfile_of "$i")"
}

cmd_stop() {
	local n=${1:-$NODES_MAX} i
	count_ok "$n" || n=$NODES_MAX
	for ((i = 1; i <= NODES_MAX; i++)); do
		[ -e "$(pidfile_of "$i")" ] && cmd_stop_node "$i" TERM
	done
	if [ "$NODES_HOLD_PATH" != socket ]; then cmd_down "$n"; fi
	# the nodes' pinned maps: their seat tables are rebuilt from MariaDB
	# and Redis at the next start
	for ((i = 1; i <= n; i++)); do rm -rf "$NODES_PIN_BASE-n$i" 2>/dev/null || true; done
}

case ${1:-} in
up) cmd_up "${2:-}" ;;
down) cmd_down "${2:-}" ;;
status) cmd_status "${2:-}" ;;
addrs) cmd_addrs "${2:-}" ;;
exec) shift; cmd_exec "$@" ;;
start) shift; cmd_start "$@" ;;
start-node) shift; cmd_start_node "$@" ;;
stop-node) shift; cmd_stop_node "$@" ;;
stop) cmd_stop "${2:-}" ;;
*)
	echo "usage: $0 up|down|status|addrs N | start N [ticketd args] | exec|start-node I [ticketd args] | stop-node I [SIG] | stop [N]" >&2
	exit 2
	;;
esac
