# shellcheck shell=bash
# bench/lib/common.sh: what the benchmark scripts share. Sourced by
# bench/run_bench.sh, rest_bench.sh, orders_bench.sh, sse_bench.sh,
# hostile_bench.sh and bench/hooks/ticketd_common.sh (more than once does no
# harm: it sets ROOT, BUILD and the BENCH_* arrays, moves to ROOT and
# defines functions). The script defines log() ("[its name] message" on
# stderr); die() uses it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}

die() {
	log "error: $*"
	exit 1
}

int_in() { # value lo hi
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid of a service of infra/services.sh under RUN_DIR (under
# BENCH_SHARED_SVC when the suite shares those of make bench-quick), or
# nothing.
svc_pid() { tr -dc '0-9' <"${BENCH_SHARED_SVC:-$RUN_DIR}/pids/$1.pid" 2>/dev/null || true; }

mariadb_q() { # sql, against MARIADB_PORT
	MYSQL_PWD=ticket timeout 60 mariadb -h 127.0.0.1 -P "$MARIADB_PORT" -u ticket -N -B ticketing -e "$1"
}

# Stops a child of ours: SIGTERM, at most tenths/10 seconds of waiting
# (default 10 s), then SIGKILL. Args: pid name [tenths].
stop_pid() {
	local pid=$1 tenths=${3:-100} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < tenths; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$2 did not stop in $((tenths / 10)) s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# The ticketd a benchmark started (TICKETD_PID), if any.
stop_ticketd() {
	stop_pid "${TICKETD_PID:-}" ticketd
	TICKETD_PID=
}

# Waits until url answers 200, at most seconds; gives up early when the
# server (pid) exits, then shows the end of its log when one is named.
# Args: url seconds [pid name [log]].
wait_http() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
			log "$4 exited${5:+; its log:}"
			[ -n "${5:-}" ] && tail -n 20 "$5" >&2
			return 1
		fi
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# Busy share of all CPUs over one second (BENCH_BG_SECS; make bench-quick
# takes less) while nothing of ours runs: other work on the machine skews
# every figure, so the reports carry it.
background_busy_pct() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	sleep "${BENCH_BG_SECS:-1}"
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," ");split(b,y," ");
		busy=y[1]-x[1]; total=busy+y[2]-x[2]; pct=0;
		if (total > 0) pct=100*busy/total; printf "%.1f", pct}'
}

# The machine, as the reports describe it; its core count under the key $1.
bench_machine_json() {
	jq -n --arg host "$(hostname)" --arg kernel "$(uname -r)" \
		--arg cpu "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" \
		--argjson cores "$(nproc)" --arg key "$1" \
		--argjson mem_mb "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" \
		--arg os "Debian $(cat /etc/debian_version 2>/dev/null || echo '?')" \
		'{host: $host, kernel: $kernel, cpu: $cpu, ($key): $cores,
		  mem_mb: $mem_mb, os: $os}'
}

# Where a benchmark's back ends live and listen (exported for
# infra/services.sh): RUN_DIR, REDIS_PORT, MARIADB_PORT, KAFKA_PORT and
# KAFKA_CONTROLLER_PORT, each from the environment when set, else the
# benchmark's own default. Args: run_dir redis mariadb kafka controller.
bench_services_env() {
	export RUN_DIR=${RUN_DIR:-$1}
	export REDIS_PORT=${REDIS_PORT:-$2}
	export MARIADB_PORT=${MARIADB_PORT:-$3}
	export KAFKA_PORT=${KAFKA_PORT:-$4}
	export KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$5}
}

# ticketd's per-client limits (issue #18) lifted, for the benchmarks of
# throughput: their load tools speak from one address, and what they measure
# is not the limits (bench/hostile_bench.sh keeps the defaults: it does).
BENCH_NO_CLIENT_LIMITS=(--origin-hold-limit 0
	--session-rate-per-addr 1000000 --session-burst-per-addr 1000000
	--sse-max-streams-per-addr 1000000 --http-max-connections-per-addr 0)

# No PAYMENTD_* / TICKETD_* from the caller's environment for the daemons
# a benchmark starts: their defaults and its own flags are measured. An
# array, not a function: `cmd &` must leave the daemon's own pid in $! (a
# function in the background is a subshell).
bench_clean_env() {
	local v
	BENCH_CLEAN_ENV=(env)
	for v in $(compgen -e); do
		case $v in PAYMENTD_* | TICKETD_*) BENCH_CLEAN_ENV+=(-u "$v") ;; esac
	done
}
bench_clean_env

redis_version() { redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'; }

# The back ends of infra/services.sh (Redis, MariaDB, Kafka) under RUN_DIR,
# on the ports of the environment; one retry after a stop. From the first
# try on, SERVICES_STARTED says that bench_services_down is due. Under
# make bench-quick (BENCH_SHARED_SVC set) the shared ones, emptied.
bench_services_up() {
	if [ -n "${BENCH_SHARED_SVC:-}" ]; then
		bench_services_reset
		return 0
	fi
	log "starting Redis :$REDIS_PORT, MariaDB :$MARIADB_PORT, Kafka :$KAFKA_PORT under $RUN_DIR"
	SERVICES_STARTED=1
	if ! timeout 300 bash infra/services.sh start >&2; then
		log "infra/services.sh start failed; one retry after a stop"
		timeout 180 bash infra/services.sh stop >&2 || true
		timeout 300 bash infra/services.sh start >&2 || die "infra/services.sh start failed twice"
	fi
}

# make bench-quick runs its suites against one set of back ends that
# bench/run_bench.sh starts once: BENCH_SHARED_SVC names their RUN_DIR,
# REDIS_PORT, MARIADB_PORT and KAFKA_PORT point at them, and RUN_DIR is the
# suite's own folder (its ticketd's state and logs). The suite starts and
# stops none; it empties them instead, as its own fresh ones would be: Redis
# flushed, the application database dropped and made again (ticketd's
# migrations fill it, the application user's grants stay). The Kafka topics
# keep what earlier suites wrote: ticketd's consumer groups committed their
# offsets when those suites' ticketd stopped, and it reads on from there.
bench_services_reset() {
	log "sharing the back ends under $BENCH_SHARED_SVC (Redis :$REDIS_PORT, MariaDB :$MARIADB_PORT, Kafka :$KAFKA_PORT): flushing Redis, making the database anew"
	redis-cli -p "$REDIS_PORT" flushall >/dev/null || die "the shared Redis on :$REDIS_PORT does not answer"
	# shellcheck disable=SC2016 # the backticks are SQL quoting
	printf '%s\n' 'DROP DATABASE IF EXISTS `ticketing`;' \
		'CREATE DATABASE `ticketing` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;' |
		timeout 60 mariadb --no-defaults --protocol=socket -S "$BENCH_SHARED_SVC/mariadb/mariadb.sock" -u root ||
		die "cannot make the database of the shared MariaDB (:$MARIADB_PORT) anew"
}

bench_services_down() {
	[ -n "${SERVICES_STARTED:-}" ] || return 0
	log "stopping the services under $RUN_DIR"
	timeout 180 bash infra/services.sh stop >&2 || log "infra/services.sh stop failed"
}

# /run/tkbench.lock: one timed benchmark on the machine at a time. Not
# taken again when bench/run_bench.sh holds it on fd 9 for us, or with
# TKB_LOCK_HELD=1. Waits at most LOCK_WAIT seconds; sets LOCKED.
take_lock() {
	if [ "${TKB_LOCK_HELD:-}" = 1 ] ||
		[ "$(readlink "/proc/$$/fd/9" 2>/dev/null)" = /run/tkbench.lock ]; then
		return 0
	fi
	exec 8>/run/tkbench.lock
	log "waiting (at most ${LOCK_WAIT}s) for /run/tkbench.lock: no other benchmark while we measure"
	flock -w "$LOCK_WAIT" 8 || die "another benchmark held /run/tkbench.lock for ${LOCK_WAIT}s"
	LOCKED=1
}

release_lock() {
	[ -n "${LOCKED:-}" ] || return 0
	flock -u 8
	exec 8>&-
	LOCKED=
}
