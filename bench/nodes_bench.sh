#!/usr/bin/env bash
# Edge-node benchmark (issue 16): three ticketd nodes of infra/nodes.sh on
# this machine, each with its XDP program on the veth of its own network
# namespace, over one Redis, MariaDB and Kafka of our own.
#
#   bash bench/nodes_bench.sh            # about 3 minutes with the defaults
#   BENCH_QUICK=1 bash bench/nodes_bench.sh   # about 40 s (make bench-quick)
#   make bench SUITES=nodes              # the same inside make bench
#
# Writes bench/results/nodes.json and bench/results/nodes.md (the section
# "Edge nodes" of BENCHMARKS.md) and prints the markdown.
#
# 1. Holds per node: NODES_EVENTS events of 32 x 64 seats, spread over the
#    nodes by the shard map; for k = 1, 2, 3 a build/udp_load per loaded node
#    (one thread, window NODES_WINDOW, hold,release on one event that node
#    owns, sent to its veth address), all k at once for NODES_SECS; per
#    node and in total, median and spread (min-max) over NODES_REPS
#    rounds, with the machine's busy share while they ran. The three nodes
#    run throughout (k is how many are loaded): the hold path does no
#    cross-node work, so what a loaded node loses beside others is the
#    two shared cores (k clients and k XDP softirq contexts on 2 CPUs).
#    Also the one-event limit: one event on one node, two client threads.
# 2. Failover: build/node_follow holds on every event through all three
#    nodes (following WRONG_NODE), NODES_KILLS times kill -9 of the node
#    owning the most events (turn about), the gap between the last OK from
#    the old owner and the first OK from the new one per moved event (the
#    failover time of a kill is the longest of its events), then the node
#    restarted with its id and the gaps of the moves back; median and
#    spread. Target: < 5 s.
#
# Settings (environment): NODES_REPS (3), NODES_SECS (3), NODES_WINDOW (64),
# NODES_KILLS (5), NODES_EVENTS (16), NODES_OUT, NODES_MD, NODES_LOCK_WAIT
# (900), RUN_DIR (/tmp/nodesbench), REDIS_PORT (6377), MARIADB_PORT (3377),
# KAFKA_PORT (9177), KAFKA_CONTROLLER_PORT (9178), NODES_BENCH_HTTP_BASE
# (18771), BUILD (build). BENCH_QUICK=1: 1 round of 1 s, 1 kill, no restart.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers

OUT=${NODES_OUT:-bench/results/nodes.json}
MD=${NODES_MD:-bench/results/nodes.md}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	REPS=${NODES_REPS:-1} SECS=${NODES_SECS:-1} KILLS=${NODES_KILLS:-1}
else
	REPS=${NODES_REPS:-3} SECS=${NODES_SECS:-3} KILLS=${NODES_KILLS:-5}
fi
WINDOW=${NODES_WINDOW:-64}
EVENTS=${NODES_EVENTS:-16}
LOCK_WAIT=${NODES_LOCK_WAIT:-900}
N=3
bench_services_env /tmp/nodesbench 6377 3377 9177 9178
export NODES_HTTP_BASE=${NODES_BENCH_HTTP_BASE:-18771}
export NODES_NETNS_PREFIX=tkbnode NODES_IF_PREFIX=tkbn NODES_NET=10.78 NODES_NET_BASE=0
export NODES_PIN_BASE=/sys/fs/bpf/ticket-nodesbench NODES_DIR=$RUN_DIR/nodes
export NODES_HOLD_PATH=xdp PAYMENTD_PORT=1 UDP_PORT=7000

log() { printf '[nodes-bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
int_in "$REPS" 1 20 || die "NODES_REPS must be 1..20"
int_in "$SECS" 1 30 || die "NODES_SECS must be 1..30"
int_in "$KILLS" 1 20 || die "NODES_KILLS must be 1..20"
int_in "$WINDOW" 1 1024 || die "NODES_WINDOW must be 1..1024"
int_in "$EVENTS" 3 64 || die "NODES_EVENTS must be 3..64"
case $RUN_DIR in
/tmp/?*) ;;
*) die "RUN_DIR must be a folder under /tmp (it is wiped at the start): $RUN_DIR" ;;
esac
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP)"
for tool in jq curl mariadb timeout flock awk ip; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
for b in ticketd udp_load node_follow; do
	[ -x "$BUILD/$b" ] && [ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make $BUILD/$b"
done

WORK=$(mktemp -d /tmp/nodesbench-work.XXXXXX)
export NODES_TICKETD=$WORK/ticketd # a copy: a rebuild during the run cannot touch it
cp "$BUILD/ticketd" "$NODES_TICKETD"
SERVICES_STARTED=
LOCKED=
FOLLOW_PID=
TICKETD_ARGS=(--udp-rate-limit 0 "${BENCH_NO_CLIENT_LIMITS[@]}" --log-level warn)

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[ -n "$FOLLOW_PID" ] && kill "$FOLLOW_PID" 2>/dev/null
	bash infra/nodes.sh stop "$N" >/dev/null 2>&1
	bench_services_down
	release_lock
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

take_lock
# a fresh RUN_DIR: its own, wiped (what an interrupted run left is stopped)
if [ -d "$RUN_DIR" ]; then
	bash infra/nodes.sh stop "$N" >/dev/null 2>&1 || true
	timeout 180 bash infra/services.sh stop >&2 || true
	rm -rf "$RUN_DIR"
fi
mkdir -p "$RUN_DIR/logs"
bench_services_up

BASE=http://127.0.0.1:$NODES_HTTP_BASE
# the schema: node 1 once, alone
log "node 1 alone once: migrations and demo data"
bash infra/nodes.sh start 1 "${TICKETD_ARGS[@]}" >/dev/null
# KILL: nothing of it is needed again, and a graceful stop drains for seconds
bash infra/nodes.sh stop-node 1 KILL >/dev/null 2>&1
log "adding $EVENTS events of 32 x 64 seats"
for ((k = 0; k < EVENTS; k++)); do
	mariadb_q "INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)
		VALUES ('Node Bench $k', 'Bench Hall', '2030-01-01 20:00:00', 32, 64);
		INSERT INTO seats (event_id, seat_id, r, c, label, price)
		SELECT LAST_INSERT_ID(), seq, seq DIV 64, seq MOD 64, CONCAT('B', seq), 1000
		FROM seq_0_to_2047" || die "cannot add the events"
done
mapfile -t EVS < <(mariadb_q "SELECT id FROM events WHERE name LIKE 'Node Bench %' ORDER BY id")
[ "${#EVS[@]}" -eq "$EVENTS" ] || die "expected $EVENTS events, found ${#EVS[@]}"

log "starting $N nodes"
ADDRS=$(bash infra/nodes.sh start "$N" "${TICKETD_ARGS[@]}") || die "the nodes did not start"
declare -A UDP=() HTTP=() PID=()
while read -r name rest; do
	for kv in $rest; do
		case $kv in
		udp=*) UDP[$name]=${kv#udp=} ;;
		http=*) HTTP[$name]=${kv#http=} ;;
		pid=*) PID[$name]=${kv#pid=} ;;
		esac
	done
done <<<"$ADDRS"

# event -> owner, from the shard map; waits until every bench event has one
owners() {
	curl -sf --max-time 2 "$1/api/shards" 2>/dev/null |
		jq -r --argjson evs "$(printf '%s\n' "${EVS[@]}" | jq -s .)" \
			'[$evs[] as $e | "\($e) \(.events[($e|tostring)].node // "-")"] | .[]'
}
wait_all_owned() { # within-seconds [node that must own at least one]
	local t m
	for ((t = 0; t < $1 * 10; t++)); do
		for n in "${!HTTP[@]}"; do
			m=$(owners "http://${HTTP[$n]}") && break
		done
		if [ -n "${m:-}" ] && ! grep -q ' -$' <<<"$m" &&
			{ [ -z "${2:-}" ] || grep -q " $2\$" <<<"$m"; }; then
			echo "$m"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# settled: every live node owns events, together the whole catalogue (n1
# starts first and owns everything until the others join)
wait_split() { # within-seconds
	local t total sum zero n o
	total=$(curl -sf --max-time 5 "$BASE/api/events" | jq length)
	for ((t = 0; t < $1 * 5; t++)); do
		sum=0 zero=0
		for n in "${!HTTP[@]}"; do
			kill -0 "${PID[$n]}" 2>/dev/null || continue
			o=$(curl -sf --max-time 2 "http://${HTTP[$n]}/readyz" | jq -r '.ownedEvents // 0') || o=0
			sum=$((sum + o))
			[ "$o" -gt 0 ] || zero=1
		done
		[ "$zero" = 0 ] && [ "$sum" -eq "$total" ] && return 0
		sleep 0.2
	done
	return 1
}
wait_split 60 || die "the events are not split over the nodes in 60 s (is this ticketd multi-node?)"
sleep 1.5 # the shard map is republished every second
MAP=$(wait_all_owned 60) || die "the shard map does not give every event an owner (is this ticketd multi-node?)"
log "owners: $(tr '\n' ' ' <<<"$MAP")"

log "minting $((2 * WINDOW)) sessions"
TOKENS=$WORK/tokens
for ((i = 0; i < 2 * WINDOW; i++)); do
	curl -sf --max-time 5 -X POST "$BASE/api/sessions" | jq -r .token
done >"$TOKENS"
[ "$(grep -cE '^[0-9a-f]{32}$' "$TOKENS")" -eq $((2 * WINDOW)) ] || die "could not mint the sessions"

first_event_of() { awk -v n="$1" '$2 == n {print $1; exit}' <<<"$MAP"; }

# ---- 1. holds per node ---------------------------------------------------------
busy_sample() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
busy_pct() { # before after
	awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," ");split(b,y," ");
		busy=y[1]-x[1]; total=busy+y[2]-x[2]; pct=0; if (total > 0) pct=100*busy/total;
		printf "%.1f", pct}'
}
: >"$WORK/holds.jsonl"
BACKGROUND=$(background_busy_pct)
log "background load before measuring: ${BACKGROUND}% busy"
for ((r = 1; r <= REPS; r++)); do
	for k in 1 2 3; do
		pids=()
		b0=$(busy_sample)
		for ((i = 1; i <= k; i++)); do
			ev=$(first_event_of "n$i")
			[ -n "$ev" ] || die "n$i owns no bench event: $(tr '\n' ' ' <<<"$MAP")"
			timeout $((SECS + 30)) "$BUILD/udp_load" --target "${UDP[n$i]}" --tokens "$TOKENS" \
				--event "$ev" --seats 0-2047 --window "$WINDOW" --duration "$SECS" \
				--warmup 0.5 --hold-secs 30 --server-pid "${PID[n$i]}" \
				>"$WORK/r$r-k$k-n$i.json" 2>"$WORK/r$r-k$k-n$i.err" &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || die "udp_load failed: $(cat "$WORK"/r"$r"-k"$k"-*.err | tail -n 3)"; done
		busy=$(busy_pct "$b0" "$(busy_sample)")
		for ((i = 1; i <= k; i++)); do
			jq -c --argjson r "$r" --argjson k "$k" --arg node "n$i" --argjson busy "$busy" \
				'{round: $r, loaded: $k, node: $node, event: .event, per_s: .decisions_per_s,
				  p50_us: .latency_us.p50, p99_us: .latency_us.p99, timeouts: .timeouts,
				  status: .status, busy_pct: $busy}' "$WORK/r$r-k$k-n$i.json" >>"$WORK/holds.jsonl"
		done
		log "round $r, $k loaded: $(jq -r --argjson r "$r" --argjson k "$k" \
			'select(.round == $r and .loaded == $k) | "\(.node) \(.per_s | floor)/s"' \
			"$WORK/holds.jsonl" | tr '\n' ' ')(machine ${busy}% busy)"
	done
	# the one-event limit: one event on one node, two client threads
	ev=$(first_event_of n1)
	timeout $((SECS + 30)) "$BUILD/udp_load" --target "${UDP[n1]}" --tokens "$TOKENS" \
		--event "$ev" --seats 0-2047 --threads 2 --window "$WINDOW" --duration "$SECS" \
		--warmup 0.5 --hold-secs 30 >"$WORK/r$r-single.json" 2>"$WORK/r$r-single.err" ||
		die "udp_load failed: $(tail -n 3 "$WORK/r$r-single.err")"
	jq -c --argjson r "$r" '{round: $r, per_s: .decisions_per_s, p50_us: .latency_us.p50,
		p99_us: .latency_us.p99}' "$WORK/r$r-single.json" >>"$WORK/single.jsonl"
	log "round $r, one event on n1 with 2 client threads: $(jq -r '.per_s | floor' <<<"$(tail -n 1 "$WORK/single.jsonl")")/s"
done

# ---- 2. failover ----------------------------------------------------------------
FTOKEN=$(sed -n 1p "$TOKENS")
follow_args=(--token "$FTOKEN" --seats 2040-2047 --duration 3000 --timeout-ms 50 --pace-ms 1 --quiet)
for n in n1 n2 n3; do follow_args+=(--entry "${UDP[$n]}"); done
for ev in "${EVS[@]}"; do follow_args+=(--event "$ev"); done
"$BUILD/node_follow" "${follow_args[@]}" >"$WORK/follow.jsonl" 2>"$WORK/follow.err" &
FOLLOW_PID=$!
sleep 2
: >"$WORK/kills.jsonl"
moves_since() { # t0_ms events... -> moved events' gaps after t0 (event gap_ms)
	local t0=$1
	shift
	jq -r --argjson t0 "$t0" --argjson evs "$(printf '%s\n' "$@" | jq -s .)" \
		'select(.move and .move.at_ms > $t0 and (.move.event as $e | $evs | index($e)))
		 | "\(.move.event) \(.move.gap_ms)"' "$WORK/follow.jsonl" 2>/dev/null || true
}
for ((x = 1; x <= KILLS; x++)); do
	wait_split 30 || die "the events are not split over the nodes before kill $x"
	sleep 1.5
	MAP=$(wait_all_owned 30) || die "not every event has an owner before kill $x"
	victim=$(awk '{print $2}' <<<"$MAP" | sort | uniq -c | sort -k1,1nr -k2 | awk 'NR==1{print $2}')
	mapfile -t moved < <(awk -v n="$victim" '$2 == n {print $1}' <<<"$MAP")
	t0=$(date +%s%3N)
	log "kill $x: kill -9 $victim (pid ${PID[$victim]}), owner of ${moved[*]}"
	kill -9 "${PID[$victim]}"
	got=
	for ((t = 0; t < 600; t++)); do
		got=$(moves_since "$t0" "${moved[@]}")
		[ "$(awk '{print $1}' <<<"$got" | sort -u | grep -c .)" -ge "${#moved[@]}" ] && break
		sleep 0.1
	done
	worst=$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{print m}' <<<"$got")
	n_got=$(awk '{print $1}' <<<"$got" | sort -u | grep -c . || true)
	log "kill $x: $n_got of ${#moved[@]} events moved; longest gap ${worst} ms"
	bash infra/nodes.sh stop-node "${victim#n}" >/dev/null 2>&1 || true
	back_worst=null
	if [ "$QUICK" != 1 ]; then
		t1=$(date +%s%3N)
		bash infra/nodes.sh start-node "${victim#n}" "${TICKETD_ARGS[@]}" >/dev/null 2>&1 ||
			die "$victim did not restart"
		PID[$victim]=$(cat "$NODES_DIR/$victim.pid")
		wait_all_owned 60 "$victim" >/dev/null || die "$victim owns no event after its restart"
		sleep 2
		back_worst=$(moves_since "$t1" "${EVS[@]}" | awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{print m}')
		log "kill $x: $victim back; longest gap while events moved back ${back_worst} ms"
	fi
	jq -nc --argjson x "$x" --arg victim "$victim" --argjson events "${#moved[@]}" \
		--argjson moved "$n_got" --argjson gap "$worst" --argjson back "$back_worst" \
		'{kill: $x, victim: $victim, events: $events, moved: $moved, failover_ms: $gap,
		  rejoin_gap_ms: $back}' >>"$WORK/kills.jsonl"
	[ "$n_got" -ge "${#moved[@]}" ] || die "kill $x: only $n_got of ${#moved[@]} events of $victim were answered by a new owner within 60 s"
done
kill -TERM "$FOLLOW_PID" 2>/dev/null || true
wait "$FOLLOW_PID" 2>/dev/null || true
FOLLOW_PID=

# ---- the report --------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")" "$(dirname "$MD")"
jq -n --slurpfile holds "$WORK/holds.jsonl" --slurpfile single "$WORK/single.jsonl" \
	--slurpfile kills "$WORK/kills.jsonl" \
	--slurpfile follow <(grep '"summary"' "$WORK/follow.jsonl" | tail -n 1) \
	--argjson machine "$(bench_machine_json cores)" --arg background "$BACKGROUND" \
	--arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson reps "$REPS" \
	--argjson secs "$SECS" --argjson window "$WINDOW" --argjson quick "$QUICK" \
	'{finished: $finished, machine: $machine, background_busy_pct: ($background | tonumber),
	  reps: $reps, secs: $secs, window: $window, quick: ($quick == 1),
	  holds: $holds, single_event: $single, kills: $kills, follow: ($follow[0].summary // null)}' >"$OUT"

render() {
	jq -r '
	def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def k: . / 1000 | . * 10 | round / 10 | tostring + "k";
	def spread: "\(min | k)-\(max | k)";
	. as $r |
	"## Edge nodes\n",
	"`bash bench/nodes_bench.sh`, finished \(.finished) (UTC), \(.machine.cores) cores (\(.machine.cpu)), kernel \(.machine.kernel); background load \(.background_busy_pct)% before the run\(if .quick then "; **quick run** (bench-quick): figures are a smoke test" else "" end).",
	"",
	"Three ticketd nodes of `infra/nodes.sh` on this machine, each with its XDP program on the veth of its own network namespace, over one Redis, MariaDB and Kafka; events spread over the nodes by the shard map (Kafka group `ticketd-shards`). Each loaded node is driven by its own `build/udp_load` (1 thread, window \(.window), hold,release on one event it owns) through its own veth, all loaded nodes at once, \(.secs) s per measurement, \(.reps) rounds: median and spread (min-max) over the rounds. The hold path does no cross-node work; what a node loses beside others is the machine: \(.machine.cores) cores shared by every client and every XDP softirq context.",
	"",
	"### Holds per node (hold-protocol decisions/s, hold,release)",
	"",
	"| nodes loaded | per node: median (spread) | total: median (spread) | per node vs 1 loaded | machine busy | p99 per node (us) |",
	"|---|---|---|---|---|---|",
	( ([.holds[] | select(.loaded == 1) | .per_s] | med) as $one |
	  (.holds | group_by(.loaded)[]) as $g |
	  ($g[0].loaded) as $k |
	  ([$g[] | .per_s]) as $per |
	  ([$g | group_by(.round)[] | map(.per_s) | add]) as $tot |
	  "| \($k) | " + ([$g | group_by(.node)[] | "\(.[0].node) \(map(.per_s) | med | k) (\(map(.per_s) | spread))"] | join(", "))
	  + " | \($tot | med | k) (\($tot | spread)) | \(if $one then (($per | med) / $one * 100 | round | tostring) + "%" else "-" end)"
	  + " | \([$g[] | .busy_pct] | med)% | \([$g[] | .p99_us] | med | round) |"),
	"",
	( ([.holds[] | select(.loaded == 1) | .per_s] | med) as $one |
	  ([.holds[] | select(.loaded == 3)] | group_by(.round) | map(map(.per_s) | add) | med) as $three |
	  if $one and $three then
	  "Shared-CPU effect: three loaded nodes together answer \($three / $one * 100 | round / 100)x what one loaded node answers alone (3x would be linear). Each node works alone on its events (no cross-node call on the hold path), so the shortfall is the \(.machine.cores) cores that every client thread and every node'"'"'s XDP softirq share here (the machine was busy \([.holds[] | select(.loaded == 3) | .busy_pct] | med)% with three loaded). On machines of their own the per-node figure would stay at the one-loaded figure; this run cannot show that.\n"
	  else empty end),
	"One event on one node (the limit of sharding by event: an event lives on one node), two client threads: **\([.single_event[] | .per_s] | med | k) decisions/s** median (\([.single_event[] | .per_s] | spread)), p99 \([.single_event[] | .p99_us] | med | round) us. This is the peak rate of one event here; more nodes do not raise it.",
	"",
	"### Failover (kill -9 of the node with the most events)",
	"",
	"`build/node_follow` holds on every event through all three nodes, one request in flight per event, 1 ms between an answer and the next request, 50 ms timeout, following WRONG_NODE to the owner; failover time = last OK from the old owner to the first OK from the new one, the longest over the killed node'"'"'s events. Then the node restarts with its id and takes events back; the longest gap of those moves beside it. Target: < 5 s.",
	"",
	"| kill | node | its events | moved | failover (s) | gap while it took events back (s) |",
	"|---|---|---|---|---|---|",
	(.kills[] | "| \(.kill) | \(.victim) | \(.events) | \(.moved) | \(.failover_ms / 1000 | . * 100 | round / 100) | \(if .rejoin_gap_ms == null then "-" else (.rejoin_gap_ms / 1000 | . * 100 | round / 100 | tostring) end) |"),
	"",
	"Failover median **\([.kills[] | .failover_ms] | med / 1000 | . * 100 | round / 100) s** (spread \([.kills[] | .failover_ms] | min / 1000 | . * 100 | round / 100)-\([.kills[] | .failover_ms] | max / 1000 | . * 100 | round / 100) s) over \(.kills | length) kills; target < 5 s: \(if ([.kills[] | .failover_ms] | max) < 5000 then "met" else "**not met**" end).",
	(if .follow then "node_follow over the whole run: \(.follow.ok) OKs, \(.follow.redirects) redirects, \(.follow.timeouts) timeouts, \(.follow.moves) moves in \(.follow.seconds | round) s." else empty end)
	' "$1"
}
render "$OUT" >"$MD.tmp"
mv "$MD.tmp" "$MD"
log "wrote $OUT and $MD"
cat "$MD"
