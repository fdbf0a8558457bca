#!/usr/bin/env bash
# Orders benchmark (issues #6 and #13): the full purchase through ticketd's REST API
# (hold -> order -> authorize -> order CONFIRMED or CANCELLED) at a fixed
# offered rate, with the payment gateway (paymentd, DEFAULT delay 50-300 ms
# and approve ratio 0.8) measured alone in the same run as the baseline,
# then an audit of MariaDB.
#
#   bash bench/orders_bench.sh              # about 5 minutes with the defaults
#   bash bench/orders_bench.sh --render [bench/results/orders.json]
#                                           # the markdown again from the JSON
#
# Writes bench/results/orders.json and bench/results/orders.md (a section
# "## Orders and payments" for BENCHMARKS.md) and prints the markdown.
#
# In one run (everything it starts it stops: trap on EXIT; every wait and
# every tool is bounded by `timeout`):
#   1. its own Redis, MariaDB and Kafka (infra/services.sh under RUN_DIR,
#      ports below, a fresh RUN_DIR each run), paymentd with its defaults,
#      ticketd (socket hold path); one ORD_ROWS x ORD_COLS event per measured
#      orders run plus a warm-up event, added to MariaDB before ticketd loads
#      the catalogue; ORD_SESSIONS sessions (POST /api/sessions).
#   2. under /run/tkbench.lock (no other benchmark loads the machine
#      meanwhile): a warm-up (not counted), then ORD_REPS rounds, each with,
#      for every rate of ORD_RATES (ascending):
#        gateway  build/orders_load --mode gateway: POST /v1/authorize straight
#                 to paymentd on the same open-loop schedule (ORD_GW_SECS):
#                 the baseline, what the simulated gateway alone costs
#        orders   build/orders_load --mode orders: per order hold 1-2 seats,
#                 POST /api/orders (unique Idempotency-Key), authorize, GET
#                 the order every ORD_POLL_MS until it is final; the target
#                 rate for ORD_SECS, the others for ORD_REF_SECS
#      Around every orders run: ticketd's server-side time per route
#      (/metrics), MariaDB's commits and fsyncs, CPU of ticketd, paymentd,
#      mariadbd, redis-server and the Kafka broker (/proc), ticketd's busiest
#      threads. paymentd's log gives the delay it drew for every order, so
#      ticketd's own share of authorize is measured per order.
#   3. the audit against MariaDB: every sold seat belongs to exactly one
#      CONFIRMED order (and each CONFIRMED order's seats are sold to it), no
#      PENDING order past its deadline, payments agree with orders, counts per
#      event agree with what the load client observed and with ticketd's seat
#      counters, paymentd's decision counters agree with the payments table.
#
# Settings (environment): ORD_RATES ("100 500 1000", orders/s), ORD_TARGET_RATE
# (1000, issue #13; 500 was issue #6's), ORD_TARGET_P95_MS (1000),
# ORD_TARGET_CPU_MS (2: all services' CPU ms per completed order), ORD_REPS (3), ORD_SECS (20, the target
# rate's runs), ORD_REF_SECS (10, the other rates), ORD_GW_SECS (5),
# ORD_WARMUP_SECS (10: long enough for the broker's C2 to compile its hot paths), ORD_SESSIONS (5000), ORD_ROWS/ORD_COLS (400/100),
# ORD_CONNS (1000), ORD_PERF (1: perf record -g of ticketd for the first
# ORD_PERF_SECS (10) of the first round's target-rate run, when perf is
# installed; 0: none), ORD_POLL_MS (20), ORD_DRAIN_SECS (25: how long in-flight
# orders may take to end after the offered window), ORD_TIMEOUT_MS (30000: one
# request unanswered this long is an error),
# ORD_TICKETD_THREADS (2), ORD_DB_POOL (8), ORD_OUT (bench/results/orders.json),
# ORD_MD (bench/results/orders.md), ORD_LOCK_WAIT (900 s), ORD_KEEP (0; 1
# keeps RUN_DIR and the work folder), RUN_DIR (/tmp/ordbench), REDIS_PORT
# (6398), MARIADB_PORT (3323), KAFKA_PORT (9125), KAFKA_CONTROLLER_PORT
# (9126), ORD_HTTP_PORT (18380), ORD_UDP_PORT (17380), ORD_PAY_PORT (18385),
# ORD_PIN_DIR (/sys/fs/bpf/ticket-ordbench), KAFKA_JIT (full: the broker
# with C2, infra/kafka.sh), BUILD (build).
#
# The lock: when a caller (bench/run_bench.sh) holds /run/tkbench.lock on
# fd 9, or sets TKB_LOCK_HELD=1, it is not taken again.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # paymentd, ticketd, settle, audit_q

OUT=${ORD_OUT:-bench/results/orders.json}
MD=${ORD_MD:-bench/results/orders.md}

[ "${1:-}" = --render ] && purchase_render orders_bench bench/orders_render.jq "${2:-}"

RATES=${ORD_RATES:-100 500 1000}
TARGET_RATE=${ORD_TARGET_RATE:-1000}
TARGET_P95_MS=${ORD_TARGET_P95_MS:-1000}
TARGET_CPU_MS=${ORD_TARGET_CPU_MS:-2}
REPS=${ORD_REPS:-3}
SECS=${ORD_SECS:-20}
REF_SECS=${ORD_REF_SECS:-10}
GW_SECS=${ORD_GW_SECS:-5}
WARMUP_SECS=${ORD_WARMUP_SECS:-10}
SESSIONS=${ORD_SESSIONS:-5000}
ROWS=${ORD_ROWS:-400}
COLS=${ORD_COLS:-100}
CONNS=${ORD_CONNS:-1000}
POLL_MS=${ORD_POLL_MS:-20}
TIMEOUT_MS=${ORD_TIMEOUT_MS:-30000}
DRAIN_SECS=${ORD_DRAIN_SECS:-25}
TD_THREADS=${ORD_TICKETD_THREADS:-2}
DB_POOL=${ORD_DB_POOL:-8}
LOCK_WAIT=${ORD_LOCK_WAIT:-900}
PERF=${ORD_PERF:-1}
PERF_SECS=${ORD_PERF_SECS:-10}
int_in "$PERF_SECS" 1 120 || { echo "ORD_PERF_SECS must be 1..120" >&2; exit 1; }
PERF_PID=
KEEP=${ORD_KEEP:-0}
bench_services_env /tmp/ordbench 6398 3323 9125 9126
# The broker with C2 as well as C1 (infra/kafka.sh): it starts ~1.3 s later
# but spends about a third less CPU per order once warm, the figure this
# benchmark reports; tests keep the faster-starting C1-only broker.
export KAFKA_JIT=${KAFKA_JIT:-full}
HTTP_PORT=${ORD_HTTP_PORT:-18380}
UDP_PORT=${ORD_UDP_PORT:-17380}
PAY_PORT=${ORD_PAY_PORT:-18385}
PIN_DIR=${ORD_PIN_DIR:-/sys/fs/bpf/ticket-ordbench}
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)

log() { printf '[orders-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
int_in "$REPS" 1 20 || die "ORD_REPS must be 1..20"
int_in "$SECS" 1 120 || die "ORD_SECS must be 1..120"
int_in "$REF_SECS" 1 120 || die "ORD_REF_SECS must be 1..120"
int_in "$GW_SECS" 1 60 || die "ORD_GW_SECS must be 1..60"
int_in "$WARMUP_SECS" 0 30 || die "ORD_WARMUP_SECS must be 0..30"
int_in "$SESSIONS" 10 100000 || die "ORD_SESSIONS must be 10..100000"
int_in "$ROWS" 1 1000 && int_in "$COLS" 1 1000 || die "ORD_ROWS/ORD_COLS: 1..1000"
int_in "$CONNS" 1 10000 || die "ORD_CONNS must be 1..10000"
int_in "$POLL_MS" 1 1000 || die "ORD_POLL_MS must be 1..1000"
int_in "$TIMEOUT_MS" 1000 120000 || die "ORD_TIMEOUT_MS must be 1000..120000"
int_in "$DRAIN_SECS" 1 120 || die "ORD_DRAIN_SECS must be 1..120"
int_in "$TARGET_RATE" 1 100000 || die "ORD_TARGET_RATE must be 1..100000"
[[ "$TARGET_CPU_MS" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "ORD_TARGET_CPU_MS must be a number of ms"
for r in $RATES; do int_in "$r" 1 100000 || die "ORD_RATES: $r"; done
RATES=$(printf '%s\n' $RATES | sort -n | uniq | tr '\n' ' ')
SEATS_PER_EVENT=$((ROWS * COLS))
for r in $RATES; do
	s=$REF_SECS
	[ "$r" = "$TARGET_RATE" ] && s=$SECS
	# 1 or 2 seats per order: at most 2 x rate x seconds seats
	[ $((2 * r * s)) -le "$SEATS_PER_EVENT" ] ||
		die "rate $r for ${s}s may need $((2 * r * s)) seats; the event has $SEATS_PER_EVENT (ORD_ROWS x ORD_COLS)"
done
purchase_preflight $((CONNS * 2 + 512)) ticketd paymentd orders_load

purchase_work orders ORD_KEEP # WORK, TICKETD, PAYMENTD, logs, the EXIT trap
LOAD=$WORK/orders_load
WATCH=

# ---- helpers -------------------------------------------------------------------

event_name() { printf 'Orders Bench %s' "$1"; } # tag

# The events: one per measured orders run, and the warm-up's.
EVENT_TAGS=(warmup)
for rep in $(seq 1 "$REPS"); do
	for rate in $RATES; do EVENT_TAGS+=("r$rep-$rate"); done
done

# ticketd's server-side request time per route: {route: {sum, count}}
ticketd_routes() {
	curl -sf --max-time 5 "$BASE/metrics" |
		awk '/^ticketd_http_request_duration_seconds_(sum|count)\{/{
			match($0, /route="[^"]*"/); r=substr($0, RSTART+7, RLENGTH-8);
			k=($1 ~ /_sum\{/) ? "sum" : "count"; print r, k, $2}' |
		jq -R -s 'split("\n") | map(select(length > 0) | split(" "))
			| reduce .[] as $x ({}; .[$x[0]][$x[1]] = ($x[2] | tonumber))'
}

mariadb_status() {
	mariadb_q "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_commit',
		'Com_rollback','Com_select','Com_insert','Com_update','Innodb_data_fsyncs',
		'Innodb_os_log_fsyncs','Innodb_row_lock_waits','Innodb_row_lock_time',
		'Com_stmt_prepare','Com_stmt_execute','Com_stmt_close')" |
		jq -R -s 'split("\n") | map(select(length > 0) | split("\t"))
			| map({(.[0]): (.[1] | tonumber)}) | add // {}'
}

# ticketd's context switches so far, summed over its threads (threads that
# ended meanwhile drop out: a lower bound for the delta)
ticketd_ctxsw() {
	cat /proc/"$TICKETD_PID"/task/*/status 2>/dev/null |
		awk '/^voluntary_ctxt_switches/{v+=$2} /^nonvoluntary_ctxt_switches/{n+=$2}
			END{printf "{\"voluntary\":%d,\"nonvoluntary\":%d}\n", v, n}'
}

# Where ticketd's CPU goes: perf samples (call graphs) of ticketd for the
# first PERF_SECS of the first round's target-rate run; the top entries of
# `perf report --no-children`, self time by symbol. PERF=0 or no perf: none.
perf_start() { # out run_secs
	PERF_PID=
	[ "$PERF" = 1 ] && command -v perf >/dev/null || return 0
	[ "$2" -lt "$PERF_SECS" ] && PERF_SECS=$2
	timeout $((PERF_SECS + 30)) perf record -q -g -F 499 -p "$TICKETD_PID" -o "$1" \
		-- sleep "$PERF_SECS" >/dev/null 2>"$1.err" &
	PERF_PID=$!
}

perf_finish() { # data -> $WORK/perf.json
	[ -n "$PERF_PID" ] || return 0
	wait "$PERF_PID" || true
	PERF_PID=
	[ -s "$1" ] || { log "perf record wrote nothing: $(tail -n 2 "$1.err" 2>/dev/null)"; return 0; }
	timeout 120 perf report -i "$1" --stdio --no-children --sort dso,symbol -g none \
		--percent-limit 1 2>/dev/null |
		awk '/^ +[0-9.]+%/{$1=$1; sub(/( -)+$/, ""); print}' | head -n 25 |
		jq -R -s --argjson secs "$PERF_SECS" '{secs: $secs, top: (split("\n") | map(select(length > 0)))}' \
		>"$WORK/perf.json" || true
	log "perf (ticketd, ${PERF_SECS}s): $(jq -r '.top[0:5] | join(" | ")' "$WORK/perf.json" 2>/dev/null)"
}

delta_json() { # before after -> after - before for numbers, per key (nested one level)
	jq -n --argjson a "$1" --argjson b "$2" '
		$b | with_entries(.key as $k | .value |= (
			if type == "object" then with_entries(.key as $j |
				.value = (.value - ($a[$k][$j] // 0)))
			else . - ($a[$k] // 0) end))'
}

# ---- measurements ----------------------------------------------------------------

# Command templates; fill() puts in this run's values, show() what the report
# prints. Placeholders: ORDERS_LOAD TOKENS EVENT PREFIX GWLOG PIDS
ORD_CMD="ORDERS_LOAD --mode orders --target 127.0.0.1:$HTTP_PORT --tokens TOKENS --event EVENT --seats 0-$((SEATS_PER_EVENT - 1)) --conns $CONNS --poll-ms $POLL_MS --timeout-ms $TIMEOUT_MS --drain $DRAIN_SECS --key-prefix PREFIX --gateway-log GWLOG PIDS"
GW_CMD="ORDERS_LOAD --mode gateway --target 127.0.0.1:$PAY_PORT --conns $CONNS --timeout-ms $TIMEOUT_MS --drain $DRAIN_SECS --key-prefix PREFIX --gateway-log GWLOG PIDS"

show() {
	local s=$1
	s=${s//ORDERS_LOAD/build/orders_load}
	s=${s//TOKENS/<$SESSIONS session tokens>}
	s=${s//GWLOG/<paymentd log>}
	s=${s//PIDS/--pid ticketd=<pid> ... --threads-of <ticketd pid> --watch <thread>=<tid> ...}
	printf '%s' "$s"
}

fill() { # template event prefix
	local s=$1 pids
	pids="--pid ticketd=$TICKETD_PID --pid paymentd=$PAYMENTD_PID"
	pids="$pids --pid mariadbd=$(svc_pid mariadb) --pid redis=$(svc_pid redis)"
	pids="$pids --pid kafka=$(svc_pid kafka) --threads-of $TICKETD_PID $WATCH"
	s=${s//ORDERS_LOAD/$LOAD}
	s=${s//TOKENS/$WORK/tokens}
	s=${s//EVENT/$2}
	s=${s//PREFIX/$3}
	s=${s//GWLOG/$PAY_LOG}
	s=${s//PIDS/$pids}
	printf '%s' "$s"
}


# One orders_load run. Args: kind(orders|gateway) rate secs rep(0 = warm-up)
run_one() {
	local kind=$1 rate=$2 secs=$3 rep=$4 tag ev=0 prefix tmpl cmd out r0 r1 m0 m1 shown settle_s
	tag=r$rep-$rate
	[ "$rep" = 0 ] && tag=warmup
	prefix=$RUN_ID-$kind-$tag
	if [ "$kind" = orders ]; then
		tmpl=$ORD_CMD
		ev=${EVENT_ID[$tag]}
	else
		tmpl=$GW_CMD
	fi
	tmpl="$tmpl --rate $rate --duration $secs"
	cmd=$(fill "$tmpl" "$ev" "$prefix")
	shown=$(show "$tmpl")
	shown=${shown//EVENT/<event of the run>}
	shown=${shown//PREFIX/<run>-$kind-$tag}
	out=$WORK/runs/$kind-$tag.json
	r0=$(ticketd_routes)
	m0=$(mariadb_status)
	c0=$(ticketd_ctxsw)
	[ "$kind:$rep:$rate" = "orders:1:$TARGET_RATE" ] && perf_start "$WORK/perf.data" "$secs"
	# shellcheck disable=SC2086
	timeout $((secs + DRAIN_SECS + 60)) $cmd >"$out.raw" 2>"$out.err" ||
		die "$kind $tag: orders_load failed: $(tail -n 3 "$out.err")"
	r1=$(ticketd_routes)
	m1=$(mariadb_status)
	c1=$(ticketd_ctxsw)
	[ "$kind:$rep:$rate" = "orders:1:$TARGET_RATE" ] && perf_finish "$WORK/perf.data"
	settle_s=0
	[ "$kind" = orders ] && settle_s=$(settle)
	jq -c --arg kind "$kind" --argjson rate "$rate" --argjson rep "$rep" \
		--argjson settle_s "$settle_s" \
		--arg tag "$tag" --arg command "$shown" --argjson event "$ev" \
		--argjson routes "$(delta_json "$r0" "$r1")" \
		--argjson mariadb "$(delta_json "$m0" "$m1")" \
		--argjson ctxsw "$(delta_json "$c0" "$c1")" \
		'{kind: $kind, rate: $rate, rep: $rep, tag: $tag, event_id: $event,
		  command: $command, result: ., settle_s: $settle_s,
		  side: {ticketd_routes: ($routes | with_entries(select(.value.count > 0)
				| .value += {mean_ms: (1000 * .value.sum / .value.count)})),
			 mariadb: $mariadb, ticketd_ctxsw: $ctxsw}}' "$out.raw" >"$out"
	rm -f "$out.raw"
	if [ "$kind" = orders ]; then
		log "$(jq -r '.result as $r | "orders \(.tag) @\(.rate)/s: sustained \($r.sustained.per_s)/s, completed \($r.completed)/\($r.offered), e2e p50 \($r.latency_us.end_to_end.p50/1000|floor) p95 \($r.latency_us.end_to_end.p95/1000|floor) p99 \($r.latency_us.end_to_end.p99/1000|floor) ms, authorize->final p95 \($r.latency_us.authorize_to_final.p95/1000|floor) ms, ticketd adds p50 \($r.latency_us.authorize_minus_gateway_delay.p50/1000) ms to authorize; final \($r.final_status|tostring); errors \($r.errors|tostring); CPU ticketd \($r.cpu.processes.ticketd.core_pct)% mariadbd \($r.cpu.processes.mariadbd.core_pct)% kafka \($r.cpu.processes.kafka.core_pct)% host \($r.cpu.host_busy_pct)%; not started \($r.not_started); settled in \(.settle_s) s; watch \($r.watch | map_values(.states) | tostring)"' "$out")"
	else
		log "$(jq -r '.result as $r | "gateway \(.tag) @\(.rate)/s: \($r.completed)/\($r.offered) answered, latency p50 \($r.latency_us.gateway.p50/1000|floor) p95 \($r.latency_us.gateway.p95/1000|floor) p99 \($r.latency_us.gateway.p99/1000|floor) ms, drawn delay p50 \($r.latency_us.gateway_delay.p50/1000|floor) ms, \($r.authorize_status|tostring), errors \($r.errors|tostring)"' "$out")"
	fi
}

# Which thread of ticketd is which: the start routine of each thread (the
# frame below start_thread in a gdb backtrace), once, after the runs.
thread_roles() {
	command -v gdb >/dev/null || { echo '{}'; return 0; }
	timeout 60 gdb -p "$TICKETD_PID" -batch -nx -ex 'set pagination off' \
		-ex 'thread apply all bt 40' 2>/dev/null |
		awk '
		/^Thread [0-9]+ \(Thread 0x[0-9a-f]+ \(LWP [0-9]+\)/ {
			if (tid != "" && !(tid in role)) role[tid] = "main";
			match($0, /LWP [0-9]+/); tid = substr($0, RSTART + 4, RLENGTH - 4); prev = ""; next }
		/^#[0-9]+ / {
			fn = ""
			if (match($0, / in [^ ]+ \(/)) fn = substr($0, RSTART + 4, RLENGTH - 6)
			else if (match($0, /^#[0-9]+ +[A-Za-z_][A-Za-z0-9_]* \(/)) { split($0, w, " "); fn = w[2] }
			if (fn == "??" || fn == "") { if (match($0, /from [^ ]+$/)) { n = split(substr($0, RSTART + 5), p, "/"); fn = "?? (" p[n] ")" } }
			if (fn == "start_thread" && tid != "" && !(tid in role)) role[tid] = prev
			prev = fn }
		END { if (tid != "" && !(tid in role)) role[tid] = "main";
			for (t in role) printf "%s\t%s\n", t, role[t] }' |
		jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): .[1]}) | add // {}'
}

# ---- audit --------------------------------------------------------------------------


run_audit() {
	local out=$WORK/audit.json per_event="[]" tag id ev db api pend
	# every order ended (decisions are applied before authorize answers;
	# a few ms for the stragglers of the last drain)
	for _ in $(seq 1 50); do
		pend=$(mariadb_q "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'PENDING'")
		[ "$pend" = 0 ] && break
		sleep 0.2
	done
	{
		audit_q sold_seat_of_order_not_confirmed "SELECT COUNT(*) FROM sold_seats s JOIN orders o ON o.id = s.order_id WHERE o.status <> 'CONFIRMED'"
		audit_q sold_seat_without_order "SELECT COUNT(*) FROM sold_seats s LEFT JOIN orders o ON o.id = s.order_id WHERE o.id IS NULL"
		audit_q sold_seat_not_in_its_order "SELECT COUNT(*) FROM sold_seats s LEFT JOIN order_seats os ON os.order_id = s.order_id AND os.event_id = s.event_id AND os.seat_id = s.seat_id WHERE os.order_id IS NULL"
		audit_q seat_in_two_confirmed_orders "SELECT COUNT(*) FROM (SELECT os.event_id, os.seat_id FROM order_seats os JOIN orders o ON o.id = os.order_id WHERE o.status = 'CONFIRMED' GROUP BY os.event_id, os.seat_id HAVING COUNT(*) > 1) x"
		audit_q confirmed_seat_not_sold_to_it "SELECT COUNT(*) FROM order_seats os JOIN orders o ON o.id = os.order_id LEFT JOIN sold_seats s ON s.event_id = os.event_id AND s.seat_id = os.seat_id AND s.order_id = o.id WHERE o.status = 'CONFIRMED' AND s.order_id IS NULL"
		audit_q pending_past_deadline "SELECT COUNT(*) FROM orders WHERE status = 'PENDING' AND payment_deadline < UTC_TIMESTAMP(3)"
		audit_q pending_with_a_payment "SELECT COUNT(*) FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.status = 'PENDING'"
		audit_q approved_payment_order_not_confirmed "SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.status = 'APPROVED' AND o.status <> 'CONFIRMED'"
		audit_q declined_payment_order_not_cancelled "SELECT COUNT(*) FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.status <> 'APPROVED' AND o.status <> 'CANCELLED'"
		audit_q confirmed_order_without_approved_payment "SELECT COUNT(*) FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.status = 'APPROVED' WHERE o.status = 'CONFIRMED' AND p.order_id IS NULL"
		audit_q pending_orders "SELECT COUNT(*) FROM orders WHERE status = 'PENDING'"
		audit_q orders_total "SELECT COUNT(*) FROM orders"
		audit_q sold_seats_total "SELECT COUNT(*) FROM sold_seats"
		audit_q payments_approved "SELECT COUNT(*) FROM payments WHERE status = 'APPROVED'"
		audit_q payments_declined "SELECT COUNT(*) FROM payments WHERE status = 'DECLINED'"
		audit_q payments_failed "SELECT COUNT(*) FROM payments WHERE status = 'FAILED'"
	} | jq -s 'add' >"$WORK/audit-db.json"
	# per event: MariaDB, ticketd's counters, the load client
	for tag in "${EVENT_TAGS[@]}"; do
		id=${EVENT_ID[$tag]}
		db=$(mariadb_q "SELECT
			(SELECT COUNT(*) FROM orders WHERE event_id = $id AND status = 'CONFIRMED'),
			(SELECT COUNT(*) FROM orders WHERE event_id = $id AND status = 'CANCELLED'),
			(SELECT COUNT(*) FROM orders WHERE event_id = $id AND status = 'PENDING'),
			(SELECT COUNT(*) FROM sold_seats WHERE event_id = $id),
			(SELECT COUNT(*) FROM orders WHERE event_id = $id AND status = 'CANCELLED' AND reason = 'PAYMENT_DECLINED')" |
			jq -R 'split("\t") | map(tonumber) | {confirmed: .[0], cancelled: .[1], pending: .[2], sold_seats: .[3], cancelled_declined: .[4]}')
		api=$(curl -sf --max-time 10 "$BASE/api/events/$id" | jq -c '{available, held, sold, rows, cols}') || api=null
		ev=$(jq -c --arg tag "$tag" '.result | {offered, orders_created, completed, confirmed, cancelled, seats_confirmed, not_completed}' "$WORK/runs/orders-$tag.json" 2>/dev/null || echo null)
		per_event=$(jq -c --arg tag "$tag" --argjson id "$id" --argjson db "$db" --argjson api "$api" --argjson client "$ev" \
			'. + [{tag: $tag, event_id: $id, db: $db, api: $api, client: $client,
			  checks: {
			    # orders created but not seen ending (cut by the drain) may end either way
			    confirmed_matches_client: ($client != null and $db.confirmed >= $client.confirmed
				and $db.confirmed <= $client.confirmed + ($client.orders_created - $client.completed)),
			    cancelled_matches_client: ($client != null and $db.cancelled >= $client.cancelled
				and $db.cancelled <= $client.cancelled + ($client.orders_created - $client.completed)),
			    exact_match: ($client != null and $db.confirmed == $client.confirmed and $db.cancelled == $client.cancelled),
			    orders_match_client: ($client != null and ($db.confirmed + $db.cancelled + $db.pending) == $client.orders_created),
			    sold_seats_match_client: ($client != null and $db.sold_seats >= $client.seats_confirmed
				and $db.sold_seats <= $client.seats_confirmed + 2 * ($client.orders_created - $client.completed)),
			    api_sold_matches_db: ($api != null and $api.sold == $db.sold_seats),
			    api_counts_add_up: ($api != null and ($api.available + $api.held + $api.sold) == ($api.rows * $api.cols))}}]' \
			<<<"$per_event")
	done
	# paymentd's own counters against the payments table and the baseline runs
	local pm gw_app gw_dec
	pm=$(curl -sf --max-time 5 "$PAY_BASE/metrics" |
		awk '/^paymentd_authorizations_total\{/{match($0, /outcome="[^"]*"/);
			print substr($0, RSTART+9, RLENGTH-10), $2}' |
		jq -R -s 'split("\n") | map(select(length > 0) | split(" ") | {(.[0]): (.[1] | tonumber)}) | add // {}')
	gw_app=$(cat "$WORK"/runs/gateway-*.json | jq -s 'map(.result.authorize_status.APPROVED // 0) | add // 0')
	gw_dec=$(cat "$WORK"/runs/gateway-*.json | jq -s 'map(.result.authorize_status.DECLINED // 0) | add // 0')
	jq -n --slurpfile db "$WORK/audit-db.json" --argjson per "$per_event" --argjson pm "$pm" \
		--argjson gwa "$gw_app" --argjson gwd "$gw_dec" '
		$db[0] as $d
		| {db: $d, per_event: $per,
		   paymentd: {counters: $pm, baseline_approved: $gwa, baseline_declined: $gwd,
			      # FAILED rows: ticketd gave up, but the gateway may have decided
			      failed_rows_decided_by_paymentd: ($pm.approved + $pm.declined - $d.payments_approved - $d.payments_declined - $gwa - $gwd),
			      failed_rows_approved_by_paymentd: ($pm.approved - $d.payments_approved - $gwa)},
		   checks: {
		     "every sold seat belongs to exactly one CONFIRMED order":
			($d.sold_seat_of_order_not_confirmed == 0 and $d.sold_seat_without_order == 0
			 and $d.sold_seat_not_in_its_order == 0 and $d.seat_in_two_confirmed_orders == 0),
		     "every CONFIRMED order has its seats sold to it": ($d.confirmed_seat_not_sold_to_it == 0),
		     "no PENDING order past its deadline": ($d.pending_past_deadline == 0),
		     "no PENDING order with a recorded payment": ($d.pending_with_a_payment == 0),
		     "payments agree with order states": ($d.approved_payment_order_not_confirmed == 0
			and $d.declined_payment_order_not_cancelled == 0 and $d.confirmed_order_without_approved_payment == 0),
		     "orders per event match the load client (confirmed, cancelled, created, sold seats)":
			([$per[].checks | .confirmed_matches_client and .cancelled_matches_client
			  and .orders_match_client and .sold_seats_match_client] | all),
		     "ticketd seat counters match MariaDB (sold) and add up": ([$per[].checks | .api_sold_matches_db and .api_counts_add_up] | all),
		     "paymentd decided every APPROVED / DECLINED payment row, and at most once per order (baseline calls included)":
			($pm.approved >= $d.payments_approved + $gwa and $pm.declined >= $d.payments_declined + $gwd
			 and $pm.approved + $pm.declined <= $d.payments_approved + $d.payments_declined + $d.payments_failed + $gwa + $gwd)}}
		| .ok = ([.checks[]] | all)' >"$out"
	log "audit: $(jq -c '{ok, checks}' "$out")"
}

# ---- report ------------------------------------------------------------------------

machine_json() {
	bench_machine_json nproc |
		jq --arg mariadb "$(mariadb --version | sed -n 's/.*\(Distrib\|from\) \([0-9.]*\).*/\2/p')" \
			'. + {mariadb: $mariadb}'
}

assemble() { # started finished bg0 bg1 setup_s measure_s lock_wait_s
	cat "$WORK"/runs/*.json | jq -s 'sort_by(.rep, .rate, .kind)' >"$WORK/runs.json"
	jq -n --slurpfile runs "$WORK/runs.json" --slurpfile audit "$WORK/audit.json" \
		--slurpfile machine <(machine_json) \
		--slurpfile roles "$WORK/thread_roles.json" \
		--slurpfile perf <(cat "$WORK/perf.json" 2>/dev/null || echo null) \
		--arg started "$1" --arg finished "$2" --arg bg0 "$3" --arg bg1 "$4" \
		--argjson setup_s "$5" --argjson measure_s "$6" --argjson lock_wait_s "$7" \
		--arg build "$BUILD_INFO" --arg run_id "$RUN_ID" \
		--arg paymentd_defaults "$PAY_DEFAULTS" \
		--argjson reps "$REPS" --argjson secs "$SECS" --argjson ref_secs "$REF_SECS" \
		--argjson gw_secs "$GW_SECS" --argjson warmup "$WARMUP_SECS" \
		--argjson sessions "$SESSIONS" --argjson rows "$ROWS" --argjson cols "$COLS" \
		--argjson conns "$CONNS" --argjson poll "$POLL_MS" \
		--argjson td_threads "$TD_THREADS" --argjson db_pool "$DB_POOL" \
		--argjson target_rate "$TARGET_RATE" --argjson target_p95_ms "$TARGET_P95_MS" \
		--argjson target_cpu_ms "$TARGET_CPU_MS" \
		--argjson rates "[$(echo $RATES | tr ' ' ',')]" \
		-f bench/orders_summarize.jq >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
}

main() {
	local started finished bg0 bg1 rep rate t_setup t_measure t_lock t0
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	t0=$(date +%s)
	mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")" "$WORK/runs"
	cp "$BUILD/orders_load" "$LOAD"
	purchase_stack_up O "1000 + (seq DIV $COLS) * 10"
	LOAD_INFO="$BUILD/orders_load (bench/bench.mk) sha256 $(sha256sum "$LOAD" | cut -c1-12)"
	BUILD_INFO="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), paymentd sha256 $(sha256sum "$PAYMENTD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- userspace api bpf 2>/dev/null || echo ' + uncommitted changes in userspace/api/bpf'); orders_load: $LOAD_INFO"
	PAY_DEFAULTS=$(purchase_pay_defaults | awk '{printf "delay %s-%s ms (uniform), approve ratio %s", $1, $2, $3}')
	[ -n "$PAY_DEFAULTS" ] || PAY_DEFAULTS='? (not in its log)'
	log "events: $(for t in "${EVENT_TAGS[@]}"; do printf '%s=%s ' "$t" "${EVENT_ID[$t]}"; done)($ROWS x $COLS seats each)"
	timeout 300 "$LOAD" --mode sessions --target "127.0.0.1:$HTTP_PORT" --count "$SESSIONS" \
		--conns 64 --drain 240 >"$WORK/tokens" 2>"$WORK/sessions.err" ||
		die "creating $SESSIONS sessions failed: $(tail -n 3 "$WORK/sessions.err")"
	[ "$(wc -l <"$WORK/tokens")" -eq "$SESSIONS" ] || die "asked for $SESSIONS sessions, got $(wc -l <"$WORK/tokens")"
	log "created $SESSIONS sessions"
	thread_roles >"$WORK/thread_roles.json" || echo '{}' >"$WORK/thread_roles.json"
	# the threads to watch, named after their start routine
	WATCH=$(jq -r '[to_entries[] | select(.value | test("client_loop|relay_main|consumer_main|libmicrohttpd|^worker_loop$"))]
		| sort_by(.key | tonumber)
		| (map(select(.value | test("libmicrohttpd")) | .key)) as $http
		| (map(select(.value == "worker_loop") | .key)) as $saga
		| .[0:16]
		| map(.key as $t | .value as $v
		    | (if ($v | test("libmicrohttpd")) then "http_worker_\(($http | index($t)) + 1)"
		       elif $v == "worker_loop" then "saga_worker_\(($saga | index($t)) + 1)"
		       elif $v == "client_loop" then "payment_client"
		       elif $v == "relay_main" then "outbox_relay"
		       elif $v == "consumer_main" then "saga_consumer"
		       else ($v | gsub("[^A-Za-z0-9_]"; "")) end) as $n
		    | "--watch \($n)=\($t)")
		| join(" ")' "$WORK/thread_roles.json")
	log "ticketd threads (gdb): $(jq -c . "$WORK/thread_roles.json"); watched: ${WATCH:-none}"
	t_setup=$(($(date +%s) - t0))

	t0=$(date +%s)
	take_lock
	t_lock=$(($(date +%s) - t0))
	t0=$(date +%s)
	bg0=$(background_busy_pct)
	log "background CPU busy before the runs: $bg0 %"
	if [ "$WARMUP_SECS" -gt 0 ]; then
		log "warm-up (${WARMUP_SECS}s gateway and orders at ${RATES%% *}/s, not counted)"
		run_one gateway "${RATES%% *}" "$WARMUP_SECS" 0
		run_one orders "${RATES%% *}" "$WARMUP_SECS" 0
	fi
	for rep in $(seq 1 "$REPS"); do
		for rate in $RATES; do
			run_one gateway "$rate" "$GW_SECS" "$rep"
			if [ "$rate" = "$TARGET_RATE" ]; then
				run_one orders "$rate" "$SECS" "$rep"
			else
				run_one orders "$rate" "$REF_SECS" "$rep"
			fi
		done
	done
	bg1=$(background_busy_pct)
	t_measure=$(($(date +%s) - t0))
	release_lock
	run_audit
	wait_http "$BASE/healthz" 5 || log "ticketd /healthz failed after the runs"
	finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	assemble "$started" "$finished" "$bg0" "$bg1" "$t_setup" "$t_measure" "$t_lock"
	jq -r -f bench/orders_render.jq "$OUT" >"$MD.tmp"
	mv "$MD.tmp" "$MD"
	log "wrote $OUT and $MD"
	cat "$MD"
}

main "$@"
