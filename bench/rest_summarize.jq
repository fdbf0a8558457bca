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

$rest[0] as $rest | $redis[0] as $redis | $wrk[0] as $wrk
| ($rest | load_summary) as $rs | ($redis | load_summary) as $bs
| {
    name: "rest_hold",
    started: $started, finished: $finished,
    machine: $machine[0],
    build: $build,
    background_busy_pct: {before: ($bg0 | tonumber), after: ($bg1 | tonumber)},
    settings: {runs: $runs, seconds: $secs, connections: $conns,
               client_threads: $threads, sessions: $sessions,
               event: $event, rows: $rows, cols: $cols,
               hold_seconds: $hold, ticketd_http_threads: $td_threads},
    series: {
      rest: {
        title: "ticketd REST: POST /api/reservations (1 seat) then DELETE, over HTTP/1.1 keep-alive",
        command: $http_cmd, summary: $rs, reps: $rest},
      redis_lua: {
        title: "Redis+Lua alone, no HTTP layer (a lower bound for the seed design's hold latency): EVALSHA redis_hold.lua then redis_release.lua",
        command: $redis_cmd, summary: $bs, reps: $redis},
      rest_wrk: (if ($wrk | length) > 0 then {
        title: "ticketd REST, same loop from wrk + bench/rest_hold.lua (latency mixes holds and releases)",
        command: $wrk_cmd, summary: ($wrk | wrk_summary), reps: $wrk} else null end)
    },
    ratios_vs_redis_lua: {
      note: "rest / redis_lua; latency > 1 = slower than the baseline, throughput < 1 = less",
      of_medians: {
        hold_p50: ratio($rs.hold_latency_us.p50.median; $bs.hold_latency_us.p50.median),
        hold_p95: ratio($rs.hold_latency_us.p95.median; $bs.hold_latency_us.p95.median),
        hold_p99: ratio($rs.hold_latency_us.p99.median; $bs.hold_latency_us.p99.median),
        requests_per_s: ratio($rs.requests_per_s.median; $bs.requests_per_s.median),
        holds_granted_per_s: ratio($rs.holds_granted_per_s.median; $bs.holds_granted_per_s.median),
        server_cpu_us_per_request: ratio($rs.server_cpu_us_per_request.median; $bs.server_cpu_us_per_request.median)},
      paired_by_rep: {
        hold_p50: paired($rest; $redis; .hold_latency_us.p50),
        hold_p95: paired($rest; $redis; .hold_latency_us.p95),
        hold_p99: paired($rest; $redis; .hold_latency_us.p99),
        requests_per_s: paired($rest; $redis; .requests_per_s),
        server_cpu_us_per_request: paired($rest; $redis; .cpu.server_us_per_request)}
    },
    targets: {
      hold_p95_lt_20ms: {target_us: 20000, median_us: $rs.hold_latency_us.p95.median,
                         worst_run_us: $rs.hold_latency_us.p95.max,
                         met: ($rs.hold_latency_us.p95.median < 20000)},
      hold_p99_lt_50ms: {target_us: 50000, median_us: $rs.hold_latency_us.p99.median,
                         worst_run_us: $rs.hold_latency_us.p99.max,
                         met: ($rs.hold_latency_us.p99.median < 50000)},
      zero_oversell: {met: (($storm_audit[0].ok // false) and ($idle[0] | all(.ok)))}
    },
    audit: {
      after_each_rest_run: $idle[0],
      storm: {command: $storm_cmd, load: $storm[0], audit: $storm_audit[0]},
      ticketd_alive_at_end: $alive
    },
    hot_path_evidence: {
      mariadb_questions_per_rest_run: [$rest[] | .side.mariadb_questions],
      mariadb_questions_per_request: [$rest[] | ratio(.side.mariadb_questions; .requests)],
      mariadb_questions_while_ticketd_idle: [$redis[] | .side.mariadb_questions],
      ticketd_redis_commands_while_ticketd_idle: [$redis[] | .side.ticketd_redis_commands],
      ticketd_redis_commands_per_rest_run: [$rest[] | .side.ticketd_redis_commands],
      ticketd_redis_commands_per_granted_hold: [$rest[] | ratio(.side.ticketd_redis_commands; .holds_granted)],
      profile: $profile[0]
    }
  }
