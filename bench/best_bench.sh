#!/usr/bin/env bash
# Best-available latency (issue #17): p50/p99 of POST /api/reservations/best
# with many concurrent requests on a 20,000-seat map (200 rows x 100), a
# realistic fill first (BEST_FILL_PCT % of the seats held for 10 minutes by
# other sessions, random seats, 8 a session). Runs against the services of
# infra/services.sh that are already up (the test environment of
# .helper-env or tests/run_all.sh) and a ticketd of its own that it starts
# and stops (no Redis: --redis-port 1, so it is never "ready"; it waits
# for /api/events). Heavy: run it under flock /work/heavy.lock (the lock fd is
# closed for ticketd).
#
#   source .helper-env && bash infra/services.sh start 9>&-
#   flock /work/heavy.lock bash bench/best_bench.sh
#
# Settings (environment): BEST_CONNS (256), BEST_THREADS (2), BEST_SECS
# (10), BEST_COUNT (4), BEST_FILL_PCT (60), BEST_TOKENS (3000),
# BEST_HTTP_PORT (TICKETD_TEST_HTTP_PORT + 40). Prints wrk's JSON line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUN_DIR=${RUN_DIR:-$ROOT/.run-test}
BUILD=${BUILD:-build}
CONNS=${BEST_CONNS:-256} THREADS=${BEST_THREADS:-2} SECS=${BEST_SECS:-10}
COUNT=${BEST_COUNT:-4} FILL=${BEST_FILL_PCT:-60} NTOK=${BEST_TOKENS:-3000}
PORT=${BEST_HTTP_PORT:-$(( ${TICKETD_TEST_HTTP_PORT:-18080} + 40 ))}
UDP=$(( ${TICKETD_TEST_UDP_PORT:-17000} + 40 ))
B=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
say() { echo "best_bench: $*" >&2; }
sql() { MYSQL_PWD=ticket timeout 60 mariadb -h 127.0.0.1 -P "${MARIADB_PORT:-3317}" -u ticket -N -B ticketing -e "$1"; }

if [ "$(sql "SELECT COUNT(*) FROM events WHERE name = 'Best Bench'")" = 0 ]; then
	say "adding the 200 x 100 event 'Best Bench'"
	sql "INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)
	     VALUES ('Best Bench', 'Test Hall', '2030-01-01 20:00:00', 200, 100);
	     INSERT INTO seats (event_id, seat_id, r, c, label, price)
	     SELECT LAST_INSERT_ID(), seq, seq DIV 100, seq MOD 100, CONCAT('X', seq), 1000
	     FROM seq_0_to_19999"
fi
EV=$(sql "SELECT id FROM events WHERE name = 'Best Bench'")
STATE="$RUN_DIR/ticketd-bestbench"
rm -rf "$STATE/shm"
mkdir -p "$STATE"
say "starting ticketd on $B (event $EV)"
"$BUILD/ticketd" --http-port "$PORT" --udp-port "$UDP" --state-dir "$STATE" \
	--db-port "${MARIADB_PORT:-3317}" --redis-port 1 \
	--kafka-bootstrap "127.0.0.1:${KAFKA_PORT:-9102}" --hold-path socket \
	--session-rate-per-addr 100000 --session-burst-per-addr 100000 \
	--http-max-connections-per-addr 0 --origin-hold-limit 0 \
	--log-level warn >"$WORK/ticketd.log" 2>&1 9>&- &
TPID=$!
trap 'kill $TPID 2>/dev/null; wait $TPID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -sf "$B/api/events" >/dev/null && break; sleep 0.2; done
curl -sf "$B/api/events" >/dev/null || { tail "$WORK/ticketd.log" >&2; exit 1; }

fill=$(( 20000 * FILL / 100 / 8 ))
say "filling: $fill sessions hold 8 random seats each for 600 s"
shuf -i 0-19999 -n $(( fill * 8 )) >"$WORK/seats"
split -l 8 "$WORK/seats" "$WORK/fill."
for f in "$WORK"/fill.*; do
	tok=$(curl -s -X POST "$B/api/sessions" | jq -r .token)
	ids=$(paste -sd, "$f")
	curl -s -o /dev/null -X POST "$B/api/reservations" -H "Authorization: Bearer $tok" \
		-d "{\"eventId\":$EV,\"seatIds\":[$ids],\"holdSeconds\":600}"
done
say "creating $NTOK buyer sessions"
for _ in $(seq "$NTOK"); do curl -s -X POST "$B/api/sessions" | jq -r .token; done >"$WORK/tokens"
say "wrk: $CONNS connections, $THREADS threads, ${SECS}s, count $COUNT"
timeout $(( SECS + 60 )) wrk -t "$THREADS" -c "$CONNS" -d "${SECS}s" --timeout 10s \
	-s bench/best_wrk.lua "$B" -- "$WORK/tokens" "$THREADS" "$EV" "$COUNT" | tail -n 1
