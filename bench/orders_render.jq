# bench/orders_render.jq: bench/results/orders.json -> the markdown section
# "## Orders and payments" (bench/results/orders.md). jq -r -f.

def num:
  if . == null then "–"
  elif (. | fabs) >= 100 then (. | round | tostring)
  elif (. | fabs) >= 10 then ((. * 10 | round) / 10 | tostring)
  else ((. * 100 | round) / 100 | tostring) end;

# median (min-max) over the rounds
def cell:
  if . == null then "–"
  elif .n == 1 then (.median | num)
  else "\(.median | num) (\(.min | num)-\(.max | num))" end;

def yes: if . then "met" else "**missed**" end;
def ok: if . then "pass" else "**FAIL**" end;

def counters: to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end;

. as $r
| ($r.series | map({key: (.rate | tostring), value: .}) | from_entries) as $by
| ($r.target) as $t
| ($by[$t.rate | tostring]) as $ts
| ([$r.series[].rate]) as $rates
| def cmd_o($rate): "[O\($rate)]";
  def cmd_g($rate): "[G\($rate)]";
  def lat_row($lbl; $cmd; $l): "| \($lbl) | \($cmd) | \($l.p50 | cell) | \($l.p95 | cell) | \($l.p99 | cell) | \($l.max | cell) |";
[
  "## Orders and payments",
  "",
  "The full purchase through ticketd's REST API, offered open loop at a fixed rate: per order hold 1-2 seats (`POST /api/reservations`), `POST /api/orders` with a unique `Idempotency-Key`, `POST /api/payments/authorize`, then `GET /api/orders/{id}` every \($r.settings.poll_ms) ms until it is CONFIRMED or CANCELLED. paymentd runs with \($r.settings.paymentd | sub("^(its )?defaults: "; "its defaults: ")). Baseline in the same run: the same schedule straight to paymentd's `POST /v1/authorize` (no ticketd). Latency counts from each order's scheduled start (no coordinated omission); every order has its own keep-alive connection and session (\($r.settings.sessions) sessions), seats never contended.",
  "",
  "- Command: `\($r.command)` (run \($r.run_id), \($r.started) to \($r.finished); set-up \($r.setup_s) s, \(if $r.lock_wait_s then "waited \($r.lock_wait_s) s for the lock, " else "" end)measurement \($r.measure_s) s under `/run/tkbench.lock`). Per round and rate: gateway alone \($r.settings.gateway_secs) s, then orders (\($r.settings.target_secs) s at \($t.rate)/s, \($r.settings.reference_secs) s at the other rates); \($r.settings.reps) rounds, interleaved; a warm-up before (not counted).",
  "- Machine: \($r.machine.cpu), \($r.machine.nproc) cores, \($r.machine.mem_mb) MiB, \($r.machine.os), kernel \($r.machine.kernel), MariaDB \($r.machine.mariadb); shared and noisy: CPU busy \($r.background_busy_pct.before)% before the runs, \($r.background_busy_pct.after)% after.",
  "- ticketd: socket hold path, \($r.settings.ticketd_http_threads) HTTP threads, DB pool \($r.settings.ticketd_db_pool); \($r.build).",
  "- Figures: median over the \($r.settings.reps) rounds, spread (min-max) in brackets; latency in ms.",
  "",
  "### Target (issue #13; issue #6's 500/s is in the tables below)",
  "",
  "| figure | command | target | measured | |",
  "|---|---|---|---|---|",
  (if $ts == null then "| (the target rate was not measured) | | | | |" else
    "| sustained orders/s at \($t.rate)/s offered (completed per second, seconds 2 to \($r.settings.target_secs)) | \(cmd_o($t.rate)) | \($t.rate)/s (>= 98%) | \($ts.orders.sustained_per_s | cell) | \($t.sustained_met | yes) |",
    "| end-to-end p95 at \($t.rate)/s (first request to final status seen) | \(cmd_o($t.rate)) | < \($t.p95_end_to_end_target_ms) ms | \($ts.orders.latency_ms.end_to_end.p95 | cell) | \($t.p95_met | yes) |",
    "| orders offered / completed / never started at \($t.rate)/s (sums over the rounds) | \(cmd_o($t.rate)) | all offered complete | \($ts.orders.offered) / \($ts.orders.completed) / \($ts.orders.not_started) | \(($ts.orders.not_started == 0 and $ts.orders.not_completed == 0) | yes) |",
    "| all services' CPU ms per completed order at \($t.rate)/s (ticketd, paymentd, MariaDB, Redis, Kafka) | \(cmd_o($t.rate)) | <= \($t.cpu_ms_per_order_target // "–") ms | \($ts.orders.cpu_ms_per_order_all_services | cell) | \(if $t.cpu_ms_per_order_target == null then "" else ($t.cpu_met | yes) end) |",
    "| authorize -> final status p95 at \($t.rate)/s | \(cmd_o($t.rate)) | | \($ts.orders.latency_ms.authorize_to_final.p95 | cell) | |",
    "| paymentd alone, p95 at \($t.rate)/s (baseline) | \(cmd_g($t.rate)) | | \($ts.gateway.latency_ms.gateway.p95 | cell) | |"
  end),
  "",
  "Rule: \($t.rule).",
  "",
  "### Latency (ms)",
  "",
  "| rate, measure | command | p50 | p95 | p99 | max |",
  "|---|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring] as $s | $s.orders.latency_ms as $l |
    lat_row("\($rate)/s end to end: scheduled start -> CONFIRMED/CANCELLED seen"; cmd_o($rate); $l.end_to_end),
    lat_row("\($rate)/s authorize sent -> final status seen"; cmd_o($rate); $l.authorize_to_final),
    lat_row("\($rate)/s hold (`POST /api/reservations`)"; cmd_o($rate); $l.hold),
    lat_row("\($rate)/s order (`POST /api/orders`)"; cmd_o($rate); $l.order),
    lat_row("\($rate)/s authorize (`POST /api/payments/authorize`, gateway included)"; cmd_o($rate); $l.authorize),
    lat_row("\($rate)/s &nbsp; of it: paymentd's drawn delay for these orders (its log)"; cmd_o($rate); $l.gateway_delay),
    lat_row("\($rate)/s &nbsp; of it: ticketd's share (authorize - that delay, per order)"; cmd_o($rate); $l.authorize_minus_gateway_delay),
    lat_row("\($rate)/s `GET /api/orders/{id}`"; cmd_o($rate); $l.get),
    lat_row("\($rate)/s start lag (waiting for a free connection)"; cmd_o($rate); $l.start_lag),
    lat_row("\($rate)/s baseline: paymentd alone, `POST /v1/authorize`"; cmd_g($rate); $s.gateway.latency_ms.gateway),
    lat_row("\($rate)/s baseline: &nbsp; its drawn delay (its log)"; cmd_g($rate); $s.gateway.latency_ms.gateway_delay),
    lat_row("\($rate)/s baseline: &nbsp; paymentd's own cost (latency - delay)"; cmd_g($rate); $s.gateway.latency_ms.gateway_minus_delay)
  ),
  "",
  "### Throughput and outcomes (sums over the rounds)",
  "",
  "| rate | command | offered | completed | never started | sustained/s | slowest second | final status | authorize answers | declined share % | errors | ticketd idle again after (s) |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring].orders as $o |
    "| \($rate)/s | \(cmd_o($rate)) | \($o.offered) | \($o.completed) | \($o.not_started) | \($o.sustained_per_s | cell) | \($o.slowest_second | cell) | \($o.final_status | counters) | \($o.authorize_status | counters) | \($o.declined_share_pct | cell) | \($o.errors | counters) | \($o.settle_s | cell) |"),
  ($rates[] as $rate | $by[$rate | tostring].gateway as $g |
    "| \($rate)/s baseline | \(cmd_g($rate)) | \($g.offered) | \($g.answered) | | | | | \($g.authorize_status | counters) | | \($g.errors | counters) | |"),
  "",
  "Latency percentiles cover the orders that completed; orders never started (all \($r.settings.conns) client connections busy until the offered window had passed) are not in them.\(if ([$r.series[].orders.final_status | keys[]] | any(test("PAYMENT_FAILED"))) then " \"PAYMENT_FAILED\" / \"DECLINED PAYMENT_GATEWAY_FAILED\" means ticketd gave up on the gateway (its attempts timed out), not that paymentd failed: paymentd had no failures configured." else "" end)",
  "",
  "### Where the time and the CPU go",
  "",
  "CPU in % of one core over each orders run (/proc, median and spread over the rounds; the machine has \($r.machine.nproc) cores), CPU ms per completed order, ticketd's server-side mean time per route (its /metrics, request to response), MariaDB's commits and fsyncs per completed order (SHOW GLOBAL STATUS deltas, everything ticketd did meanwhile).",
  "",
  "| rate | command | ticketd | paymentd | mariadbd | redis | kafka | host busy | load client |",
  "|---|---|---|---|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring].orders.cpu_core_pct as $c |
    "| \($rate)/s, % of a core | \(cmd_o($rate)) | \($c.ticketd | cell) | \($c.paymentd | cell) | \($c.mariadbd | cell) | \($c.redis | cell) | \($c.kafka | cell) | \($c.host_busy_pct | cell) | \($c.load_client_pct | cell) |"),
  ($rates[] as $rate | $by[$rate | tostring].orders.cpu_ms_per_order as $c |
    "| \($rate)/s, CPU ms per order | \(cmd_o($rate)) | \($c.ticketd | cell) | \($c.paymentd | cell) | \($c.mariadbd | cell) | \($c.redis | cell) | \($c.kafka | cell) | | |"),
  "",
  ($rates[] as $rate | $by[$rate | tostring].orders as $o | select($o.cpu_ms_per_order_all_services != null) |
    "- \($rate)/s: all five services together spent \($o.cpu_ms_per_order_all_services | cell) CPU ms per completed order, so this machine's \($r.machine.nproc) cores, given to them alone, would carry at most \($o.cpu_bound_orders_per_s | cell) orders/s at that cost."),
  "",
  "| rate | command | server-side mean ms per route | MariaDB per order | busiest ticketd threads (first round) |",
  "|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring].orders as $o |
    "| \($rate)/s | \(cmd_o($rate)) | \($o.server_mean_ms | to_entries | map("\(.key) \(.value | cell)") | join("; ")) | commits \($o.mariadb_per_order.commits | cell), data fsyncs \($o.mariadb_per_order.fsyncs | cell), log fsyncs \($o.mariadb_per_order.log_fsyncs | cell), statements \($o.mariadb_per_order.questions | cell) (prepared-statement executions \($o.mariadb_per_order.executes | cell), prepares \($o.mariadb_per_order.prepares | cell)), row lock waits \($o.mariadb_per_order.row_lock_waits | cell) | \($o.ticketd_threads[0] // "–" | gsub("\\?\\? \\((?<l>lib[a-z]+)[^)]*\\)"; "\(.l)")) |"),
  "",
  "What ticketd's threads were doing during the orders runs: share of 10 ms samples of `/proc/<pid>/task/<tid>/syscall` (`running` = on a CPU or waiting for one; `poll timeout 10000 ms` = libmariadb waiting for MariaDB's answer, 10 s being the read timeout ticketd sets in userspace/ticketd/db/db.c; `poll timeout 0..20 ms` = curl's multi loop in the payment client waiting for the gateway; `epoll_wait` = an idle HTTP worker; `futex` = waiting on a lock or condition: a free connection of the database pool, or an empty job queue (idle saga workers)). Threads found by their start routine (gdb backtrace after start).",
  "",
  "| rate | thread | command | samples | states |",
  "|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring].orders.thread_states | to_entries[] as $e |
    "| \($rate)/s | \($e.key) | \(cmd_o($rate)) | \($e.value.samples) | \($e.value.pct | to_entries | map(select(.value >= 0.5)) | sort_by(-.value) | .[0:6] | map("\(.key) \(.value)%") | join(", ")) |"),
  "",
  ($rates[] as $rate | $by[$rate | tostring].orders.thread_states as $ts | select($ts != null and ($ts | length) > 0)
    | "- \($rate)/s, share of the samples each watched thread spent waiting for MariaDB or running (busy), busiest first: \(
        $ts | to_entries | map({k: .key, b: (((.value.pct["poll timeout 10000 ms"] // 0) + (.value.pct.running // 0)) * 10 | round / 10)})
        | sort_by(-.b) | map("\(.k) \(.b)%") | join(", "))."),
  "",
  "### Where ticketd's CPU goes",
  "",
  "Context switches of ticketd per completed order (`/proc/<pid>/task/*/status`, summed over its threads, deltas over each orders run):",
  "",
  "| rate | command | voluntary | involuntary | all |",
  "|---|---|---|---|---|",
  ($rates[] as $rate | $by[$rate | tostring].orders.ticketd_ctxsw_per_order as $x | select($x != null) |
    "| \($rate)/s | \(cmd_o($rate)) | \($x.voluntary | cell) | \($x.nonvoluntary | cell) | \($x.all | cell) |"),
  "",
  (if $r.ticketd_perf == null or ($r.ticketd_perf.top | length) == 0 then "No perf profile in this run (ORD_PERF=0 or perf missing)." else
    ("`perf record -g -F 499 -p <ticketd pid>` over the first \($r.ticketd_perf.secs) s of the first round's \($r.target.rate)/s run, then `perf report --stdio --no-children --sort dso,symbol -g none --percent-limit 1`: self time by library and symbol (entries of at least 1%):",
     "",
     "```",
     ($r.ticketd_perf.top[]),
     "```") end),
  "",
  "### Audit (MariaDB, after the runs)",
  "",
  ($r.audit.checks | to_entries[] | "- \(.value | ok): \(.key)"),
  "- Totals: \($r.audit.db.orders_total) orders (\($r.audit.db.pending_orders) PENDING), \($r.audit.db.sold_seats_total) sold seats, payments \($r.audit.db.payments_approved) APPROVED / \($r.audit.db.payments_declined) DECLINED / \($r.audit.db.payments_failed) FAILED; paymentd counted \($r.audit.paymentd.counters.approved // "?") approved and \($r.audit.paymentd.counters.declined // "?") declined, \($r.audit.paymentd.baseline_approved) and \($r.audit.paymentd.baseline_declined) of them the baseline's\(if ($r.audit.db.payments_failed // 0) > 0 then ": of the \($r.audit.db.payments_failed) orders ticketd recorded as FAILED (and CANCELLED), paymentd had decided \($r.audit.paymentd.failed_rows_decided_by_paymentd), \($r.audit.paymentd.failed_rows_approved_by_paymentd) of them APPROVED" else "" end).",
  "",
  "Commands (`build/orders_load` is `bench/orders_load.c`, built by `bench/bench.mk`; `bash bench/orders_bench.sh` runs all of them and fills in the placeholders):",
  "",
  ($rates[] as $rate | $by[$rate | tostring] as $s |
    "- \(cmd_g($rate)): `\($s.gateway_command)`",
    "- \(cmd_o($rate)): `\($s.orders_command)`"),
  ""
] | .[]
