# bench/orders_summarize.jq: bench/orders_bench.sh's runs -> bench/results/orders.json
# Input: null (jq -n); $runs[0]: every orders_load run with its side data;
# $audit[0]: the audit; the settings as --arg/--argjson (see assemble()).

# median and spread (min-max) over the counted rounds
def stats:
  map(select(. != null)) | sort as $s | ($s | length) as $n
  | if $n == 0 then null
    else {median: (if $n % 2 == 1 then $s[($n - 1) / 2]
                   else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end),
          min: $s[0], max: $s[$n - 1], n: $n, values: .}
    end;

def ms: if . == null then null else (. / 10 | round) / 100 end; # us -> ms, 2 decimals
def r1: if . == null then null else (. * 10 | round) / 10 end;

def lat_stats($runs; $name):
  {p50: ($runs | map(.result.latency_us[$name].p50 | ms) | stats),
   p95: ($runs | map(.result.latency_us[$name].p95 | ms) | stats),
   p99: ($runs | map(.result.latency_us[$name].p99 | ms) | stats),
   max: ($runs | map(.result.latency_us[$name].max | ms) | stats),
   n: ($runs | map(.result.latency_us[$name].n) | add)};

def sum_counters: reduce .[] as $o ({}; reduce ($o | to_entries[]) as $e (.; .[$e.key] += $e.value));

def per_order($runs; f):
  $runs | map(.result.completed as $c | (f) as $v
    | if $c > 0 and $v != null then $v / $c else null end) | stats;

($runs[0] | map(select(.rep > 0))) as $counted
| ($runs[0] | map(select(.rep == 0))) as $warmup
| ([$counted[].rate] | unique) as $rates
| {
    benchmark: "orders",
    issue: 6,
    title: "Orders and payments: order + payment throughput, authorize -> CONFIRMED",
    command: "bash bench/orders_bench.sh",
    run_id: $run_id,
    started: $started,
    finished: $finished,
    setup_s: $setup_s,
    lock_wait_s: $lock_wait_s,
    measure_s: $measure_s,
    thread_roles: $roles[0],
    machine: $machine[0],
    build: $build,
    background_busy_pct: {before: ($bg0 | tonumber), after: ($bg1 | tonumber)},
    settings: {
      rates: $rates, target_rate: $target_rate, reps: $reps, target_secs: $secs,
      reference_secs: $ref_secs, gateway_secs: $gw_secs, warmup_secs: $warmup,
      sessions: $sessions, event_seats: "\($rows) x \($cols)", conns: $conns,
      poll_ms: $poll, ticketd_http_threads: $td_threads, ticketd_db_pool: $db_pool,
      paymentd: ("its defaults: " + $paymentd_defaults),
      seats_per_order: "1 or 2 (random), consecutive, never contended"
    },
    target: {rate: $target_rate, p95_end_to_end_target_ms: $target_p95_ms,
             cpu_ms_per_order_target: $target_cpu_ms,
             rule: "sustained = orders that reached CONFIRMED/CANCELLED per second in seconds 2..end of the offered window; met when its median over the rounds is >= 98% of the target rate and no round ended with orders never started; p95 met when the median over the rounds of the end-to-end p95 is below the target; CPU met when the median over the rounds of all services' CPU ms per completed order is at most the target"},
    series: [
      $rates[] as $rate
      | ($counted | map(select(.kind == "orders" and .rate == $rate))) as $o
      | ($counted | map(select(.kind == "gateway" and .rate == $rate))) as $g
      | {
          rate: $rate,
          rounds: ($o | length),
          orders_command: ($o[0].command // null),
          gateway_command: ($g[0].command // null),
          orders: {
            sustained_per_s: ($o | map(.result.sustained.per_s) | stats),
            completed_per_s: ($o | map(.result.completed_per_s | r1) | stats),
            slowest_second: ($o | map(.result.sustained.min_second) | stats),
            offered: ($o | map(.result.offered) | add),
            completed: ($o | map(.result.completed) | add),
            not_completed: ($o | map(.result.not_completed) | add),
            not_started: ($o | map(.result.not_started) | add),
            last_completion_after_end_s: ($o | map(.result.last_completion_after_end_s) | stats),
            latency_ms: {
              end_to_end: lat_stats($o; "end_to_end"),
              authorize_to_final: lat_stats($o; "authorize_to_final"),
              hold: lat_stats($o; "hold"),
              order: lat_stats($o; "order"),
              authorize: lat_stats($o; "authorize"),
              get: lat_stats($o; "get"),
              gateway_delay: lat_stats($o; "gateway_delay"),
              authorize_minus_gateway_delay: lat_stats($o; "authorize_minus_gateway_delay"),
              start_lag: lat_stats($o; "start_lag")
            },
            final_status: ($o | map(.result.final_status) | sum_counters),
            authorize_status: ($o | map(.result.authorize_status) | sum_counters),
            errors: ($o | map(.result.errors) | sum_counters),
            mismatches: ($o | map(.result.mismatches) | sum_counters),
            declined_share_pct: ($o | map(if .result.completed > 0 then (100 * .result.cancelled / .result.completed | r1) else null end) | stats),
            gets_per_order: per_order($o; .result.gets),
            cpu_core_pct: (
              ($o[0].result.cpu.processes // {} | keys) as $names
              | reduce $names[] as $p ({}; .[$p] = ($o | map(.result.cpu.processes[$p].core_pct) | stats))
              | .host_busy_pct = ($o | map(.result.cpu.host_busy_pct) | stats)
              | .load_client_pct = ($o | map(100 * .result.cpu.client_s / .result.cpu.wall_s | r1) | stats)),
            cpu_ms_per_order: (
              ($o[0].result.cpu.processes // {} | keys) as $names
              | reduce $names[] as $p ({}; .[$p] = per_order($o; 1000 * .result.cpu.processes[$p].cpu_s))),
            thread_states: (
              ($o | map(.result.watch // {} | keys) | add // [] | unique) as $names
              | reduce $names[] as $n ({}; .[$n] = (
                  ($o | map(.result.watch[$n].states // {}) | sum_counters) as $st
                  | ([$st[]] | add // 0) as $tot
                  | {samples: $tot,
                     pct: ($st | map_values(if $tot > 0 then (1000 * . / $tot | round) / 10 else 0 end))}))),
            settle_s: ($o | map(.settle_s) | stats),
            cpu_ms_per_order_all_services: per_order($o; 1000 * ([.result.cpu.processes[].cpu_s] | add)),
            cpu_bound_orders_per_s: ($o | map(.result.completed as $c
              | ([.result.cpu.processes[].cpu_s] | add) as $cpu
              | if $c > 0 and $cpu > 0 then ($machine[0].nproc * $c / $cpu | round) else null end) | stats),
            ticketd_threads: ($o | map(.result.cpu.threads[0:6] | map("\($roles[0][.tid | tostring] // .comm) \(.core_pct)%") | join(", "))),
            server_mean_ms: (
              ($o | map(.side.ticketd_routes | keys) | add // [] | unique) as $routes
              | reduce $routes[] as $r ({}; .[$r] = ($o | map(.side.ticketd_routes[$r].mean_ms | if . == null then null else (. * 100 | round) / 100 end) | stats))),
            mariadb_per_order: {
              commits: per_order($o; .side.mariadb.Com_commit),
              fsyncs: per_order($o; .side.mariadb.Innodb_data_fsyncs),
              log_fsyncs: per_order($o; .side.mariadb.Innodb_os_log_fsyncs),
              questions: per_order($o; .side.mariadb.Questions),
              row_lock_waits: per_order($o; .side.mariadb.Innodb_row_lock_waits),
              prepares: per_order($o; .side.mariadb.Com_stmt_prepare),
              executes: per_order($o; .side.mariadb.Com_stmt_execute)
            },
            ticketd_ctxsw_per_order: {
              voluntary: per_order($o; .side.ticketd_ctxsw.voluntary),
              nonvoluntary: per_order($o; .side.ticketd_ctxsw.nonvoluntary),
              all: per_order($o; if .side.ticketd_ctxsw == null then null
                else (.side.ticketd_ctxsw.voluntary + .side.ticketd_ctxsw.nonvoluntary) end)
            }
          },
          gateway: {
            answered: ($g | map(.result.completed) | add),
            offered: ($g | map(.result.offered) | add),
            latency_ms: {
              gateway: lat_stats($g; "gateway"),
              gateway_delay: lat_stats($g; "gateway_delay"),
              gateway_minus_delay: lat_stats($g; "gateway_minus_delay")
            },
            authorize_status: ($g | map(.result.authorize_status) | sum_counters),
            errors: ($g | map(.result.errors) | sum_counters),
            paymentd_core_pct: ($g | map(.result.cpu.processes.paymentd.core_pct) | stats)
          }
        }
    ],
    ticketd_perf: ($perf[0] // null),
    audit: $audit[0],
    runs: $runs[0],
    warmup_runs: ($warmup | length)
  }
| (.series | map(select(.rate == $target_rate)) | .[0]) as $t
| .target += (if $t == null then {measured: false} else
    {measured: true,
     sustained_per_s: $t.orders.sustained_per_s.median,
     sustained_met: ($t.orders.sustained_per_s.median >= 0.98 * $target_rate and $t.orders.not_started == 0),
     measured_p95_end_to_end_ms: $t.orders.latency_ms.end_to_end.p95.median,
     p95_met: ($t.orders.latency_ms.end_to_end.p95.median != null and $t.orders.latency_ms.end_to_end.p95.median < $target_p95_ms),
     worst_round_p95_ms: $t.orders.latency_ms.end_to_end.p95.max,
     cpu_ms_per_order: $t.orders.cpu_ms_per_order_all_services.median,
     cpu_met: ($t.orders.cpu_ms_per_order_all_services.median != null and $t.orders.cpu_ms_per_order_all_services.median <= $target_cpu_ms)}
    | .met = (.sustained_met and .p95_met and .cpu_met) end)
