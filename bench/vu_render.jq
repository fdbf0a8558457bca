# bench/vu_render.jq: bench/results/vu.json (bench/vu_bench.sh) -> the
# markdown section "## The prior design's 1000-user scenario"
# (bench/results/vu.md). jq -r -f.

def num:
  if . == null then "–"
  elif (. | fabs) >= 100 then (. | round | tostring)
  elif (. | fabs) >= 10 then ((. * 10 | round) / 10 | tostring)
  else ((. * 100 | round) / 100 | tostring) end;
def met: if . then "met" else "**missed**" end;
def ok: if . then "pass" else "**FAIL**" end;
def pct: if . == null then "–" else (. * 100 | num) + " %" end;
def counters: if . == null then "none" else (to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end) end;
def steps: ["events", "seats", "hold", "order", "authorize", "status"];
def runtitle: {off: "closed loop, think time off", on: "closed loop, think time on", open: "open loop (fixed arrival rate), think time off"}[.];
def refused: [.steps[].refused] | add;
def conn_errs: (.connection_errors // 0);
# the stage of a closed-loop run at n users
def at($n): [.result.stages[] | select(.users == $n)][0];

. as $r
| ($r.runs | map({key: .run, value: .}) | from_entries) as $by
| ($r.stages | max) as $top
| ($r.paymentd_defaults) as $pay
| def target($run):
    ($by[$run] // null) as $x
    | if $x == null then null else
      ($x | at($top)) as $s
      | if $s == null then null else
        {run: $run, s: $s,
         p95: [steps[] | select(. != "authorize") | {step: ., p95: $s.steps[.].latency_ms.p95}],
         errors: $s.errors}
        | .p95_ok = ([.p95[].p95 | . != null and . < 50] | all)
        | .errors_ok = (.errors == 0)
      end end;
  [target("off"), target("on")] as $targets
| [
  "## The prior design's 1000-user scenario",
  "",
  "The load test of the design this project supersedes (k6 against its Java services; its figures as issue #13 quotes them), reproduced against the stack of `make run`: each virtual user has a session of its own and loops *events* (`GET /api/events`, picks one of the benchmark's events with a free seat) → *seats* (`GET /api/events/{id}/seats`) → *hold* (`POST /api/reservations`, 1–\($by.off.result.max_seats // 4) random free seats of that map; a 409 `SEAT_UNAVAILABLE` or 422 `SEAT_SOLD` is a **conflict**, not an error: the user picks again from its map, and reads the map again after \($by.off.result.max_picks // 3) conflicts in a row) → *order* (`POST /api/orders` with an `Idempotency-Key`) → *authorize* (`POST /api/payments/authorize`; the simulated gateway's delay is its floor) → *status* (`GET /api/orders/{id}` at once, then every \($by.off.result.poll_ms // 20) ms until CONFIRMED or CANCELLED; each GET timed). A 503 or 429 (ticketd's overload doors) is retried after its `Retry-After`, at most \($by.off.result.retries // 4) times: counted as **refused**, and the step's latency runs from its first attempt to its last answer. Anything else unexpected, a timeout or a broken connection is an **error**. Latencies never include think time.",
  "",
  "- Command: `bash bench/vu_bench.sh` (\($r.started) to \($r.finished), \($r.seconds) s, set-up \($r.setup_s) s; budget \($r.budget_s) s); each run's own command is below.",
  "- Machine (ours): \($r.machine.cpu), \($r.machine.nproc) cores, \($r.machine.mem_mb) MiB, \($r.machine.os), kernel \($r.machine.kernel); everything on it: ticketd, paymentd, MariaDB, Redis, Kafka and the load tool. CPU busy \($r.background_busy_pct[0]) % before the runs, \($r.background_busy_pct[1]) % after. \($r.build).",
  "- The prior design's figures come from **other hardware**: one small cloud host running its Java 21 / Spring Boot services, MySQL, Redis, Kafka and k6 under Docker Compose. The columns side by side show the same scenario, not the same machine.",
  "- Stack: ticketd with its defaults (\($r.ticketd.http_threads) HTTP threads, database pool \($r.ticketd.db_pool), socket hold path) and the per-client limits lifted (every user speaks from 127.0.0.1); paymentd with its defaults (\(if $pay then "delay \($pay.delay_min_ms)–\($pay.delay_max_ms) ms uniform, approve ratio \($pay.approve_ratio)" else "see its log" end)); \($r.events) events of \($r.rows) × \($r.cols) seats, shared by the runs one after the other (a user picks one with a free seat at random; the share sold after each run is given with it).",
  "- Closed loop: stages of \($r.stages | map(tostring) | join(", ")) users, \($r.stage_secs) s each; a stage's new users start over its first second and every user keeps looping into the next stages (the ramp of k6 stages). Think time on: \($r.think_ms) ms uniform before each of events, seats, hold, order and authorize. Open loop: users arrive at a fixed rate for \($r.open_secs) s per rate, buy once and leave; a user's first request and its whole purchase count from its arrival, so a server stall is not hidden by the load tool waiting (no coordinated omission). A step counts in the stage it started in; after the last stage no user starts a purchase, and those with an order finish it.",
  "",
  "### Targets at \($top) users",
  "",
  "Issue #13: p95 < 50 ms for every step but authorize, zero errors, zero oversell.",
  "",
  "| target | \($targets | map(select(. != null) | .run | runtitle) | join(" | ")) |",
  "|---|\($targets | map(select(. != null) | "---") | join("|"))|",
  "| p95 < 50 ms, every step but authorize | \($targets | map(select(. != null) | (.p95_ok | met) + ": " + (.p95 | map("\(.step) \(.p95 | num) ms") | join(", "))) | join(" | ")) |",
  "| zero errors | \($targets | map(select(. != null) | (.errors_ok | met) + ": \(.errors) errors in \(.s.requests) requests\(if (.s.error_kinds | length) > 0 then " (" + (.s.error_kinds | counters) + ")" else "" end)") | join(" | ")) |",
  "| zero oversell (audit after all runs) | \($targets | map(select(. != null) | ($r.audit.db.seat_in_two_confirmed_orders == 0 and $r.audit.db.seat_sold_twice == 0) | met) | map(. + ": \($r.audit.db.seat_sold_twice + $r.audit.db.seat_in_two_confirmed_orders) seats sold twice of \($r.audit.db.sold_seats_total) sold") | join(" | ")) |",
  "| authorize p95 (floor: the gateway's delay, \(if $pay then "\($pay.delay_min_ms)–\($pay.delay_max_ms) ms" else "?" end)) | \($targets | map(select(. != null) | "\(.s.steps.authorize.latency_ms.p95 | num) ms") | join(" | ")) |",
  "",
  ( ($by.off // null) as $x | if $x == null then empty else
    ($x.result.stages | max_by(.iterations_per_s)) as $best
    | ($x | at($top)) as $s
    | "Without think time every user always has a request out: the machine tops out at about \($best.iterations_per_s | num) purchases/s (\($best.users) users, CPU \($best.cpu.host_busy_pct) % busy), so at \($top) users (\($s.iterations_per_s | num) purchases/s) the latencies are mostly waiting in line, and the order and payment doors' in-flight caps answer 503 with `Retry-After` (\($s | refused) refusals). With think time (a person's pace) and in the open-loop runs below capacity they are the service times." end ),
  "",
  "### Beside the prior design",
  "",
  "Hold p95 (their figure: the reservation request; ours: `POST /api/reservations`, conflicts included) per number of users. Their SLO: p95 < 300 ms, error rate < 0.5 %, oversell 0.",
  "",
  "| users | prior design (k6, one small cloud host) | ours, think time off | ours, think time on |",
  "|---|---|---|---|",
  ( [50, 200, 400, 500, 1000] + $r.stages | unique | .[] as $n
    | {"50": "about 1 s", "200": "790 ms", "500": "3.2 s", "1000": "9.3 s, with connection resets"}["\($n)"] as $theirs
    | def ours($run): ($by[$run] // null) as $x | if $x == null then "–" else ($x | at($n)) as $s
        | if $s == null then "–" else "\($s.steps.hold.latency_ms.p95 | num) ms (errors \($s.errors), connection errors \($s | conn_errs), refused \($s | refused))" end end;
      "| \($n) | \($theirs // "–") | \(ours("off")) | \(ours("on")) |" ),
  "",
  "### Per stage and step",
  "",
  ( $r.runs[] as $x
    | ($x.result) as $res
    | "#### \($x.run | runtitle)",
      "",
      "`\($x.command)`; settled \($x.settle_s) s after the run; \($x.seats.sold_after) of the \($x.seats.total) seats sold after it (\($x.seats.sold_after / $x.seats.total | pct)).",
      "",
      "| stage | step | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors (rate) | conflicts | refused |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ( $res.stages[] as $s
        | ($s | if .users then "\(.users) users" else "\(.rate) users/s" end) as $sn
        | ( steps[] as $k | $s.steps[$k] as $p
            | "| \($sn) | \($k) | \($p.per_s | num) | \($p.latency_ms.p50 | num) | \($p.latency_ms.p95 | num) | \($p.latency_ms.p99 | num) | \($p.latency_ms.max | num) | \($p.errors) (\($p.error_rate | pct)) | \($p.conflicts) | \($p.refused) |" ),
          "| \($sn) | **purchase** (events to final, think excluded) | \($s.iterations_per_s | num) done/s | \($s.iteration_ms.p50 | num) | \($s.iteration_ms.p95 | num) | \($s.iteration_ms.p99 | num) | \($s.iteration_ms.max | num) | \($s.iterations_failed) failed | \($s.map_rereads) map re-reads | \($s.connection_errors) conn. errors |" ),
      "",
      ( $res.stages[] | "- \(if .users then "\(.users) users" else "\(.rate) users/s" end): \(.users_started) users started in it, \(.iterations_ok) purchases ended (\(.confirmed) CONFIRMED, \(.cancelled) CANCELLED: \(.final_status | counters)), \(.requests_per_s | num) requests/s in all; authorize → final p95 \(.authorize_to_final_ms.p95 | num) ms\(if .start_lag_ms.n > 0 then "; arrival → first request p99 \(.start_lag_ms.p99 | num) ms" else "" end); errors: \(.error_kinds | counters); CPU (% of one core): \(.cpu.processes | to_entries | map("\(.key) \(.value.core_pct)") | join(", ")), vu_load \(.cpu.client_core_pct), machine busy \(.cpu.host_busy_pct) %." ),
      "" ),
  "### Oversell audit",
  "",
  "After all runs, against MariaDB: \($r.audit.db.orders_total) orders, \($r.audit.db.confirmed_orders) CONFIRMED, \($r.audit.db.sold_seats_total) seats sold; the users saw \($r.audit.client.created) orders created and \($r.audit.client.confirmed) CONFIRMED (\($r.audit.client.unseen) whose end they did not see).",
  "",
  ( $r.audit.checks | to_entries[] | "- \(.key): \(.value | ok)" ),
  ""
] | .[]
