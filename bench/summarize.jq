# Turns the raw repetitions of one bench/run_bench.sh run into the result
# file bench/results/<name>.json: medians, spreads (min-max) and ratios
# against the ceiling and against Redis + Lua measured in the same run.
#
# Input (jq -s): [series, prog_test_runs, skipped, machine, daemon]
#   series: [{id, title, path, threads, window, serving_cpu, command,
#             reps: [{rep, background_busy_pct, load: <udp_load json>,
#             bpf: {run_cnt, run_time_ns, ns_per_run} | null,
#             aux: {name: {cpu_ns, ns_per_decision}}}]}]
#   prog_test_runs: [{id, obj, prog, command, reps: [<xdp_calib json>]}]
#   daemon: {path: [what ticketd counted in each round]} (may be absent)
# Arguments: name started finished reps secs warmup window batch seats event
#            mix threads test_runs

def med:
  sort
  | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# median, min, max of f over the repetitions (nulls left out)
def spread(f):
  [.[] | f | select(. != null)]
  | if length == 0 then null
    else {median: med, min: min, max: max, n: length} end;

# the serving cost per decision: for XDP the softirq time of all CPUs plus
# the ring-buffer consumer's process when there is one; otherwise the
# server process's CPU time
def serving(kind):
  if kind == "xdp" then
    (.load.host_cpu.softirq_ns_per_decision // null) as $soft
    | if $soft == null then null
      else $soft + (.load.host_cpu.server_ns_per_decision // 0) end
  else .load.host_cpu.server_ns_per_decision end;

def ratio(a; b):
  if a == null or b == null or b == 0 then null else a / b end;

# Rate ratios round by round: the paths of one round ran back to back, so
# pairing them cancels most of what other work on the machine does to both.
def paired($xs; $ys):
  if $xs == null or $ys == null then null
  else [$xs[] as $x
        | ($ys[] | select(.rep == $x.rep)) as $y
        | select(($y.load.decisions_per_s // 0) > 0)
        | $x.load.decisions_per_s / $y.load.decisions_per_s]
       | if length == 0 then null
         else {median: med, min: min, max: max, n: length, values: .} end
  end;

# Ratio x/y of f round by round (f evaluated on each path's repetition).
def paired_by($xs; $ys; fx; fy):
  if $xs == null or $ys == null then null
  else [$xs[] as $x
        | ($ys[] | select(.rep == $x.rep)) as $y
        | ($x | fx) as $a | ($y | fy) as $b
        | select($a != null and $b != null and $b > 0)
        | $a / $b]
       | if length == 0 then null
         else {median: med, min: min, max: max, n: length, values: .} end
  end;

.[0] as $series | .[1] as $ptrs | .[2] as $skips | .[3] as $machine
| (.[4] // {}) as $daemon
| ($series
   | map(. as $s
     | . + {summary: (.reps | {
         decisions_per_s: spread(.load.decisions_per_s),
         latency_p50_us: spread(.load.latency_us.p50),
         latency_p90_us: spread(.load.latency_us.p90),
         latency_p99_us: spread(.load.latency_us.p99),
         latency_p999_us: spread(.load.latency_us.p999),
         latency_max_us: spread(.load.latency_us.max),
         serving_cpu_ns_per_decision: spread(serving($s.serving_cpu)),
         softirq_ns_per_decision: spread(.load.host_cpu.softirq_ns_per_decision),
         server_ns_per_decision: spread(.load.host_cpu.server_ns_per_decision),
         host_busy_ns_per_decision: spread(.load.host_cpu.busy_ns_per_decision),
         client_ns_per_decision: spread(.load.cpu.client_ns_per_decision),
         background_busy_pct: spread(.background_busy_pct),
         bpf_ns_per_run: spread(.bpf.ns_per_run),
         journal_redis_ns_per_decision: spread(.aux.journal_redis.ns_per_decision),
         sent: (map(.load.sent) | add),
         received: (map(.load.received) | add),
         timeouts: (map(.load.timeouts) | add),
         invalid: (map(.load.invalid) | add),
         status: ([.[].load.status | to_entries[]]
                  | group_by(.key)
                  | map({key: .[0].key, value: (map(.value) | add)})
                  | from_entries)
       })})
   | sort_by((.window == 1),
             ({xdp_trivial: 0, xdp_prog: 1, xdp_full: 2, socket_door: 3, redis_lua: 4}[.path] // 9),
             .threads)) as $S
| ($S | map({key: .id, value: .summary}) | from_entries) as $by
| ($S | map({key: .id, value: .reps}) | from_entries) as $reps_by
| ($S | map({key: .id, value: .serving_cpu}) | from_entries) as $kind_by
| {
    name: $name,
    started: $started,
    finished: $finished,
    command: "make bench (bench/run_bench.sh)",
    machine: $machine,
    config: {reps: $reps, secs: $secs, warmup_s: ($warmup | tonumber),
             window: $window, batch: $batch, seats: $seats, event: $event,
             mix: $mix, threads: ($threads | split(" ") | map(select(. != "") | tonumber)),
             test_runs: $test_runs},
    series: $S,
    ratios: [$S[]
      | . as $s
      # the same load shape on the reference paths: ..._t1, ..._t2, ..._rtt
      | (.id | sub("^.*_"; "")) as $shape
      | ($by["ceiling_\($shape)"]) as $c
      | ($by["redis_\($shape)"]) as $r
      | {id, path, threads,
         rate_vs_ceiling: ratio($s.summary.decisions_per_s.median; $c.decisions_per_s.median),
         rate_vs_redis: ratio($s.summary.decisions_per_s.median; $r.decisions_per_s.median),
         rate_vs_ceiling_paired: paired($s.reps; $reps_by["ceiling_\($shape)"]),
         rate_vs_redis_paired: paired($s.reps; $reps_by["redis_\($shape)"]),
         serving_cpu_vs_redis_paired: paired_by($s.reps; $reps_by["redis_\($shape)"];
                                                serving($s.serving_cpu); serving("process")),
         p50_vs_redis: ratio($s.summary.latency_p50_us.median; $r.latency_p50_us.median),
         p99_vs_redis: ratio($s.summary.latency_p99_us.median; $r.latency_p99_us.median),
         serving_cpu_vs_redis: ratio($s.summary.serving_cpu_ns_per_decision.median;
                                     $r.serving_cpu_ns_per_decision.median),
         host_cpu_vs_redis: ratio($s.summary.host_busy_ns_per_decision.median;
                                  $r.host_busy_ns_per_decision.median)}],
    prog_test_run: ($ptrs | sort_by(.id != "prog_test_run_trivial", .id)
                          | map(. + {summary: (.reps | {
        ns_per_run_median: spread(.ns_per_run.median),
        ns_per_run_mean: spread(.ns_per_run.mean),
        empty_prog_ns_per_run_median: spread(.empty_prog_ns_per_run.median),
        net_ns_per_run_median: spread(.net_ns_per_run.median),
        net_ns_per_run_mean: spread(.net_ns_per_run.mean),
        bpf_stats_ns_per_run: spread(.bpf_stats.ns_per_run),
        actions: ([.[].actions | to_entries[]] | group_by(.key)
                  | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
        status: ([.[].status | to_entries[]] | group_by(.key)
                 | map({key: .[0].key, value: (map(.value) | add)}) | from_entries)
      })})),
    skipped: $skips,
    daemon: $daemon
  }
# The issue's targets for the full XDP path, each as the median over the
# rounds against its bound (verdict), with the spread and how many rounds
# met the bound on their own. Shapes: t2 = 2 client threads (the ceiling's
# shape), t1 = 1 client thread, rtt = one request in flight.
| . as $o
| ($o.ratios | map({key: .id, value: .}) | from_entries) as $q
| ([$o.prog_test_run[] | select(.id == "prog_test_run_full")][0]) as $ptr
| def verdict($v; $bound; $dir):
    if $v == null then {measured: false, met: null, bound: $bound, direction: $dir}
    else ($v.values // []) as $vals
    | {measured: true, bound: $bound, direction: $dir,
       median: $v.median, min: $v.min, max: $v.max, n: $v.n,
       met: (if $dir == "ge" then $v.median >= $bound else $v.median < $bound end),
       rounds_met: ([$vals[] | select(if $dir == "ge" then . >= $bound else . < $bound end)] | length)}
    end;
  $o + {targets: [
    ({id: "xdp_full_vs_ceiling", shape: "t2", series: "xdp_full_t2",
      target: "full XDP path >= 90 % of the ceiling (2 client threads)",
      measured_as: "decisions/s of xdp_full_t2 / ceiling_t2, round by round"}
     + verdict($q.xdp_full_t2.rate_vs_ceiling_paired; 0.9; "ge")),
    ({id: "xdp_full_vs_redis", shape: "t2", series: "xdp_full_t2",
      target: "full XDP path >= 3.5x Redis + Lua end to end",
      measured_as: "decisions/s of xdp_full_t2 / redis_t2 (2 client threads, 64 in flight each), round by round"}
     + verdict($q.xdp_full_t2.rate_vs_redis_paired; 3.5; "ge")),
    ({id: "xdp_full_vs_redis_t1", shape: "t1", series: "xdp_full_t1",
      target: "full XDP path >= 3.5x Redis + Lua end to end (1 client thread)",
      measured_as: "decisions/s of xdp_full_t1 / redis_t1, round by round"}
     + verdict($q.xdp_full_t1.rate_vs_redis_paired; 3.5; "ge")),
    ({id: "xdp_full_vs_redis_rtt", shape: "rtt", series: "xdp_full_rtt",
      target: "full XDP path >= 3.5x Redis + Lua end to end (one request in flight)",
      measured_as: "decisions/s of xdp_full_rtt / redis_rtt, round by round"}
     + verdict($q.xdp_full_rtt.rate_vs_redis_paired; 3.5; "ge")),
    ({id: "prog_alone", shape: null, series: "prog_test_run_full",
      target: "program alone (bpf_prog_test_run_opts) > 10 M decisions/s per core, i.e. < 100 ns per decision",
      measured_as: "net ns/run of prog_test_run_full (program minus empty program), median of each repetition"}
     + verdict(if $ptr == null then null
               else ($ptr.summary.net_ns_per_run_median
                     + {values: [$ptr.reps[].net_ns_per_run.median | select(. != null)]}) end;
               100; "lt")),
    ({id: "serving_cpu_vs_redis", shape: "t2", series: "xdp_full_t2",
      target: "serving CPU per decision >= 20x below Redis + Lua's",
      measured_as: "serving ns/decision of redis_t2 (redis-server) / xdp_full_t2 (softirq of all CPUs + ticketd), round by round"}
     + verdict(paired_by($reps_by.redis_t2; $reps_by.xdp_full_t2; serving("process"); serving("xdp")); 20; "ge")),
    ({id: "serving_cpu_vs_redis_t1", shape: "t1", series: "xdp_full_t1",
      target: "serving CPU per decision >= 20x below Redis + Lua's (1 client thread)",
      measured_as: "serving ns/decision of redis_t1 / xdp_full_t1, round by round"}
     + verdict(paired_by($reps_by.redis_t1; $reps_by.xdp_full_t1; serving("process"); serving("xdp")); 20; "ge"))
  ]}
