#!/usr/bin/env bash
# Latency against offered load, and hold cost against table size, as PNG
# plots (issue #13). Every load point is open loop: requests leave on a
# fixed schedule and their latency counts from the time they were due, so a
# stall shows in the figures instead of slowing the sender down (no
# coordinated omission).
#
#   bash bench/plots_bench.sh           # the full run, about 4-5 minutes
#   PLOTS_QUICK=1 bash bench/plots_bench.sh   # smoke run: 2 points a path
#
# Writes (full run) bench/results/plots/{p99_udp,p99_rest,p99_purchase,
# hold_cost_table_size}.png and bench/results/plots.md, a "## Plots" section
# (bench/render_all.sh adds it to BENCHMARKS.md). With PLOTS_QUICK=1 the
# output goes to PLOTS_OUT_DIR, else to a temporary folder that is removed
# (the smoke run checks that every part runs and draws, nothing more).
#
# The parts (PLOTS_PARTS, default "udp rest purchase cost"):
#   udp       the real XDP program (bpf/seat_hold.bpf.c) attached to a veth
#             in a network namespace of our own (bench/netns.sh, names
#             tkplots/tkp0/tkp1, 10.81.0.0/24), its maps set up and its ring
#             drained by xdp_calib --serve (the xdp_prog path of
#             run_bench.sh, no daemon); udp_load --mode open --rate R
#   rest      ticketd's POST /api/reservations (1 seat) then DELETE, over
#             HTTP keep-alive; rest_load --rate R (each connection holds on a
#             fixed schedule)
#   purchase  the whole purchase (hold, order, authorize against paymentd
#             with its default 50-300 ms delay, poll until final);
#             orders_load --rate R, one event per point
#   cost      hold_cost: ns per hold of the real XDP program with
#             bpf_prog_test_run, seat tables of 1k..1M seats and 1..1000
#             events (random free seats, 1024 holds in place)
# rest and purchase share one ticketd (socket hold path) and paymentd on
# back ends of our own (infra/services.sh under RUN_DIR, ports below).
#
# Settings (environment): PLOTS_QUICK (0), PLOTS_OUT_DIR (BENCH_RESULTS_DIR
# under bench/run_bench.sh, else bench/results; quick alone: a temporary
# folder), PLOTS_PARTS (make bench-quick: "udp cost"; the REST and purchase
# loads are smoke-tested by its rest and orders suites), PLOTS_UDP_RATES (requests/s),
# PLOTS_REST_RATES (holds/s), PLOTS_BUY_RATES (orders/s), PLOTS_SECS (2, per
# point; purchases PLOTS_BUY_SECS 5), PLOTS_REPS (3, runs per UDP and REST
# point, the median is plotted; quick 1), PLOTS_COST_SEATS ("1000 10000 100000
# 1000000"), PLOTS_COST_EVENTS ("1 10 100 1000"), PLOTS_COST_RUNS (200000),
# PLOTS_LOCK_WAIT (900 s), RUN_DIR (/tmp/plotsbench), REDIS_PORT (6386),
# MARIADB_PORT (3316), KAFKA_PORT (9140), KAFKA_CONTROLLER_PORT (9141),
# PLOTS_HTTP_PORT (18640), PLOTS_UDP_PORT (17640), PLOTS_PAY_PORT (18645),
# BUILD (build). Needs root (netns, XDP, bpf_prog_test_run) and gnuplot
# (Debian package gnuplot-nox).
#
# Everything it starts it stops (trap on EXIT); every tool runs under
# `timeout`, every wait is bounded. Floods go only to loopback and to the
# namespace it creates. Takes /run/tkbench.lock like the other benchmarks
# (not again when bench/run_bench.sh holds it for us: TKB_LOCK_HELD=1).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh" # ROOT (the cwd), BUILD, helpers
# shellcheck source=bench/lib/purchase.sh
. bench/lib/purchase.sh # start_paymentd, start_ticketd, metric

log() { printf '[plots %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

QUICK=${PLOTS_QUICK:-0}
PARTS=${PLOTS_PARTS:-udp rest purchase cost}
LOCK_WAIT=${PLOTS_LOCK_WAIT:-900}
if [ "$QUICK" = 1 ]; then
	UDP_RATES=${PLOTS_UDP_RATES:-20000 200000}
	REST_RATES=${PLOTS_REST_RATES:-1000 10000}
	BUY_RATES=${PLOTS_BUY_RATES:-20 100}
	SECS=${PLOTS_SECS:-0.5}
	BUY_SECS=${PLOTS_BUY_SECS:-1}
	COST_SEATS=${PLOTS_COST_SEATS:-1000 1000000}
	COST_EVENTS=${PLOTS_COST_EVENTS:-1 1000}
	COST_RUNS=${PLOTS_COST_RUNS:-5000}
	REPS=${PLOTS_REPS:-1}
	DRAIN=3
	BUY_TIMEOUT_MS=5000
else
	UDP_RATES=${PLOTS_UDP_RATES:-25000 100000 200000 300000 400000 500000 650000 800000}
	REST_RATES=${PLOTS_REST_RATES:-2000 10000 20000 30000 40000 50000 65000}
	BUY_RATES=${PLOTS_BUY_RATES:-50 100 200 300 400 600}
	SECS=${PLOTS_SECS:-2}
	BUY_SECS=${PLOTS_BUY_SECS:-5}
	COST_SEATS=${PLOTS_COST_SEATS:-1000 10000 100000 1000000}
	COST_EVENTS=${PLOTS_COST_EVENTS:-1 10 100 1000}
	COST_RUNS=${PLOTS_COST_RUNS:-200000}
	REPS=${PLOTS_REPS:-3}
	DRAIN=10
	BUY_TIMEOUT_MS=10000
fi
bench_services_env /tmp/plotsbench 6386 3316 9140 9141
HTTP_PORT=${PLOTS_HTTP_PORT:-18640}
UDP_PORT=${PLOTS_UDP_PORT:-17640}
PAY_PORT=${PLOTS_PAY_PORT:-18645}
PIN_DIR=/sys/fs/bpf/ticket-plotsbench
BASE=http://127.0.0.1:$HTTP_PORT
PAY_BASE=http://127.0.0.1:$PAY_PORT
TD_THREADS=2
DB_POOL=8
REST_CONNS=400
BUY_CONNS=1000
ROWS=100 COLS=100
SEATS_PER_EVENT=$((ROWS * COLS))
UDP_THREADS=2 UDP_WINDOW=256
# the namespace of this script (bench/netns.sh reads these)
export TKB_NS=tkplots TKB_HOST_IF=tkp0 TKB_NS_IF=tkp1
export TKB_HOST_IP=10.81.0.1 TKB_NS_IP=10.81.0.2
export TKB_HOST_IP6=fd00:81::1 TKB_NS_IP6=fd00:81::2

# ---- checks ----------------------------------------------------------------------

on() { [[ " $PARTS " == *" $1 "* ]]; }
for p in $PARTS; do
	case $p in udp | rest | purchase | cost) ;; *) die "PLOTS_PARTS: unknown '$p' (udp rest purchase cost)" ;; esac
done
num_list() { # name list lo hi
	local v
	for v in $2; do int_in "$v" "$3" "$4" || die "$1: '$v' is not in $3..$4"; done
	[ -n "$2" ] || die "$1 is empty"
}
num_list PLOTS_UDP_RATES "$UDP_RATES" 1 5000000
num_list PLOTS_REST_RATES "$REST_RATES" 1 1000000
num_list PLOTS_BUY_RATES "$BUY_RATES" 1 1000
num_list PLOTS_COST_SEATS "$COST_SEATS" 1000 1048576
num_list PLOTS_COST_EVENTS "$COST_EVENTS" 1 4000
int_in "$COST_RUNS" 1000 10000000 || die "PLOTS_COST_RUNS must be 1000..10000000"
int_in "$REPS" 1 9 || die "PLOTS_REPS must be 1..9"
for v in "$SECS" "$BUY_SECS"; do
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$v" 'BEGIN{exit !(s >= 0.1 && s <= 30)}' ||
		die "PLOTS_SECS / PLOTS_BUY_SECS must be 0.1..30"
done
for r in $BUY_RATES; do
	awk -v r="$r" -v s="$BUY_SECS" -v n="$SEATS_PER_EVENT" 'BEGIN{exit !(2 * r * s <= n)}' ||
		die "purchase rate $r for ${BUY_SECS}s may need more than the $SEATS_PER_EVENT seats of its event"
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, XDP, bpf_prog_test_run)"
for tool in jq curl gnuplot ip timeout flock awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed${tool/gnuplot/ (Debian package gnuplot-nox)}"
done
need=()
on udp && need+=(udp_load xdp_calib bpf/seat_hold.bpf.o bench/xdp_trivial.bpf.o)
on rest && need+=(ticketd paymentd rest_load orders_load)
on purchase && need+=(ticketd paymentd orders_load)
on cost && need+=(hold_cost bpf/seat_hold.bpf.o)
for b in "${need[@]}"; do
	[ -s "$BUILD/$b" ] || die "$BUILD/$b missing: make -j2 build-all"
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((BUY_CONNS * 2 + 512)) ] || die "open-file limit $(ulimit -n) is too low"

# ---- where the results go -----------------------------------------------------------

WORK=$(mktemp -d /tmp/plotsbench-work.XXXXXX)
if [ -n "${PLOTS_OUT_DIR:-}" ]; then
	OUT_DIR=$PLOTS_OUT_DIR
elif [ -n "${BENCH_RESULTS_DIR:-}" ]; then # under bench/run_bench.sh
	OUT_DIR=$BENCH_RESULTS_DIR
elif [ "$QUICK" = 1 ]; then
	OUT_DIR=$WORK/out
else
	OUT_DIR=bench/results
fi
PNG_DIR=$OUT_DIR/plots
MD=$OUT_DIR/plots.md
mkdir -p "$PNG_DIR" "$WORK/data"

TICKETD_PID=
PAYMENTD_PID=
DRIVER_PID=
NETNS_UP=
SERVICES_STARTED=
LOCKED=

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	trap '' PIPE # a reader gone: our messages fail, the clean-up goes on
	release_lock
	stop_pid "$DRIVER_PID" xdp_calib 50
	if [ -n "$NETNS_UP" ]; then
		tkb_detach
		tkb_netns_down
	fi
	stop_ticketd
	stop_pid "$PAYMENTD_PID" paymentd
	bench_services_down
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	if [ -n "$SERVICES_STARTED" ] && [ -f "$RUN_DIR/.plots-bench" ]; then rm -rf "$RUN_DIR"; fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
trap 'exit 141' PIPE HUP

# Runs a load tool with a timer slack of 1 us (the default 50 us would make
# every sleep of an open-loop sender overshoot its due time by up to that,
# counted in the latency at low rates); threads and children inherit it.
tight() {
	(
		echo 1000 >/proc/self/timerslack_ns 2>/dev/null || true
		exec "$@"
	)
}

# One point of a load sweep from its repetitions: appends to
# $WORK/data/<part>.dat "offered achieved p50 p99 lost p99min p99max reps"
# (medians over the repetitions; lost summed) and the runs' JSON to
# <part>.jsonl. Args: part jq-filter-giving "offered achieved p50 p99 lost"
# json-file...
add_points() {
	local part=$1 filter=$2
	shift 2
	jq -r "$filter" "$@" | awk '
		function med(a, n,   i, j, t) { # sorts a[1..n], returns the median
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
		{ n++; off = $1; ach[n] = $2; p50[n] = $3; p99[n] = $4; lost += $5 }
		END { m = med(p99, n); printf "%s %s %s %s %d %s %s %d\n", off, med(ach, n), med(p50, n), m, lost, p99[1], p99[n], n }' \
		>>"$WORK/data/$part.dat"
	jq -c . "$@" >>"$WORK/data/$part.jsonl"
	log "$part: $(tail -n 1 "$WORK/data/$part.dat")"
}

# Appends one point to $WORK/data/<part>.dat and its JSON to <part>.jsonl.
# Args: part json jq-filter-giving "offered achieved p50 p99 extra..."
add_point() {
	jq -r "$3" <<<"$2" >>"$WORK/data/$1.dat"
	printf '%s\n' "$2" >>"$WORK/data/$1.jsonl"
	log "$1: $(tail -n 1 "$WORK/data/$1.dat")"
}

# ---- udp: the real XDP program in our namespace ---------------------------------------

UDP_CMD=
part_udp() {
	local key serve cmd rate out n=0 rep files
	# shellcheck source=bench/netns.sh
	source bench/netns.sh
	TKB_BUILD=$BUILD
	tkb_netns_up
	NETNS_UP=1
	key=$(od -An -N16 -tx8 /dev/urandom | awk '{print $1 "," $2}')
	for _ in $UDP_RATES; do n=$((n + 1)); done
	serve=$(awk -v n="$n" -v r="$REPS" -v s="$SECS" 'BEGIN{printf "%d", n * r * (s + 3) + 30}')
	# the UDP path's userspace (client, ring drain) at nice -10: the
	# machine is shared, and a client thread waiting for a core would
	# count as path latency (the XDP program itself runs in softirq)
	nice -n -10 "$BUILD/xdp_calib" --attach --netns "$TKB_NS" --iface "$TKB_NS_IF" \
		--obj "$BUILD/bpf/seat_hold.bpf.o" --prog xdp_seat_hold \
		--edge-config 7000 --edge-event 1:16384 --mint "$key" \
		--slots "1-$((UDP_THREADS * UDP_WINDOW))" --tokens-out "$WORK/udp.tokens" \
		--serve "$serve" >"$WORK/driver.out" 2>"$WORK/driver.err" &
	DRIVER_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$WORK/driver.out" ] && break
		kill -0 "$DRIVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	jq -e '.attached' "$WORK/driver.out" >/dev/null 2>&1 ||
		die "xdp_calib could not attach the real program: $(tail -n 3 "$WORK/driver.err")"
	UDP_CMD="udp_load --target $TKB_NS_IP:7000 --tokens <tokens> --mode open --rate R --threads $UDP_THREADS --window $UDP_WINDOW --batch 32 --duration $SECS --warmup 0.5 --timeout-ms 1000 --event 1 --seats 0-16383 --mix hold,release"
	for rate in $UDP_RATES; do
		files=()
		for rep in $(seq 1 "$REPS"); do
			out=$WORK/udp.$rate.$rep.json
			files+=("$out")
			cmd=("$BUILD/udp_load" --target "$TKB_NS_IP:7000" --tokens "$WORK/udp.tokens"
				--mode open --rate "$rate" --threads "$UDP_THREADS" --window "$UDP_WINDOW"
				--batch 32 --duration "$SECS" --warmup 0.5 --timeout-ms 1000
				--event 1 --seats 0-16383 --mix hold,release)
			tight nice -n -10 timeout 60 "${cmd[@]}" >"$out" 2>"$WORK/udp.err" ||
				{ [ -s "$out" ] || die "udp_load at $rate/s failed: $(tail -n 3 "$WORK/udp.err")"; }
		done
		add_points udp '"\(.rate) \(.decisions_per_s) \(.latency_us.p50) \(.latency_us.p99) \(.timeouts)"' "${files[@]}"
	done
	stop_pid "$DRIVER_PID" xdp_calib 50
	DRIVER_PID=
	tkb_detach
	tkb_netns_down
	NETNS_UP=
}

# ---- rest and purchase: ticketd + paymentd on our back ends ---------------------------

event_name() { printf 'Plots Bench %s' "$1"; }
EVENT_TAGS=(rest)
for r in $BUY_RATES; do EVENT_TAGS+=("buy$r"); done

ticketd_up() {
	case $RUN_DIR in /tmp/?*) ;; *) die "RUN_DIR must be a folder under /tmp: $RUN_DIR" ;; esac
	# one instance per RUN_DIR (it is wiped and its ports reused)
	exec 7>"$RUN_DIR.instance.lock"
	flock -n 7 || die "another bench/plots_bench.sh uses $RUN_DIR (holds $RUN_DIR.instance.lock)"
	if [ -d "$RUN_DIR" ]; then
		[ -f "$RUN_DIR/.plots-bench" ] || [ -z "$(find "$RUN_DIR" -type f -not -path "$RUN_DIR/logs/*" -not -path "$RUN_DIR/pids/*.lock" | head -n 1)" ] ||
			die "$RUN_DIR exists and is not this benchmark's (no .plots-bench marker)"
		timeout 180 bash infra/services.sh stop >&2 || true
		rm -rf "$RUN_DIR"
	fi
	[ -d "$PIN_DIR" ] && rm -rf "$PIN_DIR"
	mkdir -p "$RUN_DIR/logs"
	touch "$RUN_DIR/.plots-bench"
	TD_LOG=$RUN_DIR/logs/ticketd-plots.log
	PAY_LOG=$RUN_DIR/logs/paymentd-plots.log
	PAYMENTD=$BUILD/paymentd
	TICKETD=$BUILD/ticketd
	bench_services_up 7>&- # the daemons must not keep the instance lock
	start_paymentd 7>&-
	start_ticketd 7>&- # creates the schema
	# ticketd loads the catalogue when it starts: add the events, restart
	purchase_add_events P "1000 + (seq DIV $COLS) * 10"
	stop_ticketd
	start_ticketd 7>&-
	purchase_load_event_ids
	local n=$REST_CONNS max=0 r
	for r in $BUY_RATES; do
		r=$(awk -v r="$r" -v s="$BUY_SECS" 'BEGIN{printf "%d", r * s + 1}')
		[ "$r" -gt "$max" ] && max=$r
	done
	[ "$max" -gt "$n" ] && n=$max
	timeout 300 "$BUILD/orders_load" --mode sessions --target "127.0.0.1:$HTTP_PORT" \
		--count "$n" --conns 64 --drain 240 >"$WORK/tokens" 2>"$WORK/sessions.err" ||
		die "creating $n sessions failed: $(tail -n 3 "$WORK/sessions.err")"
	[ "$(wc -l <"$WORK/tokens")" -eq "$n" ] || die "asked for $n sessions, got $(wc -l <"$WORK/tokens")"
	log "$n sessions"
}

REST_CMD=
part_rest() {
	local rate out rep files ev=${EVENT_ID[rest]}
	REST_CMD="rest_load --mode http --target 127.0.0.1:$HTTP_PORT --tokens <tokens> --event <event> --seats 0-$((SEATS_PER_EVENT - 1)) --conns $REST_CONNS --threads 2 --hold-seconds 10 --release 1 --timeout-ms 5000 --duration $SECS --rate R"
	# warm-up, not counted
	timeout 60 "$BUILD/rest_load" --mode http --target "127.0.0.1:$HTTP_PORT" --tokens "$WORK/tokens" \
		--event "$ev" --seats "0-$((SEATS_PER_EVENT - 1))" --conns "$REST_CONNS" --threads 2 \
		--hold-seconds 10 --release 1 --timeout-ms 5000 --duration 1 --rate 2000 >/dev/null 2>&1 || true
	for rate in $REST_RATES; do
		files=()
		for rep in $(seq 1 "$REPS"); do
			out=$WORK/rest.$rate.$rep.json
			files+=("$out")
			tight timeout 90 "$BUILD/rest_load" --mode http --target "127.0.0.1:$HTTP_PORT" \
				--tokens "$WORK/tokens" --event "$ev" --seats "0-$((SEATS_PER_EVENT - 1))" \
				--conns "$REST_CONNS" --threads 2 --hold-seconds 10 --release 1 \
				--timeout-ms 5000 --duration "$SECS" --rate "$rate" \
				--server-pid "$TICKETD_PID" >"$out" 2>"$WORK/rest.err" ||
				die "rest_load at $rate/s failed: $(tail -n 3 "$WORK/rest.err")"
		done
		add_points rest '"\(.rate) \(.holds_per_s) \(.hold_latency_us.p50 / 1000) \(.hold_latency_us.p99 / 1000) \(.errors.timeouts)"' "${files[@]}"
	done
}

# Until paymentd has no authorization pending and the outbox is relayed,
# at most max seconds (a saturated point leaves work behind).
quiet() { # max
	local p b i
	for ((i = 0; i < $1 * 4; i++)); do
		# (awk stops reading at the match: curl may then fail with 23)
		p=$(metric "$PAY_BASE" paymentd_pending_authorizations) || true
		b=$(metric "$BASE" ticketd_outbox_backlog_rows) || true
		[ "${p:-1}" = 0 ] && [ "${b:-1}" = 0 ] && return 0
		sleep 0.25
	done
	log "not quiet after $1 s (paymentd pending ${p:-?}, outbox backlog ${b:-?}); going on"
}

BUY_CMD=
part_purchase() {
	local rate out ev
	BUY_CMD="orders_load --mode orders --target 127.0.0.1:$HTTP_PORT --tokens <tokens> --event <one event per point> --seats 0-$((SEATS_PER_EVENT - 1)) --conns $BUY_CONNS --poll-ms 20 --timeout-ms $BUY_TIMEOUT_MS --drain $DRAIN --rate R --duration $BUY_SECS"
	for rate in $BUY_RATES; do
		ev=${EVENT_ID[buy$rate]}
		out=$WORK/buy.$rate.json
		tight timeout $((DRAIN + 120)) "$BUILD/orders_load" --mode orders --target "127.0.0.1:$HTTP_PORT" \
			--tokens "$WORK/tokens" --event "$ev" --seats "0-$((SEATS_PER_EVENT - 1))" \
			--conns "$BUY_CONNS" --poll-ms 20 --timeout-ms "$BUY_TIMEOUT_MS" --drain "$DRAIN" \
			--key-prefix "plots-$rate-$$" --rate "$rate" --duration "$BUY_SECS" \
			>"$out" 2>"$WORK/buy.err" ||
			die "orders_load at $rate/s failed: $(tail -n 3 "$WORK/buy.err")"
		add_points purchase '"\(.rate) \(.sustained.per_s) \(.latency_us.end_to_end.p50 / 1000) \(.latency_us.end_to_end.p99 / 1000) \(.offered - .completed)"' "$out"
		quiet "$DRAIN"
	done
}

# ---- cost: bpf_prog_test_run of the real program ---------------------------------------

COST_CMD=
part_cost() {
	local s e live out
	COST_CMD="hold_cost --obj $BUILD/bpf/seat_hold.bpf.o --seats N --events E --runs $COST_RUNS --live min(1024, N/4)"
	for e in $COST_EVENTS; do
		for s in $COST_SEATS; do
			[ "$e" -le "$s" ] || continue
			live=$((s / 4))
			[ "$live" -gt 1024 ] && live=1024
			out=$WORK/cost.$s.$e.json
			timeout 300 "$BUILD/hold_cost" --obj "$BUILD/bpf/seat_hold.bpf.o" \
				--seats "$s" --events "$e" --runs "$COST_RUNS" --live "$live" \
				>"$out" 2>"$WORK/cost.err" ||
				die "hold_cost $s seats $e events failed: $(tail -n 3 "$WORK/cost.err")"
			add_point "cost$e" "$(cat "$out")" \
				'"\(.seats) \(.net_hold_ns.median) \(.hold_ns.median) \(.hold_ns.p99) \(.net_release_ns.median) \(.empty_prog_ns.median)"'
		done
	done
}

# ---- plots and markdown ------------------------------------------------------------------

# Args: part png title unit(ms|µs) what
plot_latency() {
	local dat=$WORK/data/$1.dat
	[ -s "$dat" ] || return 0
	gnuplot <<EOF
set terminal pngcairo noenhanced size 900,560 font "DejaVu Sans,11"
set output "$2"
set title "$3"
set xlabel "offered load ($5/s, open loop)"
set ylabel "latency ($4), log scale"
set y2label "achieved ($5/s; same scale as x: on the diagonal = keeping up)"
set logscale y
set format x "%.0s%c"
set format y2 "%.0s%c"
set ytics nomirror
set y2tics
set grid xtics ytics
set key top left box opaque
stats "$dat" using 1 nooutput
set xrange [0:STATS_max * 1.05]
set y2range [0:STATS_max * 1.05]
plot "$dat" using 1:4:6:7 with yerrorlines lw 2 pt 7 title "p99 latency (median of runs; bars: min-max)", \
     "$dat" using 1:3 with linespoints lw 2 pt 5 title "p50 latency", \
     "$dat" using 1:2 axes x1y2 with linespoints dt 2 lw 1 pt 1 lc rgb "gray40" title "achieved rate (right axis)"
EOF
}

plot_cost() {
	local png=$1 e plots=()
	for e in $COST_EVENTS; do
		[ -s "$WORK/data/cost$e.dat" ] &&
			plots+=("\"$WORK/data/cost$e.dat\" using 1:2 with linespoints lw 2 pt 7 title \"$e event$([ "$e" = 1 ] || echo s)\"")
	done
	[ ${#plots[@]} -gt 0 ] || return 0
	gnuplot <<EOF
set terminal pngcairo noenhanced size 900,560 font "DejaVu Sans,11"
set output "$png"
set title "Hold cost of the real XDP program vs seat table size (bpf_prog_test_run)"
set xlabel "seats in the table (all events together), log scale"
set ylabel "ns per hold (median, minus an empty program's run)"
set logscale x
set format x "%.0s%c"
set grid
set key top left box opaque
set yrange [0:*]
set xrange [700:1.5e6]
plot $(
		IFS=,
		echo "${plots[*]}"
	)
EOF
}

md_table_latency() { # part unit
	local dat=$WORK/data/$1.dat
	echo "| offered /s | achieved /s | p50 $2 | p99 $2 (min-max) | runs | lost (timeouts or not completed, all runs) |"
	echo "|---|---|---|---|---|---|"
	awk '{printf "| %d | %.0f | %.3g | %.3g (%.3g-%.3g) | %d | %d |\n", $1, $2, $3, $4, $6, $7, $8, $5}' "$dat"
}

write_md() {
	local rel=${PNG_DIR#./}
	{
		echo "## Plots"
		echo
		echo "\`bash bench/plots_bench.sh\`$([ "$QUICK" = 1 ] && echo ' (PLOTS_QUICK=1 smoke run)'), finished $(date -u +%Y-%m-%dT%H:%M:%SZ) (UTC) on $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) cores, kernel $(uname -r); tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'). Every load point is open loop: requests leave on a fixed schedule and latency counts from the time each was due, so a server stall shows in the figures (no coordinated omission); past saturation the achieved rate falls behind the offered one and the latency climbs with the backlog. UDP and REST points are the median of $REPS runs (bars and brackets: the spread of p99 over them), purchases one run. Load generator and servers share the same 2 cores, and the machine is shared: ${BG_PCT} % of its CPU was busy with other work in the second before the run."
		if [ -s "$WORK/data/udp.dat" ]; then
			echo
			echo "### UDP holds: the real XDP program"
			echo
			echo "![p99 and p50 latency against offered load, UDP holds]($rel/p99_udp.png)"
			echo
			echo "The real program (bpf/seat_hold.bpf.c) on a veth in a namespace of the script's own, its maps set up and its ring buffer drained by xdp_calib (run_bench.sh's \`xdp_prog\` path, no daemon); hold then release per seat, $UDP_THREADS client threads, at most $UDP_WINDOW requests in flight each (a request waiting for a free slot keeps its due time); udp_load and xdp_calib run at nice -10 so other work on the shared machine preempts them less. ${SECS} s per point after 0.5 s warm-up. Command per point: \`$UDP_CMD\`"
			echo
			md_table_latency udp µs
		fi
		if [ -s "$WORK/data/rest.dat" ]; then
			echo
			echo "### REST holds"
			echo
			echo "![p99 and p50 hold latency against offered load, REST]($rel/p99_rest.png)"
			echo
			echo "ticketd (socket hold path, $TD_THREADS HTTP threads) over HTTP/1.1 keep-alive: \`POST /api/reservations\` for one random seat of a ${ROWS} x ${COLS} event, then \`DELETE\` it; $REST_CONNS connections each holding on its own fixed schedule; the latency is the hold's. ${SECS} s per point. Command per point: \`$REST_CMD\`"
			echo
			md_table_latency rest ms
		fi
		if [ -s "$WORK/data/purchase.dat" ]; then
			echo
			echo "### Purchases"
			echo
			echo "![p99 and p50 end-to-end purchase latency against offered load]($rel/p99_purchase.png)"
			echo
			echo "The whole purchase through ticketd: hold 1-2 seats, \`POST /api/orders\`, \`POST /api/payments/authorize\` (paymentd's default 50-300 ms simulated delay), then poll the order every 20 ms until it is final; end to end from the order's due time. One ${ROWS} x ${COLS} event per point; ${BUY_SECS} s offered per point, then at most ${DRAIN} s for the orders in flight to end. Achieved = orders ended per second in the steady part of the window (orders_load's \"sustained\"). Command per point: \`$BUY_CMD\`"
			echo
			md_table_latency purchase ms
		fi
		if [ -s "$WORK/data/cost.jsonl" ]; then
			echo
			echo "### Hold cost against table size"
			echo
			echo "![ns per hold against seats in the table, per event count]($rel/hold_cost_table_size.png)"
			echo
			echo "The real XDP program alone with bpf_prog_test_run (one run per request, private maps set up as ticketd would): N seats shared by E events (N/E each), every hold on a random free seat of a random event, min(1024, N/4) holds in place at once, each new hold releasing the oldest first. ns per hold = the kernel's duration of the run minus that of a one-instruction program run beside it (medians). Command per point: \`$COST_CMD\` ($COST_RUNS holds each)."
			echo
			echo "| seats | events | seats per event | net ns per hold (median) | hold ns p99 (gross) | net ns per release (median) | test-run overhead ns |"
			echo "|---|---|---|---|---|---|---|"
			jq -r '"| \(.seats) | \(.events) | \(.seats_per_event) | \(.net_hold_ns.median) | \(.hold_ns.p99) | \(.net_release_ns.median) | \(.empty_prog_ns.median) |"' "$WORK/data/cost.jsonl"
		fi
	} >"$MD.tmp"
	mv "$MD.tmp" "$MD"
}

main() {
	local t0=$SECONDS e
	log "parts: $PARTS$([ "$QUICK" = 1 ] && echo ' (quick)'); output $OUT_DIR"
	BG_PCT=$(background_busy_pct)
	if on rest || on purchase; then ticketd_up; fi
	take_lock
	if on udp; then part_udp; fi
	if on rest; then part_rest; fi
	if on purchase; then part_purchase; fi
	if on cost; then
		part_cost
		for e in $COST_EVENTS; do
			[ -s "$WORK/data/cost$e.jsonl" ] && cat "$WORK/data/cost$e.jsonl" >>"$WORK/data/cost.jsonl"
		done
	fi
	release_lock
	stop_ticketd
	stop_pid "$PAYMENTD_PID" paymentd
	PAYMENTD_PID=
	plot_latency udp "$PNG_DIR/p99_udp.png" "UDP holds, real XDP program: latency vs offered load" µs requests
	plot_latency rest "$PNG_DIR/p99_rest.png" "REST holds (POST /api/reservations): latency vs offered load" ms holds
	plot_latency purchase "$PNG_DIR/p99_purchase.png" "Purchases end to end (hold, order, authorize, final): latency vs offered load" ms orders
	if on cost; then plot_cost "$PNG_DIR/hold_cost_table_size.png"; fi
	write_md
	for png in "$PNG_DIR"/*.png; do
		[ -s "$png" ] || die "no plot was drawn in $PNG_DIR"
	done
	log "wrote $MD and $(find "$PNG_DIR" -name '*.png' | wc -l) plots in $PNG_DIR ($((SECONDS - t0)) s)"
}

main "$@"
