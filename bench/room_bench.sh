#!/usr/bin/env bash
# Waiting-room benchmark (issue #12): purchases offered at 1x, 2x and 5x the
# measured capacity, with the event's waiting room off and on, against real
# services (ticketd, paymentd with its defaults, Redis, MariaDB, Kafka).
#
#   bash bench/room_bench.sh              # about 6 minutes with the defaults
#   bash bench/room_bench.sh --render [bench/results/room.json]
#   make bench SUITES=room                # the same inside make bench
#
# Writes bench/results/room.json and bench/results/room.md (the section
# "Waiting room" of BENCHMARKS.md) and prints the markdown.
#
# One run (everything it starts it stops; every tool bounded by `timeout`):
#   1. its own back ends (infra/services.sh under RUN_DIR), paymentd,
#      ticketd (socket hold path); one ROOM_ROWS x ROOM_COLS event per run.
#   2. capacity: build/orders_load --closed, ROOM_CAP_CONNS purchases in
#      flight for ROOM_CAP_SECS (hold 1 seat, order, authorize, poll until
#      final): completed purchases/s of the steady part = C.
#   3. for each factor F of ROOM_FACTORS, room off (the baseline), then on:
#      build/orders_load --room at F x C visitors/s (open loop) for
#      ROOM_SECS, each visitor with a session of its own; in-flight ones
#      may end during ROOM_DRAIN_SECS. Room on: PUT /admin/events/{id}/room
#      (admin key <state dir>/admin.key) with rate = C, active_max =
#      C x (purchase p50 of the 1x room-off run + idle seconds) x 1.2 and
#      idle_seconds ROOM_IDLE_SECONDS (an admitted visitor who bought and
#      left frees its place after them). When POST /api/events/{id}/room
#      answers 404 (no waiting room in this ticketd) the room-off runs go
#      straight to the hold and the room-on runs are skipped, said so.
#   4. around every run: ticketd's /metrics (requests over 2 s inside
#      ticketd where ticketd counts them, 503/429 answers); after all runs
#      the oversell audit against MariaDB.
#
# Settings (environment): ROOM_FACTORS ("1 2 5"), ROOM_SECS (20),
# ROOM_DRAIN_SECS (10), ROOM_CAP_SECS (12), ROOM_CAP_CONNS (100: under the
# orders and payments in-flight caps of 128, so the closed loop measures
# completions, not refusals), ROOM_CONNS (17000, client connections per
# run, streams included), ROOM_STREAMS (14000, waiting visitors on an SSE
# stream at once, as the web page does; the others poll), ROOM_POLL_MS
# (2000: the web page's poll period, POLL_MIN_MS of
# web/src/features/room/roomSession.ts; docs/api.md asks for 1-5 s),
# ROOM_RETRIES (3), ROOM_IDLE_SECONDS (5), ROOM_ACTIVE_MAX
# (computed), ROOM_RATE (C), ROOM_MAX_SESSIONS (40000), ROOM_ROWS/ROOM_COLS
# (250/200), ROOM_TICKETD_THREADS (2), ROOM_TICKETD_MAX_CONNS (18000),
# ROOM_DB_POOL (8), ROOM_KINDS ("off on": which runs of each factor; one
# of them alone is for trying a change on one cell, never for the
# published section), ROOM_OUT, ROOM_MD, ROOM_LOCK_WAIT (900), ROOM_KEEP
# (0), RUN_DIR (/tmp/roombench), REDIS_PORT (6388), MARIADB_PORT (3314),
# KAFKA_PORT (9140), KAFKA_CONTROLLER_PORT (9141), ROOM_HTTP_PORT (18393),
# ROOM_UDP_PORT (17393), ROOM_PAY_PORT (18398), ROOM_PIN_DIR
# (/sys/fs/bpf/ticket-roombench), BUILD (build).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # paymentd, ticketd, settle, audit_q

OUT=${ROOM_OUT:-bench/results/room.json}
MD=${ROOM_MD:-bench/results/room.md}

[ "${1:-}" = --render ] && purchase_render room_bench bench/room_render.jq "${2:-}"

FACTORS=${ROOM_FACTORS:-1 2 5}
SECS=${ROOM_SECS:-20}
DRAIN_SECS=${ROOM_DRAIN_SECS:-10}
CAP_SECS=${ROOM_CAP_SECS:-12}
CAP_CONNS=${ROOM_CAP_CONNS:-100}
CONNS=${ROOM_CONNS:-17000}
STREAMS=${ROOM_STREAMS:-14000}
ROOM_POLL=${ROOM_POLL_MS:-2000}
RETRIES=${ROOM_RETRIES:-3}
IDLE=${ROOM_IDLE_SECONDS:-5}
MAX_SESSIONS=${ROOM_MAX_SESSIONS:-40000}
ROWS=${ROOM_ROWS:-250}
COLS=${ROOM_COLS:-200}
TD_THREADS=${ROOM_TICKETD_THREADS:-2}
TD_MAX_CONNS=${ROOM_TICKETD_MAX_CONNS:-18000}
DB_POOL=${ROOM_DB_POOL:-8}
LOCK_WAIT=${ROOM_LOCK_WAIT:-900}
KEEP=${ROOM_KEEP:-0}
KINDS=${ROOM_KINDS:-off on}
POLL_MS=20      # GET the order again while PENDING
TIMEOUT_MS=15000 # one request unanswered this long is an error
bench_services_env /tmp/roombench 6388 3314 9140 9141
HTTP_PORT=${ROOM_HTTP_PORT:-18393}
UDP_PORT=${ROOM_UDP_PORT:-17393}
PAY_PORT=${ROOM_PAY_PORT:-18398}
PIN_DIR=${ROOM_PIN_DIR:-/sys/fs/bpf/ticket-roombench}
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)

log() { printf '[room-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
for f in $FACTORS; do int_in "$f" 1 50 || die "ROOM_FACTORS: $f (1..50)"; done
int_in "$SECS" 1 120 || die "ROOM_SECS must be 1..120"
int_in "$DRAIN_SECS" 1 120 || die "ROOM_DRAIN_SECS must be 1..120"
int_in "$CAP_SECS" 4 120 || die "ROOM_CAP_SECS must be 4..120"
int_in "$CAP_CONNS" 1 4000 || die "ROOM_CAP_CONNS must be 1..4000"
int_in "$CONNS" 1 19000 || die "ROOM_CONNS must be 1..19000"
int_in "$STREAMS" 0 19000 || die "ROOM_STREAMS must be 0..19000"
int_in "$ROOM_POLL" 10 10000 || die "ROOM_POLL_MS must be 10..10000"
int_in "$RETRIES" 0 20 || die "ROOM_RETRIES must be 0..20"
int_in "$IDLE" 1 600 || die "ROOM_IDLE_SECONDS must be 1..600"
int_in "$MAX_SESSIONS" 100 200000 || die "ROOM_MAX_SESSIONS must be 100..200000"
int_in "$ROWS" 1 1000 && int_in "$COLS" 1 1000 || die "ROOM_ROWS/ROOM_COLS: 1..1000"
SEATS_PER_EVENT=$((ROWS * COLS))
# a stream holds one of the CONNS connections while it is open
[ "$STREAMS" -lt "$CONNS" ] || die "ROOM_STREAMS ($STREAMS) must be below ROOM_CONNS ($CONNS): streams use its connections"
purchase_preflight $((CONNS + 512)) ticketd paymentd orders_load

purchase_work room ROOM_KEEP # WORK, TICKETD, PAYMENTD, logs, the EXIT trap
LOAD=$WORK/orders_load

# ---- events -----------------------------------------------------------------------

EVENT_TAGS=(cap)
for f in $FACTORS; do EVENT_TAGS+=("off-$f" "on-$f"); done
event_name() { printf 'Room Bench %s' "$1"; }

# ---- ticketd's own counts ------------------------------------------------------------

# {over_2s (null when ticketd does not count it), over_2s_source,
#  over_2_5s (from the request histogram), refused_503, refused_429}
ticketd_counts() {
	curl -sf --max-time 5 "$BASE/metrics" | awk '
		function v(line) { n = split(line, w, " "); return w[n] + 0 }
		/^ticketd_http_requests_over_2s_total/ { o2 += v($0); have_o2 = 1 }
		/^ticketd_http_request_seconds_bucket\{.*le="2(\.0)?"/ { b2 += v($0); have_b2 = 1 }
		/^ticketd_http_request_seconds_count/ { c2 += v($0) }
		/^ticketd_http_request_duration_seconds_bucket\{.*le="2\.5"/ { b25 += v($0) }
		/^ticketd_http_request_duration_seconds_count/ { c25 += v($0) }
		/^ticketd_http_requests_total\{.*status="503"/ { r503 += v($0) }
		/^ticketd_http_requests_total\{.*status="429"/ { r429 += v($0) }
		END {
			if (have_o2) { o = o2; src = "ticketd_http_requests_over_2s_total" }
			else if (have_b2) { o = c2 - b2; src = "ticketd_http_request_seconds (le=2 bucket)" }
			else { o = "null"; src = "" }
			printf "{\"over_2s\":%s,\"over_2s_source\":\"%s\",\"over_2_5s\":%d,\"refused_503\":%d,\"refused_429\":%d}\n",
				o, src, c25 - b25, r503, r429 }'
}

counts_delta() { # before after
	jq -n --argjson a "$1" --argjson b "$2" '$b | with_entries(
		if (.value | type) == "number" then .value -= ($a[.key] // 0) else . end)'
}

# ---- the room ---------------------------------------------------------------------------

ROOM_API=unknown
# Whether this ticketd has a waiting room: POST /api/events/{id}/room.
probe_room() {
	local tok code
	tok=$(head -n 1 "$WORK/tokens")
	code=$(curl -s -o "$WORK/probe.json" -w '%{http_code}' --max-time 5 -X POST \
		-H "Authorization: Bearer $tok" "$BASE/api/events/${EVENT_ID[cap]}/room")
	case $code in
	200) ROOM_API=yes ;;
	404) ROOM_API=no ;;
	*) die "POST /api/events/{id}/room answered $code: $(head -c 300 "$WORK/probe.json")" ;;
	esac
	log "waiting room API: $ROOM_API (POST /api/events/{id}/room answered $code)"
}

# Turns the room of an event on (PUT /admin/events/{id}/room, docs/api.md)
# and prints the settings ticketd kept (its GET after the PUT).
room_on() { # event rate active_max
	local key body code
	key=$(cat "$RUN_DIR/ticketd/admin.key" 2>/dev/null) || { log "no $RUN_DIR/ticketd/admin.key"; return 1; }
	body="{\"enabled\":true,\"ratePerSecond\":$2,\"activeMax\":$3,\"idleSeconds\":$IDLE,\"startsAt\":null}"
	code=$(curl -s -o "$WORK/put.json" -w '%{http_code}' --max-time 5 -X PUT \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
		--data "$body" "$BASE/admin/events/$1/room")
	if [ "$code" != 200 ]; then
		log "PUT /admin/events/$1/room $body answered $code: $(head -c 200 "$WORK/put.json")"
		return 1
	fi
	curl -sf --max-time 5 -H "Authorization: Bearer $key" "$BASE/admin/events/$1/room" || echo "$body"
}

# ---- one run -------------------------------------------------------------------------------

# Args: tag kind(capacity|off|on) rate room_json. Writes $WORK/runs/<tag>.json.
run_one() {
	local tag=$1 kind=$2 rate=$3 room=${4:-null} ev out args shown c0 c1 settle_s
	ev=${EVENT_ID[$tag]}
	out=$WORK/runs/$tag.json
	args=(--mode orders --target "127.0.0.1:$HTTP_PORT" --event "$ev" --seats "0-$((SEATS_PER_EVENT - 1))"
		--max-seats 1 --poll-ms "$POLL_MS" --timeout-ms "$TIMEOUT_MS" --retries "$RETRIES"
		--key-prefix "$RUN_ID-$tag" --pid "ticketd=$TICKETD_PID" --pid "paymentd=$PAYMENTD_PID"
		--pid "mariadbd=$(svc_pid mariadb)" --threads-of "$TICKETD_PID")
	if [ "$kind" = capacity ]; then
		args+=(--closed --conns "$CAP_CONNS" --count "$SEATS_PER_EVENT" --duration "$CAP_SECS" --drain 10
			--tokens "$WORK/tokens")
	else
		args+=(--rate "$rate" --duration "$SECS" --drain "$DRAIN_SECS" --conns "$CONNS"
			--streams "$STREAMS" --room-poll-ms "$ROOM_POLL" --tokens "$WORK/tokens")
		[ "$ROOM_API" = yes ] && args+=(--room)
	fi
	shown="build/orders_load ${args[*]}"
	shown=${shown//$WORK\/tokens/<session tokens>}
	shown=${shown//$RUN_ID-/<run>-}
	shown=$(sed -E 's/--pid [a-z]+=[0-9]*//g; s/--threads-of [0-9]+//g; s/  +/ /g' <<<"$shown")
	c0=$(ticketd_counts)
	timeout $((SECS + CAP_SECS + DRAIN_SECS + 60)) "$LOAD" "${args[@]}" >"$out.raw" 2>"$out.err" ||
		die "$tag: orders_load failed: $(tail -n 3 "$out.err")"
	c1=$(ticketd_counts)
	settle_s=$(settle)
	jq -c --arg tag "$tag" --arg kind "$kind" --argjson rate "$rate" --argjson event "$ev" \
		--arg command "$shown" --argjson room "$room" --argjson settle_s "$settle_s" \
		--argjson ticketd "$(counts_delta "$c0" "$c1")" \
		'{tag: $tag, kind: $kind, rate: $rate, event_id: $event, command: $command,
		  room: $room, settle_s: $settle_s, ticketd: $ticketd, result: .}' "$out.raw" >"$out"
	rm -f "$out.raw"
	log "$(jq -r '.result as $r | "\(.tag) @\(.rate)/s: completed \($r.sustained.per_s)/s (steady), \($r.completed)/\($r.offered), admitted e2e p50 \($r.latency_us.admitted_end_to_end.p50/1000|floor) p95 \($r.latency_us.admitted_end_to_end.p95/1000|floor) ms, room \($r.room | {admitted, still_waiting, streams_max} | tostring), position gap p99 \($r.latency_us.position_update_gap.p99/1000|floor) ms, refusals \($r.refusals.by_step|tostring), errors \($r.errors|tostring), ticketd \(.ticketd|tostring)"' "$out")"
}

# ---- audit ---------------------------------------------------------------------------------

run_audit() {
	for _ in $(seq 1 50); do
		[ "$(mariadb_q "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'PENDING'")" = 0 ] && break
		sleep 0.2
	done
	{
		audit_q seat_in_two_confirmed_orders "SELECT COUNT(*) FROM (SELECT os.event_id, os.seat_id FROM order_seats os JOIN orders o ON o.id = os.order_id WHERE o.status = 'CONFIRMED' GROUP BY os.event_id, os.seat_id HAVING COUNT(*) > 1) x"
		audit_q seat_sold_twice "SELECT COUNT(*) FROM (SELECT event_id, seat_id FROM sold_seats GROUP BY event_id, seat_id HAVING COUNT(*) > 1) x"
		audit_q sold_seat_of_order_not_confirmed "SELECT COUNT(*) FROM sold_seats s JOIN orders o ON o.id = s.order_id WHERE o.status <> 'CONFIRMED'"
		audit_q sold_seat_without_order "SELECT COUNT(*) FROM sold_seats s LEFT JOIN orders o ON o.id = s.order_id WHERE o.id IS NULL"
		audit_q confirmed_seat_not_sold_to_it "SELECT COUNT(*) FROM order_seats os JOIN orders o ON o.id = os.order_id LEFT JOIN sold_seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id AND s.order_id = o.id WHERE o.status = 'CONFIRMED' AND s.order_id IS NULL"
		audit_q orders_total "SELECT COUNT(*) FROM orders"
		audit_q confirmed_orders "SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'"
		audit_q sold_seats_total "SELECT COUNT(*) FROM sold_seats"
	} | jq -s 'add | . as $d | {db: $d, checks: {
		"zero seats sold twice": ($d.seat_in_two_confirmed_orders == 0 and $d.seat_sold_twice == 0),
		"every sold seat belongs to a CONFIRMED order": ($d.sold_seat_of_order_not_confirmed == 0 and $d.sold_seat_without_order == 0),
		"every CONFIRMED order has its seats SOLD to it": ($d.confirmed_seat_not_sold_to_it == 0)}}
		| .ok = ([.checks[]] | all)' >"$WORK/audit.json"
	log "audit: $(jq -c '{ok, checks}' "$WORK/audit.json")"
}

make_sessions() { # count
	timeout 600 "$LOAD" --mode sessions --target "127.0.0.1:$HTTP_PORT" --count "$1" \
		--conns 64 --drain 500 >"$WORK/tokens" 2>"$WORK/sessions.err" ||
		die "creating $1 sessions failed: $(tail -n 3 "$WORK/sessions.err")"
	[ "$(wc -l <"$WORK/tokens")" -eq "$1" ] || die "asked for $1 sessions, got $(wc -l <"$WORK/tokens")"
}

main() {
	local started t0 cap p50 f rate need room active skipped="" bg0 bg1
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	t0=$(date +%s)
	mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")" "$WORK/runs"
	cp "$BUILD/orders_load" "$LOAD"
	cp "$BUILD/ticketd" "$TICKETD"
	BUILD_INFO="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), orders_load sha256 $(sha256sum "$LOAD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- userspace api bpf bench 2>/dev/null || echo ' + uncommitted changes')"
	purchase_stack_up R 1000
	make_sessions "$CAP_CONNS"
	probe_room
	take_lock
	bg0=$(background_busy_pct)

	log "capacity: closed loop, $CAP_CONNS purchases in flight for ${CAP_SECS}s"
	run_one cap capacity 0
	cap=$(jq -r '.result.sustained.per_s | floor' "$WORK/runs/cap.json")
	[ "$cap" -ge 1 ] || die "capacity measured as $cap purchases/s: $(jq -c '.result.errors' "$WORK/runs/cap.json")"
	log "capacity: $cap purchases/s"
	rate=${ROOM_RATE:-$cap}

	# a session of its own for every visitor of the largest run
	need=0
	for f in $FACTORS; do [ $((f * cap * SECS)) -gt "$need" ] && need=$((f * cap * SECS)); done
	[ "$need" -le "$MAX_SESSIONS" ] || { log "$need visitors in the largest run; ROOM_MAX_SESSIONS=$MAX_SESSIONS sessions (some are reused)"; need=$MAX_SESSIONS; }
	[ "$need" -le "$SEATS_PER_EVENT" ] || log "$need visitors may want more than the $SEATS_PER_EVENT seats of an event: the last ones do not start (counted)"
	release_lock
	make_sessions "$need"
	log "created $need sessions"
	take_lock

	for f in $FACTORS; do
		[[ " $KINDS " == *" off "* ]] && run_one "off-$f" off $((f * cap))
		[[ " $KINDS " == *" on "* ]] || continue
		if [ "$ROOM_API" != yes ]; then
			skipped="POST /api/events/{id}/room answered 404: this ticketd has no waiting room"
			continue
		fi
		if [ -z "${active:-}" ]; then
			p50=$(jq -r '.result.latency_us.admitted_end_to_end.p50 // 0' "$WORK/runs/off-$f.json" 2>/dev/null || echo 0)
			active=${ROOM_ACTIVE_MAX:-$(awk -v c="$rate" -v p="$p50" -v i="$IDLE" 'BEGIN{a = c * (p / 1e6 + i) * 1.2; printf "%d", (a < 10 ? 10 : a + 0.999)}')}
			log "room settings: rate $rate/s, active_max $active (purchase p50 $((p50 / 1000)) ms + idle ${IDLE}s, x 1.2)"
		fi
		if ! room=$(room_on "${EVENT_ID[on-$f]}" "$rate" "$active"); then
			skipped="PUT /admin/events/{id}/room failed (see the log): the room could not be turned on"
			continue
		fi
		run_one "on-$f" on $((f * cap)) "$(jq -c . <<<"$room" 2>/dev/null || echo null)"
	done
	bg1=$(background_busy_pct)
	release_lock
	run_audit
	cat "$WORK"/runs/*.json | jq -s 'sort_by(.rate, .kind)' >"$WORK/runs.json"
	jq -n --slurpfile runs "$WORK/runs.json" --slurpfile audit "$WORK/audit.json" \
		--slurpfile machine <(bench_machine_json nproc) \
		--arg started "$started" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--argjson seconds "$(($(date +%s) - t0))" --arg build "$BUILD_INFO" \
		--arg room_api "$ROOM_API" --arg skipped "$skipped" --argjson capacity "$cap" \
		--argjson rate "$rate" --argjson active_max "${active:-null}" --argjson idle "$IDLE" \
		--argjson secs "$SECS" --argjson drain "$DRAIN_SECS" --argjson cap_secs "$CAP_SECS" \
		--argjson cap_conns "$CAP_CONNS" --argjson sessions "$need" --arg bg0 "$bg0" --arg bg1 "$bg1" \
		--argjson factors "[$(echo $FACTORS | tr ' ' ',')]" \
		'{started: $started, finished: $finished, seconds: $seconds, build: $build,
		  machine: $machine[0], background_busy_pct: [$bg0, $bg1],
		  room_api: $room_api, room_on_skipped: (if $skipped == "" then null else $skipped end),
		  capacity: $capacity, room_rate: $rate, active_max: $active_max, idle_seconds: $idle,
		  secs: $secs, drain_s: $drain, cap_secs: $cap_secs, cap_conns: $cap_conns,
		  sessions: $sessions, factors: $factors, runs: $runs[0], audit: $audit[0]}' >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
	jq -r -f bench/room_render.jq "$OUT" >"$MD.tmp"
	mv "$MD.tmp" "$MD"
	log "wrote $OUT and $MD ($(($(date +%s) - t0))s)"
	cat "$MD"
}

main "$@"
