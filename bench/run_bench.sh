#!/usr/bin/env bash
# `make bench`: measures every UDP hold path against the same load in one
# run, writes bench/results/<name>.json and rewrites BENCHMARKS.md from it.
#
#   (a) ceiling      trivial XDP program (bench/xdp_trivial.bpf.c) on a
#                    throwaway veth, udp_load closed loop, 1 and 2 threads
#   (b) redis_lua    the same workload against Redis + Lua (EVALSHA,
#                    pipelined with the same window), redis-server on loopback
#   (c) xdp_prog     the real XDP program (bpf/seat_hold.bpf.c) without the
#                    daemon: xdp_calib sets up its maps and drains its ring
#       xdp_full     the real XDP program under ticketd        } hooks, skipped
#       socket_door  ticketd's socket fallback                 } until present
#   (d) prog_test_run ns per run of the trivial and of the real program
#
# Each measurement runs BENCH_REPS times; the report gives the median and the
# spread (min-max) and ratios against the ceiling and against Redis + Lua of
# this same run. Everything it starts it stops (trap); every loop is bounded.
#
# Settings (environment): BENCH_REPS (5, 1..20), BENCH_SECS (3, 1..30),
# BENCH_WARMUP (0.5), BENCH_WINDOW (64), BENCH_BATCH (32), BENCH_THREADS
# ("1 2"), BENCH_RTT (1: also one thread with one request in flight, the
# unloaded round trip), BENCH_SEATS (0-16383), BENCH_EVENT (1), BENCH_MIX (hold,release),
# BENCH_TEST_RUNS (200000), BENCH_NAME (UTC time stamp), BENCH_MARKDOWN
# (BENCHMARKS.md), BUILD (build).
#
# Hooks for the paths the daemon provides (bench/hooks/<name>.sh, sourced
# when present; see bench_xdp_full and bench_socket_door below):
#   bench_<name>_start  must export TKB_TARGET (host:port), TKB_TOKENS (file,
#                       one 32-hex token per line, at least one per slot:
#                       threads x window), TKB_EVENT, TKB_SEATS (A-B, at
#                       least threads x window seats), TKB_SERVER_PID (the
#                       process whose CPU is the serving cost: ticketd),
#                       optionally TKB_PROG_ID (xdp_full; default: found by
#                       name), TKB_TESTRUN_ARGS (xdp_calib set-up arguments
#                       for prog_test_run of seat_hold.bpf.o instead of the
#                       built-in --edge-config ones)
#   bench_<name>_stop   stops what start started
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
REPS=${BENCH_REPS:-5}
SECS=${BENCH_SECS:-3}
WARMUP=${BENCH_WARMUP:-0.5}
WINDOW=${BENCH_WINDOW:-64}
BATCH=${BENCH_BATCH:-32}
THREADS_LIST=${BENCH_THREADS:-1 2}
RTT=${BENCH_RTT:-1}
SEATS=${BENCH_SEATS:-0-16383}
EVENT=${BENCH_EVENT:-1}
MIX=${BENCH_MIX:-hold,release}
TEST_RUNS=${BENCH_TEST_RUNS:-200000}
NAME=${BENCH_NAME:-$(date -u +%Y%m%dT%H%M%SZ)}
MARKDOWN=${BENCH_MARKDOWN:-BENCHMARKS.md}
RESULTS_DIR=bench/results
OUT=$RESULTS_DIR/$NAME.json

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

int_in() { # value lo hi
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
int_in "$REPS" 1 20 || die "BENCH_REPS must be 1..20"
int_in "$SECS" 1 30 || die "BENCH_SECS must be 1..30"
int_in "$WINDOW" 1 4096 || die "BENCH_WINDOW must be 1..4096"
int_in "$BATCH" 1 256 || die "BENCH_BATCH must be 1..256"
int_in "$TEST_RUNS" 1000 10000000 || die "BENCH_TEST_RUNS must be 1000..10000000"
for t in $THREADS_LIST; do int_in "$t" 1 64 || die "BENCH_THREADS: $t"; done
[[ $NAME =~ ^[A-Za-z0-9._-]+$ ]] || die "BENCH_NAME: letters, digits, . _ - only"

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP)"
for tool in jq ip bpftool redis-server redis-cli; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
UDP_LOAD=$BUILD/udp_load
XDP_CALIB=$BUILD/xdp_calib
TRIVIAL_OBJ=$BUILD/bench/xdp_trivial.bpf.o
for f in "$UDP_LOAD" "$XDP_CALIB" "$TRIVIAL_OBJ"; do
	[ -e "$f" ] || die "$f missing: run make first"
done

# One benchmark at a time: the names of the netns and veth are fixed.
exec 9>/run/tkbench.lock
flock -n 9 || die "another bench run holds /run/tkbench.lock"

WORK=$(mktemp -d /tmp/tkbench.XXXXXX)
mkdir -p "$WORK/series" "$RESULTS_DIR"
TKB_BUILD=$BUILD
# shellcheck source=bench/netns.sh
source bench/netns.sh

REDIS_PID=
REDIS_PORT=
STATS_BEFORE=
HOOK_STOP=

cleanup() {
	local rc=$?
	set +e
	if [ -n "$HOOK_STOP" ]; then
		"$HOOK_STOP"
		HOOK_STOP=
	fi
	stop_driver
	if [ -n "$REDIS_PID" ]; then
		redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
		for _ in $(seq 1 30); do
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$REDIS_PID" 2>/dev/null
		REDIS_PID=
	fi
	tkb_detach
	tkb_netns_down
	if [ -n "$STATS_BEFORE" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_BEFORE" >/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------

# Busy share of all CPUs over one second while nothing of ours runs: other
# work on the machine skews every figure, so the report carries it.
background_busy_pct() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," ");split(b,y," ");
		busy=y[1]-x[1]; total=busy+y[2]-x[2]; pct=0;
		if (total > 0) pct=100*busy/total;
		printf "%.1f", pct}'
}

# run_time_ns and run_cnt of a BPF program (bpf_stats_enabled must be 1).
bpf_prog_stats() {
	local id=$1
	if [ -z "$id" ]; then
		echo null
		return
	fi
	bpftool prog show id "$id" -j 2>/dev/null |
		jq -c '{run_time_ns: (.run_time_ns // 0), run_cnt: (.run_cnt // 0)}' ||
		echo null
}

enable_bpf_stats() {
	if [ -z "$STATS_BEFORE" ]; then
		STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
	fi
	sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
}

# Records a series' description. Args: id title path threads window kind
# command background%. kind says what the serving CPU is: "xdp" = softirq
# time of all CPUs, "process" = CPU time of the server process.
series_meta() {
	jq -n --arg id "$1" --arg title "$2" --arg path "$3" \
		--argjson threads "$4" --argjson window "$5" --arg kind "$6" \
		--arg command "$7" --arg bg "$8" \
		'{id: $id, title: $title, path: $path, threads: $threads,
		  window: $window, serving_cpu: $kind, command: $command,
		  background_busy_pct: ($bg | tonumber)}' >"$WORK/series/$1.meta.json"
}

# Runs udp_load REPS times for one series. Args: id prog_id -- udp_load args.
# Writes one JSON object per repetition to $WORK/series/<id>.jsonl.
run_series() {
	local id=$1 prog=$2 r out b0 b1
	shift 3
	: >"$WORK/series/$id.jsonl"
	for r in $(seq 1 "$REPS"); do
		b0=$(bpf_prog_stats "$prog")
		out="$WORK/$id.$r.json"
		if ! timeout $((SECS + 30)) "$UDP_LOAD" "$@" >"$out" 2>"$WORK/$id.$r.err"; then
			log "$id rep $r: udp_load failed: $(tail -n 3 "$WORK/$id.$r.err")"
			[ -s "$out" ] || continue
		fi
		b1=$(bpf_prog_stats "$prog")
		jq -c --argjson rep "$r" --argjson b0 "$b0" --argjson b1 "$b1" '
			{rep: $rep, load: .,
			 bpf: (if $b0 == null or $b1 == null or
				  ($b1.run_cnt - $b0.run_cnt) <= 0 then null
			       else {run_cnt: ($b1.run_cnt - $b0.run_cnt),
				     run_time_ns: ($b1.run_time_ns - $b0.run_time_ns),
				     ns_per_run: (($b1.run_time_ns - $b0.run_time_ns) /
						  ($b1.run_cnt - $b0.run_cnt))} end)}' \
			"$out" >>"$WORK/series/$id.jsonl"
		log "$(jq -r --arg id "$id" --argjson r "$r" '"\($id) rep \($r): \(.decisions_per_s | floor) decisions/s, p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us, timeouts \(.timeouts)"' "$out")"
	done
}

skip() { # id reason
	log "$1: skipped: $2"
	jq -n --arg id "$1" --arg reason "$2" '{id: $id, reason: $reason}' \
		>"$WORK/series/$1.skip.json"
}

# The one workload every path gets. Args: threads [extra udp_load args...]
# (WINDOW and BATCH may be overridden for one call.)
load_args() {
	local threads=$1
	shift
	echo "$@" --threads "$threads" --duration "$SECS" --warmup "$WARMUP" \
		--mode closed --window "$WINDOW" --batch "$BATCH" \
		--event "$EVENT" --seats "$SEATS" --mix "$MIX"
}

# Measures one path: closed loop with each thread count of BENCH_THREADS,
# then (BENCH_RTT=1) one thread with one request in flight.
# Args: prefix title path kind prog-id background% -- target udp_load args
measure_path() {
	local prefix=$1 title=$2 path=$3 kind=$4 prog=$5 bg=$6 t args
	shift 7
	for t in $THREADS_LIST; do
		args=$(load_args "$t" "$@")
		series_meta "${prefix}_t$t" "$title" "$path" "$t" "$WINDOW" "$kind" \
			"$UDP_LOAD $args" "$bg"
		# shellcheck disable=SC2086
		run_series "${prefix}_t$t" "$prog" -- $args
	done
	if [ "$RTT" = 1 ]; then
		args=$(WINDOW=1 BATCH=1 load_args 1 "$@")
		series_meta "${prefix}_rtt" "$title" "$path" 1 1 "$kind" \
			"$UDP_LOAD $args" "$bg"
		# shellcheck disable=SC2086
		run_series "${prefix}_rtt" "$prog" -- $args
	fi
}

# ---- (a) ceiling: trivial XDP program ------------------------------------------

bench_ceiling() {
	local prog bg t args
	tkb_netns_up
	prog=$(tkb_attach "$TRIVIAL_OBJ" xdp_trivial) || die "cannot attach the trivial program"
	enable_bpf_stats
	# one probe first: the path must answer before we time it
	"$BUILD/ticketctl" --server "$TKB_NS_IP:7000" \
		--token 00000000000000000000000000000000 --timeout-ms 1000 \
		hold "$EVENT" 0 >/dev/null 2>&1 ||
		[ ! -x "$BUILD/ticketctl" ] ||
		die "the trivial program does not answer on $TKB_NS_IP:7000"
	bg=$(background_busy_pct)
	measure_path ceiling "trivial XDP program (ceiling)" xdp_trivial xdp \
		"$prog" "$bg" -- --target "$TKB_NS_IP:7000"
}

# ---- (b) Redis + Lua baseline ----------------------------------------------------

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
			return 0
		fi
		sleep 0.1
	done
	die "redis-server did not start on port $REDIS_PORT"
}

bench_redis() {
	local bg t args
	start_redis
	# the sold set is not empty, so the sold check does real work; the
	# sold seats lie outside the benchmark's range
	redis-cli -p "$REDIS_PORT" sadd "sold:{$EVENT}" 1000001 1000002 1000003 >/dev/null
	bg=$(background_busy_pct)
	measure_path redis "Redis 7 + Lua (EVALSHA, pipelined)" redis_lua process \
		"" "$bg" -- --backend redis --redis "127.0.0.1:$REDIS_PORT" \
		--lua-dir bench --server-pid "$REDIS_PID"
	log "redis keys left after the runs: $(redis-cli -p "$REDIS_PORT" dbsize)"
}

# ---- (c) the real program and the daemon's paths --------------------------------

FULL_OBJ=$BUILD/bpf/seat_hold.bpf.o
FULL_PROG=xdp_seat_hold

# The real program without ticketd: xdp_calib loads it with private maps,
# configures them as ticketd would (random token key, an event with the
# benchmark's seats, no rate limit, default hold limit), mints one token per
# slot, attaches it to tkb1 and drains its ring buffer until stopped.
DRIVER_PID=
TESTRUN_KEY=$(od -An -N16 -tx8 /dev/urandom | awk '{print $1 "," $2}')
edge_args() { # tokens: how many to mint
	echo --edge-config 7000 --edge-event "$EVENT:$((${SEATS#*-} + 1))" \
		--mint "$TESTRUN_KEY" --slots "1-$1"
}

stop_driver() {
	if [ -n "$DRIVER_PID" ]; then
		kill -TERM "$DRIVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$DRIVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DRIVER_PID" 2>/dev/null || true
		wait "$DRIVER_PID" 2>/dev/null || true
		DRIVER_PID=
	fi
}

bench_xdp_prog() {
	local max_t=1 t ntok serve prog bg
	if [ ! -f "$FULL_OBJ" ]; then
		skip xdp_prog "not available yet: $FULL_OBJ is not built"
		return 0
	fi
	for t in $THREADS_LIST; do
		if [ "$t" -gt "$max_t" ]; then max_t=$t; fi
	done
	ntok=$((max_t * WINDOW))
	serve=$((REPS * (SECS + 5) * 4 + 60))
	[ "$serve" -le 3600 ] || serve=3600
	tkb_detach
	# shellcheck disable=SC2046
	"$XDP_CALIB" --attach --netns "$TKB_NS" --iface "$TKB_NS_IF" \
		--obj "$FULL_OBJ" --prog "$FULL_PROG" $(edge_args "$ntok") \
		--tokens-out "$WORK/tokens" --serve "$serve" \
		>"$WORK/driver.out" 2>"$WORK/driver.err" &
	DRIVER_PID=$!
	for _ in $(seq 1 100); do
		if [ -s "$WORK/driver.out" ]; then break; fi
		kill -0 "$DRIVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	prog=$(head -n 1 "$WORK/driver.out" 2>/dev/null | jq -r '.prog_id // empty' 2>/dev/null)
	if [ -z "$prog" ]; then
		skip xdp_prog "xdp_calib could not set up $FULL_OBJ: $(tail -n 2 "$WORK/driver.err" | tr '\n' ' ')"
		stop_driver
		return 0
	fi
	enable_bpf_stats
	bg=$(background_busy_pct)
	measure_path xdp_prog "full XDP program, no daemon (xdp_calib drains the ring)" \
		xdp_prog xdp "$prog" "$bg" -- --target "$TKB_NS_IP:7000" \
		--tokens "$WORK/tokens" --server-pid "$DRIVER_PID"
	stop_driver
}

# Runs a path the daemon provides, through bench/hooks/<name>.sh.
# Args: name title kind ("xdp" or "process": what the serving CPU is).
bench_hooked_path() {
	local name=$1 title=$2 kind=$3 hook="bench/hooks/$1.sh" bg prog
	if [ ! -x "$BUILD/ticketd" ]; then
		skip "$name" "not available yet: $BUILD/ticketd is not built"
		return 0
	fi
	if [ "$name" = xdp_full ] && [ ! -f "$FULL_OBJ" ]; then
		skip "$name" "not available yet: $FULL_OBJ is not built"
		return 0
	fi
	if [ ! -f "$hook" ]; then
		skip "$name" "not available yet: $hook (start/stop ticketd for this path) does not exist"
		return 0
	fi
	# shellcheck disable=SC1090
	source "$hook"
	TKB_TARGET='' TKB_TOKENS='' TKB_SERVER_PID='' TKB_PROG_ID=''
	TKB_EVENT=$EVENT TKB_SEATS=$SEATS
	if [ "$name" = xdp_full ]; then tkb_detach; fi
	HOOK_STOP="bench_${name}_stop"
	if ! "bench_${name}_start"; then
		skip "$name" "its hook failed to start it (see the log above)"
		"$HOOK_STOP" || true
		HOOK_STOP=
		return 0
	fi
	if [ -z "$TKB_TARGET" ] || [ ! -s "$TKB_TOKENS" ]; then
		die "$hook: start must export TKB_TARGET and TKB_TOKENS"
	fi
	prog=${TKB_PROG_ID:-}
	if [ "$kind" = xdp ] && [ -z "$prog" ]; then
		prog=$(bpftool prog show -j | jq -r --arg n "$FULL_PROG" \
			'[.[] | select(.name == $n)][0].id // empty')
	fi
	if [ "$kind" = xdp ]; then enable_bpf_stats; fi
	bg=$(background_busy_pct)
	# shellcheck disable=SC2086
	EVENT=$TKB_EVENT SEATS=$TKB_SEATS measure_path "$name" "$title" "$name" \
		"$kind" "$prog" "$bg" -- --target "$TKB_TARGET" \
		--tokens "$TKB_TOKENS" ${TKB_SERVER_PID:+--server-pid "$TKB_SERVER_PID"}
	"$HOOK_STOP"
	HOOK_STOP=
}

bench_xdp_full() {
	bench_hooked_path xdp_full "full XDP program under ticketd" xdp
}

bench_socket_door() {
	bench_hooked_path socket_door "ticketd socket door (recvmmsg/sendmmsg)" process
}

# ---- (d) prog_test_run -------------------------------------------------------------

# Args: id obj prog [xdp_calib options...]
prog_test_run() {
	local id=$1 obj=$2 prog=$3 r cmd
	shift 3
	cmd="$XDP_CALIB --prog-test-run $TEST_RUNS --obj $obj --prog $prog --bpf-stats --event $EVENT --seats $SEATS --mix $MIX${*:+ $*}"
	jq -n --arg id "$id" --arg obj "$obj" --arg prog "$prog" --arg command "$cmd" \
		'{id: $id, obj: $obj, prog: $prog, command: $command}' >"$WORK/series/$id.ptr.meta.json"
	: >"$WORK/series/$id.ptr.jsonl"
	for r in $(seq 1 "$REPS"); do
		# shellcheck disable=SC2086
		if ! $cmd >"$WORK/$id.$r.json" 2>"$WORK/$id.$r.err"; then
			log "$id rep $r failed: $(tail -n 3 "$WORK/$id.$r.err")"
			continue
		fi
		jq -c --argjson rep "$r" '{rep: $rep} + .' "$WORK/$id.$r.json" >>"$WORK/series/$id.ptr.jsonl"
		log "$(jq -r --arg id "$id" '"\($id): \(.ns_per_run.median) ns/run raw, \(.empty_prog_ns_per_run.median) empty, \(.net_ns_per_run.median) net; status \(.status)"' "$WORK/$id.$r.json")"
	done
}

bench_prog_test_run() {
	prog_test_run prog_test_run_trivial "$TRIVIAL_OBJ" xdp_trivial
	if [ ! -f "$FULL_OBJ" ]; then
		skip prog_test_run_full "not available yet: $FULL_OBJ is not built"
		return 0
	fi
	# A hook may give its own set-up; by default xdp_calib configures the
	# program's maps itself (one token per seat of the rotation).
	# shellcheck disable=SC2046,SC2086
	prog_test_run prog_test_run_full "$FULL_OBJ" "$FULL_PROG" \
		${TKB_TESTRUN_ARGS:-$(edge_args 1024)}
}

# ---- report ---------------------------------------------------------------------------

machine_json() {
	jq -n --arg host "$(hostname)" --arg kernel "$(uname -r)" \
		--arg cpu "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" \
		--argjson cores "$(nproc)" \
		--argjson mem_mb "$(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo)" \
		--arg os "Debian $(cat /etc/debian_version 2>/dev/null || echo '?')" \
		--arg redis "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
		'{host: $host, kernel: $kernel, cpu: $cpu, cores: $cores,
		  mem_mb: $mem_mb, os: $os, redis: $redis}'
}

assemble() {
	local started=$1 finished=$2
	shopt -s nullglob
	local metas=("$WORK"/series/*.meta.json) skips=("$WORK"/series/*.skip.json)
	local series=() ptrs=() m id
	for m in "${metas[@]}"; do
		case "$m" in *.ptr.meta.json) continue ;; esac
		id=$(basename "$m" .meta.json)
		series+=("$(jq -c --slurpfile reps <(jq -c . "$WORK/series/$id.jsonl") \
			'. + {reps: $reps}' "$m")")
	done
	for m in "$WORK"/series/*.ptr.meta.json; do
		id=$(basename "$m" .ptr.meta.json)
		ptrs+=("$(jq -c --slurpfile reps <(jq -c . "$WORK/series/$id.ptr.jsonl") \
			'. + {reps: $reps}' "$m")")
	done
	{
		printf '%s\n' "${series[@]}" | jq -s .
		printf '%s\n' "${ptrs[@]}" | jq -s .
		if [ ${#skips[@]} -gt 0 ]; then jq -s . "${skips[@]}"; else echo '[]'; fi
		machine_json
	} | jq -s --arg name "$NAME" --arg started "$started" --arg finished "$finished" \
		--argjson reps "$REPS" --argjson secs "$SECS" --arg warmup "$WARMUP" \
		--argjson window "$WINDOW" --argjson batch "$BATCH" --arg seats "$SEATS" \
		--argjson event "$EVENT" --arg mix "$MIX" --arg threads "$THREADS_LIST" \
		--argjson test_runs "$TEST_RUNS" -f bench/summarize.jq >"$OUT"
}

main() {
	local started finished
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	log "run $NAME: $REPS x ${SECS}s per measurement, window $WINDOW, threads: $THREADS_LIST"
	bench_ceiling
	bench_redis
	bench_xdp_prog
	bench_xdp_full
	bench_socket_door
	bench_prog_test_run
	finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	assemble "$started" "$finished"
	log "wrote $OUT"
	bash bench/render_bench.sh "$OUT" >"$MARKDOWN.tmp"
	mv "$MARKDOWN.tmp" "$MARKDOWN"
	log "wrote $MARKDOWN"
}

main "$@"
