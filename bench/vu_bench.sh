#!/usr/bin/env bash
# The prior design's 1000-user scenario (issue #13), reproduced: virtual
# users loop list events -> seat map -> hold 1-4 random free seats -> order
# -> authorize -> poll the order until final (build/vu_load), against the
# stack of `make run`, ramped up like the prior design's k6 stages (200,
# 400, 1000 users), with think time off and on, then at fixed arrival rates
# (open loop), then an oversell audit.
#
#   bash bench/vu_bench.sh                  # about 4 minutes with the defaults
#   bash bench/vu_bench.sh --render [bench/results/vu.json]
#   make bench SUITES=vu                    # the same inside make bench
#   make bench-vu                           # alone
#
# Writes bench/results/vu.json and bench/results/vu.md (the section "The
# prior design's 1000-user scenario" of BENCHMARKS.md, rendered by
# bench/vu_render.jq) and prints the markdown.
#
# One run (everything it starts it stops: trap on EXIT; every tool bounded
# by `timeout`):
#   1. its own Redis, MariaDB and Kafka (infra/services.sh under RUN_DIR, a
#      fresh one each run), paymentd with its defaults, ticketd with its
#      defaults as `make run` starts it (socket hold path here) and the
#      per-client limits lifted (bench/lib/common.sh's BENCH_NO_CLIENT_LIMITS:
#      every user speaks from 127.0.0.1); VU_EVENTS events of VU_ROWS x
#      VU_COLS seats (a hall of 500 by default: the seat map a user reads
#      each purchase stays small), added to MariaDB before ticketd loads the
#      catalogue, shared by the runs one after the other (enough seats that
#      the last run still finds most free; the report gives the share sold
#      after each run); one session per user, made up front
#      (build/orders_load --mode sessions).
#   2. under /run/tkbench.lock:
#        think-off  closed loop, VU_STAGES users (each stage VU_STAGE_SECS,
#                   its new users started over VU_RAMP_SECS), no think time
#        think-on   the same with VU_THINK_MS think time before each user
#                   action
#        open       open loop: users arrive at each rate of VU_OPEN_RATES
#                   (users/s; "auto": 50 % and 90 % of the purchases/s of
#                   the think-off run's last stage) for VU_OPEN_SECS each,
#                   buy once, leave; latency counts from the arrival
#      Between runs ticketd settles (no authorization pending, outbox
#      relayed). CPU of ticketd, paymentd, mariadbd, redis and kafka per
#      stage.
#   3. the oversell audit against MariaDB (no seat sold twice, every sold
#      seat in a CONFIRMED order and the other way round), and the client's
#      confirmed orders against the database's.
#
# Targets (issue #13), at 1000 users: p95 < 50 ms for every step but
# authorize (its floor is the simulated gateway's delay), zero errors,
# zero oversell; the report says met or missed for each, with its figure.
#
# Settings (environment): VU_STAGES ("200 400 1000"), VU_STAGE_SECS (15),
# VU_RAMP_SECS (1), VU_THINK_MS (1000-3000), VU_THINK (1: run think-on),
# VU_OPEN_RATES ("auto"; "" = no open-loop run), VU_OPEN_SECS (15),
# VU_OPEN_CONNS (1000), VU_EVENTS (120), VU_ROWS/VU_COLS (20/25),
# VU_MAX_SEATS (4), VU_DRAIN_SECS (15), VU_POLL_MS (20), VU_TIMEOUT_MS
# (15000), VU_MAX_OPEN_SESSIONS (20000), VU_TICKETD_THREADS (ticketd's
# default when empty), VU_DB_POOL (ticketd's default when empty), VU_BUDGET
# (330 s: the whole script; each tool is cut to what is left), VU_OUT
# (bench/results/vu.json), VU_MD (bench/results/vu.md), VU_LOCK_WAIT (900),
# VU_KEEP (0; 1 keeps RUN_DIR and the work folder), RUN_DIR (/tmp/vubench),
# REDIS_PORT (6386), MARIADB_PORT (3312), KAFKA_PORT (9150),
# KAFKA_CONTROLLER_PORT (9151), VU_HTTP_PORT (18395), VU_UDP_PORT (17395),
# VU_PAY_PORT (18396), VU_PIN_DIR (/sys/fs/bpf/ticket-vubench), BUILD
# (build).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # paymentd, ticketd, settle, audit_q

OUT=${VU_OUT:-bench/results/vu.json}
MD=${VU_MD:-bench/results/vu.md}

[ "${1:-}" = --render ] && purchase_render vu_bench bench/vu_render.jq "${2:-}"

STAGES=${VU_STAGES:-200 400 1000}
STAGE_SECS=${VU_STAGE_SECS:-15}
RAMP_SECS=${VU_RAMP_SECS:-1}
THINK_MS=${VU_THINK_MS:-1000-3000}
THINK=${VU_THINK:-1}
OPEN_RATES=${VU_OPEN_RATES-auto}
OPEN_SECS=${VU_OPEN_SECS:-15}
OPEN_CONNS=${VU_OPEN_CONNS:-1000}
EVENTS=${VU_EVENTS:-120}
ROWS=${VU_ROWS:-20}
COLS=${VU_COLS:-25}
MAX_SEATS=${VU_MAX_SEATS:-4}
DRAIN_SECS=${VU_DRAIN_SECS:-15}
POLL_MS=${VU_POLL_MS:-20}
TIMEOUT_MS=${VU_TIMEOUT_MS:-15000}
MAX_OPEN_SESSIONS=${VU_MAX_OPEN_SESSIONS:-20000}
TD_THREADS=${VU_TICKETD_THREADS:-}
DB_POOL=${VU_DB_POOL:-}
BUDGET=${VU_BUDGET:-330}
LOCK_WAIT=${VU_LOCK_WAIT:-900}
KEEP=${VU_KEEP:-0}
bench_services_env /tmp/vubench 6386 3312 9150 9151
HTTP_PORT=${VU_HTTP_PORT:-18395}
UDP_PORT=${VU_UDP_PORT:-17395}
PAY_PORT=${VU_PAY_PORT:-18396}
PIN_DIR=${VU_PIN_DIR:-/sys/fs/bpf/ticket-vubench}
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
T_BEGIN=$(date +%s)

log() { printf '[vu-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

prev=0
for u in $STAGES; do
	int_in "$u" 1 10000 || die "VU_STAGES: $u (1..10000 users)"
	[ "$u" -ge "$prev" ] || die "VU_STAGES must not fall: $STAGES"
	prev=$u
done
MAX_USERS=$prev
[ "$MAX_USERS" -ge 1 ] || die "VU_STAGES is empty"
int_in "$STAGE_SECS" 1 300 || die "VU_STAGE_SECS must be 1..300"
int_in "$RAMP_SECS" 0 60 || die "VU_RAMP_SECS must be 0..60"
[[ $THINK_MS =~ ^[0-9]+-[0-9]+$ ]] || die "VU_THINK_MS must be A-B (ms)"
case $THINK in 0 | 1) ;; *) die "VU_THINK must be 0 or 1" ;; esac
if [ "$OPEN_RATES" != auto ]; then
	for r in $OPEN_RATES; do int_in "$r" 1 5000 || die "VU_OPEN_RATES: $r (1..5000 users/s, or auto)"; done
fi
int_in "$OPEN_SECS" 1 300 || die "VU_OPEN_SECS must be 1..300"
int_in "$OPEN_CONNS" 1 10000 || die "VU_OPEN_CONNS must be 1..10000"
int_in "$EVENTS" 1 1000 || die "VU_EVENTS must be 1..1000"
int_in "$ROWS" 1 1000 && int_in "$COLS" 1 1000 || die "VU_ROWS/VU_COLS: 1..1000"
int_in "$MAX_SEATS" 1 8 || die "VU_MAX_SEATS must be 1..8"
int_in "$DRAIN_SECS" 1 120 || die "VU_DRAIN_SECS must be 1..120"
int_in "$POLL_MS" 1 1000 || die "VU_POLL_MS must be 1..1000"
int_in "$TIMEOUT_MS" 1000 120000 || die "VU_TIMEOUT_MS must be 1000..120000"
int_in "$MAX_OPEN_SESSIONS" 10 200000 || die "VU_MAX_OPEN_SESSIONS must be 10..200000"
int_in "$BUDGET" 60 3600 || die "VU_BUDGET must be 60..3600"
[ -z "$TD_THREADS" ] || int_in "$TD_THREADS" 1 64 || die "VU_TICKETD_THREADS must be 1..64"
[ -z "$DB_POOL" ] || int_in "$DB_POOL" 1 256 || die "VU_DB_POOL must be 1..256"
SEATS_PER_EVENT=$((ROWS * COLS))
NEED_FDS=$((MAX_USERS > OPEN_CONNS ? MAX_USERS : OPEN_CONNS))
purchase_preflight $((NEED_FDS + 512)) ticketd paymentd orders_load vu_load

purchase_work vu VU_KEEP # WORK, TICKETD, PAYMENTD, logs, the EXIT trap
LOAD=$WORK/vu_load
SESS=$WORK/orders_load

# Seconds left of VU_BUDGET (at least 1).
left() {
	local l=$((BUDGET - ($(date +%s) - T_BEGIN)))
	[ "$l" -ge 1 ] || l=1
	echo "$l"
}

# ticketd as make run starts it: its own defaults, but for the ports, the
# back ends of this run and the per-client limits (purchase.sh's
# start_ticketd passes --http-threads and --db-pool: ticketd's defaults
# unless VU_TICKETD_THREADS / VU_DB_POOL say otherwise).
ticketd_default() { # option -> ticketd's default for it, from its --help
	local help
	help=$("$TICKETD" --help 2>&1) || true
	awk -v o="--$1" '$1 == o || index($1, o "=") == 1 {
		if (match($0, /default:? [0-9]+/)) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); print s; exit } }' <<<"$help"
}

# ---- events ------------------------------------------------------------------------

RUNS=(off)
[ "$THINK" = 1 ] && RUNS+=(on)
[ -n "$OPEN_RATES" ] && RUNS+=(open)
EVENT_TAGS=()
for i in $(seq 1 "$EVENTS"); do EVENT_TAGS+=("$i"); done
event_name() { printf 'VU Bench %s' "$1"; }
RANGE= # "A-B": the event ids users pick from
event_range() {
	local lo hi id i
	lo='' hi=''
	for i in "${EVENT_TAGS[@]}"; do
		id=${EVENT_ID[$i]}
		if [ -z "$lo" ] || [ "$id" -lt "$lo" ]; then lo=$id; fi
		if [ -z "$hi" ] || [ "$id" -gt "$hi" ]; then hi=$id; fi
	done
	[ $((hi - lo + 1)) -eq "$EVENTS" ] || die "the events are not consecutive ids ($lo-$hi)"
	RANGE=$lo-$hi
}

make_sessions() { # count file
	timeout "$(left)" "$SESS" --mode sessions --target "127.0.0.1:$HTTP_PORT" --count "$1" \
		--conns 64 --drain 500 >"$2" 2>"$WORK/sessions.err" ||
		die "creating $1 sessions failed: $(tail -n 3 "$WORK/sessions.err")"
	[ "$(wc -l <"$2")" -eq "$1" ] || die "asked for $1 sessions, got $(wc -l <"$2")"
}

# ---- one run -------------------------------------------------------------------------

# Args: run(off|on|open) mode stages(comma list) stage_secs think tokens.
# Writes $WORK/runs/<run>.json.
run_one() {
	local run=$1 mode=$2 stages=$3 secs=$4 think=$5 tokens=$6 out args shown cap settle_s sold
	out=$WORK/runs/$run.json
	args=(--mode "$mode" --target "127.0.0.1:$HTTP_PORT" --tokens "$tokens" --stages "$stages"
		--stage-secs "$secs" --ramp-secs "$RAMP_SECS" --think-ms "$think" --events "$RANGE"
		--max-seats "$MAX_SEATS" --poll-ms "$POLL_MS" --timeout-ms "$TIMEOUT_MS"
		--drain "$DRAIN_SECS" --conns "$OPEN_CONNS" --key-prefix "$RUN_ID-$run"
		--pid "ticketd=$TICKETD_PID" --pid "paymentd=$PAYMENTD_PID"
		--pid "mariadbd=$(svc_pid mariadb)" --pid "redis=$(svc_pid redis)" --pid "kafka=$(svc_pid kafka)")
	shown="build/vu_load ${args[*]}"
	shown=${shown//$tokens/<one session per user>}
	shown=${shown//$RUN_ID-/<run>-}
	shown=$(sed -E 's/ --pid [a-z]+=[0-9]*//g; s/ --target [^ ]+//' <<<"$shown")
	[ "$mode" = open ] || shown=$(sed -E 's/ --conns [0-9]+//' <<<"$shown")
	cap=$(left)
	log "run $run: $mode loop, stages $stages, ${secs}s each, think ${think} ms (at most ${cap}s)"
	timeout "$cap" "$LOAD" "${args[@]}" >"$out.raw" 2>"$out.err" ||
		die "$run: vu_load failed or ran out of the budget (VU_BUDGET=${BUDGET}s): $(tail -n 3 "$out.err")"
	settle_s=$(settle)
	sold=$(mariadb_q "SELECT COUNT(*) FROM sold_seats s JOIN events e ON e.id = s.event_id WHERE e.name LIKE 'VU Bench %'")
	jq -c --arg run "$run" --arg command "$shown" --argjson settle_s "$settle_s" \
		--argjson sold "${sold:-0}" --argjson seats $((EVENTS * SEATS_PER_EVENT)) \
		'{run: $run, command: $command, settle_s: $settle_s,
		  seats: {total: $seats, sold_after: $sold}, result: .}' "$out.raw" >"$out"
	rm -f "$out.raw"
	log "$(jq -r '.result as $r | "run \(.run): " + ([$r.stages[] | "[\(.users // .rate) \(if .users then "users" else "users/s" end): \(.iterations_ok) purchases (\(.iterations_per_s)/s), hold p95 \(.steps.hold.latency_ms.p95) ms, errors \(.errors), conflicts \(.steps.hold.conflicts), refused \([.steps[].refused] | add)]"] | join(" ")) + "; settled in \(.settle_s) s, \(.seats.sold_after)/\(.seats.total) seats sold"' "$out")"
}

# ---- audit ---------------------------------------------------------------------------

run_audit() {
	local client
	for _ in $(seq 1 50); do
		[ "$(mariadb_q "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'PENDING'")" = 0 ] && break
		sleep 0.2
	done
	client=$(cat "$WORK"/runs/*.json | jq -s '{confirmed: (map(.result.totals.confirmed) | add),
		created: (map(.result.totals.orders_created) | add),
		unseen: (map(.result.totals.unfinished_orders) | add)}')
	{
		audit_q seat_in_two_confirmed_orders "SELECT COUNT(*) FROM (SELECT os.event_id, os.seat_id FROM order_seats os JOIN orders o ON o.id = os.order_id WHERE o.status = 'CONFIRMED' GROUP BY os.event_id, os.seat_id HAVING COUNT(*) > 1) x"
		audit_q seat_sold_twice "SELECT COUNT(*) FROM (SELECT event_id, seat_id FROM sold_seats GROUP BY event_id, seat_id HAVING COUNT(*) > 1) x"
		audit_q sold_seat_of_order_not_confirmed "SELECT COUNT(*) FROM sold_seats s JOIN orders o ON o.id = s.order_id WHERE o.status <> 'CONFIRMED'"
		audit_q sold_seat_without_order "SELECT COUNT(*) FROM sold_seats s LEFT JOIN orders o ON o.id = s.order_id WHERE o.id IS NULL"
		audit_q confirmed_seat_not_sold_to_it "SELECT COUNT(*) FROM order_seats os JOIN orders o ON o.id = os.order_id LEFT JOIN sold_seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id AND s.order_id = o.id WHERE o.status = 'CONFIRMED' AND s.order_id IS NULL"
		audit_q pending_with_a_payment "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'PENDING'"
		audit_q orders_total "SELECT COUNT(*) FROM orders"
		audit_q confirmed_orders "SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'"
		audit_q sold_seats_total "SELECT COUNT(*) FROM sold_seats"
	} | jq -s --argjson c "$client" 'add | . as $d | {db: $d, client: $c, checks: {
		"zero seats sold twice": ($d.seat_in_two_confirmed_orders == 0 and $d.seat_sold_twice == 0),
		"every sold seat belongs to a CONFIRMED order": ($d.sold_seat_of_order_not_confirmed == 0 and $d.sold_seat_without_order == 0),
		"every CONFIRMED order has its seats SOLD to it": ($d.confirmed_seat_not_sold_to_it == 0),
		"no PENDING order with a recorded payment": ($d.pending_with_a_payment == 0),
		"orders and CONFIRMED orders match what the users saw (orders whose end they did not see may go either way)":
			($d.orders_total == $c.created and $d.confirmed_orders >= $c.confirmed
			 and $d.confirmed_orders <= $c.confirmed + $c.unseen)}}
		| .ok = ([.checks[]] | all)' >"$WORK/audit.json"
	log "audit: $(jq -c '{ok, checks}' "$WORK/audit.json")"
}

main() {
	local started t0 bg0 bg1 r stages_c rates need n td_threads db_pool
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	t0=$(date +%s)
	mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")" "$WORK/runs"
	cp "$BUILD/vu_load" "$LOAD"
	cp "$BUILD/orders_load" "$SESS"
	cp "$BUILD/ticketd" "$TICKETD" # for its --help before the stack is up
	BUILD_INFO="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), vu_load sha256 $(sha256sum "$LOAD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- userspace api bpf bench 2>/dev/null || echo ' + uncommitted changes')"
	td_threads=${TD_THREADS:-$(ticketd_default http-threads)}
	db_pool=${DB_POOL:-$(ticketd_default db-pool)}
	[ -n "$td_threads" ] && [ -n "$db_pool" ] ||
		die "cannot read ticketd's default --http-threads / --db-pool from its --help (set VU_TICKETD_THREADS and VU_DB_POOL)"
	TD_THREADS=$td_threads DB_POOL=$db_pool
	TD_MAX_CONNS=$(ticketd_default http-max-connections)
	TD_MAX_CONNS=${TD_MAX_CONNS:-16000}
	purchase_stack_up V "1000 + (seq DIV $COLS) * 10"
	PAY_DEFAULTS=$(purchase_pay_defaults)
	event_range
	log "events: $EVENTS of $ROWS x $COLS seats, ids $RANGE"
	make_sessions "$MAX_USERS" "$WORK/tokens-off"
	[ "$THINK" = 1 ] && make_sessions "$MAX_USERS" "$WORK/tokens-on"
	log "created $MAX_USERS sessions per closed-loop run"
	setup_s=$(($(date +%s) - t0))

	take_lock
	bg0=$(background_busy_pct)
	stages_c=$(tr ' ' ',' <<<"$STAGES" | sed 's/,,*/,/g; s/^,//; s/,$//')
	run_one off closed "$stages_c" "$STAGE_SECS" 0 "$WORK/tokens-off"
	[ "$THINK" = 1 ] && run_one on closed "$stages_c" "$STAGE_SECS" "$THINK_MS" "$WORK/tokens-on"
	if [ -n "$OPEN_RATES" ]; then
		rates=$OPEN_RATES
		if [ "$rates" = auto ]; then
			n=$(jq -r '.result.stages[-1].iterations_per_s' "$WORK/runs/off.json")
			rates=$(awk -v n="$n" 'BEGIN { a = int(n * 0.5 + 0.5); b = int(n * 0.9 + 0.5);
				if (a < 1) a = 1; if (b <= a) b = a + 1; print a, b }')
			log "open loop at 50 % and 90 % of the think-off run's $n purchases/s at $MAX_USERS users: $rates users/s"
		fi
		need=0
		for r in $rates; do need=$((need + r * OPEN_SECS)); done
		[ "$need" -le "$MAX_OPEN_SESSIONS" ] || { log "$need arrivals; VU_MAX_OPEN_SESSIONS=$MAX_OPEN_SESSIONS sessions (some are reused)"; need=$MAX_OPEN_SESSIONS; }
		release_lock
		make_sessions "$need" "$WORK/tokens-open"
		log "created $need sessions for the open-loop run"
		take_lock
		run_one open open "$(tr ' ' ',' <<<"$rates")" "$OPEN_SECS" 0 "$WORK/tokens-open"
	fi
	bg1=$(background_busy_pct)
	release_lock
	run_audit
	cat "$WORK"/runs/*.json | jq -s 'sort_by({off: 0, on: 1, open: 2}[.run])' >"$WORK/runs.json"
	jq -n --slurpfile runs "$WORK/runs.json" --slurpfile audit "$WORK/audit.json" \
		--slurpfile machine <(bench_machine_json nproc) \
		--arg started "$started" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--argjson seconds "$(($(date +%s) - t0))" --argjson setup_s "$setup_s" \
		--arg build "$BUILD_INFO" --arg bg0 "$bg0" --arg bg1 "$bg1" \
		--arg pay "${PAY_DEFAULTS:-}" --argjson td_threads "$TD_THREADS" --argjson db_pool "$DB_POOL" \
		--argjson events "$EVENTS" --argjson rows "$ROWS" --argjson cols "$COLS" \
		--argjson stage_secs "$STAGE_SECS" --argjson open_secs "$OPEN_SECS" --arg think "$THINK_MS" \
		--argjson budget "$BUDGET" --argjson stages "[$(tr ' ' ',' <<<"$stages_c")]" \
		'{started: $started, finished: $finished, seconds: $seconds, setup_s: $setup_s,
		  budget_s: $budget, build: $build, machine: $machine[0],
		  background_busy_pct: [$bg0, $bg1],
		  paymentd_defaults: ($pay | split(" ") | if length == 3 then
			{delay_min_ms: (.[0] | tonumber), delay_max_ms: (.[1] | tonumber), approve_ratio: (.[2] | tonumber)} else null end),
		  ticketd: {http_threads: $td_threads, db_pool: $db_pool},
		  events: $events, rows: $rows, cols: $cols, stages: $stages,
		  stage_secs: $stage_secs, open_secs: $open_secs, think_ms: $think,
		  runs: $runs[0], audit: $audit[0]}' >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
	jq -r -f bench/vu_render.jq "$OUT" >"$MD.tmp"
	mv "$MD.tmp" "$MD"
	log "wrote $OUT and $MD ($(($(date +%s) - t0))s)"
	cat "$MD"
	jq -e '.audit.ok' "$OUT" >/dev/null || die "the oversell audit failed: $(jq -c '.audit.checks' "$OUT")"
}

main "$@"
