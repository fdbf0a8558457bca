#!/usr/bin/env bash
# The live seat stream under load: SSE_SUBSCRIBERS streams (10000) on one
# event while UDP holds and releases run at SSE_RATE per second (20) for
# SSE_SECS seconds (20). Starts a ticketd of its own (socket door, own
# ports and state dir, services from the environment as the integration
# tests use them), runs build/sse_bench against it, writes
# bench/results/sse.json and prints a markdown table. Stops what it
# started.
#
# Measures: delay from a hold's UDP send to the seat event parsed at every
# subscriber (p50/p90/p99/max over all deliveries), missing deliveries,
# ticketd's RSS before and after the streams (per subscriber), ticketd's
# CPU while connecting and during the holds, and ticketd's own fan-out
# delay histogram (ticketd_sse_fanout_delay_seconds).
#
# Settings (environment): SSE_SUBSCRIBERS, SSE_RATE, SSE_SECS, SSE_THREADS
# (client epoll threads, 1), SSE_HTTP_THREADS (ticketd's, 2), REDIS_PORT
# (6390), MARIADB_PORT (3317), KAFKA_PORT (9102), RUN_DIR (.run-test),
# SSE_HTTP_PORT (18480), SSE_UDP_PORT (17480), SSE_OUT
# (bench/results/sse.json), BUILD (build).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
log() { printf '[sse-bench] %s\n' "$*" >&2; }
N=${SSE_SUBSCRIBERS:-10000}
RATE=${SSE_RATE:-20}
SECS=${SSE_SECS:-20}
THREADS=${SSE_THREADS:-1}
HTTP_THREADS=${SSE_HTTP_THREADS:-2}
RUN_DIR=${RUN_DIR:-$ROOT/.run-test}
HTTP_PORT=${SSE_HTTP_PORT:-18480}
UDP_PORT=${SSE_UDP_PORT:-17480}
OUT=${SSE_OUT:-bench/results/sse.json}
BASE="http://127.0.0.1:$HTTP_PORT"

# Both are built by make (bench/bench.mk for the client).
for bin in "$BUILD/ticketd" "$BUILD/sse_bench"; do
	[ -x "$bin" ] || { echo "sse_bench.sh: $bin missing: make $bin" >&2; exit 1; }
done
ports=$(sysctl -n net.ipv4.ip_local_port_range | awk '{print $2 - $1}')
if [ "$ports" -lt $((N + 1000)) ]; then
	echo "sse_bench.sh: only $ports ephemeral ports for $N streams" >&2
	exit 1
fi
ulimit -n $((N + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt "$((N + 256))" ] || { echo "sse_bench.sh: ulimit -n too low" >&2; exit 1; }

mkdir -p "$RUN_DIR/logs" "$(dirname "$OUT")"
LOG="$RUN_DIR/logs/ticketd-sse-bench.log"
TICKETD_PID=
cleanup() { stop_ticketd; }
trap cleanup EXIT

"$BUILD/ticketd" --http-port "$HTTP_PORT" --udp-port "$UDP_PORT" \
	--db-port "${MARIADB_PORT:-3317}" --redis-port "${REDIS_PORT:-6390}" \
	--kafka-bootstrap "127.0.0.1:${KAFKA_PORT:-9102}" \
	--state-dir "$RUN_DIR/ticketd-sse-bench" --hold-path socket --demo-data "${BENCH_NO_CLIENT_LIMITS[@]}" \
	--http-threads "$HTTP_THREADS" --http-max-connections $((N + 2048)) \
	--sse-max-clients $((N + 1024)) --log-level warn >>"$LOG" 2>&1 &
TICKETD_PID=$!
for _ in $(seq 300); do
	curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
	kill -0 "$TICKETD_PID" 2>/dev/null || { echo "ticketd died; see $LOG" >&2; exit 1; }
	sleep 0.1
done

# A 10 x 10 event (small snapshots: the test is the fan-out, not the map)
# and four seats of it that are free now.
EVENT=$(curl -sf "$BASE/api/events" | jq '[.[] | select(.rows * .cols <= 100)][0].id')
SEATS=$(curl -sf "$BASE/api/events/$EVENT/seats" | jq -r '
	[.seats[] | select(.status == "AVAILABLE") | .id] as $a
	| [range(0; ($a | length) - 3) | select($a[. + 3] == $a[.] + 3) | $a[.]][0]
	| "\(.)-\(. + 3)"')
[ -n "$EVENT" ] && [ "$SEATS" != "null-null" ] || { echo "no free seats" >&2; exit 1; }

metrics() { curl -sf "$BASE/metrics" | grep '^ticketd_sse_' || true; }
# The machine may be shared: the load around the run goes into the result.
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
M0=$(metrics)
RESULT=$("$BUILD/sse_bench" --http "127.0.0.1:$HTTP_PORT" --udp "127.0.0.1:$UDP_PORT" \
	--event "$EVENT" --seats "$SEATS" --subscribers "$N" --rate "$RATE" \
	--duration "$SECS" --threads "$THREADS" --server-pid "$TICKETD_PID")
M1=$(metrics)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

# ticketd's own view: fan-out delay (change record -> frame handed to
# libmicrohttpd) over this run, from the histogram's deltas.
SERVER=$(jq -n --arg m0 "$M0" --arg m1 "$M1" '
	def parse: split("\n") | map(select(length > 0) | capture("^(?<k>\\S+) (?<v>\\S+)$"))
		| map({(.k): (.v | tonumber)}) | add;
	($m0 | parse) as $a | ($m1 | parse) as $b
	| def d(k): ($b[k] // 0) - ($a[k] // 0);
	  [ $b | keys[] | select(startswith("ticketd_sse_fanout_delay_seconds_bucket")) ] as $bk
	| (d("ticketd_sse_fanout_delay_seconds_count")) as $n
	| {
	    fanoutDelayMeanMs: (if $n > 0 then 1000 * d("ticketd_sse_fanout_delay_seconds_sum") / $n else null end),
	    fanoutDelayBuckets: ($bk | map({le: (capture("le=\"(?<le>[^\"]+)\"").le), cumulative: d(.)})),
	    # upper bound of the histogram bucket holding the 50th / 99th percentile
	    fanoutDelayP50AtMostMs: ([$bk[] | {le: (capture("le=\"(?<le>[^\"]+)\"").le), c: d(.)}
		| select(.le != "+Inf" and .c >= 0.5 * $n) | .le | tonumber] | min | if . then . * 1000 else null end),
	    fanoutDelayP99AtMostMs: ([$bk[] | {le: (capture("le=\"(?<le>[^\"]+)\"").le), c: d(.)}
		| select(.le != "+Inf" and .c >= 0.99 * $n) | .le | tonumber] | min | if . then . * 1000 else null end),
	    eventsSent: d("ticketd_sse_events_sent_total"),
	    clientsDropped: d("ticketd_sse_clients_dropped_total"),
	    peersGone: d("ticketd_sse_peers_gone_total")
	  }')

jq -n --argjson r "$RESULT" --argjson s "$SERVER" --arg when "$(date -u +%FT%TZ)" \
	--arg cpus "$(nproc)" --arg kernel "$(uname -r)" --argjson ht "$HTTP_THREADS" \
	--argjson load0 "$LOAD0" --argjson load1 "$LOAD1" '
	{when: $when, machine: {cpus: ($cpus | tonumber), kernel: $kernel,
		loadAverage1m: {before: $load0, after: $load1}},
	 ticketd: {httpThreads: $ht, holdPath: "socket"},
	 targets: {p99DelayMs: 500, rssPerSubscriberKiB: 30},
	 client: $r, server: $s,
	 pass: ($r.delayMs.p99 < 500 and $r.rssPerSubscriberKiB < 30
		and $r.deliveries == $r.expectedDeliveries and $r.unmatched == 0)}' >"$OUT"

jq -r '
	"| subscribers | changes | deliveries (missing) | delay p50 / p90 / p99 / max (ms) | ticketd RSS per subscriber | ticketd CPU during holds | server fan-out mean (p99 at most) |",
	"|---|---|---|---|---|---|---|",
	"| \(.client.connected) | \(.client.changes) at \(.client.ratePerSecond)/s | \(.client.deliveries) (\(.client.expectedDeliveries - .client.deliveries)) | \(.client.delayMs.p50) / \(.client.delayMs.p90) / \(.client.delayMs.p99) / \(.client.delayMs.max) | \(.client.rssPerSubscriberKiB * 100 | round / 100) KiB | \(.client.serverCpuPercentDuringHolds)% of a core | \(.server.fanoutDelayMeanMs // 0 | . * 100 | round / 100) ms (\(.server.fanoutDelayP99AtMostMs) ms) |"' "$OUT"
echo "(written to $OUT; targets: p99 < 500 ms, < 30 KiB per subscriber; pass: $(jq .pass "$OUT");" \
	"load average $LOAD0 -> $LOAD1 on $(nproc) CPUs)"
