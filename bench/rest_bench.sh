#!/usr/bin/env bash
# REST hold benchmark (issue #5): ticketd's POST/DELETE /api/reservations at
# 1000 concurrent connections against the seed design's hot path (Redis 7 +
# the Lua hold script, no HTTP layer) measured in the same run, then an
# oversell audit. Entry point for `make bench` (the lead calls it; it does not
# touch BENCHMARKS.md):
#
#   bash bench/rest_bench.sh            # about 10 minutes with the defaults
#
# Writes bench/results/rest_hold.json and prints a markdown table on stdout
# (bench/rest_render.sh renders it again from the JSON).
#
# What it does, in one run (everything it starts it stops: trap on EXIT;
# every wait and every tool is bounded by `timeout`):
#   1. starts its own Redis, MariaDB and Kafka (infra/services.sh, RUN_DIR
#      and ports below), adds a REST_ROWS x REST_COLS event to MariaDB,
#      starts build/ticketd (socket hold path) and creates REST_SESSIONS
#      sessions; starts a second, bare redis-server for the baseline.
#   2. REST_RUNS repetitions, each of (in this order, so noise spreads evenly):
#        rest      build/rest_load --mode http: every connection loops
#                  POST /api/reservations (one random seat, holdSeconds
#                  REST_HOLD_SECS) then, on 201, DELETE it; hold and release
#                  latency in separate histograms; then the idle audit (the
#                  seat map shows no hold left behind)
#        redis     the same loop as EVALSHA of bench/redis_hold.lua and
#                  bench/redis_release.lua over the same number of
#                  connections: "Redis+Lua alone, no HTTP layer (a lower
#                  bound for the seed design's hold latency)"
#        wrk       (REST_WRK=1) wrk -s bench/rest_hold.lua, the same REST
#                  loop from a standard tool; its latency mixes holds and
#                  releases
#      Around every run: ticketd's MariaDB questions and Redis commands
#      (during the Redis+Lua runs ticketd idles: that is their background).
#   3. paced: for each rate of REST_RATES, REST_RATE_RUNS repetitions of rest
#      and redis with --rate (holds leave on a fixed schedule, latency counts
#      from it): the latency at a given offered load, not at saturation.
#   4. one profile run (not counted): perf record on ticketd.
#   5. the storm audit: holds of REST_STORM_SECS without releases (600 s
#      holds, the table fills up), then every session's GET /api/reservations
#      against the seat map and the generator's 201 log (bench/rest_audit.py),
#      then every hold released again (the seat table outlives a restart; the
#      sessions are kept in $RUN_DIR/rest-bench.tokens so a later run can
#      clear what an interrupted one left).
#
# Settings (environment): REST_RUNS (5), REST_SECS (10), REST_CONNS (1000),
# REST_THREADS (2, load generator threads), REST_SESSIONS (2000),
# REST_ROWS/REST_COLS (100/100), REST_HOLD_SECS (10), REST_WRK (1),
# REST_RATES ("1000 10000", holds/s; "" = none), REST_RATE_RUNS (5),
# REST_STORM_SECS (5), REST_PERF (1), REST_PERF_SECS (5), REST_WARMUP_SECS
# (3, the uncounted warm-up of ticketd and of Redis+Lua), REST_TICKETD_THREADS (2), REST_OUT (bench/results/rest_hold.json),
# RUN_DIR (/tmp/restbench), REDIS_PORT (6393), MARIADB_PORT (3319),
# KAFKA_PORT (9106), KAFKA_CONTROLLER_PORT (9107), REST_HTTP_PORT (18593),
# REST_UDP_PORT (17593), REST_BASE_REDIS_PORT (the baseline's Redis; default
# the first free port of 6440..6479),
# REST_PIN_DIR (/sys/fs/bpf/ticket-restbench), REST_LOCK_WAIT (900 s),
# BUILD (build).
#
# Timed runs take /run/tkbench.lock (the lock of bench/run_bench.sh) so two
# benchmarks never load the machine at once; when run_bench.sh calls this
# script with the lock on fd 9, or with TKB_LOCK_HELD=1, it is not taken again.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers

RUNS=${REST_RUNS:-5}
SECS=${REST_SECS:-10}
CONNS=${REST_CONNS:-1000}
THREADS=${REST_THREADS:-2}
SESSIONS=${REST_SESSIONS:-2000}
ROWS=${REST_ROWS:-100}
COLS=${REST_COLS:-100}
HOLD_SECS=${REST_HOLD_SECS:-10}
WRK=${REST_WRK:-1}
RATES=${REST_RATES:-1000 10000}
RATE_RUNS=${REST_RATE_RUNS:-5}
STORM_SECS=${REST_STORM_SECS:-5}
PERF=${REST_PERF:-1}
PERF_SECS=${REST_PERF_SECS:-5}
WARMUP_SECS=${REST_WARMUP_SECS:-3}
TD_THREADS=${REST_TICKETD_THREADS:-2}
OUT=${REST_OUT:-bench/results/rest_hold.json}
LOCK_WAIT=${REST_LOCK_WAIT:-900}
bench_services_env /tmp/restbench 6393 3319 9106 9107
HTTP_PORT=${REST_HTTP_PORT:-18593}
UDP_PORT=${REST_UDP_PORT:-17593}
BASE_REDIS_PORT=${REST_BASE_REDIS_PORT:-} # empty: the first free one of 6440..6479
PIN_DIR=${REST_PIN_DIR:-/sys/fs/bpf/ticket-restbench}
BASE=http://127.0.0.1:$HTTP_PORT
EVENT_NAME="REST Bench Arena ${ROWS}x${COLS}"

log() { printf '[rest-bench] %s\n' "$*" >&2; }
int_in "$RUNS" 1 20 || die "REST_RUNS must be 1..20"
int_in "$SECS" 1 60 || die "REST_SECS must be 1..60"
int_in "$CONNS" 1 10000 || die "REST_CONNS must be 1..10000"
int_in "$THREADS" 1 16 || die "REST_THREADS must be 1..16"
int_in "$SESSIONS" 1 20000 || die "REST_SESSIONS must be 1..20000"
if ! int_in "$ROWS" 1 1000 || ! int_in "$COLS" 1 1000; then die "REST_ROWS/REST_COLS: 1..1000"; fi
int_in "$HOLD_SECS" 5 600 || die "REST_HOLD_SECS must be 5..600"
int_in "$STORM_SECS" 1 60 || die "REST_STORM_SECS must be 1..60"
int_in "$RATE_RUNS" 1 20 || die "REST_RATE_RUNS must be 1..20"
for r in $RATES; do int_in "$r" 1 1000000 || die "REST_RATES: $r"; done
int_in "$PERF_SECS" 1 30 || die "REST_PERF_SECS must be 1..30"
int_in "$WARMUP_SECS" 1 30 || die "REST_WARMUP_SECS must be 1..30"
[ "$SESSIONS" -ge "$CONNS" ] || die "REST_SESSIONS must be >= REST_CONNS (no shared sessions)"
SEATS="0-$((ROWS * COLS - 1))"

for tool in jq curl redis-server redis-cli mariadb python3 timeout flock; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ "$WRK" = 1 ] && { command -v wrk >/dev/null || die "wrk is not installed (REST_WRK=0 skips it)"; }
for b in ticketd rest_load; do
	[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make $BUILD/$b"
done

# 1000 client sockets + 1000 server sockets + files: raise the soft limit
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((CONNS * 2 + 256)) ] ||
	die "open-file limit $(ulimit -n) is below $((CONNS * 2 + 256))"

WORK=$(mktemp -d /tmp/restbench-work.XXXXXX)
LOAD=$WORK/rest_load
TICKETD=$WORK/ticketd # copies: a rebuild of the tree during the run cannot touch them
TICKETD_PID=
BASE_REDIS_PID=
SERVICES_STARTED=
PERF_PID=
LOCKED=

# ---- clean-up ------------------------------------------------------------------

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
	stop_ticketd
	if [ -n "$BASE_REDIS_PID" ]; then
		redis-cli -p "$BASE_REDIS_PORT" shutdown nosave >/dev/null 2>&1
		for _ in $(seq 1 30); do
			kill -0 "$BASE_REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BASE_REDIS_PID" 2>/dev/null
	fi
	bench_services_down
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- helpers -------------------------------------------------------------------

proc_cpu_ticks() { # utime+stime of a process, clock ticks
	awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# CPU ticks of ticketd's back ends (its Redis, MariaDB, the Kafka broker):
# the hold path's asynchronous work (the Redis journal of seat changes)
# runs there, on the same two cores.
backend_ticks() {
	local s p t out=""
	for s in redis mariadb kafka; do
		p=$(svc_pid "$s")
		t=0
		[ -n "$p" ] && t=$(proc_cpu_ticks "$p")
		out="$out $t"
	done
	printf '%s\n' "${out# }"
}

backend_cpu_json() { # "ticks before" "ticks after"
	local tck
	tck=$(getconf CLK_TCK)
	jq -n --arg a "$1" --arg b "$2" --argjson tck "$tck" '
		[$a | split(" ") | .[] | tonumber] as $x | [$b | split(" ") | .[] | tonumber] as $y
		| {redis_s: (($y[0] - $x[0]) / $tck), mariadb_s: (($y[1] - $x[1]) / $tck),
		   kafka_s: (($y[2] - $x[2]) / $tck)}'
}

mariadb_questions() {
	mariadb_q "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'
}

redis_cmds() { # commands processed by a Redis
	redis-cli -p "$1" info stats 2>/dev/null | tr -d '\r' |
		awk -F: '/^total_commands_processed:/{print $2}'
}

start_ticketd() {
	port_busy "$HTTP_PORT" && die "port $HTTP_PORT is in use (REST_HTTP_PORT)"
	mkdir -p "$RUN_DIR/logs"
	"$TICKETD" --http-port "$HTTP_PORT" --db-port "$MARIADB_PORT" \
		--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" \
		--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd" \
		--pin-dir "$PIN_DIR" --hold-path socket --demo-data "${BENCH_NO_CLIENT_LIMITS[@]}" \
		--http-max-connections 4096 --http-threads "$TD_THREADS" \
		>>"$RUN_DIR/logs/ticketd-restbench.log" 2>&1 &
	TICKETD_PID=$!
	wait_http "$BASE/readyz" 60 "$TICKETD_PID" ticketd "$RUN_DIR/logs/ticketd-restbench.log" || die "ticketd not ready in 60 s (log: $RUN_DIR/logs/ticketd-restbench.log)"
	check_server
	log "ticketd ready (pid $TICKETD_PID, $BASE, $TD_THREADS HTTP threads)"
}

event_id() {
	curl -sf --max-time 5 "$BASE/api/events" |
		jq -r --arg n "$EVENT_NAME" '[.[] | select(.name == $n)][0].id // empty'
}

# The big event, added once (the catalogue is loaded at start: restart).
ensure_event() {
	local id
	id=$(event_id)
	if [ -z "$id" ]; then
		log "adding the event '$EVENT_NAME' to MariaDB"
		mariadb_q "INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)
			VALUES ('$EVENT_NAME', 'Bench Hall', '2030-01-01 20:00:00', $ROWS, $COLS);
			INSERT INTO seats (event_id, seat_id, r, c, label, price)
			SELECT LAST_INSERT_ID(), seq, seq DIV $COLS, seq MOD $COLS,
			       CONCAT('B', seq), 1000 + (seq DIV $COLS) * 10
			FROM seq_0_to_$((ROWS * COLS - 1))" || die "cannot add the event"
		stop_ticketd
		start_ticketd
		id=$(event_id)
	fi
	[ -n "$id" ] || die "the event '$EVENT_NAME' is not in the catalogue"
	EVENT=$id
}

# REST_SESSIONS tokens, one per line, via POST /api/sessions (curl, 16 at once)
make_sessions() {
	local cfg=$WORK/sessions.curl
	: >"$cfg"
	for _ in $(seq 1 "$SESSIONS"); do
		printf 'url = "%s/api/sessions"\n' "$BASE" >>"$cfg"
	done
	timeout 300 curl -s --no-progress-meter --parallel --parallel-max 16 -X POST --max-time 10 \
		-H 'Content-Type: application/json' -w '\n' -K "$cfg" |
		jq -r 'select(.token != null) | .token' >"$WORK/tokens"
	[ "$(wc -l <"$WORK/tokens")" -eq "$SESSIONS" ] ||
		die "asked for $SESSIONS sessions, got $(wc -l <"$WORK/tokens")"
	log "created $SESSIONS sessions"
}

start_base_redis() {
	local p
	if [ -z "$BASE_REDIS_PORT" ]; then
		for p in $(seq 6440 6479); do
			port_busy "$p" || {
				BASE_REDIS_PORT=$p
				break
			}
		done
		[ -n "$BASE_REDIS_PORT" ] || die "no free port in 6440..6479 for the baseline's redis-server"
	fi
	port_busy "$BASE_REDIS_PORT" && die "port $BASE_REDIS_PORT is in use (REST_BASE_REDIS_PORT)"
	redis-server --bind 127.0.0.1 --port "$BASE_REDIS_PORT" --save '' \
		--appendonly no --daemonize yes --maxclients 10000 --dir "$WORK" \
		--pidfile "$WORK/base-redis.pid" --logfile "$WORK/base-redis.log" >/dev/null ||
		die "redis-server did not start on port $BASE_REDIS_PORT"
	for _ in $(seq 1 50); do
		if [ -s "$WORK/base-redis.pid" ] &&
			redis-cli -p "$BASE_REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
			BASE_REDIS_PID=$(cat "$WORK/base-redis.pid")
			# the sold set is not empty, so the sold check does real work;
			# the sold ids lie outside the benchmark's seats
			redis-cli -p "$BASE_REDIS_PORT" sadd "sold:{$EVENT}" 1000001 1000002 1000003 >/dev/null
			log "baseline redis-server ready (pid $BASE_REDIS_PID, port $BASE_REDIS_PORT, no persistence)"
			return 0
		fi
		sleep 0.1
	done
	die "redis-server did not answer on port $BASE_REDIS_PORT"
}

# ---- measurements ----------------------------------------------------------------

# Command templates; fill() puts in this run's values, show() what the
# report prints. Placeholders: REST_LOAD TOKENS EVENT TICKETD_PID REDIS_PID
# BASE_PORT GRANTS.
LOAD_COMMON="--tokens TOKENS --event EVENT --seats $SEATS --conns $CONNS --threads $THREADS --hold-seconds $HOLD_SECS --release 1 --timeout-ms 5000"
HTTP_CMD="REST_LOAD --mode http --target 127.0.0.1:$HTTP_PORT $LOAD_COMMON --server-pid TICKETD_PID"
REDIS_CMD="REST_LOAD --mode redis --target 127.0.0.1:BASE_PORT $LOAD_COMMON --lua-dir bench --server-pid REDIS_PID"
WRK_CMD="wrk -t$THREADS -c$CONNS -d${SECS}s --latency --timeout 5s -s bench/rest_hold.lua $BASE -- TOKENS EVENT ${SEATS%-*} ${SEATS#*-} $HOLD_SECS $THREADS"
STORM_CMD="REST_LOAD --mode http --target 127.0.0.1:$HTTP_PORT --tokens TOKENS --event EVENT --seats $SEATS --conns $CONNS --threads $THREADS --duration $STORM_SECS --hold-seconds 600 --release 0 --timeout-ms 5000 --grant-log GRANTS --server-pid TICKETD_PID"

show() {
	local s=$1
	s=${s//REST_LOAD/rest_load}
	s=${s//TOKENS/<tokens>}
	s=${s//TICKETD_PID/<ticketd pid>}
	s=${s//REDIS_PID/<redis pid>}
	s=${s//BASE_PORT/$BASE_REDIS_PORT}
	s=${s//GRANTS/<grants>}
	s=${s//EVENT/$EVENT}
	printf '%s' "$s"
}

fill() {
	local s=$1
	s=${s//REST_LOAD/$LOAD}
	s=${s//TOKENS/$WORK/tokens}
	s=${s//TICKETD_PID/$TICKETD_PID}
	s=${s//REDIS_PID/$BASE_REDIS_PID}
	s=${s//BASE_PORT/$BASE_REDIS_PORT}
	s=${s//GRANTS/$WORK/grants}
	s=${s//EVENT/$EVENT}
	printf '%s' "$s"
}

# Describes a series. Args: id title kind(rest|redis|wrk) rate(0 = closed
# loop) command-template
series_meta() {
	jq -n --arg id "$1" --arg title "$2" --arg kind "$3" --argjson rate "$4" \
		--arg command "$(show "$5")" \
		'{id: $id, title: $title, kind: $kind, rate: $rate, command: $command}' \
		>"$WORK/series/$1.meta"
}

# ticketd listens with SO_REUSEPORT (libmicrohttpd's
# MHD_OPTION_LISTENING_ADDRESS_REUSE): a second daemon started on the same
# port later binds without an error and takes a share of our connections.
# Checked before and after every run.
check_server() {
	local pids
	kill -0 "$TICKETD_PID" 2>/dev/null ||
		die "ticketd (pid $TICKETD_PID) is gone; its log: $(tail -n 3 "$RUN_DIR/logs/ticketd-restbench.log" | tr '\n' ' ')"
	pids=$(ss -Hltnp "sport = :$HTTP_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')
	[ "$pids" = "pid=$TICKETD_PID " ] ||
		die "port $HTTP_PORT is shared (listeners: ${pids:-none}; ours: pid=$TICKETD_PID): another daemon took it, the figures would mix; choose REST_HTTP_PORT"
}

held_now() {
	local body
	body=$(curl -sf --max-time 5 "$BASE/api/events/$EVENT") || {
		log "GET /api/events/$EVENT failed"
		return 1
	}
	jq '.held' <<<"$body"
}

# One rest_load repetition. Args: id kind(rest|redis) rep command-template.
# Around it: ticketd's MariaDB questions and Redis commands (during a REST
# run: what the hold path costs them; during a Redis+Lua run ticketd is
# idle: the background to compare with).
run_load() {
	local id=$1 kind=$2 rep=$3 out=$WORK/series/$1.$3.json q0 q1 r0 r1 b0 b1 cmd h0=0
	cmd=$(fill "$4")
	# holds left by the previous run (wrk cannot release its last ones;
	# they lapse after REST_HOLD_SECS)
	[ "$kind" = rest ] && h0=$(held_now)
	check_server
	q0=$(mariadb_questions)
	r0=$(redis_cmds "$REDIS_PORT")
	b0=$(backend_ticks)
	# shellcheck disable=SC2086
	timeout $((SECS + 60)) $cmd >"$out.raw" 2>"$out.err" ||
		die "$id rep $rep: rest_load failed: $(tail -n 3 "$out.err")"
	b1=$(backend_ticks)
	check_server
	q1=$(mariadb_questions)
	r1=$(redis_cmds "$REDIS_PORT")
	jq -c --argjson rep "$rep" --argjson q "$((q1 - q0 - 1))" --argjson r "$((r1 - r0 - 1))" \
		--argjson b "$(backend_cpu_json "$b0" "$b1")" \
		'{rep: $rep} + . + {side: {ticketd_mariadb_questions: $q, ticketd_redis_commands: $r,
		  ticketd_backends_cpu: $b}}' \
		"$out.raw" >"$out"
	rm -f "$out.raw"
	log "$(jq -r --arg id "$id" '"\($id) rep \(.rep): \(.requests_per_s|floor) req/s, \(.holds_granted_per_s|floor) holds granted/s, hold p50 \(.hold_latency_us.p50/1000) p95 \(.hold_latency_us.p95/1000) p99 \(.hold_latency_us.p99/1000) max \(.hold_latency_us.max/1000) ms, timeouts \(.errors.timeouts), server CPU \(.cpu.server_us_per_request) us/req, host busy \(.cpu.host_busy_pct) %"' "$out")"
	if [ "$kind" = rest ]; then
		# every granted hold was released, or is counted as not
		timeout 60 python3 bench/rest_audit.py idle --base "$BASE" --event "$EVENT" \
			--max-held "$(jq --argjson h0 "$h0" '.holds_unreleased + .in_flight_at_end + $h0' "$out")" \
			>"$WORK/audit/idle.$id.$rep.json" ||
			log "idle audit after $id rep $rep FAILED: $(cat "$WORK/audit/idle.$id.$rep.json")"
	fi
}

run_wrk() { # id rep
	local out=$WORK/series/$1.$2.json cmd c0 c1 tck
	cmd=$(fill "$WRK_CMD")
	check_server
	c0=$(proc_cpu_ticks "$TICKETD_PID")
	# shellcheck disable=SC2086
	timeout $((SECS + 60)) $cmd >"$out.txt" 2>&1 ||
		die "wrk rep $2 failed: $(tail -n 5 "$out.txt")"
	c1=$(proc_cpu_ticks "$TICKETD_PID")
	check_server
	tck=$(getconf CLK_TCK)
	sed -n 's/^REST_WRK_JSON //p' "$out.txt" |
		jq -c --argjson rep "$2" --argjson cpu "$(((c1 - c0) * 1000000 / tck))" \
			'{rep: $rep} + . + {cpu: {server_s: ($cpu / 1e6),
			  server_us_per_request: (if .requests > 0 then $cpu / .requests else null end)}}' >"$out"
	[ -s "$out" ] || die "wrk rep $2 printed no result: $(tail -n 5 "$out.txt")"
	rm -f "$out.txt"
	log "$(jq -r --arg id "$1" '"\($id) rep \(.rep): \(.requests_per_s|floor) req/s, all-request p50 \(.all_latency_us.p50/1000) p99 \(.all_latency_us.p99/1000) ms, status \(.status), errors \(.errors)"' "$out")"
}

# perf record on ticketd during one extra (uncounted) closed-loop REST run.
run_profile() {
	local cmd out=$WORK/profile.json load_pid
	cmd="$(fill "$HTTP_CMD") --duration $((PERF_SECS + 2))"
	: >"$WORK/perf-sym.txt"
	: >"$WORK/perf-dso.txt"
	: >"$WORK/perf-comm.txt"
	if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
		# shellcheck disable=SC2086
		timeout $((PERF_SECS + 60)) $cmd >"$WORK/profile.load.json" 2>"$WORK/profile.err" &
		load_pid=$!
		sleep 1
		timeout $((PERF_SECS + 30)) perf record -F 499 -g -p "$TICKETD_PID" \
			-o "$WORK/perf.data" -- sleep "$PERF_SECS" >"$WORK/perf.rec.log" 2>&1 &
		PERF_PID=$!
		wait "$PERF_PID" || log "perf record failed: $(tail -n 3 "$WORK/perf.rec.log")"
		PERF_PID=
		wait "$load_pid" || true
		if [ -s "$WORK/perf.data" ]; then
			local k
			for k in dso,sym:sym:40 dso:dso:20 comm:comm:20; do
				timeout 120 perf report -i "$WORK/perf.data" --stdio --no-children \
					--sort "${k%%:*}" --percent-limit 0.5 -g none 2>/dev/null |
					grep -E '^ +[0-9]' | head -n "${k##*:}" \
					>"$WORK/perf-$(echo "$k" | cut -d: -f2).txt" || true
			done
		fi
	else
		log "profile skipped (REST_PERF=0 or no perf)"
	fi
	jq -n --arg cmd "perf record -F 499 -g -p <ticketd pid> -- sleep $PERF_SECS, during $(show "$HTTP_CMD") --duration $((PERF_SECS + 2)); perf report --no-children --sort dso,sym | dso | comm" \
		--rawfile sym "$WORK/perf-sym.txt" --rawfile dso "$WORK/perf-dso.txt" \
		--rawfile comm "$WORK/perf-comm.txt" \
		'def lines: split("\n") | map(gsub("^ +"; "") | gsub(" +"; " ")) | map(select(length > 0));
		 {command: $cmd, top_symbols: ($sym | lines), by_dso: ($dso | lines),
		  by_thread: ($comm | lines)}' >"$out"
	log "profile by DSO: $(jq -r '.by_dso | join(" | ")' "$out")"
}

# Holds without releases until the table is full, the full audit, then
# every hold released again (holds survive a daemon restart: leave none).
run_storm() {
	local n cmd
	for _ in $(seq 1 $(((HOLD_SECS + 10) * 2))); do # released or lapsed
		n=$(held_now)
		[ "$n" = 0 ] && break
		sleep 0.5
	done
	[ "$n" = 0 ] || die "$n seats still held $((HOLD_SECS + 10))s after the timed runs"
	cmd=$(fill "$STORM_CMD")
	# shellcheck disable=SC2086
	timeout $((STORM_SECS + 60)) $cmd >"$WORK/storm.json" 2>"$WORK/storm.err" ||
		die "storm load failed: $(tail -n 3 "$WORK/storm.err")"
	log "$(jq -r '"storm: \(.holds) holds, \(.holds_granted) granted, status \(.hold_status), codes \(.codes), hold p99 \(.hold_latency_us.p99/1000) ms"' "$WORK/storm.json")"
	timeout 300 python3 bench/rest_audit.py storm --base "$BASE" --event "$EVENT" \
		--tokens "$WORK/tokens" --grants "$WORK/grants" >"$WORK/audit/storm.json" ||
		log "storm audit FAILED"
	log "storm audit: $(jq -c '{ok, grants_seen, listed_holds, held_in_map, sessions_at_limit, checks}' "$WORK/audit/storm.json")"
	timeout 300 python3 bench/rest_audit.py release --base "$BASE" --event "$EVENT" \
		--tokens "$WORK/tokens" >"$WORK/audit/release.json" ||
		log "release after the storm FAILED"
	log "release after the storm: $(jq -c '{ok, statuses, held_after}' "$WORK/audit/release.json")"
}

# Holds left by an earlier run (the storm's are 600 s long; the seat table
# survives restarts): release them with that run's sessions, else wait.
clear_leftovers() {
	local n
	n=$(held_now)
	[ "$n" = 0 ] && return 0
	log "$n seats of event $EVENT are held (left by an earlier run?)"
	if [ -s "$RUN_DIR/rest-bench.tokens" ]; then
		timeout 300 python3 bench/rest_audit.py release --base "$BASE" --event "$EVENT" \
			--tokens "$RUN_DIR/rest-bench.tokens" >/dev/null || true
	fi
	for _ in $(seq 1 60); do
		n=$(held_now)
		[ "$n" = 0 ] && return 0
		sleep 0.5
	done
	die "$n seats of event $EVENT are still held by sessions this script does not know; they lapse within 10 minutes (or remove $RUN_DIR)"
}

# ---- report ------------------------------------------------------------------------

machine_json() {
	bench_machine_json nproc | jq --arg redis "$(redis_version)" \
		--arg wrk "$(wrk --version 2>&1 | head -n 1 | awk '{print $2}')" \
		'. + {redis: $redis, wrk: $wrk}'
}

assemble() { # started finished bg_before bg_after
	local alive=false m id
	kill -0 "$TICKETD_PID" 2>/dev/null && alive=true
	for m in "$WORK"/series/*.meta; do
		id=$(basename "$m" .meta)
		cat "$WORK/series/$id".*.json 2>/dev/null | jq -s 'sort_by(.rep)' |
			jq -c --slurpfile meta "$m" '$meta[0] + {reps: .}'
	done | jq -s . >"$WORK/series.json"
	cat "$WORK"/audit/idle.*.json 2>/dev/null | jq -s . >"$WORK/idle.json"
	jq -n \
		--slurpfile series "$WORK/series.json" \
		--slurpfile idle "$WORK/idle.json" \
		--slurpfile storm "$WORK/storm.json" \
		--slurpfile storm_audit "$WORK/audit/storm.json" \
		--slurpfile release "$WORK/audit/release.json" \
		--slurpfile profile "$WORK/profile.json" \
		--slurpfile machine <(machine_json) \
		--arg started "$1" --arg finished "$2" --arg bg0 "$3" --arg bg1 "$4" \
		--arg storm_cmd "$(show "$STORM_CMD")" \
		--arg build "$BUILD_INFO" --argjson alive "$alive" \
		--argjson runs "$RUNS" --argjson rate_runs "$RATE_RUNS" --argjson secs "$SECS" \
		--argjson conns "$CONNS" --argjson threads "$THREADS" --argjson sessions "$SESSIONS" \
		--argjson rows "$ROWS" --argjson cols "$COLS" --argjson hold "$HOLD_SECS" \
		--argjson td_threads "$TD_THREADS" --argjson event "$EVENT" \
		-f bench/rest_summarize.jq >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
}

main() {
	local started finished bg0 bg1 r rate
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	mkdir -p "$(dirname "$OUT")" "$WORK/series" "$WORK/audit"
	cp "$BUILD/ticketd" "$TICKETD"
	cp "$BUILD/rest_load" "$LOAD"
	BUILD_INFO="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); rest_load: $BUILD/rest_load (bench/bench.mk) sha256 $(sha256sum "$LOAD" | cut -c1-12)"

	bench_services_up
	start_ticketd
	ensure_event
	log "event $EVENT '$EVENT_NAME' ($ROWS x $COLS seats)"
	clear_leftovers
	make_sessions
	cp "$WORK/tokens" "$RUN_DIR/rest-bench.tokens"
	start_base_redis

	series_meta rest "ticketd REST: POST /api/reservations (1 seat), then DELETE it when granted; HTTP/1.1 keep-alive, closed loop" rest 0 "$HTTP_CMD --duration $SECS"
	series_meta redis "Redis+Lua alone, no HTTP layer (a lower bound for the seed design's hold latency): EVALSHA redis_hold.lua, then redis_release.lua when granted; closed loop" redis 0 "$REDIS_CMD --duration $SECS"
	[ "$WRK" = 1 ] && series_meta rest_wrk "ticketd REST, the same loop from wrk + bench/rest_hold.lua (its latency mixes holds and releases)" wrk 0 "$WRK_CMD"
	for rate in $RATES; do
		series_meta "rest_rate$rate" "ticketd REST at $rate holds/s offered (open loop, latency from the schedule)" rest "$rate" "$HTTP_CMD --duration $SECS --rate $rate"
		series_meta "redis_rate$rate" "Redis+Lua alone, no HTTP layer, at $rate holds/s offered (open loop)" redis "$rate" "$REDIS_CMD --duration $SECS --rate $rate"
	done

	take_lock
	bg0=$(background_busy_pct)
	log "background CPU busy before the runs: $bg0 %"
	log "warm-up ($WARMUP_SECS s each, not counted)"
	# shellcheck disable=SC2046
	timeout 60 $(fill "$HTTP_CMD") --duration "$WARMUP_SECS" >/dev/null 2>&1 || true
	# shellcheck disable=SC2046
	timeout 60 $(fill "$REDIS_CMD") --duration "$WARMUP_SECS" >/dev/null 2>&1 || true
	for r in $(seq 1 "$RUNS"); do
		run_load rest rest "$r" "$HTTP_CMD --duration $SECS"
		run_load redis redis "$r" "$REDIS_CMD --duration $SECS"
		if [ "$WRK" = 1 ]; then run_wrk rest_wrk "$r"; fi
	done
	for rate in $RATES; do
		for r in $(seq 1 "$RATE_RUNS"); do
			run_load "rest_rate$rate" rest "$r" "$HTTP_CMD --duration $SECS --rate $rate"
			run_load "redis_rate$rate" redis "$r" "$REDIS_CMD --duration $SECS --rate $rate"
		done
	done
	run_profile
	run_storm
	bg1=$(background_busy_pct)
	release_lock
	wait_http "$BASE/healthz" 5 || log "ticketd /healthz failed after the runs"
	finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	assemble "$started" "$finished" "$bg0" "$bg1"
	log "wrote $OUT"
	bash bench/rest_render.sh "$OUT"
}

main "$@"
