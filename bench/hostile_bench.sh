#!/usr/bin/env bash
# Hostile clients (issue #18): what one address's floods do to a bystander.
# Entry point of the "hostile" part of `make bench` (BENCH_SUITES=hostile,
# or `make bench SUITES=hostile`); alone: `make bench-hostile` or
#
#   bash bench/hostile_bench.sh          # about 3 minutes with the defaults
#
# Writes bench/results/hostile.json and bench/results/hostile.md (rendered
# by bench/hostile_render.sh), and prints the markdown on stdout.
#
# The stack: its own Redis, MariaDB and Kafka (infra/services.sh, RUN_DIR
# and ports below) and build/ticketd with its default limits, on loopback,
# serving the UDP hold protocol from its socket door on 127.0.0.1
# (--hold-path socket: the XDP door needs the namespace of bench/netns.sh
# and is measured by bench/run_bench.sh), with the three 10 x 10 demo events.
#
# The bystander (build/flood_load --mode bystander) is a normal client on
# another address (127.0.0.2, its own session, made once at the start):
# HOSTILE_RATE cycles/s, each GET /api/events/B/seats, POST
# /api/reservations of one seat of 0-49, DELETE it; and, from a thread of
# its own on its own schedule, as many UDP HOLD and RELEASE pairs of one
# seat of 50-99 (protocol v1, same session). It measures HOSTILE_SECS s
# undisturbed, then the same while each flood runs, in every one of
# HOSTILE_ROUNDS rounds (so noise spreads over the scenarios):
#   baseline  nothing else
#   sessions  127.0.0.1 floods POST /api/sessions over 8 connections as fast
#             as they are answered (flood_load --mode sessions)
#   garbage   127.0.0.1 sends HOSTILE_GARBAGE_RATE datagrams/s of random
#             length 0..1500 and random bytes at the UDP door
#   slow      HOSTILE_SLOW_CONNS connections from 127.0.0.10-254 opened over
#             3 s, each trickling one request-header byte a second for
#             HOSTILE_SLOW_SECS s (the bystander measures once all are open)
# then once:
#   ladder    the session flood paced at each rate of HOSTILE_LADDER (per s,
#             127.0.0.1), the bystander beside it: where its p99 passes 3 ms
#   probe     how many seats of the 100-seat demo event P one address
#             (127.0.0.3) holds at once: sessions and holds over REST, then
#             over UDP (and again UDP first), until refused; what refused it
#
# Target (issue #18): the bystander's REST p99 stays under 100 ms and it
# gets no 5xx under each flood. A refused connection and a 429 count as
# refusals of the flood, never as errors of the tool.
#
# Settings (environment): HOSTILE_ROUNDS (3, 1..10), HOSTILE_SECS (4, 1..30),
# HOSTILE_RATE (50 cycles/s), HOSTILE_GARBAGE_RATE (50000),
# HOSTILE_SLOW_CONNS (2000), HOSTILE_SLOW_SECS (14), HOSTILE_LADDER
# ("100 250 500 1000 2000"), HOSTILE_LADDER_SECS (3), HOSTILE_SETTLE_SECS
# (1: the pause after each measurement), HOSTILE_OUT
# (bench/results/hostile.json), RUN_DIR (/tmp/hostilebench), REDIS_PORT
# (6392), MARIADB_PORT (3318), KAFKA_PORT (9108), KAFKA_CONTROLLER_PORT
# (9109), HOSTILE_HTTP_PORT (18594), HOSTILE_UDP_PORT (17594),
# HOSTILE_PIN_DIR (/sys/fs/bpf/ticket-hostilebench), HOSTILE_LOCK_WAIT
# (900 s), BUILD (build). Everything it starts it stops (trap on EXIT);
# every tool runs under `timeout`; only loopback is touched.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers

ROUNDS=${HOSTILE_ROUNDS:-3}
SECS=${HOSTILE_SECS:-4}
RATE=${HOSTILE_RATE:-50}
GARBAGE_RATE=${HOSTILE_GARBAGE_RATE:-50000}
SLOW_CONNS=${HOSTILE_SLOW_CONNS:-2000}
SLOW_SECS=${HOSTILE_SLOW_SECS:-14}
SETTLE_SECS=${HOSTILE_SETTLE_SECS:-1}
LADDER=${HOSTILE_LADDER:-100 250 500 1000 2000}
LADDER_SECS=${HOSTILE_LADDER_SECS:-3}
OUT=${HOSTILE_OUT:-bench/results/hostile.json}
LOCK_WAIT=${HOSTILE_LOCK_WAIT:-900}
bench_services_env /tmp/hostilebench 6392 3318 9108 9109
HTTP_PORT=${HOSTILE_HTTP_PORT:-18594}
UDP_PORT=${HOSTILE_UDP_PORT:-17594}
PIN_DIR=${HOSTILE_PIN_DIR:-/sys/fs/bpf/ticket-hostilebench}
BASE=http://127.0.0.1:$HTTP_PORT
TARGET=127.0.0.1:$HTTP_PORT
UDP_TARGET=127.0.0.1:$UDP_PORT
BYSTANDER_ADDR=127.0.0.2
FLOOD_ADDR=127.0.0.1
PROBE_ADDR=127.0.0.3
SLOW_SOURCES=127.0.0.10-254

log() { printf '[hostile-bench] %s\n' "$*" >&2; }
int_in "$ROUNDS" 1 10 || die "HOSTILE_ROUNDS must be 1..10"
int_in "$SECS" 1 30 || die "HOSTILE_SECS must be 1..30"
int_in "$RATE" 1 1000 || die "HOSTILE_RATE must be 1..1000"
int_in "$GARBAGE_RATE" 1 1000000 || die "HOSTILE_GARBAGE_RATE must be 1..1000000"
int_in "$SLOW_CONNS" 1 10000 || die "HOSTILE_SLOW_CONNS must be 1..10000"
int_in "$SLOW_SECS" $((SECS + 5)) 120 || die "HOSTILE_SLOW_SECS must be HOSTILE_SECS+5..120"
int_in "$LADDER_SECS" 1 30 || die "HOSTILE_LADDER_SECS must be 1..30"
for r in $LADDER; do int_in "$r" 1 1000000 || die "HOSTILE_LADDER: $r"; done
[[ $SETTLE_SECS =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "HOSTILE_SETTLE_SECS must be a number of seconds"

for tool in jq curl timeout flock ss; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
for b in ticketd flood_load; do
	[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make $BUILD/$b"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((SLOW_CONNS + 256)) ] ||
	die "open-file limit $(ulimit -n) is below $((SLOW_CONNS + 256))"

WORK=$(mktemp -d /tmp/hostilebench-work.XXXXXX)
LOAD=$WORK/flood_load
TICKETD=$WORK/ticketd # copies: a rebuild of the tree during the run cannot touch them
TICKETD_PID=
FLOOD_PID=
SERVICES_STARTED=
LOCKED=

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_pid "$FLOOD_PID" flood_load 50
	stop_ticketd
	bench_services_down
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

start_ticketd() {
	port_busy "$HTTP_PORT" && die "port $HTTP_PORT is in use (HOSTILE_HTTP_PORT)"
	mkdir -p "$RUN_DIR/logs"
	TICKETD_ARGS=(--http-port "$HTTP_PORT" --db-port "$MARIADB_PORT"
		--redis-port "$REDIS_PORT" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT"
		--udp-port "$UDP_PORT" --state-dir "$RUN_DIR/ticketd"
		--pin-dir "$PIN_DIR" --hold-path socket --demo-data)
	# its defaults, not the caller's TICKETD_* (ticketd reads those)
	"${BENCH_CLEAN_ENV[@]}" "$TICKETD" "${TICKETD_ARGS[@]}" >>"$RUN_DIR/logs/ticketd-hostilebench.log" 2>&1 &
	TICKETD_PID=$!
	wait_http "$BASE/readyz" 60 "$TICKETD_PID" ticketd "$RUN_DIR/logs/ticketd-hostilebench.log" ||
		die "ticketd not ready in 60 s (log: $RUN_DIR/logs/ticketd-hostilebench.log)"
	log "ticketd ready (pid $TICKETD_PID, $BASE, UDP socket door $UDP_TARGET)"
}

# The demo events of 100 seats: the bystander's (the first) and the probe's
# (the last).
pick_events() {
	local ids
	ids=$(curl -sf --max-time 5 "$BASE/api/events" |
		jq -r '[.[] | select(.rows * .cols == 100) | .id] | map(tostring) | join(" ")')
	BY_EVENT=${ids%% *}
	PROBE_EVENT=${ids##* }
	[ -n "$BY_EVENT" ] && [ "$BY_EVENT" != "$PROBE_EVENT" ] ||
		die "need two 100-seat demo events (got '$ids')"
}

alive() { kill -0 "$TICKETD_PID" 2>/dev/null; }

readyz_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/readyz" || true
}

# The bystander's one session, made once from its address (a per-address
# limit on session creation must not refuse it between scenarios).
bystander_session() {
	local i
	for i in $(seq 1 20); do
		BY_TOKEN=$(curl -s --max-time 5 --interface "$BYSTANDER_ADDR" -X POST "$BASE/api/sessions" |
			jq -r '.token // empty' 2>/dev/null || true)
		[[ $BY_TOKEN =~ ^[0-9a-f]{32}$ ]] && return 0
		sleep 1
	done
	die "no session for the bystander from $BYSTANDER_ADDR in 20 tries"
}

BYSTANDER_CMD() {
	echo "$LOAD" --mode bystander --target "$TARGET" --udp-target "$UDP_TARGET" \
		--token "${2:-$BY_TOKEN}" \
		--source "$BYSTANDER_ADDR" --event "$BY_EVENT" --seats 0-49 \
		--udp-seats 50-99 --rate "$RATE" --duration "$1" --timeout-ms 2000
}

# What each flood runs: args [duration]. Printed with "flood_load" in front
# in the report.
flood_args() { # scenario [rate]
	case "$1" in
	sessions) echo --mode sessions --target "$TARGET" --source "$FLOOD_ADDR" --conns 8 --duration "$((SECS + 1))" ;;
	ladder) echo --mode sessions --target "$TARGET" --source "$FLOOD_ADDR" --conns 8 --rate "$2" --duration "$((LADDER_SECS + 1))" ;;
	garbage) echo --mode garbage --udp-target "$UDP_TARGET" --source "$FLOOD_ADDR" --rate "$GARBAGE_RATE" --max-len 1500 --duration "$((SECS + 1))" ;;
	slow) echo --mode slow --target "$TARGET" --sources "$SLOW_SOURCES" --conns "$SLOW_CONNS" --open-secs 3 --interval-ms 1000 --duration "$SLOW_SECS" ;;
	esac
}

# How long after the flood's start the bystander begins.
flood_lead() { # scenario
	case "$1" in slow) echo 4 ;; *) echo 0.5 ;; esac
}

# One measurement: the bystander alone (scenario baseline) or beside a
# flood. Args: id scenario round [rate]. Writes $WORK/runs/<id>.<round>.json
# {round, scenario, bystander, flood, readyz_after, ticketd_alive}.
measure() {
	local id=$1 sc=$2 r=$3 rate=${4:-} secs=$SECS out=$WORK/runs/$1.$3 fl='null' lead
	[ "$sc" = ladder ] && secs=$LADDER_SECS
	alive || die "ticketd (pid $TICKETD_PID) is gone before $id round $r; its log: $(tail -n 3 "$RUN_DIR/logs/ticketd-hostilebench.log" | tr '\n' ' ')"
	FLOOD_PID=
	if [ "$sc" != baseline ]; then
		# shellcheck disable=SC2046
		timeout -k 5 $((SLOW_SECS + 30)) "$LOAD" $(flood_args "$sc" "$rate") >"$out.flood" 2>"$out.flood.err" &
		FLOOD_PID=$!
		lead=$(flood_lead "$sc")
		sleep "$lead"
	fi
	# shellcheck disable=SC2046
	if ! timeout -k 5 $((secs + 30)) $(BYSTANDER_CMD "$secs") >"$out.by" 2>"$out.by.err"; then
		log "$id round $r: the bystander failed: $(tail -n 3 "$out.by.err" | tr '\n' ' ')"
		echo '{}' >"$out.by"
	fi
	if [ -n "$FLOOD_PID" ]; then
		wait "$FLOOD_PID" || log "$id round $r: flood_load exited with $?: $(tail -n 3 "$out.flood.err" | tr '\n' ' ')"
		FLOOD_PID=
		[ -s "$out.flood" ] && fl=$(cat "$out.flood")
	fi
	jq -c --argjson round "$r" --arg id "$id" --arg sc "$sc" --argjson fl "$fl" \
		--arg ready "$(readyz_code)" --argjson alive "$(alive && echo true || echo false)" \
		'{id: $id, scenario: $sc, round: $round, bystander: ., flood: $fl,
		  readyz_after: $ready, ticketd_alive: $alive}' "$out.by" >"$out.json"
	log "$(jq -r '"\(.id) round \(.round): bystander REST p50 \(.bystander.rest_ms.p50) p99 \(.bystander.rest_ms.p99) max \(.bystander.rest_ms.max) ms, 5xx \(.bystander["5xx"]), failures \(.bystander.failures), UDP hold p99 \(.bystander.udp.hold_rtt_ms.p99) ms lost \(.bystander.udp.lost)\(if .flood == null then "" elif .flood.mode == "sessions" then "; flood: \(.flood.sent) sent, \(.flood.accepted) accepted, \(.flood.refused_total) refused" elif .flood.mode == "garbage" then "; flood: \(.flood.sent) datagrams, \(.flood.replies) replies" else "; slow: \(.flood.max_open) open at most, \(.flood.cut_by_server) cut, \(.flood.open_at_end) open at the end, \(.flood.refused) refused" end); readyz \(.readyz_after)"' "$out.json")"
	sleep "$SETTLE_SECS" # let the server settle
}

probe() { # id [--udp-first]
	local out=$WORK/runs/$1.json
	# shellcheck disable=SC2086
	timeout -k 5 90 "$LOAD" --mode probe --target "$TARGET" --udp-target "$UDP_TARGET" \
		--source "$PROBE_ADDR" --event "$PROBE_EVENT" --seats 0-99 --hold-seconds 120 \
		--max-sessions 200 --patience 5 --duration 60 ${2:-} >"$out" 2>"$out.err" ||
		die "probe $1 failed: $(tail -n 3 "$out.err")"
	log "$(jq -r '"probe \(.order): \(.held_at_once) seats held at once (REST \(.held_rest), UDP \(.held_udp)) with \(.sessions) sessions; REST stopped by: \(.stopped_rest); UDP stopped by: \(.stopped_udp); event held \(.event_held)"' "$out")"
}

machine_json() {
	bench_machine_json nproc
}

main() {
	local started finished bg0 bg1 r rate
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	mkdir -p "$(dirname "$OUT")" "$WORK/runs"
	cp "$BUILD/ticketd" "$TICKETD"
	cp "$BUILD/flood_load" "$LOAD"
	BUILD_INFO="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); flood_load sha256 $(sha256sum "$LOAD" | cut -c1-12)"

	bench_services_up
	start_ticketd
	pick_events
	bystander_session
	log "bystander event $BY_EVENT, probe event $PROBE_EVENT"
	take_lock
	bg0=$(background_busy_pct)
	log "background CPU busy before the runs: $bg0 %"
	# warm-up, not counted
	# shellcheck disable=SC2046
	timeout 30 $(BYSTANDER_CMD 1) >/dev/null 2>&1 || true
	for r in $(seq 1 "$ROUNDS"); do
		measure baseline baseline "$r"
		measure sessions sessions "$r"
		measure garbage garbage "$r"
		measure slow slow "$r"
	done
	for rate in $LADDER; do
		measure "ladder$rate" ladder 1 "$rate"
	done
	measure baseline_end baseline 1
	probe probe_rest_first
	probe probe_udp_first --udp-first
	bg1=$(background_busy_pct)
	release_lock
	finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)

	jq -s . "$WORK"/runs/*.[0-9]*.json >"$WORK/runs.json"
	jq -s . "$WORK"/runs/probe_*.json >"$WORK/probes.json"
	jq -n --slurpfile runs "$WORK/runs.json" --slurpfile probes "$WORK/probes.json" \
		--slurpfile machine <(machine_json) \
		--arg started "$started" --arg finished "$finished" --arg bg0 "$bg0" --arg bg1 "$bg1" \
		--arg build "$BUILD_INFO" --argjson rounds "$ROUNDS" --argjson secs "$SECS" \
		--argjson rate "$RATE" --argjson ladder_secs "$LADDER_SECS" \
		--argjson by_event "$BY_EVENT" --argjson probe_event "$PROBE_EVENT" \
		--arg ticketd "ticketd ${TICKETD_ARGS[*]}" \
		--arg bystander "$(BYSTANDER_CMD "$SECS" '<its session>' | sed "s|$LOAD|flood_load|")" \
		--arg f_sessions "flood_load $(flood_args sessions)" \
		--arg f_ladder "flood_load $(flood_args ladder RATE)" \
		--arg f_garbage "flood_load $(flood_args garbage)" \
		--arg f_slow "flood_load $(flood_args slow)" \
		--arg probe "flood_load --mode probe --target $TARGET --udp-target $UDP_TARGET --source $PROBE_ADDR --event $PROBE_EVENT --seats 0-99 --hold-seconds 120 --max-sessions 200 --patience 5 --duration 60 [--udp-first]" \
		'{command: "bash bench/hostile_bench.sh", started: $started, finished: $finished,
		  background_busy_pct: {before: $bg0, after: $bg1}, build: $build,
		  machine: $machine[0], rounds: $rounds, secs: $secs, bystander_rate: $rate,
		  ladder_secs: $ladder_secs, bystander_event: $by_event, probe_event: $probe_event,
		  commands: {ticketd: $ticketd, bystander: $bystander, sessions: $f_sessions,
		             ladder: $f_ladder, garbage: $f_garbage, slow: $f_slow, probe: $probe},
		  runs: $runs[0], probes: $probes[0]}' >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
	log "wrote $OUT"
	bash bench/hostile_render.sh "$OUT" >"${OUT%.json}.md.tmp"
	mv "${OUT%.json}.md.tmp" "${OUT%.json}.md"
	log "wrote ${OUT%.json}.md"
	cat "${OUT%.json}.md"
}

main "$@"
