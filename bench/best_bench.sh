#!/usr/bin/env bash
# Best-available benchmark (issue #17): latency of POST /api/reservations/best
# with 1,000 concurrent requests on a 20,000-seat map (200 rows x 100) with
# a realistic fill, beside the plain one-seat hold (POST /api/reservations)
# with the same connections in the same round, against real services
# (ticketd, paymentd, Redis, MariaDB, Kafka of infra/services.sh).
#
#   bash bench/best_bench.sh                 # about a minute with the defaults
#   BENCH_QUICK=1 bash bench/best_bench.sh   # a few seconds of load
#   make bench BENCH_SUITES=best             # the same inside make bench
#
# Writes bench/results/best.json and bench/results/best.md (the section
# "Best available" of BENCHMARKS.md) and prints the markdown.
#
# One run (everything it starts it stops; every tool bounded by `timeout`):
#   1. its own back ends under RUN_DIR, paymentd, ticketd (socket hold
#      path, BEST_TICKETD_THREADS HTTP threads), one 200 x 100 event.
#   2. The fill: BEST_FILL_PCT % of the seats held for 10 minutes by other
#      sessions (random seats, 8 a session), so every request searches a
#      realistically fragmented map; then BEST_TOKENS buyer sessions.
#   3. BEST_REPS rounds, each: the baseline, build/rest_load holding one
#      random seat per request and releasing it, then best available,
#      build/rest_load --best BEST_COUNT (hold the best BEST_COUNT seats,
#      then release them, one DELETE each), both with BEST_CONNS
#      connections (one request in flight each, closed loop) on
#      BEST_THREADS threads for BEST_SECS. The fill is untouched: what a
#      request holds it gives back, so every round sees the same map.
#      The report gives the hold request's p50/p99 and answers/s, median
#      and spread (min-max) over the rounds.
#   4. Audit: once the load's holds (5 s) have lapsed, the seats held are
#      exactly the fill's, and its sessions still list every one of them
#      (no request took over a held seat).
#
# Settings (environment): BEST_REPS (5), BEST_SECS (5), BEST_CONNS (1000),
# BEST_THREADS (2), BEST_COUNT (4), BEST_FILL_PCT (60), BEST_TOKENS (2000),
# BEST_TICKETD_THREADS (2), BEST_OUT, BEST_MD, BEST_LOCK_WAIT (900),
# BEST_KEEP (0), RUN_DIR (/tmp/bestbench), REDIS_PORT (6381), MARIADB_PORT
# (3381), KAFKA_PORT (9181), KAFKA_CONTROLLER_PORT (9182), BEST_HTTP_PORT
# (18381), BEST_UDP_PORT (17381), BEST_PAY_PORT (18382), BEST_PIN_DIR
# (/sys/fs/bpf/ticket-bestbench), BUILD (build). BENCH_QUICK=1 (make
# bench-quick) makes the defaults 1 round of 1 s with 100 connections.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # paymentd, ticketd, the event

OUT=${BEST_OUT:-bench/results/best.json}
MD=${BEST_MD:-bench/results/best.md}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPS=${BEST_REPS:-1} SECS=${BEST_SECS:-1} CONNS=${BEST_CONNS:-100}
	TOKENS=${BEST_TOKENS:-200}
else
	REPS=${BEST_REPS:-5} SECS=${BEST_SECS:-5} CONNS=${BEST_CONNS:-1000}
	TOKENS=${BEST_TOKENS:-2000}
fi
THREADS=${BEST_THREADS:-2}
COUNT=${BEST_COUNT:-4}
FILL=${BEST_FILL_PCT:-60}
TD_THREADS=${BEST_TICKETD_THREADS:-2}
DB_POOL=8
LOCK_WAIT=${BEST_LOCK_WAIT:-900}
KEEP=${BEST_KEEP:-0}
bench_services_env /tmp/bestbench 6381 3381 9181 9182
HTTP_PORT=${BEST_HTTP_PORT:-18381}
UDP_PORT=${BEST_UDP_PORT:-17381}
PAY_PORT=${BEST_PAY_PORT:-18382}
PIN_DIR=${BEST_PIN_DIR:-/sys/fs/bpf/ticket-bestbench}
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT
ROWS=200 COLS=100 SEATS_PER_EVENT=20000
EVENT_TAGS=(best)
event_name() { echo "Best Bench"; }

log() { printf '[best-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
int_in "$REPS" 1 20 || die "BEST_REPS must be 1..20"
int_in "$SECS" 1 60 || die "BEST_SECS must be 1..60"
int_in "$CONNS" 1 5000 || die "BEST_CONNS must be 1..5000"
int_in "$THREADS" 1 16 || die "BEST_THREADS must be 1..16"
int_in "$COUNT" 1 8 || die "BEST_COUNT must be 1..8"
int_in "$FILL" 0 90 || die "BEST_FILL_PCT must be 0..90"
int_in "$TOKENS" 1 100000 || die "BEST_TOKENS must be 1..100000"
purchase_preflight $((CONNS + 256)) ticketd paymentd rest_load
command -v shuf >/dev/null || die "shuf is not installed"
purchase_work best BEST_KEEP

# POST /api/sessions n times (curl, 16 at once): one token a line to $2.
sessions() { # n file
	local cfg=$WORK/sessions.curl
	for _ in $(seq 1 "$1"); do printf 'url = "%s/api/sessions"\n' "$BASE"; done >"$cfg"
	timeout 300 curl -s --no-progress-meter --parallel --parallel-max 16 -X POST --max-time 10 \
		-w '\n' -K "$cfg" | jq -r 'select(.token != null) | .token' >"$2"
	[ "$(wc -l <"$2")" -eq "$1" ] || die "asked for $1 sessions, got $(wc -l <"$2")"
}

# FILL % of the seats held for 600 s, 8 random seats a session.
fill() {
	local n=$((SEATS_PER_EVENT * FILL / 100 / 8)) i=0 tok
	[ "$n" -gt 0 ] || return 0
	log "fill: $n sessions hold 8 random seats each for 600 s ($((n * 8)) of $SEATS_PER_EVENT seats)"
	sessions "$n" "$WORK/fill.tokens"
	shuf -i 0-$((SEATS_PER_EVENT - 1)) -n $((n * 8)) --random-source=<(yes) |
		paste -d, - - - - - - - - >"$WORK/fill.seats"
	while read -r tok && read -r ids <&3; do
		[ $i -gt 0 ] && echo next
		printf 'url = "%s/api/reservations"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = 10\nheader = "Authorization: Bearer %s"\n' "$BASE" "$tok"
		printf 'data = "{\\"eventId\\":%s,\\"seatIds\\":[%s],\\"holdSeconds\\":600}"\n' "$EV" "$ids"
		i=$((i + 1))
	done <"$WORK/fill.tokens" 3<"$WORK/fill.seats" >"$WORK/fill.curl"
	timeout 300 curl -s --no-progress-meter --parallel --parallel-max 16 \
		-K "$WORK/fill.curl" | sort | uniq -c >"$WORK/fill.codes"
	grep -q " 201$" "$WORK/fill.codes" || die "the fill failed: $(tr '\n' ' ' <"$WORK/fill.codes")"
	FILL_SEATS=$(held_seats)
	log "fill done: $FILL_SEATS seats held (answers: $(awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $2, $1}' "$WORK/fill.codes"))"
}

# The seats the fill's sessions list as theirs (GET /api/reservations).
fill_listed() {
	local cfg=$WORK/listed.curl tok i=0
	[ -s "$WORK/fill.tokens" ] || { echo 0; return; }
	while read -r tok; do
		[ $i -gt 0 ] && echo next
		printf 'url = "%s/api/reservations"\nmax-time = 10\nheader = "Authorization: Bearer %s"\n' "$BASE" "$tok"
		i=$((i + 1))
	done <"$WORK/fill.tokens" >"$cfg"
	timeout 300 curl -s --no-progress-meter --parallel --parallel-max 16 -K "$cfg" |
		jq -s --argjson ev "$EV" '[.[][] | select(.eventId == $ev)] | length'
}

held_seats() {
	curl -sf --max-time 10 "$BASE/api/events/$EV" | jq '.held'
}

run_load() { # name [rest_load flags...]: its JSON to $WORK/$name.json
	local name=$1
	shift
	timeout $((SECS + 60)) "$BUILD/rest_load" --mode http --target "127.0.0.1:$HTTP_PORT" \
		--tokens "$WORK/tokens" --event "$EV" --seats 0-$((SEATS_PER_EVENT - 1)) \
		--conns "$CONNS" --threads "$THREADS" --duration "$SECS" --hold-seconds 5 \
		--release 1 --timeout-ms 10000 --server-pid "$TICKETD_PID" "$@" \
		>"$WORK/$name.json" 2>"$WORK/$name.err" || die "rest_load $name failed: $(tail -n 3 "$WORK/$name.err")"
}

# One round: baseline then best; one JSON line per round.
round() {
	local n=$1
	run_load "base.$n"
	run_load "best.$n" --best "$COUNT"
	jq -n -c --slurpfile b "$WORK/base.$n.json" --slurpfile x "$WORK/best.$n.json" '
		def one($r): {per_s: $r.holds_per_s, p50_us: $r.hold_latency_us.p50,
			p99_us: $r.hold_latency_us.p99, max_us: $r.hold_latency_us.max,
			status: $r.hold_status, codes: $r.codes, timeouts: $r.errors.timeouts,
			conn_errors: $r.errors.connection, unreleased: $r.holds_unreleased,
			release_p99_us: $r.release_latency_us.p99,
			server_us_per_request: $r.cpu.server_us_per_request};
		{base: one($b[0]), best: one($x[0])}' >"$WORK/round.$n.json"
	log "round $((n + 1))/$REPS: $(jq -r '"best \(.best.per_s | floor)/s p50 \(.best.p50_us / 1000) ms p99 \(.best.p99_us / 1000) ms \(.best.status); one seat \(.base.per_s | floor)/s p99 \(.base.p99_us / 1000) ms"' "$WORK/round.$n.json")"
}

stats() { # jq path -> {median, min, max} over the rounds
	jq -s "map($1) | sort | {median: (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end), min: .[0], max: .[-1]}" "$WORK"/round.*.json
}

render() { # results json -> markdown
	jq -r '
	def r0: . * 1 | round;
	def ms: . / 1000 | . * 100 | round / 100;
	def cell($s; f): "\($s.median | f) (\($s.min | f)-\($s.max | f))";
	"## Best available",
	"",
	"`\(.command)`, \(.finished) (UTC). One event of \(.settings.seats) seats (200 rows x 100), \(.fill.seats) of them held for 10 minutes by \(.fill.sessions) other sessions first (random seats, 8 a session: a fragmented map). Each round, with \(.settings.conns) connections on \(.settings.threads) threads (one request in flight each, closed loop, \(.settings.secs) s), first the baseline: `build/rest_load` holding one random seat a request (`POST /api/reservations`), then `build/rest_load --best \(.settings.count)`: `POST /api/reservations/best` with count \(.settings.count); every granted hold is released at once (one DELETE a seat, not counted below), so each round sees the same map. ticketd: socket hold path, \(.settings.ticketd_threads) HTTP threads. \(.settings.reps) rounds; median (min-max) over them. Machine: \(.machine.cores) cores (\(.machine.cpu)), shared: \(.background_busy_pct) % busy before the run.",
	"",
	"| request | answers/s | p50 (ms) | p99 (ms) | answers (all rounds) |",
	"|---|---|---|---|---|",
	"| best available, count \(.settings.count) | \(cell(.summary.best_per_s; r0)) | \(cell(.summary.best_p50_us; ms)) | \(cell(.summary.best_p99_us; ms)) | \(.rounds | map(.best.status | to_entries[] | "\(.key) \(.value)") | group_by(split(" ")[0]) | map("\(.[0] | split(" ")[0]): \(map(split(" ")[1] | tonumber) | add)") | join(", ")) |",
	"| baseline: one given seat | \(cell(.summary.base_per_s; r0)) | \(cell(.summary.base_p50_us; ms)) | \(cell(.summary.base_p99_us; ms)) | \(.rounds | map(.base.status | to_entries[] | "\(.key) \(.value)") | group_by(split(" ")[0]) | map("\(.[0] | split(" ")[0]): \(map(split(" ")[1] | tonumber) | add)") | join(", ")) |",
	"",
	"A 409 of the baseline is a seat of the fill (or another connection'"'"'s): the answer is as fast as a hold. Timeouts \(.rounds | map(.best.timeouts + .base.timeouts) | add), connection errors \(.rounds | map(.best.conn_errors + .base.conn_errors) | add). Granted seats not released (timeouts, or in flight when a run ended; they lapse after 5 s): \(.audit.unreleased). Audit, once those lapsed: \(.audit.held_after) seats held, the fill held \(.fill.seats), and its sessions list \(.audit.fill_listed) as theirs (\(if .audit.held_after == .fill.seats and .audit.fill_listed == .fill.seats then "equal: no request took over a held seat, nothing leaked" else "NOT EQUAL" end)). \(.build)"
	' "$1"
}

main() {
	local started build held_after unreleased fill_listed
	if [ "${1:-}" = --render ]; then
		render "${2:-$OUT}"
		exit 0
	fi
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")"
	purchase_stack_up X 1000
	EV=${EVENT_ID[best]}
	build="ticketd sha256 $(sha256sum "$TICKETD" | cut -c1-12), tree $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- userspace api bpf bench 2>/dev/null || echo ' + uncommitted changes')."
	FILL_SEATS=0
	fill
	log "creating $TOKENS buyer sessions"
	sessions "$TOKENS" "$WORK/tokens"
	take_lock
	bg=$(background_busy_pct)
	for ((n = 0; n < REPS; n++)); do round "$n"; done
	release_lock
	unreleased=$(jq -s 'map(.best.unreleased + .base.unreleased) | add' "$WORK"/round.*.json)
	# until the load's holds (5 s) lapsed, at most 6 s: only the fill is held
	for ((n = 0; n < 30; n++)); do
		held_after=$(held_seats)
		[ "$held_after" = "$FILL_SEATS" ] && break
		sleep 0.2
	done
	fill_listed=$(fill_listed)
	jq -n --arg command "bash bench/best_bench.sh" --arg started "$started" \
		--arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg build "$build" \
		--argjson machine "$(bench_machine_json cores)" --argjson bg "$bg" \
		--argjson settings "{\"reps\":$REPS,\"secs\":$SECS,\"conns\":$CONNS,\"threads\":$THREADS,\"count\":$COUNT,\"seats\":$SEATS_PER_EVENT,\"fill_pct\":$FILL,\"tokens\":$TOKENS,\"ticketd_threads\":$TD_THREADS}" \
		--argjson fill "{\"seats\":$FILL_SEATS,\"sessions\":$((SEATS_PER_EVENT * FILL / 100 / 8))}" \
		--slurpfile rounds <(cat "$WORK"/round.*.json) \
		--argjson bp "$(stats .best.per_s)" --argjson b50 "$(stats .best.p50_us)" --argjson b99 "$(stats .best.p99_us)" \
		--argjson xp "$(stats .base.per_s)" --argjson x50 "$(stats .base.p50_us)" --argjson x99 "$(stats .base.p99_us)" \
		--argjson held "${held_after:-0}" --argjson unrel "$unreleased" --argjson listed "${fill_listed:-0}" \
		'{command: $command, started: $started, finished: $finished, build: $build,
		  machine: $machine, background_busy_pct: $bg, settings: $settings, fill: $fill, rounds: $rounds,
		  summary: {best_per_s: $bp, best_p50_us: $b50, best_p99_us: $b99,
			    base_per_s: $xp, base_p50_us: $x50, base_p99_us: $x99},
		  audit: {held_after: $held, unreleased: $unrel, fill_listed: $listed}}' >"$OUT"
	render "$OUT" >"$MD.tmp"
	mv "$MD.tmp" "$MD"
	cat "$MD"
	log "wrote $OUT and $MD"
	[ "$held_after" = "$FILL_SEATS" ] && [ "$fill_listed" = "$FILL_SEATS" ] ||
		die "audit: $held_after seats held and $fill_listed listed by the fill's sessions; the fill held $FILL_SEATS"
}

main "$@"
