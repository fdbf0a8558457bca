#!/usr/bin/env bash
# The XDP path beyond the socket ceiling (issue #14): build/pkt_gen writes
# whole frames into a PF_PACKET TX ring (qdisc bypass) on the host-side veth
# of bench/netns.sh and counts the replies off a PF_PACKET RX ring, so no
# client socket, route lookup or UDP receive path limits the rate. Every
# round measures, one after the other, with the same generator:
#
#   ceiling   the trivial program (bench/xdp_trivial.bpf.c) on tkb1
#   xdp_prog  the real program (bpf/seat_hold.bpf.o) without the daemon:
#             xdp_calib sets up its maps, mints the tokens, drains its ring
#   xdp_full  the real program under ticketd (bench/hooks/xdp_full.sh:
#             Redis, MariaDB and Kafka of infra/services.sh, sessions minted
#             over REST); left out with WIRE_TICKETD=0
#
# each flat out (the highest rate the veth pair carries: the generator
# sends as fast as the kernel takes frames) with 1 thread and with one
# thread per core. Reported per path and shape over the rounds: the
# median and spread (min-max) of decisions/s (replies counted in the
# measured window), the ratio to the ceiling of the same round, softirq CPU
# per decision (the softirq column of /proc/stat, all CPUs, delta over the
# measured window, divided by the decisions: it holds both veth ends' NAPI
# work, the program's included; tick-sampled), NET_RX softirq runs per
# decision (/proc/softirqs), frames lost (sent - answered), the statuses,
# and the generator's own CPU per decision.
#
# Writes WIRE_OUT (bench/results/wire.json, not kept in git) and WIRE_MD
# (bench/results/wire.md, the section of BENCHMARKS.md). BENCH_QUICK=1
# (make bench-quick): one round of 1 s, one shape, no ticketd, results into
# BENCH_RESULTS_DIR: a few seconds. Takes /run/tkbench.lock (not again
# under bench/run_bench.sh). Needs root.
#
# Settings: WIRE_ROUNDS (5), WIRE_SECS (3, 1..30), WIRE_WARMUP (0.5),
# WIRE_THREADS ("1 N", N = cores), WIRE_TICKETD (1), WIRE_SLOTS (128: one
# session per slot), WIRE_SEATS (0-16383), WIRE_MIX (hold,release),
# WIRE_HOLD_SECS (5), WIRE_OUT, WIRE_MD, BENCH_LOCK_WAIT (900), BUILD.
#
#   sudo bash bench/wire_bench.sh            # about 4 minutes
#   sudo make bench-wire                     # the same through make
#   bash bench/wire_bench.sh --render bench/results/wire.json > wire.md
set -euo pipefail
log() { printf '[wire] %s\n' "$*" >&2; }

# The markdown section from a result file (WIRE_OUT). Medians are the
# middle value (the mean of the two middle ones for an even count).
render() {
	jq -r '
	def med: sort | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def r0: if . == null then "–" else (. * 1 | round | tostring) end;
	def r1: if . == null then "–" else ((. * 10 | round) / 10 | tostring) end;
	def k: if . == null then "–" else ((. / 1000 | round | tostring) + "k") end;
	def spread(f): [.[] | f | select(. != null)] as $v
		| if ($v | length) == 0 then "–" else "\($v | med | r0) (\($v | min | r0)–\($v | max | r0))" end;
	def spreadk(f): [.[] | f | select(. != null)] as $v
		| if ($v | length) == 0 then "–" else "\($v | med | k) (\($v | min | k)–\($v | max | k))" end;
	def spreadpct(f): [.[] | f | select(. != null)] as $v
		| if ($v | length) == 0 then "–" else "\($v | med * 100 | r0) % (\($v | min * 100 | r0)–\($v | max * 100 | r0))" end;
	def title: {ceiling: "trivial XDP program (ceiling)",
		xdp_prog: "real program, no daemon (xdp_calib drains its ring)",
		xdp_full: "real program under ticketd"}[.] // .;
	. as $all
	| ([.runs[] | select(.path == "ceiling") | {key: "\(.round) \(.threads)",
		value: .gen}] | from_entries) as $ceil
	| ([.runs[] | select(.path == "ceiling") | .gen.cpu.softirq_ns_per_decision
		| select(. != null)]) as $ceil_soft
	| "## XDP path beyond the socket ceiling (raw frames)",
	"",
	"`bash bench/wire_bench.sh` (`make bench SUITES=wire`), \(.started) to \(.finished) (UTC), tree \(.tree)\(if .quick then ", **quick smoke run: not a measurement**" else "" end). \(.rounds) rounds; each round measures every path once, one after the other, flat out for \(.secs) s after \(.warmup_s) s of warm-up, with \(.slots) slots (one session token each, seats \(.seats), ops `\(.mix)` per seat, holds of 5 s).",
	"",
	"Load: `build/pkt_gen` (bench/pkt_gen.c) writes whole Ethernet + IPv4 + UDP frames into a PF_PACKET TX ring (TPACKET_V2, `PACKET_QDISC_BYPASS`) on the host-side veth `tkb0` of bench/netns.sh and counts the replies off a PF_PACKET RX ring (TPACKET_V3) on the same interface: no client socket, route lookup or UDP receive path. Flat out means as fast as the kernel takes frames: each `send()` on the TX ring runs the veth transmit and, in softirq on the same core, both NAPI polls (the program on `tkb1`, then the reply on `tkb0`), so the generator is paced by the path itself. Thread i runs on core i. The replies are addressed to a MAC that is not `tkb0`\u0027s, so after the packet socket saw them the host drops them in IPv4 at once (no UDP lookup, no ICMP).",
	"",
	"Softirq CPU per decision: the softirq column of `/proc/stat` summed over all CPUs, its delta over the measured window divided by the replies counted in it. It holds the NAPI work of both veth ends (the XDP program, XDP_TX, the reply'"'"'s way into the packet socket); this kernel has no `CONFIG_IRQ_TIME_ACCOUNTING`, so it is tick-sampled (10 ms ticks: a few per cent of error over a window). Softirq that runs inside the generator'"'"'s `send()` is also in the generator'"'"'s system time, so the two columns overlap. NET_RX/decision: the `NET_RX` row of `/proc/softirqs` over the same window.",
	"",
	"| path | threads | decisions/s, median (min–max) | of the ceiling, same round | softirq ns/decision | softirq ns/decision over the ceiling'"'"'s | program ns/run (bpf_stats) | NET_RX softirqs/decision | lost frames | generator CPU ns/decision | serving process ns/decision | statuses (all rounds) |",
	"|---|---|---|---|---|---|---|---|---|---|---|---|",
	(.runs | group_by(.path) | sort_by({ceiling: 0, xdp_prog: 1, xdp_full: 2}[.[0].path] // 9)[]
	 | group_by(.threads)[]
	 | . as $g
	 | ([$all.runs[] | select(.path == "ceiling" and .threads == $g[0].threads)
		| .gen.cpu.softirq_ns_per_decision | select(. != null)] | med) as $cs
	 | "| \(.[0].path | title) | \(.[0].threads) | \(spreadk(.gen.decisions_per_s)) | \(
		if .[0].path == "ceiling" then "100 %" else spreadpct(
			. as $x | ($ceil["\($x.round) \($x.threads)"].decisions_per_s) as $c
			| if $c == null or $c == 0 then null else $x.gen.decisions_per_s / $c end) end
	   ) | \(spread(.gen.cpu.softirq_ns_per_decision)) | \(
		if .[0].path == "ceiling" or $cs == null then "–" else spread(
			if .gen.cpu.softirq_ns_per_decision == null then null
			else .gen.cpu.softirq_ns_per_decision - $cs end) end
	   ) | \(spread(.bpf.ns_per_run)) | \([.[] | .gen.cpu.net_rx_per_decision | select(. != null)] | med | if . == null then "–" else ((. * 100 | round) / 100 | tostring) end) | \(
		[.[] | .gen.lost] | add) of \([.[] | .gen.sent] | add) | \(spread(.gen.cpu.self_ns_per_decision)) | \(
		spread(.gen.cpu.server_ns_per_decision))\(
		if .[0].aux_ns_per_decision != null then " (+ journal Redis \(spread(.aux_ns_per_decision)))" else "" end) | \(
		[.[] | .gen.status_all | to_entries[]] | group_by(.key)
		| map("\(.[0].key) \(map(.value) | add)") | join(", ")) |"),
	"",
	"- Ratio column: each round'"'"'s figure over the ceiling'"'"'s of the same round and thread count, median (min–max) over the rounds. The softirq column beside it subtracts the ceiling'"'"'s median softirq ns/decision at that thread count: what the real program (and under ticketd its change consumer'"'"'s wake-ups) adds per decision on the same path.",
	"- Program ns/run: `run_time_ns / run_cnt` of the XDP program on `tkb1` over each run (`kernel.bpf_stats_enabled=1` for the whole suite, which itself adds two clock reads per run to every path): the part of the softirq figure that is the program itself; the rest is the veth pair (skb to XDP on `tkb1`, XDP_TX, the reply through `tkb0` into the packet socket).
- Lost frames: frames sent minus replies counted over the whole run (warm-up and a 300 ms drain included). Serving process: xdp_calib (drains the ring) or ticketd (`/proc/PID/stat` over the window); under ticketd the journal Redis is measured over the whole run.",
	"- Background load when each round started (busy share of all CPUs over one second): \([.runs[] | .background_busy_pct] | unique | map(tostring + " %") | join(", ")).",
	"- Machine: \(.machine.cpu), \(.machine.cores) cores, kernel \(.machine.kernel).",
	(if (.skipped | length) > 0 then "- Not measured: " + (.skipped | join("; ")) + "." else empty end),
	"- Commands (first round): " + ([.runs[] | select(.round == 1) | "`\(.command | sub("^[^ ]*/"; "build/") | sub("--dst-mac [^ ]+"; "--dst-mac MAC")
		| sub("--tokens [^ ]+"; "--tokens FILE") | sub("--server-pid [0-9]+"; "--server-pid PID")
		| sub("--event [0-9]+"; "--event E"))`"] | unique | join("; ")) + "."
	' "$1"
}
if [ "${1:-}" = --render ]; then
	[ -s "${2:-}" ] || { echo "usage: $0 --render RESULT.json" >&2; exit 2; }
	render "$2"
	exit 0
fi
# shellcheck source=bench/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

QUICK=${BENCH_QUICK:-0}
RESULTS_DIR=${BENCH_RESULTS_DIR:-bench/results}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${WIRE_ROUNDS:-1} SECS=${WIRE_SECS:-1} WARMUP=${WIRE_WARMUP:-0.2}
	THREADS_LIST=${WIRE_THREADS:-$(nproc)} USE_TICKETD=${WIRE_TICKETD:-0}
else
	ROUNDS=${WIRE_ROUNDS:-5} SECS=${WIRE_SECS:-3} WARMUP=${WIRE_WARMUP:-0.5}
	THREADS_LIST=${WIRE_THREADS:-1 $(nproc)} USE_TICKETD=${WIRE_TICKETD:-1}
fi
SLOTS=${WIRE_SLOTS:-128}
SEATS=${WIRE_SEATS:-0-16383}
MIX=${WIRE_MIX:-hold,release}
HOLD_SECS=${WIRE_HOLD_SECS:-5}
OUT=${WIRE_OUT:-$RESULTS_DIR/wire.json}
MD=${WIRE_MD:-$RESULTS_DIR/wire.md}
LOCK_WAIT=${BENCH_LOCK_WAIT:-900}
EVENT=1

int_in "$ROUNDS" 1 20 || die "WIRE_ROUNDS must be 1..20"
int_in "$SECS" 1 30 || die "WIRE_SECS must be 1..30"
int_in "$SLOTS" 1 4096 || die "WIRE_SLOTS must be 1..4096"
[[ $SEATS =~ ^[0-9]+-[0-9]+$ ]] || die "WIRE_SEATS must be A-B"
MAX_T=1
for t in $THREADS_LIST; do
	int_in "$t" 1 16 || die "WIRE_THREADS: $t"
	if [ "$t" -gt "$MAX_T" ]; then MAX_T=$t; fi
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP, packet sockets)"
for tool in jq ip bpftool; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
PKT_GEN=$BUILD/pkt_gen
XDP_CALIB=$BUILD/xdp_calib
TRIVIAL_OBJ=$BUILD/bench/xdp_trivial.bpf.o
FULL_OBJ=$BUILD/bpf/seat_hold.bpf.o
for f in "$PKT_GEN" "$XDP_CALIB" "$TRIVIAL_OBJ"; do
	[ -e "$f" ] || die "$f missing: run make first"
done

take_lock
export TKB_LOCK_HELD=1
WORK=$(mktemp -d /tmp/tkwire.XXXXXX)
mkdir -p "$RESULTS_DIR"
TKB_BUILD=$BUILD
# shellcheck source=bench/netns.sh
source bench/netns.sh
# what the ticketd hook sizes its sessions and event by
WINDOW=$(((SLOTS + MAX_T - 1) / MAX_T))
DRIVER_PID=
HOOK_UP=
NETNS_UP=
STATS_BEFORE=

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$HOOK_UP" ]; then bench_xdp_full_stop; fi
	if declare -F tkd_services_down >/dev/null; then tkd_services_down; fi
	stop_pid "$DRIVER_PID" "xdp_calib (pid $DRIVER_PID)" 50
	if [ -n "$NETNS_UP" ]; then
		tkb_detach
		tkb_netns_down
	fi
	if [ -n "$STATS_BEFORE" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_BEFORE" >/dev/null
	fi
	rm -rf "$WORK"
	release_lock
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# CPU seconds (user + sys) of a pid, in ns; 0 when gone.
pid_cpu_ns() {
	local ticks
	ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null) || ticks=0
	echo $((${ticks:-0} * 1000000000 / $(getconf CLK_TCK)))
}

# run_time_ns and run_cnt of the XDP program on tkb1 (bpf_stats), or null.
prog_stats() {
	local id
	id=$(ip -j -n "$TKB_NS" link show "$TKB_NS_IF" 2>/dev/null | jq -r '.[0].xdp.prog.id // empty')
	if [ -z "$id" ]; then
		echo null
		return
	fi
	bpftool prog show id "$id" -j 2>/dev/null |
		jq -c '{run_time_ns: (.run_time_ns // 0), run_cnt: (.run_cnt // 0)}' || echo null
}

# One measurement. Args: path round threads background tokens-file
# server-pid aux-pid. Appends a line to $WORK/runs.jsonl.
measure() {
	local path=$1 r=$2 t=$3 bg=$4 tokens=$5 spid=$6 apid=$7 mac out a0=0 a1=0
	local cmd b0 b1
	mac=$(ip netns exec "$TKB_NS" cat "/sys/class/net/$TKB_NS_IF/address")
	cmd=("$PKT_GEN" --iface "$TKB_HOST_IF" --dst-mac "$mac" --src-ip "$TKB_HOST_IP"
		--dst-ip "$TKB_NS_IP" --dst-port 7000 --threads "$t" --slots "$SLOTS"
		--duration "$SECS" --warmup "$WARMUP" --event "$EVENT" --seats "$SEATS"
		--mix "$MIX" --hold-secs "$HOLD_SECS")
	if [ -n "$tokens" ]; then cmd+=(--tokens "$tokens"); fi
	if [ -n "$spid" ]; then cmd+=(--server-pid "$spid"); fi
	out=$WORK/$path.$r.$t.json
	if [ -n "$apid" ]; then a0=$(pid_cpu_ns "$apid"); fi
	b0=$(prog_stats)
	if ! timeout $((SECS + 30)) "${cmd[@]}" >"$out" 2>"$out.err"; then
		log "$path t$t round $r: pkt_gen failed: $(tail -n 2 "$out.err" | tr '\n' ' ')"
		[ -s "$out" ] || return 0
	fi
	if [ -n "$apid" ]; then a1=$(pid_cpu_ns "$apid"); fi
	b1=$(prog_stats)
	jq -c --argjson b0 "$b0" --argjson b1 "$b1" --arg path "$path" --argjson r "$r" --argjson t "$t" --argjson bg "$bg" \
		--arg cmd "${cmd[*]}" --argjson aux "$((a1 - a0))" --arg apid "$apid" '
		{path: $path, round: $r, threads: $t, background_busy_pct: $bg,
		 command: $cmd, gen: .,
		 aux_ns_per_decision: (if $apid == "" or .received == 0 then null
			else $aux / .received end),
		 bpf: (if $b0 == null or $b1 == null or ($b1.run_cnt - $b0.run_cnt) <= 0 then null
		       else {run_cnt: ($b1.run_cnt - $b0.run_cnt),
			     ns_per_run: (($b1.run_time_ns - $b0.run_time_ns) /
					  ($b1.run_cnt - $b0.run_cnt))} end)}' "$out" >>"$WORK/runs.jsonl"
	log "$(jq -r --arg p "$path" --argjson r "$r" '"\($p) t\(.threads) round \($r): \(.decisions_per_s) decisions/s, softirq \(.cpu.softirq_ns_per_decision) ns/decision, lost \(.lost), statuses \(.status | tostring)"' "$out")"
}

ceiling_round() { # round bg
	local t
	tkb_attach "$TRIVIAL_OBJ" xdp_trivial >/dev/null || die "cannot attach the trivial program"
	for t in $THREADS_LIST; do measure ceiling "$1" "$t" "$2" "" "" ""; done
	tkb_detach
}

KEY=$(od -An -N16 -tx8 /dev/urandom | awk '{print $1 "," $2}')
prog_round() { # round bg
	local t id
	rm -f "$WORK/driver.out" "$WORK/tokens"
	"$XDP_CALIB" --attach --netns "$TKB_NS" --iface "$TKB_NS_IF" --obj "$FULL_OBJ" \
		--prog xdp_seat_hold --edge-config 7000 \
		--edge-event "$EVENT:$((${SEATS#*-} + 1))" --mint "$KEY" --slots "1-$SLOTS" \
		--tokens-out "$WORK/tokens" --serve $(((SECS + 5) * 4 + 60)) \
		>"$WORK/driver.out" 2>"$WORK/driver.err" &
	DRIVER_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$WORK/driver.out" ] && break
		kill -0 "$DRIVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	id=$(head -n 1 "$WORK/driver.out" 2>/dev/null | jq -r '.prog_id // empty' 2>/dev/null || true)
	if [ -z "$id" ] || [ ! -s "$WORK/tokens" ]; then
		log "xdp_calib could not set up $FULL_OBJ: $(tail -n 2 "$WORK/driver.err" | tr '\n' ' ')"
	else
		for t in $THREADS_LIST; do
			measure xdp_prog "$1" "$t" "$2" "$WORK/tokens" "$DRIVER_PID" ""
		done
	fi
	stop_pid "$DRIVER_PID" "xdp_calib (pid $DRIVER_PID)" 50
	DRIVER_PID=
	tkb_detach
}

full_round() { # round bg
	local t redis
	# shellcheck source=bench/hooks/xdp_full.sh
	source bench/hooks/xdp_full.sh
	HOOK_UP=1
	if ! bench_xdp_full_start; then
		log "xdp_full round $1 left out: the hook could not start ticketd"
		bench_xdp_full_stop || true
		HOOK_UP=
		return 1
	fi
	redis=${TKB_AUX_PIDS#*:}
	for t in $THREADS_LIST; do
		EVENT=$TKB_EVENT measure xdp_full "$1" "$t" "$2" "$TKB_TOKENS" \
			"$TKB_SERVER_PID" "$redis"
	done
	bench_xdp_full_stop || true
	HOOK_UP=
}

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$(date +%s)
log "$ROUNDS rounds, ${SECS}s flat out per measurement, threads: $THREADS_LIST, ticketd path: $USE_TICKETD"
tkb_netns_up
NETNS_UP=1
# the program's own time per run (bpf_stats), beside the softirq figure
STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
: >"$WORK/runs.jsonl"
skips=()
have_prog=1 have_full=$USE_TICKETD
if [ ! -f "$FULL_OBJ" ]; then
	have_prog=0 have_full=0
	skips+=("the real program: $FULL_OBJ is not built")
fi
if [ "$have_full" = 1 ] && [ ! -x "$BUILD/ticketd" ]; then
	have_full=0
	skips+=("ticketd: $BUILD/ticketd is not built")
fi
if [ "$USE_TICKETD" != 1 ]; then
	if [ "$QUICK" = 1 ]; then skips+=("the real program under ticketd: left out in the quick run (WIRE_TICKETD=0)")
	else skips+=("the real program under ticketd: left out (WIRE_TICKETD=0)"); fi
fi
full_fail=0
for r in $(seq 1 "$ROUNDS"); do
	bg=$(background_busy_pct)
	log "round $r of $ROUNDS (background load $bg %)"
	ceiling_round "$r" "$bg"
	if [ "$have_prog" = 1 ]; then prog_round "$r" "$bg"; fi
	if [ "$have_full" = 1 ]; then full_round "$r" "$bg" || full_fail=$((full_fail + 1)); fi
done
if [ "$have_full" = 1 ] && [ "$full_fail" -eq "$ROUNDS" ]; then
	skips+=("ticketd: its hook failed in every round (see the log)")
fi
FINISHED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

tree=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
git diff --quiet HEAD 2>/dev/null || tree="$tree + uncommitted changes"
jq -s --arg started "$STARTED" --arg finished "$FINISHED" --argjson rounds "$ROUNDS" \
	--argjson secs "$SECS" --arg warmup "$WARMUP" --arg threads "$THREADS_LIST" \
	--argjson slots "$SLOTS" --arg seats "$SEATS" --arg mix "$MIX" \
	--argjson quick "$QUICK" --arg tree "$tree" \
	--argjson machine "$(bench_machine_json cores)" \
	--argjson skips "$(printf '%s\n' "${skips[@]+"${skips[@]}"}" | jq -R . | jq -s 'map(select(. != ""))')" \
	'{started: $started, finished: $finished, rounds: $rounds, secs: $secs,
	  warmup_s: ($warmup | tonumber), threads: $threads, slots: $slots,
	  seats: $seats, mix: $mix, quick: ($quick == 1), tree: $tree,
	  machine: $machine, skipped: $skips, runs: .}' "$WORK/runs.jsonl" >"$OUT"
log "wrote $OUT"
render "$OUT" >"$MD.tmp"
mv "$MD.tmp" "$MD"
log "wrote $MD ($(($(date +%s) - T0))s)"
# the smoke run fails when a path it ran gave no answer at all
if ! jq -e '[.runs[] | select(.gen.received_measured > 0)] | length > 0' "$OUT" >/dev/null; then
	die "no replies counted in any measurement"
fi
bad=$(jq -r '[.runs[] | select(.gen.received_measured == 0 or .gen.error != null) | "\(.path) t\(.threads) round \(.round)"] | join(", ")' "$OUT")
[ -z "$bad" ] || die "measurements without replies or with errors: $bad"
