#!/usr/bin/env bash
# `make bench`: every benchmark of the project in one go, one after the
# other under /run/tkbench.lock, each bounded in time, then BENCHMARKS.md
# assembled from their sections (bench/render_all.sh):
#
#   udp     this script: every UDP hold path against the same load in one
#           run; writes bench/results/<name>.json and bench/results/udp.md
#   sse     bash bench/sse_bench.sh    -> bench/results/sse.md
#   rest    bash bench/rest_bench.sh   -> bench/results/rest_hold.json,
#           rendered to bench/results/rest_hold.md (bench/rest_render.sh)
#   orders  bash bench/orders_bench.sh -> bench/results/orders.md (when the
#           script exists)
#   hostile bash bench/hostile_bench.sh -> bench/results/hostile.json,
#           rendered to bench/results/hostile.md (bench/hostile_render.sh):
#           a bystander's REST and UDP latency beside one address's floods
#   room    bash bench/room_bench.sh -> bench/results/room.json and room.md
#           (bench/room_render.jq): purchases at 1x, 2x, 5x capacity,
#           waiting room off and on (issue #12)
#   vu      bash bench/vu_bench.sh -> bench/results/vu.json and vu.md
#           (bench/vu_render.jq): the prior design's 1000-user scenario,
#           virtual users ramped 200, 400, 1000, think time off and on,
#           open loop, oversell audit (issue #13)
#   wire    bash bench/wire_bench.sh -> bench/results/wire.json and wire.md:
#           the XDP path under build/pkt_gen (raw frames through a
#           PF_PACKET TX ring, no client sockets), the trivial program's
#           ceiling beside the real program's figure (issue #14)
#   checkin bash bench/checkin_bench.sh -> bench/results/checkin.json and
#           checkin.md: accepted ticket check-ins/s (issue #17)
#   best    bash bench/best_bench.sh -> bench/results/best.json and best.md:
#           best available at 1,000 connections on a 20,000-seat map,
#           beside one-seat holds (issue #17)
#   nodes   bash bench/nodes_bench.sh -> bench/results/nodes.json and
#           nodes.md: holds/s per node with 1, 2, 3 of three edge nodes
#           loaded (XDP in a namespace each), one event's peak on one node,
#           failover time over kill -9s (issue 16)
#   plots   bash bench/plots_bench.sh (when that file exists; skipped with
#           a note when not): p99 against offered load, as PNG plots
#
# in that order (vu runs after orders, wire before plots, plots last): sse runs against the back ends the UDP daemon paths use
# (bench/hooks/ticketd_common.sh: Redis, MariaDB and Kafka of
# infra/services.sh under /tmp/tkbench-svc on private ports), which are
# stopped after it; rest, orders, hostile, room and the others start their
# own (not under bench-quick: see below). A suite whose script
# writes no bench/results/<name>.md gets one made from what it printed on
# stdout. A suite that fails or runs out of time keeps the section of its
# last good run, marked as such in BENCHMARKS.md.
#
# The UDP paths:
#   ceiling      trivial XDP program (bench/xdp_trivial.bpf.c) on a
#                throwaway veth (bench/netns.sh), udp_load closed loop
#   xdp_prog     the real XDP program (bpf/seat_hold.bpf.c) without the
#                daemon: xdp_calib sets up its maps and drains its ring
#   xdp_full     the real XDP program under ticketd  } started and stopped
#   socket_door  ticketd's socket fallback           } by bench/hooks/*.sh
#   redis        the same workload against Redis + Lua (EVALSHA, pipelined
#                with the same window), a redis-server of ours on loopback
#   prog_test_run  ns per run of the trivial and of the real program
#
# Each path runs with every thread count of BENCH_THREADS (closed loop,
# BENCH_WINDOW requests in flight per thread) and with one request in
# flight (the unloaded round trip). The machine may be shared, so the
# measurements are interleaved: each of BENCH_REPS rounds measures every
# path once, one after the other, and the report gives the median and the
# spread (min-max) over the rounds and ratios against the ceiling and
# against Redis + Lua of the same round. Everything it starts it stops
# (trap); every loop is bounded.
#
# `make bench-quick` (BENCH_QUICK=1): a smoke run of every suite in under
# 3 minutes (about 150 s on a quiet 2-core machine; each suite's time is
# logged): each script with tiny durations, rates and repetitions through
# its own settings (quick_settings below, the one place that decides them;
# a setting the caller gives wins), the back ends of the UDP part shared by
# every suite instead of each starting its own (each empties them first and
# gets a RUN_DIR of its own in the temporary folder; see shared_env),
# results into a temporary folder (never over bench/results/*.md or
# BENCHMARKS.md), and a non-zero exit when a suite failed, timed out or was
# cut by the budget. `make test` runs it.
#
# Settings (environment): BENCH_SUITES ("udp rest sse orders vu hostile room wire checkin best nodes plots":
# which parts run; `make bench SUITES=hostile` sets it), BENCH_BUDGET
# (2700 s: the whole run; a suite gets at most what is left of it),
# BENCH_REST_TIMEOUT (840 s), BENCH_SSE_TIMEOUT (300 s),
# BENCH_ORDERS_TIMEOUT (600 s), BENCH_HOSTILE_TIMEOUT (300 s), BENCH_ROOM_TIMEOUT (480 s),
# BENCH_CHECKIN_TIMEOUT (240 s), BENCH_BEST_TIMEOUT (240 s), BENCH_NODES_TIMEOUT (420 s),
# BENCH_VU_TIMEOUT (420 s), BENCH_WIRE_TIMEOUT (420 s), BENCH_PLOTS_TIMEOUT (600 s), BENCH_QUICK (0),
# BENCH_RESULTS_DIR (bench/results; with BENCH_QUICK=1 a temporary folder,
# removed unless BENCH_KEEP_QUICK=1), BENCH_REPS (5, 1..20), BENCH_SECS (3,
# 1..30), BENCH_WARMUP (0.5), BENCH_WINDOW (64), BENCH_BATCH (32),
# BENCH_THREADS ("1 2"), BENCH_PATHS ("ceiling xdp_prog xdp_full
# socket_door redis": which UDP paths the rounds measure; a short run of
# one path with its same-run ceiling is BENCH_PATHS="ceiling xdp_full"),
# BENCH_RTT (1: also the one-request-in-flight shape), BENCH_SEATS (0-16383), BENCH_EVENT (1), BENCH_MIX (hold,release),
# BENCH_TEST_RUNS (200000), BENCH_NAME (UTC time stamp), BENCH_MARKDOWN
# (BENCHMARKS.md), BENCH_LOCK_WAIT (900 s: how long to wait for another
# benchmark to finish), BUILD (build).
#
# Hooks for the paths the daemon provides: bench/hooks/<name>.sh (name
# xdp_full or socket_door), sourced when present, defines
#   bench_<name>_start  starts ticketd for that path (for xdp_full with XDP
#                       on tkb1 inside netns tkbench, which exists by then,
#                       on the port 7000 of 10.79.0.2) and exports
#                       TKB_TARGET (host:port), TKB_TOKENS (file, one
#                       32-hex token per line, at least one per slot:
#                       threads x window), TKB_EVENT and TKB_SEATS (A-B, at
#                       least threads x window seats of that event),
#                       TKB_SERVER_PID (ticketd: its CPU is the serving
#                       cost), optionally TKB_PROG_ID (default: found by
#                       name), TKB_AUX_PIDS ("name:pid ...", other
#                       processes whose CPU per decision is reported beside
#                       the serving cost, e.g. ticketd's Redis journal) and
#                       TKB_TESTRUN_ARGS (xdp_calib set-up for
#                       prog_test_run of seat_hold.bpf.o instead of the
#                       built-in --edge-config ones)
#   bench_<name>_stop   stops what start started
# The hooks run once per round; bench/hooks/ticketd_common.sh starts the
# back ends once and run_bench.sh stops them (tkd_services_down).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers

QUICK=${BENCH_QUICK:-0}
case $QUICK in 0 | 1) ;; *) echo "[bench] error: BENCH_QUICK must be 0 or 1" >&2; exit 1 ;; esac
QUICK_DIR=
# The smoke run's settings: the smallest load each script accepts that
# still goes through all of its steps, and the shortest pauses that only
# matter for real figures (warm-ups, the background-load sample, settling,
# perf). The caller's own values win.
quick_settings() {
	local kv name
	for kv in \
		BENCH_REPS=1 BENCH_SECS=1 BENCH_WARMUP=0.2 BENCH_THREADS=1 BENCH_RTT=0 \
		BENCH_TEST_RUNS=1000 BENCH_BUDGET=300 BENCH_LOCK_WAIT=600 \
		BENCH_REST_TIMEOUT=60 BENCH_SSE_TIMEOUT=40 BENCH_ORDERS_TIMEOUT=60 \
		BENCH_HOSTILE_TIMEOUT=60 BENCH_ROOM_TIMEOUT=60 BENCH_VU_TIMEOUT=60 \
		BENCH_PLOTS_TIMEOUT=60 BENCH_WIRE_TIMEOUT=45 BENCH_CHECKIN_TIMEOUT=60 BENCH_BEST_TIMEOUT=60 \
		BENCH_NODES_TIMEOUT=90 BENCH_BG_SECS=0.2 \
		SSE_SUBSCRIBERS=200 SSE_RATE=10 SSE_SECS=2 \
		REST_RUNS=1 REST_SECS=1 REST_CONNS=20 REST_THREADS=1 REST_SESSIONS=20 \
		REST_ROWS=10 REST_COLS=20 REST_WRK=0 REST_RATES=200 REST_RATE_RUNS=1 \
		REST_STORM_SECS=1 REST_PERF=0 REST_WARMUP_SECS=1 \
		ORD_RATES=20 ORD_TARGET_RATE=20 ORD_REPS=1 ORD_SECS=2 ORD_REF_SECS=2 \
		ORD_GW_SECS=1 ORD_WARMUP_SECS=1 ORD_SESSIONS=40 ORD_ROWS=10 ORD_COLS=10 \
		ORD_CONNS=20 ORD_DRAIN_SECS=5 ORD_PERF=0 \
		VU_STAGES="5 20" VU_STAGE_SECS=1 VU_THINK_MS=50-150 VU_OPEN_RATES=10 \
		VU_OPEN_SECS=1 VU_OPEN_CONNS=20 VU_EVENTS=4 VU_DRAIN_SECS=5 \
		HOSTILE_ROUNDS=1 HOSTILE_SECS=1 HOSTILE_RATE=20 HOSTILE_GARBAGE_RATE=1000 \
		HOSTILE_SLOW_CONNS=20 HOSTILE_SLOW_SECS=6 HOSTILE_LADDER=100 \
		HOSTILE_LADDER_SECS=1 HOSTILE_SETTLE_SECS=0.2 \
		ROOM_FACTORS=1 ROOM_SECS=2 ROOM_DRAIN_SECS=3 ROOM_CAP_SECS=4 \
		ROOM_CAP_CONNS=10 ROOM_CONNS=200 ROOM_STREAMS=100 ROOM_ROWS=20 \
		ROOM_COLS=20 ROOM_MAX_SESSIONS=200 ROOM_TICKETD_MAX_CONNS=2000 \
		NODES_WINDOW=16 \
		PLOTS_QUICK=1 PLOTS_PARTS="udp cost"; do
		name=${kv%%=*}
		[ -n "${!name+set}" ] || export "$kv"
	done
}
if [ "$QUICK" = 1 ]; then
	quick_settings
	QUICK_DIR=$(mktemp -d /tmp/tkbench-quick.XXXXXX)
	export BENCH_RESULTS_DIR=${BENCH_RESULTS_DIR:-$QUICK_DIR/results}
	export BENCH_MARKDOWN=${BENCH_MARKDOWN:-$QUICK_DIR/BENCHMARKS.md}
	# the back ends of bench/hooks/ticketd_common.sh, which every suite
	# shares here: a folder of their own, apart from make bench's, made
	# fresh by every smoke run (quick_services_fresh), removed after it
	export TKD_RUN_DIR=/tmp/tkbench-quick-svc
fi

REPS=${BENCH_REPS:-5}
SECS=${BENCH_SECS:-3}
WARMUP=${BENCH_WARMUP:-0.5}
WINDOW=${BENCH_WINDOW:-64}
BATCH=${BENCH_BATCH:-32}
THREADS_LIST=${BENCH_THREADS:-1 2}
PATHS=${BENCH_PATHS:-ceiling xdp_prog xdp_full socket_door redis}
RTT=${BENCH_RTT:-1}
SEATS=${BENCH_SEATS:-0-16383}
EVENT=${BENCH_EVENT:-1}
MIX=${BENCH_MIX:-hold,release}
TEST_RUNS=${BENCH_TEST_RUNS:-200000}
NAME=${BENCH_NAME:-$(date -u +%Y%m%dT%H%M%SZ)}
MARKDOWN=${BENCH_MARKDOWN:-BENCHMARKS.md}
LOCK_WAIT=${BENCH_LOCK_WAIT:-900}
SUITES=${BENCH_SUITES:-udp rest sse orders vu hostile room wire checkin best nodes plots}
BUDGET=${BENCH_BUDGET:-2700}
REST_TIMEOUT=${BENCH_REST_TIMEOUT:-840}
SSE_TIMEOUT=${BENCH_SSE_TIMEOUT:-300}
ORDERS_TIMEOUT=${BENCH_ORDERS_TIMEOUT:-600}
HOSTILE_TIMEOUT=${BENCH_HOSTILE_TIMEOUT:-300}
ROOM_TIMEOUT=${BENCH_ROOM_TIMEOUT:-480}
VU_TIMEOUT=${BENCH_VU_TIMEOUT:-420}
PLOTS_TIMEOUT=${BENCH_PLOTS_TIMEOUT:-600}
WIRE_TIMEOUT=${BENCH_WIRE_TIMEOUT:-420}
CHECKIN_TIMEOUT=${BENCH_CHECKIN_TIMEOUT:-240}
BEST_TIMEOUT=${BENCH_BEST_TIMEOUT:-240}
NODES_TIMEOUT=${BENCH_NODES_TIMEOUT:-420}
RESULTS_DIR=${BENCH_RESULTS_DIR:-bench/results}
export BENCH_RESULTS_DIR=$RESULTS_DIR # for the suites (bench/plots_bench.sh)
OUT=$RESULTS_DIR/$NAME.json

log() { printf '[bench] %s\n' "$*" >&2; }

int_in "$REPS" 1 20 || die "BENCH_REPS must be 1..20"
int_in "$SECS" 1 30 || die "BENCH_SECS must be 1..30"
int_in "$WINDOW" 1 4096 || die "BENCH_WINDOW must be 1..4096"
int_in "$BATCH" 1 256 || die "BENCH_BATCH must be 1..256"
int_in "$TEST_RUNS" 1000 10000000 || die "BENCH_TEST_RUNS must be 1000..10000000"
int_in "$EVENT" 0 4294967295 || die "BENCH_EVENT must be a number"
int_in "$LOCK_WAIT" 0 3600 || die "BENCH_LOCK_WAIT must be 0..3600"
int_in "$BUDGET" 60 7200 || die "BENCH_BUDGET must be 60..7200"
for v in "$REST_TIMEOUT" "$SSE_TIMEOUT" "$ORDERS_TIMEOUT" "$HOSTILE_TIMEOUT" \
	"$ROOM_TIMEOUT" "$VU_TIMEOUT" "$PLOTS_TIMEOUT" "$WIRE_TIMEOUT" "$CHECKIN_TIMEOUT" \
	"$BEST_TIMEOUT" "$NODES_TIMEOUT"; do
	int_in "$v" 30 3600 || die "BENCH_*_TIMEOUT must be 30..3600"
done
ALL_SUITES="udp rest sse orders vu hostile room wire checkin best nodes plots"
for s in $SUITES; do
	[[ " $ALL_SUITES " == *" $s "* ]] || die "BENCH_SUITES: unknown '$s' ($ALL_SUITES)"
done
suite_on() { [[ " $SUITES " == *" $1 "* ]]; }
[[ $SEATS =~ ^[0-9]+-[0-9]+$ ]] || die "BENCH_SEATS must be A-B"
for p in $PATHS; do
	[[ " ceiling xdp_prog xdp_full socket_door redis " == *" $p "* ]] ||
		die "BENCH_PATHS: unknown '$p' (ceiling xdp_prog xdp_full socket_door redis)"
done
path_on() { [[ " $PATHS " == *" $1 "* ]]; }
MAX_T=1
for t in $THREADS_LIST; do
	int_in "$t" 1 64 || die "BENCH_THREADS: $t"
	if [ "$t" -gt "$MAX_T" ]; then MAX_T=$t; fi
done
[[ $NAME =~ ^[A-Za-z0-9._-]+$ ]] || die "BENCH_NAME: letters, digits, . _ - only"

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP)"
for tool in jq ip bpftool redis-server redis-cli od; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
UDP_LOAD=$BUILD/udp_load
XDP_CALIB=$BUILD/xdp_calib
TRIVIAL_OBJ=$BUILD/bench/xdp_trivial.bpf.o
FULL_OBJ=$BUILD/bpf/seat_hold.bpf.o
FULL_PROG=xdp_seat_hold
for f in "$UDP_LOAD" "$XDP_CALIB" "$TRIVIAL_OBJ"; do
	[ -e "$f" ] || die "$f missing: run make first"
done

# One benchmark at a time (bench/rest_bench.sh takes the same lock): the
# names of the netns and veth are fixed, and two loads would skew each other.
# Children see TKB_LOCK_HELD=1 and do not take it again.
exec 9>/run/tkbench.lock
if ! flock -n 9; then
	log "another benchmark holds /run/tkbench.lock; waiting up to ${LOCK_WAIT}s"
	flock -w "$LOCK_WAIT" 9 || die "another bench run still holds /run/tkbench.lock"
fi
export TKB_LOCK_HELD=1

WORK=$(mktemp -d /tmp/tkbench.XXXXXX)
mkdir -p "$WORK/series" "$RESULTS_DIR"
TKB_BUILD=$BUILD
# shellcheck source=bench/netns.sh
source bench/netns.sh

REDIS_PID=
REDIS_PORT=
DRIVER_PID=
STATS_BEFORE=
HOOK_STOP=
NETNS_UP=
SUITE_PID=

# ---- processes we start, and their cleanup ----------------------------------

stop_driver() {
	stop_pid "$DRIVER_PID" "xdp_calib (pid $DRIVER_PID)" 50
	DRIVER_PID=
}

stop_redis() {
	if [ -n "$REDIS_PID" ]; then
		redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
		for _ in $(seq 1 30); do
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$REDIS_PID" 2>/dev/null || true
		REDIS_PID=
	fi
}

# Everything of the UDP part: the hook's daemon, our drivers, Redis, the
# netns, bpf_stats. Idempotent (main calls it before the other suites, the
# EXIT trap again).
udp_teardown() {
	if [ -n "$HOOK_STOP" ]; then
		"$HOOK_STOP"
		HOOK_STOP=
	fi
	stop_driver
	stop_redis
	if [ -n "$NETNS_UP" ]; then
		tkb_detach
		tkb_netns_down
		NETNS_UP=
	fi
	if [ -n "$STATS_BEFORE" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_BEFORE" >/dev/null
		STATS_BEFORE=
	fi
}

# The back ends of bench/hooks/ticketd_common.sh, if they were started.
services_down() {
	if declare -F tkd_services_down >/dev/null; then tkd_services_down; fi
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if declare -F stop_suite >/dev/null; then stop_suite; fi
	udp_teardown
	services_down
	rm -rf "$WORK"
	if [ -n "$QUICK_DIR" ]; then
		if [ "${BENCH_KEEP_QUICK:-0}" = 1 ] || [ "$rc" != 0 ]; then
			log "bench-quick: results kept in $QUICK_DIR"
		else
			rm -rf "$QUICK_DIR" "$TKD_RUN_DIR"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

start_redis() {
	local p
	for p in $(seq 6395 6420); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			REDIS_PORT=$p
			break
		fi
	done
	[ -n "$REDIS_PORT" ] || die "no free port in 6395..6420 for redis-server"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
		--appendonly no --daemonize yes --dir "$WORK" \
		--pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log" >/dev/null
	for _ in $(seq 1 50); do
		if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG &&
			[ -s "$WORK/redis.pid" ]; then
			REDIS_PID=$(cat "$WORK/redis.pid")
			# the sold set is not empty, so the sold check does real
			# work; its seats lie outside the benchmark's range
			redis-cli -p "$REDIS_PORT" sadd "sold:{$EVENT}" 1000001 \
				1000002 1000003 >/dev/null
			return 0
		fi
		sleep 0.1
	done
	die "redis-server did not start on port $REDIS_PORT"
}

enable_bpf_stats() {
	if [ -z "$STATS_BEFORE" ]; then
		STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
	fi
	sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
}

# ---- measuring ------------------------------------------------------------------

# run_time_ns and run_cnt of a BPF program (bpf_stats_enabled must be 1).
bpf_prog_stats() {
	if [ -z "$1" ]; then
		echo null
		return
	fi
	bpftool prog show id "$1" -j 2>/dev/null |
		jq -c '{run_time_ns: (.run_time_ns // 0), run_cnt: (.run_cnt // 0)}' ||
		echo null
}

# The load shapes every path gets: one per thread count with WINDOW in
# flight per thread, and (BENCH_RTT=1) one thread with one in flight.
SHAPES=()
for t in $THREADS_LIST; do SHAPES+=("t$t"); done
if [ "$RTT" = 1 ]; then SHAPES+=(rtt); fi

# udp_load arguments of a shape (the same workload for every path).
shape_args() {
	local threads=${1#t} window=$WINDOW batch=$BATCH
	if [ "$1" = rtt ]; then threads=1 window=1 batch=1; fi
	echo --threads "$threads" --duration "$SECS" --warmup "$WARMUP" \
		--mode closed --window "$window" --batch "$batch" \
		--event "$EVENT" --seats "$SEATS" --mix "$MIX"
}

# Records what a series is, once. Args: id title path shape kind command.
# kind says what the serving CPU is: "xdp" = softirq time of all CPUs (plus
# the ring consumer's process, if any), "process" = the server process.
series_meta() {
	local threads=${4#t} window=$WINDOW
	if [ "$4" = rtt ]; then threads=1 window=1; fi
	[ -f "$WORK/series/$1.meta.json" ] && return 0
	jq -n --arg id "$1" --arg title "$2" --arg path "$3" \
		--argjson threads "$threads" --argjson window "$window" \
		--arg kind "$5" --arg command "$6" --arg server "$CUR_SERVER_CMD" \
		'{id: $id, title: $title, path: $path, threads: $threads,
		  window: $window, serving_cpu: $kind, command: $command,
		  server_command: $server}' >"$WORK/series/$1.meta.json"
}

# CPU time (user + sys, ns) of the processes of CUR_AUX ("name:pid ..."),
# as a JSON object {name: ns}.
aux_cpu_ns() {
	local item name pid tck ticks out='{}'
	tck=$(getconf CLK_TCK)
	for item in $CUR_AUX; do
		name=${item%%:*} pid=${item#*:}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null) || continue
		[ -n "$ticks" ] || continue
		out=$(jq -c --arg n "$name" --argjson ns "$((ticks * 1000000000 / tck))" '. + {($n): $ns}' <<<"$out")
	done
	echo "$out"
}

# One repetition of one series. Args: id rep prog-id background% -- udp_load
# args. Appends {rep, background_busy_pct, load, bpf, aux} to <id>.jsonl.
# aux: the CPU of CUR_AUX's processes over the whole udp_load run (warm-up
# included: they may work asynchronously), per decision of that run.
run_one() {
	local id=$1 r=$2 prog=$3 bg=$4 out b0 b1 a0 a1
	shift 5
	out="$WORK/$id.$r.json"
	b0=$(bpf_prog_stats "$prog")
	a0=$(aux_cpu_ns)
	if ! timeout $((SECS + 30)) "$UDP_LOAD" "$@" >"$out" 2>"$WORK/$id.$r.err"; then
		log "$id rep $r: udp_load failed: $(tail -n 3 "$WORK/$id.$r.err" | tr '\n' ' ')"
		[ -s "$out" ] || return 0
	fi
	a1=$(aux_cpu_ns)
	b1=$(bpf_prog_stats "$prog")
	jq -c --argjson rep "$r" --argjson bg "$bg" --argjson b0 "$b0" --argjson b1 "$b1" \
		--argjson a0 "$a0" --argjson a1 "$a1" '
		(.decisions_per_s * (.cpu.wall_s // .measured_s // 0)) as $n
		| {rep: $rep, background_busy_pct: $bg, load: .,
		 bpf: (if $b0 == null or $b1 == null or
			  ($b1.run_cnt - $b0.run_cnt) <= 0 then null
		       else {run_cnt: ($b1.run_cnt - $b0.run_cnt),
			     run_time_ns: ($b1.run_time_ns - $b0.run_time_ns),
			     ns_per_run: (($b1.run_time_ns - $b0.run_time_ns) /
					  ($b1.run_cnt - $b0.run_cnt))} end),
		 aux: ($a1 | with_entries(select($a0[.key] != null)
			| .value = {cpu_ns: (.value - $a0[.key]),
				    ns_per_decision: (if $n > 0 then (.value - $a0[.key]) / $n else null end)}))}' \
		"$out" >>"$WORK/series/$id.jsonl"
	log "$(jq -r --arg id "$id" --argjson r "$r" '"\($id) rep \($r): \(.decisions_per_s | floor) decisions/s, p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us, timeouts \(.timeouts), statuses \(.status | tostring)"' "$out")"
}

skip() { # id reason
	log "$1: skipped: $2"
	jq -n --arg id "$1" --arg reason "$2" '{id: $id, reason: $reason}' \
		>"$WORK/series/$1.skip.json"
}

# Runs every shape of a path once. Needs CUR_PROG, CUR_ARGS (the target
# part of the udp_load arguments) set by the path's up function.
# Args: prefix title path kind rep background%.
measure_round() {
	local prefix=$1 title=$2 path=$3 kind=$4 r=$5 bg=$6 shape args more
	for shape in "${SHAPES[@]}"; do
		read -r -a more <<<"$(shape_args "$shape")"
		args=("${CUR_ARGS[@]}" "${more[@]}")
		series_meta "${prefix}_$shape" "$title" "$path" "$shape" "$kind" \
			"$UDP_LOAD ${args[*]}"
		run_one "${prefix}_$shape" "$r" "$CUR_PROG" "$bg" -- "${args[@]}"
	done
}

# ---- the paths: each has an up and a down function ------------------------------

CUR_PROG=
CUR_ARGS=()
CUR_SERVER_CMD= # what serves the path, for the report
CUR_AUX=        # "name:pid ..." whose CPU is reported beside the serving cost

# (a) the ceiling: the trivial program on tkb1.
ceiling_up() {
	CUR_PROG=$(tkb_attach "$TRIVIAL_OBJ" xdp_trivial) || return 1
	CUR_ARGS=(--target "$TKB_NS_IP:7000")
	CUR_SERVER_CMD="$XDP_CALIB --attach --netns $TKB_NS --iface $TKB_NS_IF --obj $TRIVIAL_OBJ --prog xdp_trivial"
}
ceiling_down() { tkb_detach; }

# The real program without ticketd: xdp_calib loads it with private maps,
# configures them as ticketd would (random token key, an event with the
# benchmark's seats, default hold limit, and the per-source rate limit on at
# a rate that never refuses, so every check of a decision runs), mints one
# token per slot, attaches it to tkb1 and drains its ring buffer until
# stopped.
TESTRUN_KEY=$(od -An -N16 -tx8 /dev/urandom | awk '{print $1 "," $2}')
edge_args() { # how many tokens to mint
	echo --edge-config 7000 --edge-event "$EVENT:$((${SEATS#*-} + 1))" \
		--edge-limits 0,1000000000,1000000 --mint "$TESTRUN_KEY" --slots "1-$1"
}

xdp_prog_up() {
	local serve=$(((SECS + 5) * ${#SHAPES[@]} + 60)) cmd
	rm -f "$WORK/driver.out" "$WORK/tokens"
	read -r -a cmd <<<"$XDP_CALIB --attach --netns $TKB_NS --iface $TKB_NS_IF --obj $FULL_OBJ --prog $FULL_PROG $(edge_args $((MAX_T * WINDOW))) --tokens-out $WORK/tokens --serve $serve"
	CUR_SERVER_CMD="${cmd[*]}"
	"${cmd[@]}" >"$WORK/driver.out" 2>"$WORK/driver.err" &
	DRIVER_PID=$!
	for _ in $(seq 1 100); do
		if [ -s "$WORK/driver.out" ]; then break; fi
		kill -0 "$DRIVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	CUR_PROG=$(head -n 1 "$WORK/driver.out" 2>/dev/null | jq -r '.prog_id // empty' 2>/dev/null || true)
	if [ -z "$CUR_PROG" ]; then
		log "xdp_calib could not set up $FULL_OBJ: $(tail -n 2 "$WORK/driver.err" | tr '\n' ' ')"
		stop_driver
		return 1
	fi
	CUR_ARGS=(--target "$TKB_NS_IP:7000" --tokens "$WORK/tokens" --server-pid "$DRIVER_PID")
}
xdp_prog_down() { stop_driver; }

# (b) Redis + Lua: the server runs for the whole benchmark.
redis_up() {
	CUR_SERVER_CMD="redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no (scripts: bench/redis_*.lua)"
	CUR_PROG=
	CUR_ARGS=(--backend redis --redis "127.0.0.1:$REDIS_PORT" --lua-dir bench
		--server-pid "$REDIS_PID")
}
redis_down() { :; }

# (c) the daemon's paths, through bench/hooks/<name>.sh. Args: name kind.
hooked_up() {
	local name=$1 kind=$2 hook="bench/hooks/$1.sh"
	# shellcheck disable=SC1090
	source "$hook"
	TKB_TARGET='' TKB_TOKENS='' TKB_SERVER_PID='' TKB_PROG_ID='' TKB_AUX_PIDS=''
	TKB_EVENT=$EVENT TKB_SEATS=$SEATS
	CUR_AUX=
	if [ "$name" = xdp_full ]; then tkb_detach; fi
	HOOK_STOP="bench_${name}_stop"
	CUR_SERVER_CMD="bench_${name}_start of $hook"
	"bench_${name}_start" || return 1
	if [ -z "$TKB_TARGET" ] || [ ! -s "$TKB_TOKENS" ]; then
		log "$hook: start must export TKB_TARGET and TKB_TOKENS"
		return 1
	fi
	CUR_PROG=${TKB_PROG_ID:-}
	if [ "$kind" = xdp ] && [ -z "$CUR_PROG" ]; then
		CUR_PROG=$(bpftool prog show -j | jq -r --arg n "$FULL_PROG" \
			'[.[] | select(.name == $n)][0].id // empty')
	fi
	CUR_ARGS=(--target "$TKB_TARGET" --tokens "$TKB_TOKENS")
	if [ -n "$TKB_SERVER_PID" ]; then CUR_ARGS+=(--server-pid "$TKB_SERVER_PID"); fi
	CUR_AUX=${TKB_AUX_PIDS:-}
}
hooked_down() {
	CUR_AUX=
	if [ -n "$HOOK_STOP" ]; then
		"$HOOK_STOP" || true
		HOOK_STOP=
	fi
}

# Says why a daemon path cannot run yet, or nothing when it can.
hooked_missing() { # name
	if [ ! -x "$BUILD/ticketd" ]; then
		echo "not available yet: $BUILD/ticketd is not built"
	elif [ "$1" = xdp_full ] && [ ! -f "$FULL_OBJ" ]; then
		echo "not available yet: $FULL_OBJ is not built"
	elif [ ! -f "bench/hooks/$1.sh" ]; then
		echo "not available yet: bench/hooks/$1.sh (start/stop ticketd for this path) does not exist"
	fi
}

# One round of a daemon path (ticketd started for the round, from a fresh
# state, and stopped after it). Args: name kind title rep background%.
# Returns 1 when the hook could not start it.
daemon_round() {
	local name=$1 kind=$2 title=$3 r=$4 bg=$5
	if ! hooked_up "$name" "$kind"; then
		hooked_down
		log "$name round $r left out: its hook failed to start it"
		return 1
	fi
	# shellcheck disable=SC2153
	EVENT=$TKB_EVENT SEATS=$TKB_SEATS measure_round "$name" "$title" \
		"$name" "$kind" "$r" "$bg"
	hooked_down
}

# The interleaved rounds: every path once per round, back to back.
bench_rounds() {
	local r bg have_prog=1 why_full why_sock fail_full=0 fail_sock=0
	if [ ! -f "$FULL_OBJ" ]; then
		have_prog=0
		skip xdp_prog "not available yet: $FULL_OBJ is not built"
	fi
	why_full=$(hooked_missing xdp_full)
	if [ -n "$why_full" ]; then skip xdp_full "$why_full"; fi
	why_sock=$(hooked_missing socket_door)
	if [ -n "$why_sock" ]; then skip socket_door "$why_sock"; fi
	for r in $(seq 1 "$REPS"); do
		bg=$(background_busy_pct)
		log "round $r of $REPS (background load $bg %)"
		if path_on ceiling; then
			ceiling_up || die "cannot attach the trivial program"
			if [ "$r" = 1 ] && [ -x "$BUILD/ticketctl" ] &&
				! "$BUILD/ticketctl" --server "$TKB_NS_IP:7000" \
					--token 00000000000000000000000000000000 \
					hold "$EVENT" 0 >/dev/null; then
				die "the trivial program does not answer on $TKB_NS_IP:7000"
			fi
			measure_round ceiling "trivial XDP program (ceiling)" xdp_trivial \
				xdp "$r" "$bg"
			ceiling_down
		fi
		if [ "$have_prog" = 1 ] && path_on xdp_prog; then
			if xdp_prog_up; then
				measure_round xdp_prog "full XDP program, no daemon (xdp_calib drains the ring)" \
					xdp_prog xdp "$r" "$bg"
			else
				log "xdp_prog round $r left out"
			fi
			xdp_prog_down
		fi
		if [ -z "$why_full" ] && path_on xdp_full; then
			daemon_round xdp_full xdp "full XDP program under ticketd" \
				"$r" "$bg" || fail_full=$((fail_full + 1))
		fi
		if [ -z "$why_sock" ] && path_on socket_door; then
			daemon_round socket_door process \
				"ticketd socket door (recvmmsg/sendmmsg)" "$r" "$bg" ||
				fail_sock=$((fail_sock + 1))
		fi
		if path_on redis; then
			redis_up
			measure_round redis "Redis 7 + Lua (EVALSHA, pipelined)" redis_lua \
				process "$r" "$bg"
			redis_down
		fi
	done
	log "redis keys left after the runs: $(redis-cli -p "$REDIS_PORT" dbsize) (1 = the sold set only)"
	if [ "$fail_full" -eq "$REPS" ]; then
		skip xdp_full "its hook failed to start ticketd in every round (see the log)"
	fi
	if [ "$fail_sock" -eq "$REPS" ]; then
		skip socket_door "its hook failed to start ticketd in every round (see the log)"
	fi
}

# ---- prog_test_run ----------------------------------------------------------------

# Args: id obj prog [xdp_calib options...]
prog_test_run() {
	local id=$1 obj=$2 prog=$3 r
	shift 3
	local cmd=("$XDP_CALIB" --prog-test-run "$TEST_RUNS" --obj "$obj"
		--prog "$prog" --bpf-stats --event "$EVENT" --seats "$SEATS"
		--mix "$MIX" "$@")
	jq -n --arg id "$id" --arg obj "$obj" --arg prog "$prog" \
		--arg command "${cmd[*]}" \
		'{id: $id, obj: $obj, prog: $prog, command: $command}' \
		>"$WORK/series/$id.ptr.meta.json"
	: >"$WORK/series/$id.ptr.jsonl"
	for r in $(seq 1 "$REPS"); do
		if ! "${cmd[@]}" >"$WORK/$id.$r.json" 2>"$WORK/$id.$r.err"; then
			log "$id rep $r failed: $(tail -n 3 "$WORK/$id.$r.err" | tr '\n' ' ')"
			continue
		fi
		jq -c --argjson rep "$r" '{rep: $rep} + .' "$WORK/$id.$r.json" \
			>>"$WORK/series/$id.ptr.jsonl"
		log "$(jq -r --arg id "$id" '"\($id): \(.ns_per_run.median) ns/run, \(.empty_prog_ns_per_run.median) empty program, \(.net_ns_per_run.median) net; statuses \(.status | tostring)"' "$WORK/$id.$r.json")"
	done
}

bench_prog_test_run() {
	prog_test_run prog_test_run_trivial "$TRIVIAL_OBJ" xdp_trivial
	if [ ! -f "$FULL_OBJ" ]; then
		skip prog_test_run_full "not available yet: $FULL_OBJ is not built"
		return 0
	fi
	# A hook may give its own set-up; by default xdp_calib configures the
	# program's maps itself (1024 sessions over the rotating seats, 4
	# sessions an origin as ticketd records them in slot_origin, so the
	# origin's hold count runs too: every check on).
	# shellcheck disable=SC2046,SC2086
	prog_test_run prog_test_run_full "$FULL_OBJ" "$FULL_PROG" \
		${TKB_TESTRUN_ARGS:-$(edge_args 1024) --origins 256}
	# the same with protocol v2 requests: the cost of the per-request MAC
	# and the replay window (docs/protocol.md, "Version 2")
	# shellcheck disable=SC2046,SC2086
	prog_test_run prog_test_run_full_v2 "$FULL_OBJ" "$FULL_PROG" \
		${TKB_TESTRUN_ARGS:-$(edge_args 1024) --origins 256} --v2
	# The row as published before --origins (no slot_origin: the origin's
	# count skipped), beside the new one for one run so the change in the
	# figure shows; remove after the next published run.
	# shellcheck disable=SC2046,SC2086
	[ -n "${TKB_TESTRUN_ARGS:-}" ] ||
		prog_test_run prog_test_run_full_no_origins "$FULL_OBJ" "$FULL_PROG" \
			$(edge_args 1024)
}

# ---- report ---------------------------------------------------------------------------

machine_json() {
	bench_machine_json cores | jq --arg redis "$(redis_version)" \
		--arg build "${BUILD_INFO:-}" '. + {redis: $redis, build: $build}'
}

# What was measured: others change the tree while benchmarks run.
build_info() {
	local t
	t=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
	git diff --quiet HEAD 2>/dev/null || t="$t + uncommitted changes"
	echo "tree $t; ticketd sha256 $(sha256sum "$BUILD/ticketd" 2>/dev/null | cut -c1-12), seat_hold.bpf.o sha256 $(sha256sum "$FULL_OBJ" 2>/dev/null | cut -c1-12)"
}

assemble() {
	local started=$1 finished=$2 m id
	local series=() ptrs=() skips=() daemon=()
	shopt -s nullglob
	for m in "$WORK"/series/*.meta.json; do
		case "$m" in *.ptr.meta.json) continue ;; esac
		id=$(basename "$m" .meta.json)
		[ -s "$WORK/series/$id.jsonl" ] || continue
		series+=("$(jq -c --slurpfile reps "$WORK/series/$id.jsonl" \
			'. + {reps: $reps}' "$m")")
	done
	for m in "$WORK"/series/*.ptr.meta.json; do
		id=$(basename "$m" .ptr.meta.json)
		ptrs+=("$(jq -c --slurpfile reps "$WORK/series/$id.ptr.jsonl" \
			'. + {reps: $reps}' "$m")")
	done
	skips=("$WORK"/series/*.skip.json)
	daemon=("$WORK"/daemon/*.jsonl)
	shopt -u nullglob
	{
		if [ ${#series[@]} -gt 0 ]; then printf '%s\n' "${series[@]}" | jq -s .; else echo '[]'; fi
		if [ ${#ptrs[@]} -gt 0 ]; then printf '%s\n' "${ptrs[@]}" | jq -s .; else echo '[]'; fi
		if [ ${#skips[@]} -gt 0 ]; then jq -s . "${skips[@]}"; else echo '[]'; fi
		machine_json
		# what ticketd counted, one object per round of each daemon path
		if [ ${#daemon[@]} -gt 0 ]; then cat "${daemon[@]}" | jq -s 'group_by(.path) | map({key: .[0].path, value: .}) | from_entries'; else echo '{}'; fi
	} | jq -s --arg name "$NAME" --arg started "$started" --arg finished "$finished" \
		--argjson reps "$REPS" --argjson secs "$SECS" --arg warmup "$WARMUP" \
		--argjson window "$WINDOW" --argjson batch "$BATCH" --arg seats "$SEATS" \
		--argjson event "$EVENT" --arg mix "$MIX" --arg threads "$THREADS_LIST" \
		--argjson test_runs "$TEST_RUNS" -f bench/summarize.jq >"$OUT"
}

# ---- the other benchmarks ------------------------------------------------------

RUN_T0=$(date +%s)
SUITES_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

stop_suite() {
	[ -n "$SUITE_PID" ] || return 0
	log "stopping the running suite (pid $SUITE_PID)"
	# its own clean-up may stop services: up to 3 minutes
	stop_pid "$SUITE_PID" "the suite (pid $SUITE_PID)" 1800
	SUITE_PID=
}

# Records how a suite went, for the header of BENCHMARKS.md.
# Args: name title command status reason started seconds md.
suite_record() {
	jq -nc --arg name "$1" --arg title "$2" --arg command "$3" --arg status "$4" \
		--arg reason "$5" --arg started "$6" --argjson seconds "$7" --arg md "$8" \
		--arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		'{name: $name, title: $title, command: $command, status: $status,
		  reason: (if $reason == "" then null else $reason end),
		  started: $started, finished: $finished, seconds: $seconds, md: $md}' \
		>>"$WORK/suites.jsonl"
}

# Runs one benchmark script, bounded by its cap and by what is left of
# BENCH_BUDGET; its stdout goes to $WORK/suite-<name>.out, its stderr to
# ours. Args: name title cap md -- command...; sets SUITE_RC.
run_suite() {
	local name=$1 title=$2 cap=$3 md=$4 left t0 started status reason=""
	shift 5
	SUITE_RC=1
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	# 45 s for assembling and clean-up, a suite needs at least a minute
	# (bench-quick: 5 s and 15 s)
	local reserve=45 least=60
	if [ "$QUICK" = 1 ]; then reserve=5 least=15; fi
	left=$((BUDGET - ($(date +%s) - RUN_T0) - reserve))
	if [ "$left" -lt "$least" ]; then
		log "suite $name: skipped, the time budget (BENCH_BUDGET=${BUDGET}s) is used up"
		suite_record "$name" "$title" "$*" skipped "the time budget of make bench (BENCH_BUDGET=${BUDGET}s) was used up" "$started" 0 "$md"
		return 0
	fi
	if [ "$cap" -gt "$left" ]; then cap=$left; fi
	touch "$WORK/suite-$name.stamp"
	# the command without the env prefix of OWN_SVC (results paths)
	log "suite $name: $(sed -E 's/^env( -u [A-Z_]+| [A-Z_]+=[^ ]*)* //' <<<"$*") (at most ${cap}s)"
	t0=$(date +%s)
	# shared back ends: a RUN_DIR of the suite's own (shared_env)
	local own_dir=()
	if [ -n "$SHARED" ]; then own_dir=(env "RUN_DIR=$QUICK_DIR/run/$name"); fi
	timeout -k 60 "$cap" "${own_dir[@]}" "$@" >"$WORK/suite-$name.out" \
		2> >(tee "$WORK/suite-$name.err" >&2) &
	SUITE_PID=$!
	SUITE_RC=0
	wait "$SUITE_PID" || SUITE_RC=$?
	SUITE_PID=
	case "$SUITE_RC" in
	0) status=measured ;;
	124 | 137) status="timed out" reason="stopped after ${cap}s" ;;
	*)
		status=failed
		# its last error line says why (for the header of BENCHMARKS.md);
		# give tee a moment to write it
		sleep 0.5
		# (none: grep fails, which must not end this script under set -e)
		reason="exit status $SUITE_RC$({ grep -i 'error' "$WORK/suite-$name.err" 2>/dev/null || true; } |
			tail -n 1 | tr '|' '/' | cut -c1-200 | sed 's/^/: /')"
		;;
	esac
	log "suite $name: $status${reason:+ ($reason)} after $(($(date +%s) - t0))s"
	suite_record "$name" "$title" "$*" "$status" "$reason" "$started" "$(($(date +%s) - t0))" "$md"
}

# The markdown of a suite whose script prints it but does not write
# bench/results/<name>.md itself. Args: name title md command-shown.
suite_md_from_stdout() {
	local name=$1 title=$2 md=$3 shown=$4
	if [ "$md" -nt "$WORK/suite-$name.stamp" ]; then return 0; fi # the script wrote it
	[ "$SUITE_RC" = 0 ] && [ -s "$WORK/suite-$name.out" ] || return 0
	{
		echo "## $title"
		echo
		echo "\`$shown\`, finished $(date -u +%Y-%m-%dT%H:%M:%SZ) (UTC); printed by the script:"
		echo
		# a text line right after a table would be read as one more row
		awk '{ if (prev ~ /^\|/ && $0 !~ /^\|/ && $0 != "") print ""; print; prev = $0 }' \
			"$WORK/suite-$name.out"
	} >"$md.tmp"
	mv "$md.tmp" "$md"
}

# The services of bench/hooks/ticketd_common.sh, for sse and orders.
with_services() {
	# shellcheck source=bench/hooks/ticketd_common.sh
	declare -F tkd_services_up >/dev/null || source bench/hooks/ticketd_common.sh
	tkd_services_up
}

# The environment that points a script at the back ends of
# bench/hooks/ticketd_common.sh (sse_bench.sh takes them from there).
svc_env() {
	echo "RUN_DIR=$TKD_RUN_DIR REDIS_PORT=$TKD_REDIS_PORT MARIADB_PORT=$TKD_MARIADB_PORT KAFKA_PORT=$TKD_KAFKA_PORT KAFKA_CONTROLLER_PORT=$TKD_KAFKA_CONTROLLER_PORT"
}
# bench-quick: the suites after sse share those back ends instead of
# starting and stopping their own (a few seconds each); each suite empties
# them first (bench_services_reset in bench/lib/common.sh) and gets a
# RUN_DIR of its own under QUICK_DIR (run_suite). Set by other_suites.
SHARED=
# rest, orders, hostile and the others start back ends of their own from
# their defaults: none of ours (or a caller's) may leak into them; with
# SHARED, the shared ones (shared_env).
OWN_SVC_UNSET=(-u RUN_DIR -u REDIS_PORT -u MARIADB_PORT -u KAFKA_PORT -u KAFKA_CONTROLLER_PORT
	-u BENCH_SHARED_SVC)
OWN_SVC=(env "${OWN_SVC_UNSET[@]}"
	"SSE_OUT=${SSE_OUT:-$RESULTS_DIR/sse.json}"
	"REST_OUT=${REST_OUT:-$RESULTS_DIR/rest_hold.json}"
	"ORD_OUT=${ORD_OUT:-$RESULTS_DIR/orders.json}" "ORD_MD=${ORD_MD:-$RESULTS_DIR/orders.md}"
	"HOSTILE_OUT=${HOSTILE_OUT:-$RESULTS_DIR/hostile.json}"
	"ROOM_OUT=${ROOM_OUT:-$RESULTS_DIR/room.json}" "ROOM_MD=${ROOM_MD:-$RESULTS_DIR/room.md}"
	"VU_OUT=${VU_OUT:-$RESULTS_DIR/vu.json}" "VU_MD=${VU_MD:-$RESULTS_DIR/vu.md}"
	"WIRE_OUT=${WIRE_OUT:-$RESULTS_DIR/wire.json}" "WIRE_MD=${WIRE_MD:-$RESULTS_DIR/wire.md}"
	"CHECKIN_OUT=${CHECKIN_OUT:-$RESULTS_DIR/checkin.json}"
	"CHECKIN_MD=${CHECKIN_MD:-$RESULTS_DIR/checkin.md}"
	"BEST_OUT=${BEST_OUT:-$RESULTS_DIR/best.json}" "BEST_MD=${BEST_MD:-$RESULTS_DIR/best.md}"
	"NODES_OUT=${NODES_OUT:-$RESULTS_DIR/nodes.json}" "NODES_MD=${NODES_MD:-$RESULTS_DIR/nodes.md}")
shared_env() {
	SHARED=1
	OWN_SVC=(env "BENCH_SHARED_SVC=$TKD_RUN_DIR" "REDIS_PORT=$TKD_REDIS_PORT"
		"MARIADB_PORT=$TKD_MARIADB_PORT" "KAFKA_PORT=$TKD_KAFKA_PORT"
		"KAFKA_CONTROLLER_PORT=$TKD_KAFKA_CONTROLLER_PORT"
		"${OWN_SVC[@]:$((1 + ${#OWN_SVC_UNSET[@]}))}")
	mkdir -p "$QUICK_DIR/run"
	log "bench-quick: the suites share the back ends under $TKD_RUN_DIR"
}

# sse first, while the UDP part's back ends still run (it needs some and
# starts none), then rest, orders and the others with their own (with
# those shared under bench-quick).
other_suites() {
	local env_sse
	if suite_on sse; then
		if [ ! -f bench/sse_bench.sh ]; then
			suite_record sse "Seat stream (SSE) fan-out" "bash bench/sse_bench.sh" skipped "bench/sse_bench.sh does not exist" "$SUITES_STARTED" 0 "$RESULTS_DIR/sse.md"
		elif ! with_services; then
			suite_record sse "Seat stream (SSE) fan-out" "bash bench/sse_bench.sh" failed "its back ends (infra/services.sh under ${TKD_RUN_DIR:-?}) did not start" "$SUITES_STARTED" 0 "$RESULTS_DIR/sse.md"
		else
			env_sse=$(svc_env)
			# shellcheck disable=SC2086
			run_suite sse "Seat stream (SSE) fan-out" "$SSE_TIMEOUT" "$RESULTS_DIR/sse.md" \
				-- env $env_sse "SSE_OUT=${SSE_OUT:-$RESULTS_DIR/sse.json}" bash bench/sse_bench.sh
			suite_md_from_stdout sse "Seat stream (SSE) fan-out" "$RESULTS_DIR/sse.md" \
				"$env_sse bash bench/sse_bench.sh"
		fi
	fi
	if [ "$QUICK" = 1 ] && with_services; then
		shared_env
	else
		services_down
	fi
	if suite_on rest; then
		if [ -f bench/rest_bench.sh ]; then
			run_suite rest "REST holds" "$REST_TIMEOUT" "$RESULTS_DIR/rest_hold.md" \
				-- "${OWN_SVC[@]}" bash bench/rest_bench.sh
			if [ "$SUITE_RC" = 0 ] && [ "$RESULTS_DIR/rest_hold.json" -nt "$WORK/suite-rest.stamp" ]; then
				bash bench/rest_render.sh "$RESULTS_DIR/rest_hold.json" >"$RESULTS_DIR/rest_hold.md.tmp" &&
					mv "$RESULTS_DIR/rest_hold.md.tmp" "$RESULTS_DIR/rest_hold.md"
			fi
		else
			suite_record rest "REST holds" "bash bench/rest_bench.sh" skipped "bench/rest_bench.sh does not exist" "$SUITES_STARTED" 0 "$RESULTS_DIR/rest_hold.md"
		fi
	fi
	if suite_on orders; then
		if [ -f bench/orders_bench.sh ]; then
			run_suite orders "Orders" "$ORDERS_TIMEOUT" "$RESULTS_DIR/orders.md" \
				-- "${OWN_SVC[@]}" bash bench/orders_bench.sh
			suite_md_from_stdout orders "Orders" "$RESULTS_DIR/orders.md" \
				"bash bench/orders_bench.sh"
		else
			suite_record orders "Orders" "bash bench/orders_bench.sh" skipped "bench/orders_bench.sh does not exist yet" "$SUITES_STARTED" 0 "$RESULTS_DIR/orders.md"
		fi
	fi
	if suite_on vu; then
		run_suite vu "The prior design's 1000-user scenario" "$VU_TIMEOUT" "$RESULTS_DIR/vu.md" \
			-- "${OWN_SVC[@]}" bash bench/vu_bench.sh
	fi
	if suite_on hostile; then
		run_suite hostile "Hostile clients" "$HOSTILE_TIMEOUT" "$RESULTS_DIR/hostile.md" \
			-- "${OWN_SVC[@]}" bash bench/hostile_bench.sh
	fi
	if suite_on room; then
		run_suite room "Waiting room" "$ROOM_TIMEOUT" "$RESULTS_DIR/room.md" \
			-- "${OWN_SVC[@]}" bash bench/room_bench.sh
	fi
	if suite_on wire; then
		run_suite wire "XDP path beyond the socket ceiling" "$WIRE_TIMEOUT" "$RESULTS_DIR/wire.md" \
			-- "${OWN_SVC[@]}" bash bench/wire_bench.sh
	fi
	if suite_on checkin; then
		run_suite checkin "Check-in" "$CHECKIN_TIMEOUT" "$RESULTS_DIR/checkin.md" \
			-- "${OWN_SVC[@]}" bash bench/checkin_bench.sh
	fi
	if suite_on best; then
		run_suite best "Best available" "$BEST_TIMEOUT" "$RESULTS_DIR/best.md" \
			-- "${OWN_SVC[@]}" bash bench/best_bench.sh
	fi
	if suite_on nodes; then
		run_suite nodes "Edge nodes" "$NODES_TIMEOUT" "$RESULTS_DIR/nodes.md" \
			-- "${OWN_SVC[@]}" bash bench/nodes_bench.sh
	fi
	if suite_on plots; then
		if [ -f bench/plots_bench.sh ]; then
			run_suite plots "Plots" "$PLOTS_TIMEOUT" "$RESULTS_DIR/plots.md" \
				-- "${OWN_SVC[@]}" bash bench/plots_bench.sh
		else
			log "suite plots: skipped: bench/plots_bench.sh does not exist (yet)"
			suite_record plots "Plots" "bash bench/plots_bench.sh" skipped "bench/plots_bench.sh does not exist" "$SUITES_STARTED" 0 "$RESULTS_DIR/plots.md"
		fi
	fi
}

udp_suite() {
	local started finished t0
	t0=$(date +%s)
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	BUILD_INFO=$(build_info)
	log "run $NAME: $REPS rounds, ${SECS}s per measurement, shapes ${SHAPES[*]}, window $WINDOW"
	tkb_netns_up
	NETNS_UP=1
	start_redis
	enable_bpf_stats
	bench_rounds
	bench_prog_test_run
	finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	udp_teardown
	# ticketd's back ends stay up for sse and bench-quick's other suites
	# (other_suites stops them)
	if ! suite_on sse && [ "$QUICK" != 1 ]; then services_down; fi
	assemble "$started" "$finished"
	log "wrote $OUT"
	bash bench/render_bench.sh "$OUT" >"$RESULTS_DIR/udp.md.tmp"
	mv "$RESULTS_DIR/udp.md.tmp" "$RESULTS_DIR/udp.md"
	log "wrote $RESULTS_DIR/udp.md"
	suite_record udp "UDP hold path" "bash bench/run_bench.sh (BENCH_SUITES=udp)" measured "" "$started" "$(($(date +%s) - t0))" "$RESULTS_DIR/udp.md"
}

# bench-quick's back ends (bench/hooks/ticketd_common.sh under a
# TKD_RUN_DIR of their own: the suites' orders, check-ins and events must
# not reach those of make bench) are fresh every time: nothing of an
# earlier smoke run is found again; what an interrupted one left running is
# stopped first.
quick_services_fresh() {
	[ -d "$TKD_RUN_DIR" ] || return 0
	RUN_DIR=$TKD_RUN_DIR timeout 180 bash infra/services.sh stop >&2 || true
	rm -rf "$TKD_RUN_DIR"
}

main() {
	local s
	: >"$WORK/suites.jsonl"
	if [ "$QUICK" = 1 ]; then quick_services_fresh; fi
	if suite_on udp; then udp_suite; fi
	other_suites
	for s in $ALL_SUITES; do
		suite_on "$s" || suite_record "$s" "$s" "" "not run" "not in BENCH_SUITES of this make bench" "$SUITES_STARTED" 0 ""
	done
	jq -s --arg started "$SUITES_STARTED" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg suites "$SUITES" --argjson budget "$BUDGET" \
		'{command: "make bench", suites_asked: $suites, budget_s: $budget,
		  started: $started, finished: $finished, suites: .}' \
		"$WORK/suites.jsonl" >"$RESULTS_DIR/suites.json"
	bash bench/render_all.sh >"$MARKDOWN.tmp"
	mv "$MARKDOWN.tmp" "$MARKDOWN"
	log "wrote $MARKDOWN ($(($(date +%s) - RUN_T0))s in all)"
	if [ "$QUICK" = 1 ]; then
		# every suite asked must have run; a missing optional script
		# (plots) is skipped, not failed
		local bad
		bad=$(jq -r '[.suites[] | select(.status != "measured" and .status != "not run"
			and (.reason // "" | test("does not exist") | not))
			| "\(.name): \(.status)\(if .reason then " (" + .reason + ")" else "" end)"] | join("; ")' \
			"$RESULTS_DIR/suites.json")
		if [ -n "$bad" ]; then
			die "bench-quick: $bad"
		fi
		log "bench-quick: every suite ran ($(jq -r '[.suites[] | "\(.name) \(.status) \(.seconds)s"] | join(", ")' "$RESULTS_DIR/suites.json")) in $(($(date +%s) - RUN_T0))s"
	fi
}

main "$@"
