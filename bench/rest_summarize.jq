# Turns the raw repetitions of one bench/rest_bench.sh run into
# bench/results/rest_hold.json: per-repetition figures, their median and
# spread (min-max), ratios against the Redis + Lua baseline of the same run
# (of the medians, and the median of the per-repetition ratios: repetition r
# of REST and of Redis ran back to back), the targets and the audits.
# Latencies are microseconds.

def med:
  sort
  | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;

def spread(f):
  [.[] | f | select(. != null)]
  | if length == 0 then null
    else {median: med, min: min, max: max, n: length} end;

def ratio(a; b):
  if a == null or b == null or b == 0 then null else a / b end;

def sumobj(f):
  reduce (.[] | f // {} | to_entries[]) as $e ({}; .[$e.key] += $e.value);

def load_summary:
  {
    requests_per_s: spread(.requests_per_s),
    holds_per_s: spread(.holds_per_s),
    holds_granted_per_s: spread(.holds_granted_per_s),
    hold_latency_us: {
      p50: spread(.hold_latency_us.p50), p90: spread(.hold_latency_us.p90),
      p95: spread(.hold_latency_us.p95), p99: spread(.hold_latency_us.p99),
      p999: spread(.hold_latency_us.p999), max: spread(.hold_latency_us.max)},
    release_latency_us: {
      p50: spread(.release_latency_us.p50), p95: spread(.release_latency_us.p95),
      p99: spread(.release_latency_us.p99), max: spread(.release_latency_us.max)},
    all_latency_us: {
      p50: spread(.all_latency_us.p50), p95: spread(.all_latency_us.p95),
      p99: spread(.all_latency_us.p99), max: spread(.all_latency_us.max)},
    server_cpu_us_per_request: spread(.cpu.server_us_per_request),
    # ticketd plus its Redis: the hold path's asynchronous share, the
    # journal of seat changes (MariaDB and Kafka use the same CPU whether
    # ticketd serves holds or idles: see backends_cpu_s)
    serving_cpu_us_per_request_with_journal: spread(
      if .mode == "http" and .side.ticketd_backends_cpu != null and .requests > 0 then
        (.cpu.server_s + .side.ticketd_backends_cpu.redis_s) * 1e6 / .requests
      else .cpu.server_us_per_request end),
    backends_cpu_s: {redis: spread(.side.ticketd_backends_cpu.redis_s),
                     mariadb: spread(.side.ticketd_backends_cpu.mariadb_s),
                     kafka: spread(.side.ticketd_backends_cpu.kafka_s)},
    server_cpu_s: spread(.cpu.server_s),
    client_cpu_s: spread(.cpu.client_s),
    host_busy_pct: spread(.cpu.host_busy_pct),
    hold_status_total: sumobj(.hold_status),
    release_status_total: sumobj(.release_status),
    codes_total: sumobj(.codes),
    errors_total: sumobj(.errors),
    holds_unreleased_total: (map(.holds_unreleased) | add),
    in_flight_at_end_total: (map(.in_flight_at_end) | add),
    connected: spread(.connected)
  };

def wrk_summary:
  {
    requests_per_s: spread(.requests_per_s),
    holds_granted_per_s: spread(.holds_granted_per_s),
    all_latency_us: {
      p50: spread(.all_latency_us.p50), p95: spread(.all_latency_us.p95),
      p99: spread(.all_latency_us.p99), max: spread(.all_latency_us.max)},
    server_cpu_us_per_request: spread(.cpu.server_us_per_request),
    status_total: sumobj(.status),
    errors_total: sumobj(.errors),
    script_total: sumobj(.script)
  };

# per-repetition ratio rest/redis of f, paired by repetition number
def paired($rest; $redis; f):
  [range(0; [$rest | length, ($redis | length)] | min) as $i
   | ratio($rest[$i] | f; $redis[$i] | f)]
  | map(select(. != null))
  | if length == 0 then null else {median: med, min: min, max: max, n: length} end;

def compare($a; $b):
  ($a.reps | load_summary) as $xa | ($b.reps | load_summary) as $xb
  | {rest: $a.id, baseline: $b.id, rate: $a.rate,
     note: "rest / baseline; latency > 1 = slower than the baseline, throughput < 1 = less",
     of_medians: {
       hold_p50: ratio($xa.hold_latency_us.p50.median; $xb.hold_latency_us.p50.median),
       hold_p95: ratio($xa.hold_latency_us.p95.median; $xb.hold_latency_us.p95.median),
       hold_p99: ratio($xa.hold_latency_us.p99.median; $xb.hold_latency_us.p99.median),
       requests_per_s: ratio($xa.requests_per_s.median; $xb.requests_per_s.median),
       holds_granted_per_s: ratio($xa.holds_granted_per_s.median; $xb.holds_granted_per_s.median),
       server_cpu_us_per_request: ratio($xa.server_cpu_us_per_request.median; $xb.server_cpu_us_per_request.median),
       serving_cpu_with_journal: ratio($xa.serving_cpu_us_per_request_with_journal.median; $xb.serving_cpu_us_per_request_with_journal.median)},
     paired_by_rep: {
       hold_p50: paired($a.reps; $b.reps; .hold_latency_us.p50),
       hold_p95: paired($a.reps; $b.reps; .hold_latency_us.p95),
       hold_p99: paired($a.reps; $b.reps; .hold_latency_us.p99),
       requests_per_s: paired($a.reps; $b.reps; .requests_per_s),
       server_cpu_us_per_request: paired($a.reps; $b.reps; .cpu.server_us_per_request),
       serving_cpu_with_journal: paired($a.reps; $b.reps;
         if .mode == "http" then (.cpu.server_s + .side.ticketd_backends_cpu.redis_s) * 1e6 / .requests
         else .cpu.server_us_per_request end)}};

def target($s):
  ($s.reps | load_summary) as $x
  | {series: $s.id, rate: $s.rate,
     hold_p95_lt_20ms: {median_us: $x.hold_latency_us.p95.median,
                        worst_run_us: $x.hold_latency_us.p95.max,
                        met: ($x.hold_latency_us.p95.median != null and $x.hold_latency_us.p95.median < 20000)},
     hold_p99_lt_50ms: {median_us: $x.hold_latency_us.p99.median,
                        worst_run_us: $x.hold_latency_us.p99.max,
                        met: ($x.hold_latency_us.p99.median != null and $x.hold_latency_us.p99.median < 50000)}};

$series[0] as $all
| ($all | map(select(.kind == "rest"))) as $rests
| ($all | map(select(.kind == "redis"))) as $bases
| ($idle[0] // []) as $idles
| {
    name: "rest_hold",
    started: $started, finished: $finished,
    machine: $machine[0],
    build: $build,
    background_busy_pct: {before: ($bg0 | tonumber), after: ($bg1 | tonumber)},
    settings: {runs: $runs, rate_runs: $rate_runs, seconds: $secs,
               connections: $conns, client_threads: $threads,
               sessions: $sessions, event: $event, rows: $rows, cols: $cols,
               hold_seconds: $hold, ticketd_http_threads: $td_threads},
    series: ($all | map({key: .id, value: (. + {summary:
              (if .kind == "wrk" then (.reps | wrk_summary) else (.reps | load_summary) end)})})
             | from_entries),
    ratios_vs_redis_lua: [$rests[] as $a
                          | ($bases | map(select(.rate == $a.rate)) | first) as $b
                          | select($b != null) | compare($a; $b)],
    targets: {
      note: "targets on the hold latency at 1000 connections; the closed loop (series rest) is the one asked for, the paced series show the same at a fixed offered rate",
      closed_loop: target($rests | map(select(.rate == 0)) | first),
      paced: [$rests[] | select(.rate > 0) | target(.)],
      zero_oversell: {met: (($storm_audit[0].ok // false) and ($idles | all(.ok))
                            and ($release[0].ok // false))}
    },
    audit: {
      after_each_rest_run: $idles,
      storm: {command: $storm_cmd, load: $storm[0], audit: $storm_audit[0]},
      release_after_storm: $release[0],
      ticketd_alive_at_end: $alive
    },
    hot_path_evidence: {
      note: "ticketd's MariaDB questions and Redis commands during each run: during REST runs they include the hold path's, during Redis+Lua runs ticketd sits idle",
      per_series: ($all | map(select(.kind != "wrk")) | map({key: .id, value: {
        requests: [.reps[] | .requests],
        ticketd_mariadb_questions: [.reps[] | .side.ticketd_mariadb_questions],
        ticketd_redis_commands: [.reps[] | .side.ticketd_redis_commands],
        ticketd_backends_cpu_s: [.reps[] | .side.ticketd_backends_cpu]}}) | from_entries),
      profile: $profile[0]
    }
  }
