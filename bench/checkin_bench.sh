#!/usr/bin/env bash
# Check-in benchmark (issue #17): how many tickets ticketd lets in per
# second through POST /api/checkin (signature check, order read, one
# INSERT into ticket_checkins per ticket), against real services (ticketd,
# paymentd, Redis, MariaDB, Kafka of infra/services.sh).
#
#   bash bench/checkin_bench.sh           # about a minute with the defaults
#   BENCH_QUICK=1 bash bench/checkin_bench.sh   # a few seconds of load
#   make bench SUITES=checkin             # the same inside make bench
#
# Writes bench/results/checkin.json and bench/results/checkin.md (the
# section "Check-in" of BENCHMARKS.md) and prints the markdown.
#
# One run (everything it starts it stops; every tool bounded by `timeout`):
#   1. its own back ends under RUN_DIR, paymentd, ticketd (socket hold
#      path, CHECKIN_TICKETD_THREADS HTTP threads, CHECKIN_DB_POOL).
#   2. CHECKIN_TICKETS tickets: CONFIRMED orders of 8 seats written straight
#      into MariaDB for one session (the purchase path is measured by
#      bench/orders_bench.sh, not here), then their signed tickets fetched
#      with GET /api/orders/{id}/tickets as a buyer would.
#   3. CHECKIN_REPS rounds: wrk (bench/checkin_wrk.lua), CHECKIN_CONNS
#      connections on CHECKIN_THREADS threads for CHECKIN_SECS, each
#      request a ticket not scanned before (each round its own slice of the
#      tickets); accepted check-ins/s = 200 answers / duration, with wrk's
#      latency p50/p99. The report gives the median and the spread (min-max)
#      over the rounds, and checks in MariaDB that every scan answered 200
#      is a ticket_checkins row (plus at most CHECKIN_CONNS a round that
#      were in flight when wrk stopped).
#
# Settings (environment): CHECKIN_REPS (5), CHECKIN_SECS (5),
# CHECKIN_CONNS (32), CHECKIN_THREADS (2), CHECKIN_TICKETS (120000: a
# round that runs out of its slice wraps and scans duplicates, said so),
# CHECKIN_TICKETD_THREADS (2), CHECKIN_DB_POOL (8), CHECKIN_OUT,
# CHECKIN_MD, CHECKIN_LOCK_WAIT (900), CHECKIN_KEEP (0), RUN_DIR
# (/tmp/checkinbench), REDIS_PORT (6371), MARIADB_PORT (3371), KAFKA_PORT
# (9171), KAFKA_CONTROLLER_PORT (9172), CHECKIN_HTTP_PORT (18371),
# CHECKIN_UDP_PORT (17371), CHECKIN_PAY_PORT (18372), CHECKIN_PIN_DIR
# (/sys/fs/bpf/ticket-checkinbench), BUILD (build). BENCH_QUICK=1 (make
# bench-quick) makes the defaults 1 round of 1 s, 4 connections, 1
# thread, 2000 tickets.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # paymentd, ticketd

OUT=${CHECKIN_OUT:-bench/results/checkin.json}
MD=${CHECKIN_MD:-bench/results/checkin.md}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPS=${CHECKIN_REPS:-1} SECS=${CHECKIN_SECS:-1} CONNS=${CHECKIN_CONNS:-4}
	THREADS=${CHECKIN_THREADS:-1} TICKETS=${CHECKIN_TICKETS:-2000}
else
	REPS=${CHECKIN_REPS:-5} SECS=${CHECKIN_SECS:-5} CONNS=${CHECKIN_CONNS:-32}
	THREADS=${CHECKIN_THREADS:-2} TICKETS=${CHECKIN_TICKETS:-120000}
fi
TD_THREADS=${CHECKIN_TICKETD_THREADS:-2}
DB_POOL=${CHECKIN_DB_POOL:-8}
LOCK_WAIT=${CHECKIN_LOCK_WAIT:-900}
KEEP=${CHECKIN_KEEP:-0}
bench_services_env /tmp/checkinbench 6371 3371 9171 9172
HTTP_PORT=${CHECKIN_HTTP_PORT:-18371}
UDP_PORT=${CHECKIN_UDP_PORT:-17371}
PAY_PORT=${CHECKIN_PAY_PORT:-18372}
PIN_DIR=${CHECKIN_PIN_DIR:-/sys/fs/bpf/ticket-checkinbench}
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT

log() { printf '[checkin-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
int_in "$REPS" 1 20 || die "CHECKIN_REPS must be 1..20"
int_in "$SECS" 1 60 || die "CHECKIN_SECS must be 1..60"
int_in "$CONNS" 1 1000 || die "CHECKIN_CONNS must be 1..1000"
int_in "$THREADS" 1 16 || die "CHECKIN_THREADS must be 1..16"
[ "$THREADS" -le "$CONNS" ] || die "CHECKIN_THREADS must not exceed CHECKIN_CONNS"
int_in "$TICKETS" 80 400000 || die "CHECKIN_TICKETS must be 80..400000"
case $RUN_DIR in
/tmp/?*) ;;
*) die "RUN_DIR must be a folder under /tmp (it is wiped at the start): $RUN_DIR" ;;
esac
for tool in jq curl mariadb wrk timeout flock awk split; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
for b in ticketd paymentd; do
	[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make $BUILD/$b"
done
ORDERS=$(((TICKETS + 7) / 8))
TICKETS=$((ORDERS * 8))

WORK=$(mktemp -d /tmp/checkinbench-work.XXXXXX)
TICKETD=$WORK/ticketd # copies: a rebuild of the tree during the run cannot touch them
PAYMENTD=$WORK/paymentd
TD_LOG=$RUN_DIR/logs/ticketd-checkinbench.log
PAY_LOG=$RUN_DIR/logs/paymentd-checkinbench.log
TICKETD_PID=
PAYMENTD_PID=
SERVICES_STARTED=
LOCKED=

cleanup() { purchase_cleanup .checkin-bench CHECKIN_KEEP; }
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ORDERS CONFIRMED orders of 8 seats each of event 1 (the demo event: only
# its FK matters), all of one session; then their tickets, one a line.
make_tickets() {
	local s sid token slot
	s=$(curl -sf --max-time 10 -X POST "$BASE/api/sessions") || die "POST /api/sessions failed"
	sid=$(jq -r .sessionId <<<"$s")
	token=$(jq -r .token <<<"$s")
	slot=$((16#${token:0:8}))
	log "writing $ORDERS CONFIRMED orders ($TICKETS seats) into MariaDB"
	mariadb_q "INSERT INTO orders (id, session_id, slot, event_id, status, amount,
			idempotency_key, request_hash, created_at, payment_deadline)
		SELECT CONCAT('ord_ckb', LPAD(seq, 8, '0')), '$sid', $slot, 1, 'CONFIRMED', 0,
			CONCAT('ckb-', seq), REPEAT('0', 64), NOW(3), NOW(3)
		FROM seq_0_to_$((ORDERS - 1));
		INSERT INTO order_seats (order_id, event_id, seat_id, price)
		SELECT CONCAT('ord_ckb', LPAD(o.seq, 8, '0')), 1, o.seq * 8 + s.seq, 0
		FROM seq_0_to_$((ORDERS - 1)) o CROSS JOIN seq_0_to_7 s;" ||
		die "cannot write the orders"
	log "fetching their tickets: $ORDERS x GET /api/orders/{id}/tickets"
	{
		echo "header = \"Authorization: Bearer $token\""
		for ((i = 0; i < ORDERS; i++)); do
			printf 'url = "%s/api/orders/ord_ckb%08d/tickets"\n' "$BASE" "$i"
		done
	} >"$WORK/urls.cfg"
	timeout 600 curl -sf -K "$WORK/urls.cfg" | jq -r '.tickets[].ticket' >"$WORK/tickets" ||
		die "fetching the tickets failed"
	[ "$(wc -l <"$WORK/tickets")" -eq "$TICKETS" ] ||
		die "expected $TICKETS tickets, got $(wc -l <"$WORK/tickets")"
	# each round its own slice: never a ticket scanned before
	split -l "$((TICKETS / REPS))" -d -a 2 "$WORK/tickets" "$WORK/slice."
}

# One round: wrk against slice $1; its JSON line into $WORK/round.$1.json.
round() {
	local n=$1 key
	key=$(tr -d '\n' <"$RUN_DIR/ticketd/scanner.key")
	timeout $((SECS + 60)) wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" --timeout 10s \
		-s bench/checkin_wrk.lua "$BASE" -- "$WORK/slice.$(printf %02d "$n")" "$THREADS" "$key" \
		>"$WORK/wrk.$n.out" || die "wrk failed: $(tail -n 3 "$WORK/wrk.$n.out")"
	grep '^{' "$WORK/wrk.$n.out" | tail -n 1 |
		jq -c '. + {per_s: (.accepted / (.duration_us / 1e6))}' >"$WORK/round.$n.json"
	[ "$(jq .duplicate "$WORK/round.$n.json")" = 0 ] ||
		log "round $((n + 1)): its $((TICKETS / REPS)) tickets ran out (duplicates scanned): raise CHECKIN_TICKETS"
	log "round $((n + 1))/$REPS: $(jq -r '"\(.per_s | floor) check-ins/s, p50 \(.p50_us / 1000) ms, p99 \(.p99_us / 1000) ms, \(.duplicate) duplicates, \(.other) other"' "$WORK/round.$n.json")"
}

render() { # results json -> markdown
	jq -r '
	def r0: . * 1 | round;
	def ms: . / 1000 | . * 100 | round / 100;
	"## Check-in",
	"",
	"`\(.command)`, \(.finished) (UTC). ticketd with \(.settings.ticketd_threads) HTTP threads and a database pool of \(.settings.db_pool); wrk with \(.settings.conns) connections on \(.settings.threads) threads, \(.settings.secs) s a round, \(.settings.reps) rounds, each scan a ticket never scanned before (signature check, order read, one INSERT into `ticket_checkins`). Machine: \(.machine.cores) cores (\(.machine.cpu)), shared: \(.background_busy_pct) % busy before the run.",
	"",
	"| | median | spread (min-max) |",
	"|---|---|---|",
	"| accepted check-ins/s | \(.summary.per_s.median | r0) | \(.summary.per_s.min | r0)-\(.summary.per_s.max | r0) |",
	"| latency p50 (ms) | \(.summary.p50_us.median | ms) | \(.summary.p50_us.min | ms)-\(.summary.p50_us.max | ms) |",
	"| latency p99 (ms) | \(.summary.p99_us.median | ms) | \(.summary.p99_us.min | ms)-\(.summary.p99_us.max | ms) |",
	"",
	"Every round: \(.rounds | map(.per_s | r0 | tostring) | join(", ")) check-ins/s; answers other than 200 in all rounds: \(.rounds | map(.duplicate + .other) | add) (duplicates \(.rounds | map(.duplicate) | add)), socket errors \(.rounds | map(.socket_errors) | add). Audit: \(.audit.accepted) scans answered 200, \(.audit.rows) `ticket_checkins` rows (\(if .audit.rows >= .audit.accepted and .audit.rows - .audit.accepted <= .audit.cut_max then "as expected: the difference, \(.audit.rows - .audit.accepted), is scans in flight when wrk stopped, at most \(.audit.cut_max)" else "NOT AS EXPECTED" end)). \(.build)"
	' "$1"
}

stats() { # key -> {median, min, max} over the rounds
	jq -s --arg k "$1" 'map(.[$k]) | sort | {median: (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end), min: .[0], max: .[-1]}' "$WORK"/round.*.json
}

main() {
	local started bg rows accepted build
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")"
	PURCHASE_MARKER=.checkin-bench PURCHASE_SCRIPT=bench/checkin_bench.sh
	purchase_fresh_run_dir
	build="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- userspace api bpf bench 2>/dev/null || echo ' + uncommitted changes')."

	bench_services_up
	start_paymentd
	start_ticketd
	make_tickets
	take_lock
	bg=$(background_busy_pct)
	for ((n = 0; n < REPS; n++)); do round "$n"; done
	accepted=$(jq -s 'map(.accepted) | add' "$WORK"/round.*.json)
	rows=$(mariadb_q "SELECT COUNT(*) FROM ticket_checkins")
	release_lock
	jq -n --arg command "bash bench/checkin_bench.sh" --arg started "$started" \
		--arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg build "$build" \
		--argjson machine "$(bench_machine_json cores)" --argjson bg "$bg" \
		--argjson settings "{\"reps\":$REPS,\"secs\":$SECS,\"conns\":$CONNS,\"threads\":$THREADS,\"tickets\":$TICKETS,\"ticketd_threads\":$TD_THREADS,\"db_pool\":$DB_POOL}" \
		--slurpfile rounds <(cat "$WORK"/round.*.json) \
		--argjson per_s "$(stats per_s)" --argjson p50 "$(stats p50_us)" --argjson p99 "$(stats p99_us)" \
		--argjson accepted "$accepted" --argjson rows "${rows:-0}" \
		'{command: $command, started: $started, finished: $finished, build: $build,
		  machine: $machine, background_busy_pct: $bg, settings: $settings, rounds: $rounds,
		  summary: {per_s: $per_s, p50_us: $p50, p99_us: $p99},
		  audit: {accepted: $accepted, rows: $rows, cut_max: ($settings.reps * $settings.conns)}}' >"$OUT"
	render "$OUT" >"$MD.tmp"
	mv "$MD.tmp" "$MD"
	cat "$MD"
	log "wrote $OUT and $MD"
	# wrk stops with up to CONNS scans in flight a round: recorded, not counted
	[ "$rows" -ge "$accepted" ] && [ "$((rows - accepted))" -le "$((REPS * CONNS))" ] ||
		die "audit: $accepted scans answered 200 but $rows ticket_checkins rows"
}

main "$@"
