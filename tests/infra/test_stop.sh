#!/usr/bin/env bash
# tests/infra/test_stop.sh: `make run`'s stop path leaves nothing running.
# Starts infra/run.sh (the whole stack: Redis, MariaDB, Kafka, the namespace,
# paymentd, ticketd) on private ports, a private RUN_DIR, pin dir and
# namespace, as the leader of its own process group, and signals the whole
# group the way a terminal does (Ctrl-C: SIGINT to the foreground group;
# `kill -TERM -PGID`), in several rounds that mix the signals and their timing
# (during the services' start, after ready, twice in a row, through `make`,
# which forwards SIGTERM once more). After each round: no process of the
# group, no mariadbd / redis-server / broker / ticketd / paymentd of this
# run, none of its ports listening, no namespace or veth, no pid files, no
# pins but the seat maps; last a round of `make run NODES=2` (no node
# namespace left). Ends with "N passed, N failed"; about 75 s (the
# first round initialises MariaDB's datadir). Run by tests/run_all.sh; alone:
#   bash tests/infra/test_stop.sh
# Env: BUILD (build), STOP_TEST_RUN_DIR (<repo>/.run-stop-test),
#      STOP_TEST_{REDIS,MARIADB,KAFKA,KAFKA_CONTROLLER,HTTP,PAYMENTD,UDP}_PORT
#      (6397 3327 9127 9128 18097 18197 17097), STOP_TEST_NETNS (tktstop),
#      STOP_TEST_PIN_DIR (/sys/fs/bpf/ticket-stop-test).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}

export RUN_DIR=${STOP_TEST_RUN_DIR:-$ROOT/.run-stop-test}
export REDIS_PORT=${STOP_TEST_REDIS_PORT:-6397} MARIADB_PORT=${STOP_TEST_MARIADB_PORT:-3327}
export KAFKA_PORT=${STOP_TEST_KAFKA_PORT:-9127} KAFKA_CONTROLLER_PORT=${STOP_TEST_KAFKA_CONTROLLER_PORT:-9128}
export HTTP_PORT=${STOP_TEST_HTTP_PORT:-18097} PAYMENTD_PORT=${STOP_TEST_PAYMENTD_PORT:-18197}
export UDP_PORT=${STOP_TEST_UDP_PORT:-17097}
export TKT_NETNS=${STOP_TEST_NETNS:-tktstop} TKT_HOST_IF=tkst0 TKT_NS_IF=tkst1
export TKT_HOST_ADDR=10.76.0.1/24 TKT_NS_ADDR=10.76.0.2/24 TKT_HOST_ADDR6=fd76::1/64 TKT_NS_ADDR6=fd76::2/64
PIN_DIR=${STOP_TEST_PIN_DIR:-/sys/fs/bpf/ticket-stop-test}
PORTS=("$REDIS_PORT" "$MARIADB_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$HTTP_PORT" "$PAYMENTD_PORT")
# run.sh passes its arguments on to ticketd.
RUN_ARGS=(--pin-dir "$PIN_DIR")
LOG=$RUN_DIR/stop-test.log
READY_TIMEOUT=90 # s: first start initialises MariaDB
EXIT_TIMEOUT=120 # s: run.sh's own waits are 10 s per child + the services' stop

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }

for b in "$BUILD/ticketd" "$BUILD/paymentd"; do
	[[ -x $b ]] || { echo "test_stop: $b not built (make build-all)" >&2; echo "0 passed, 1 failed"; exit 1; }
done
for p in "${PORTS[@]}"; do
	if [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
		echo "test_stop: port $p is in use; set STOP_TEST_*_PORT" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
: >"$LOG"

# Our processes, found whatever their pid files say: by command line (our
# RUN_DIR, the MariaDB datadir, our ports) or working directory (Redis).
leftovers() {
	local pid comm cmd cwd data
	data=$(readlink -f "$RUN_DIR/mariadb" 2>/dev/null || echo "$RUN_DIR/mariadb")
	for pid in $(pgrep -x 'mariadbd|redis-server|java|ticketd|paymentd' 2>/dev/null); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
		[[ -n $cmd ]] || continue # a zombie holds nothing
		cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
		if [[ $cmd == *"$RUN_DIR/"* || $cmd == *"$data/"* || $cwd == "$RUN_DIR/"* ||
			$cmd == *"--port $PAYMENTD_PORT"* || $cmd == *"--http-port $HTTP_PORT"* ]]; then
			printf '%s(%s) ' "$comm" "$pid"
		fi
	done
}

# Asserts that nothing of the run is left; $1 names the round.
check_clean() {
	local round=$1 left p
	left=$(pgrep -g "$pgid" 2>/dev/null | tr '\n' ' ')
	if [[ -z $left ]]; then ok "$round: process group empty"; else bad "$round: group $pgid still has $left"; fi
	left=$(leftovers)
	if [[ -z $left ]]; then ok "$round: no service or daemon of the run"; else bad "$round: left running: $left"; fi
	left=
	for p in "${PORTS[@]}"; do [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && left+="$p "; done
	if [[ -z $left ]]; then ok "$round: no port listening"; else bad "$round: still listening: $left"; fi
	left=
	[[ -e /run/netns/$TKT_NETNS ]] && left+="netns $TKT_NETNS "
	ip link show dev "$TKT_HOST_IF" >/dev/null 2>&1 && left+="link $TKT_HOST_IF "
	if [[ -z $left ]]; then ok "$round: namespace down"; else bad "$round: left up: $left"; fi
	# The seat maps stay pinned on purpose (holds outlive a restart); a
	# pinned program or link must not.
	left=
	for p in "$PIN_DIR"/*; do
		[[ -e $p ]] || continue
		bpftool map show pinned "$p" >/dev/null 2>&1 || left+="$p "
	done
	for p in /sys/fs/bpf/xdp/*; do
		[[ -e $p && " $xdp_before " != *" $p "* ]] && left+="$p "
	done
	if [[ -z $left ]]; then ok "$round: only map pins left"; else bad "$round: stale pins: $left"; fi
	left=$(find "$RUN_DIR/pids" "$RUN_DIR/mariadb/" -name '*.pid' 2>/dev/null | tr '\n' ' ')
	if [[ -z $left ]]; then ok "$round: no pid file"; else bad "$round: stale pid files: $left"; fi
}

# Whatever a failed round left, so the next round starts clean.
force_clean() {
	kill -KILL -- "-$pgid" 2>/dev/null || true
	bash infra/services.sh stop >>"$LOG" 2>&1 || true
	[[ $EUID == 0 ]] && bash infra/netns.sh down >>"$LOG" 2>&1
	local pid
	for pid in $(pgrep -x 'ticketd|paymentd' 2>/dev/null); do
		[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"$HTTP_PORT"* ||
			$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"--port $PAYMENTD_PORT"* ]] && kill -KILL "$pid"
	done
	return 0
}

# Starts the stack as the leader of a new process group (setsid), signals
# restored to their defaults (a script's background job ignores SIGINT).
# $1: "run" (infra/run.sh itself) or "make" (under make, as `make run` is).
start_stack() {
	local how=$1
	xdp_before=$(echo /sys/fs/bpf/xdp/*)
	log_from=$(($(wc -l <"$LOG") + 1))
	printf '\n=== %s: start (%s)\n' "$round" "$how" >>"$LOG"
	if [[ $how == make ]]; then
		setsid env --default-signal=INT,QUIT make --no-print-directory -s -f "$RUN_DIR/stop.mk" run \
			>>"$LOG" 2>&1 </dev/null &
	else
		setsid env --default-signal=INT,QUIT bash infra/run.sh "${RUN_ARGS[@]}" >>"$LOG" 2>&1 </dev/null &
	fi
	pgid=$!
	t0=$SECONDS
}
printf 'run:\n\t@bash infra/run.sh %s\n' "${RUN_ARGS[*]}" >"$RUN_DIR/stop.mk"

round_log() { tail -n "+$log_from" "$LOG" 2>/dev/null; }

wait_ready() { # seconds
	local deadline=$((SECONDS + $1))
	while ((SECONDS < deadline)); do
		kill -0 "$pgid" 2>/dev/null || return 1
		round_log | grep -q 'ticketing edge is up\|nodes are up' &&
			curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# Waits for the group leader to end; fails the round after EXIT_TIMEOUT.
wait_exit() {
	local deadline=$((SECONDS + EXIT_TIMEOUT))
	while kill -0 "$pgid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	if kill -0 "$pgid" 2>/dev/null; then
		bad "$round: still running ${EXIT_TIMEOUT}s after the signal"
		force_clean
	else
		ok "$round: stopped after $((SECONDS - t_sig)) s"
	fi
	wait "$pgid" 2>/dev/null
}

sig() { t_sig=$SECONDS; printf '=== %s: SIG%s to group %s at %ss\n' "$round" "$1" "$pgid" "$((SECONDS - t0))" >>"$LOG"; kill -"$1" -- "-$pgid" 2>/dev/null; }

# Round 1 (also initialises the datadirs): TERM after ready.
round="round 1 (TERM after ready)"
start_stack run
if wait_ready "$READY_TIMEOUT"; then ok "$round: stack ready in $((SECONDS - t0)) s"; else bad "$round: stack not ready"; fi
sig TERM
wait_exit
check_clean "$round"

# Round 2: Ctrl-C while the services start (Redis up, MariaDB starting).
round="round 2 (INT during the services' start)"
start_stack run
sleep 1
sig INT
wait_exit
check_clean "$round"

# Round 3: TERM through make (make sends its child a second TERM) while
# MariaDB or Kafka starts.
round="round 3 (TERM through make, during start)"
start_stack make
sleep 3
sig TERM
wait_exit
check_clean "$round"

# Round 4: an impatient operator: Ctrl-C after ready, again, then TERM.
round="round 4 (INT, INT, TERM after ready, through make)"
start_stack make
if wait_ready "$READY_TIMEOUT"; then ok "$round: stack ready in $((SECONDS - t0)) s"; else bad "$round: stack not ready"; fi
sig INT
sleep 0.3
sig INT
sleep 0.5
sig TERM
wait_exit
check_clean "$round"

# Round 5: INT just as ticketd starts (services up, readiness not yet).
round="round 5 (INT as ticketd starts)"
start_stack run
deadline=$((SECONDS + READY_TIMEOUT))
until round_log | grep -q 'netns: up\|no network namespace' || ((SECONDS > deadline)); do sleep 0.05; done
sig INT
wait_exit
check_clean "$round"

# Round 6: `make run NODES=2` (infra/nodes.sh: a namespace, veth and
# ticketd per node), Ctrl-C after ready: every node stopped, every node
# namespace and veth removed.
round="round 6 (NODES=2, INT after ready)"
export NODES_NETNS_PREFIX=tktstopn NODES_IF_PREFIX=tkstn NODES_NET=10.76 NODES_NET_BASE=10
export NODES_PIN_BASE=$PIN_DIR-node
RUN_ARGS=() # run.sh's arguments go to every node: no shared --pin-dir
NODES=2 start_stack run
if wait_ready "$READY_TIMEOUT" && curl -fsS "http://127.0.0.1:$((HTTP_PORT + 1))/readyz" >/dev/null 2>&1; then
	ok "$round: two nodes ready in $((SECONDS - t0)) s"
else
	bad "$round: the nodes are not ready"
fi
sig INT
wait_exit
PORTS+=("$((HTTP_PORT + 1))")
check_clean "$round"
left=
for i in 1 2; do
	[[ -e /run/netns/tktstopn$i ]] && left+="netns tktstopn$i "
	ip link show dev "tkstn${i}h" >/dev/null 2>&1 && left+="link tkstn${i}h "
done
if [[ -z $left ]]; then ok "$round: node namespaces down"; else bad "$round: left up: $left"; fi
[[ $EUID == 0 ]] && bash infra/nodes.sh down 2 >>"$LOG" 2>&1

force_clean >/dev/null 2>&1
rm -rf "$PIN_DIR" "$PIN_DIR"-node-n1 "$PIN_DIR"-node-n2
if ((failed)); then
	echo "--- last lines of $LOG"
	tail -40 "$LOG"
else
	rm -rf "$RUN_DIR"
fi
echo "$passed passed, $failed failed"
((failed == 0))
