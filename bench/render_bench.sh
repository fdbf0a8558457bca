#!/usr/bin/env bash
# Renders one UDP bench result file (bench/results/<name>.json, written by
# bench/run_bench.sh) as the UDP section of BENCHMARKS.md, on stdout;
# bench/render_all.sh puts it under the file's header with the other
# benchmarks' sections.
#   bash bench/render_bench.sh bench/results/<name>.json > bench/results/udp.md
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 RESULT.json" >&2
	exit 2
fi
if [ ! -f "$1" ]; then
	echo "render_bench: $1 missing: raw results are not kept in git (bash bench/run_bench.sh writes them); bench/results/udp.md keeps the last rendered section" >&2
	exit 1
fi

jq -r --arg file "$1" '
def r0: if . == null then "–" else (. * 1 | round | tostring) end;
def r1: if . == null then "–" else ((. * 10 | round) / 10 | tostring) end;
def r2: if . == null then "–" else ((. * 100 | round) / 100 | tostring) end;
def k: if . == null then "–" elif . >= 1000 then ((. / 100 | round) / 10 | tostring) + "k" else (round | tostring) end;
def pct: if . == null then "–" else ((. * 1000 | round) / 10 | tostring) + " %" end;
def x: if . == null then "–" else (r2 + "×") end;
def sp(f): if . == null then "–" else "\(.median | f) (\(.min | f)–\(.max | f))" end;
def statuses: if . == null or . == {} then "–" else (to_entries | map("\(.key) \(.value)") | join(", ")) end;
# (parameter names must not shadow builtins: jq binds $top as filter top too)
def bar($val; $top): if $val == null or $top == null or $top == 0 then ""
  else ("█" * ([1, ($val / $top * 40 | round)] | max)) end;
# the CPU of ticketd alone (its process, all threads, over the measured window)
# and that plus its Redis journal, per decision, round by round, for the
# paths of the daemon
def med: sort | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2]
  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def spread_of: if length == 0 then null else {median: med, min: min, max: max, n: length} end;
def is_daemon: .path == "xdp_full" or .path == "socket_door";
def daemon_ns: .load.host_cpu.server_ns_per_decision // null;
def daemon_redis_ns: if daemon_ns == null or (.aux.journal_redis.ns_per_decision // null) == null
  then null else daemon_ns + .aux.journal_redis.ns_per_decision end;
def ticketd_sp: if is_daemon then ([.reps[] | daemon_ns | select(. != null)] | spread_of) else null end;
def ticketd_redis_sp: if is_daemon then ([.reps[] | daemon_redis_ns | select(. != null)] | spread_of) else null end;
def cpu_what:
  if .path == "xdp_trivial" then "softirq, all CPUs"
  elif .path == "xdp_prog" then "softirq, all CPUs + xdp_calib (ring consumer)"
  elif .path == "xdp_full" then "softirq, all CPUs + ticketd (all its threads)"
  elif .path == "socket_door" then "ticketd process (user+sys)"
  elif .path == "redis_lua" then "redis-server process (user+sys)"
  elif .serving_cpu == "xdp" then "softirq, all CPUs + ring consumer process"
  else "server process (user+sys)" end;
# the round count (older result files carried the rounds object by mistake)
def nrounds: if type == "number" then . elif type == "object" then ([.[] | length] | max) else "?" end;
def verdict: if .measured != true then "not measured"
  elif .met then "**met**" else "**missed**" end;
def tfig:
  if .measured != true then "–"
  elif .id == "xdp_full_vs_ceiling" then "\(. | sp(pct)) of the ceiling"
  elif (.id | startswith("xdp_full_vs_redis")) then "\(. | sp(x)) Redis + Lua"
  elif .id == "prog_alone" then "\(.median | r0) ns (\(.min | r0)–\(.max | r0)) = \(1000 / .median | r1) M decisions/s per core"
  elif (.id | startswith("serving_cpu")) then "Redis + Lua ÷ full XDP path: \(. | sp(x))\(if .median < 1 then " (the full XDP path costs \(1 / .median | r2)× as much as Redis + Lua)" else "" end)"
  else (. | sp(r2)) end;

. as $R
| ($R.ratios | map({key: .id, value: .}) | from_entries) as $ratio
| ($R.series | map({key: .id, value: .}) | from_entries) as $ser
| ($R.prog_test_run | map({key: .id, value: .}) | from_entries) as $ptr
| ([$R.series[].summary.decisions_per_s.median // 0] | max) as $maxrate
| ($R.config.reps | nrounds) as $rounds
| "## UDP hold path",
  "",
  "`make bench` runs `bench/run_bench.sh` for this section (rendered by `bench/render_bench.sh` from `\($file)`). Run `\($R.name)`, \($R.started) to \($R.finished) (UTC), on \($R.machine.cpu), \($R.machine.cores) cores, kernel \($R.machine.kernel), Redis \($R.machine.redis)\(if ($R.machine.build // "") != "" then "; measured build: \($R.machine.build)" else "" end).",
  "",
  "- Workload: closed loop, \($R.config.window) requests in flight per client thread (sendmmsg/recvmmsg batches of \($R.config.batch), or a hiredis pipeline as deep), op cycle `\($R.config.mix)` per seat on rotating seats \($R.config.seats) of one event (event \($R.config.event) of the bench'"'"'s own tables for the paths without ticketd, ticketd'"'"'s 128 x 128 bench event for its paths), one session token per request slot",
  "- Each figure: \($rounds) rounds of \($R.config.secs) s (after \($R.config.warmup_s) s warm-up); every round measures all paths back to back (ceiling, xdp_prog, xdp_full, socket_door, redis; ticketd is started from a fresh state for each of its paths and stopped after it); shown as median (min–max) over the rounds. Ratios are taken round by round against the ceiling and against Redis + Lua of the same round.",
  "",
  "### Targets",
  "",
  "The issue'"'"'s targets for the full XDP path (`xdp_full`: ticketd with `--hold-path xdp`, its program attached by ticketd itself). The verdict is on the median over the rounds; the spread and the rounds that met the bound on their own are given beside it.",
  "",
  "| target | measured as | figure: median (min–max) | rounds meeting it | verdict |",
  "|---|---|---|---|---|",
  ($R.targets // [] | .[]
   | "| \(.target) | \(.measured_as) | \(tfig) | \(if .measured == true then "\(.rounds_met) of \(.n)" else "–" end) | \(verdict) |"),
  (($ser.xdp_full_t2 // null) as $f
   | if $f == null then empty else
     ([$f.reps[] | daemon_redis_ns | select(. != null)]) as $v
     | ($v | spread_of) as $d
     | "| ticketd + its Redis <= 0.5 µs CPU per decision (2 client threads) | CPU time (user + sys) of ticketd (measured window) + its Redis (journal; whole run, warm-up included) per decision of xdp_full_t2, round by round | \(if $d == null then "–" else "\($d | sp(r0)) ns" end) | \(if $d == null then "–" else "\([$v[] | select(. <= 500)] | length) of \($v | length)" end) | \(if $d == null then "not measured" elif $d.median <= 500 then "**met**" else "**missed**" end) |" end),
  "",
  (if ($R.targets // []) | length == 0 then "(This result file has no targets: it predates them.)", "" else empty end),
  (($ser.xdp_full_t2.summary // null) as $f
   | if $f == null then empty else
     "Serving CPU above is what the brief defines: softirq time of all CPUs plus ticketd'"'"'s process. ticketd also writes every seat change to its Redis (the journal, asynchronous, off the request path); that Redis used \($f.journal_redis_ns_per_decision | sp(r0)) ns per decision in `xdp_full_t2` (\($ser.socket_door_t2.summary.journal_redis_ns_per_decision // null | sp(r0)) in `socket_door_t2`), not counted in the serving figures; see the CPU table.",
     "" end),
  "### Decisions per second, end to end",
  "",
  "One decision = one valid reply matched to its request. The ceiling is the trivial XDP program (parse, one CAS, 32-byte reply, XDP_TX): no UDP path can answer faster on this machine, because the client sockets are the bottleneck. The socket door is reached over loopback, the XDP paths over the veth pair. In the closed loop the latency is mostly queueing (requests in flight / rate); the rows with one request in flight give the unloaded round trip.",
  "",
  "| series | path | client threads | in flight per thread | decisions/s | vs ceiling | vs Redis + Lua | p50 µs | p99 µs | p99.9 µs | timeouts | replies |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($R.series[]
   | . as $s | $ratio[$s.id] as $q
   | "| `\(.id)` | \(.title) | \(.threads) | \(.window) | \(.summary.decisions_per_s | sp(k)) | \(if .path == "xdp_trivial" then "reference" else ($q.rate_vs_ceiling_paired | sp(pct)) end) | \(if .path == "redis_lua" then "reference" else ($q.rate_vs_redis_paired | sp(x)) end) | \(.summary.latency_p50_us | sp(r0)) | \(.summary.latency_p99_us | sp(r0)) | \(.summary.latency_p999_us | sp(r0)) | \(.summary.timeouts) | \(.summary.status | statuses) |"),
  "",
  "```text",
  ($R.series[] | "\(.id | . + " " * ([0, 16 - length] | max)) \(bar(.summary.decisions_per_s.median; $maxrate)) \(.summary.decisions_per_s.median | k)/s"),
  "```",
  "",
  "### Serving CPU per decision",
  "",
  "What serving one decision costs in CPU time, over the measured window. XDP has no server process of its own: its cost is the softirq time of all CPUs (veth driver, the XDP program, XDP_TX, and the kernel taking the reply into the client socket), plus the process that drains the program'"'"'s ring buffer (xdp_calib without the daemon, ticketd under it); an upper bound, since the client'"'"'s receive work is in it too. The BPF program alone (kernel bpf_stats, which adds about two clock reads per run) is the lower bound. The socket door and Redis are their server process (user + sys, which includes the network work done in their system calls). ticketd'"'"'s Redis (journal) is ticketd'"'"'s own Redis taking the journal of seat changes, over the whole load run (warm-up included) per decision; it is not in the serving column. The ticketd columns are ticketd'"'"'s process alone (all its threads: the ring consumer, the seat stream, the journal writer, the doors) and that plus its Redis, per decision, round by round (daemon paths only). The whole machine column counts everything, the load generator included. The last column is the ratio of serving ns/decision to Redis + Lua'"'"'s, round by round (below 1: cheaper than Redis + Lua).",
  "",
  "| series | path | client threads | serving ns/decision | counted as | BPF program ns/run | softirq ns/decision | ticketd ns/decision | ticketd'"'"'s Redis (journal) ns/decision | ticketd + its Redis ns/decision | whole machine ns/decision | load generator ns/decision | serving vs Redis + Lua |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($R.series[]
   | $ratio[.id] as $q
   | "| `\(.id)` | \(.path) | \(.threads) | \(.summary.serving_cpu_ns_per_decision | sp(r0)) | \(cpu_what) | \(.summary.bpf_ns_per_run | sp(r0)) | \(.summary.softirq_ns_per_decision | sp(r0)) | \(ticketd_sp | sp(r0)) | \(.summary.journal_redis_ns_per_decision // null | sp(r0)) | \(ticketd_redis_sp | sp(r0)) | \(.summary.host_busy_ns_per_decision | sp(r0)) | \(.summary.client_ns_per_decision | sp(r0)) | \(if .path == "redis_lua" then "reference" elif $q.serving_cpu_vs_redis_paired != null then ($q.serving_cpu_vs_redis_paired | sp(x)) else ($q.serving_cpu_vs_redis | x) end) |"),
  "",
  (if ($R.daemon // {}) | length > 0 then
     "### What ticketd counted",
     "",
     "From ticketd'"'"'s `/metrics` at the end of each round of its paths (three load runs per round, warm-ups included): UDP answers by door, requests it dropped, and the Redis journal'"'"'s entries written and dropped (the journal queue holds 65536 entries; what does not fit is dropped and counted, and a fresh node rebuilding from Redis would not see those holds).",
     "",
     "| path | rounds | UDP answers (XDP) | UDP answers (userspace) | UDP dropped | journal written | journal dropped | journal dropped share |",
     "|---|---|---|---|---|---|---|---|",
     ($R.daemon | to_entries[] | .key as $p | .value as $v
      | ([$v[].journal_written] | add) as $w | ([$v[].journal_dropped] | add) as $d
      | "| `\($p)` | \($v | length) | \([$v[].udp_answered_xdp] | add) | \([$v[].udp_answered_userspace] | add) | \([$v[].udp_dropped] | add) | \($w) | \($d) | \(if ($w + $d) > 0 then ($d / ($w + $d) | pct) else "–" end) |"),
     ""
   else empty end),
  "### Cost of one program run (bpf_prog_test_run_opts)",
  "",
  "One test run per packet (repeat 1: an XDP test run keeps the rewritten packet between repeats, so a second repeat would see the reply), packets rotating over hold/release of the seats, interleaved with an empty program (`return XDP_PASS`) whose time is the harness overhead. Net = program minus empty program. The full program here is set up by xdp_calib as ticketd would (1024 sessions, 4 an origin in `slot_origin` so the origin'"'"'s hold count runs too, and the per-source rate limit on at a rate that never refuses: every check runs; `prog_test_run_full_no_origins` is the same without origins, the set-up the figure had before).",
  "",
  "| series | program | object | runs × reps | ns/run | empty program ns/run | net ns/run | kernel bpf_stats ns/run | XDP actions | reply statuses |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ($R.prog_test_run[]
   | "| `\(.id)` | `\(.prog)` | `\(.obj)` | \($R.config.test_runs) × \(.reps | length) | \(.summary.ns_per_run_median | sp(r0)) | \(.summary.empty_prog_ns_per_run_median | sp(r0)) | \(.summary.net_ns_per_run_median | sp(r0)) | \(.summary.bpf_stats_ns_per_run | sp(r1)) | \(.summary.actions | statuses) | \(.summary.status | statuses) |"),
  "",
  (if ($R.skipped | length) > 0 then
     "### Not measured in this run", "",
     ($R.skipped[] | "- `\(.id)`: \(.reason)"), ""
   else empty end),
  "### Background load",
  "",
  "Busy share of all CPUs during the second before each round, with nothing of the benchmark running: \($R.series[0].summary.background_busy_pct | sp(r1)) % (median, min–max over the rounds). Other work on the machine skews every figure; that is why the paths are measured interleaved, round by round, and compared only within this run.",
  "",
  "### Commands",
  "",
  "Every figure above comes from one of these commands, run as root by `make bench` on the machine above (`<tokens>` files are minted per run; ticketd'"'"'s back ends are Redis, MariaDB and Kafka of `infra/services.sh` under `/tmp/tkbench-svc` on private ports, see `bench/hooks/ticketd_common.sh`):",
  "",
  ($R.series[] | "- `\(.id)`: `\(.command | gsub("/tmp/tkbench\\.[A-Za-z0-9]+/[A-Za-z0-9_.-]*tokens"; "<tokens>") | gsub("--server-pid [0-9]+"; "--server-pid <pid>"))`\(if (.server_command // "") != "" then " against `\(.server_command | gsub("/tmp/tkbench\\.[A-Za-z0-9]+/tokens"; "<tokens>"))`" else "" end)"),
  ($R.prog_test_run[] | "- `\(.id)`: `\(.command)`"),
  "",
  "The XDP paths run against `10.79.0.2:7000` on a veth pair whose inner end lives in the throwaway network namespace `tkbench` (`bench/netns.sh`); the host-side end runs an XDP_PASS program so XDP_TX frames are accepted (ticketd attaches its own there, `--xdp-peer-iface`). The socket door listens on `127.0.0.1:17300`. Redis runs over TCP on loopback, started and stopped by the script; its holder is the session token and its sold check a set of the event (`bench/redis_hold.lua`, `bench/redis_release.lua`). Seat ids, the op cycle and one token per request slot are the same for every path. Raw results: `\($file)` (on the machine that ran it: raw results are not kept in git)."
' "$1"
