# bench/room_render.jq: bench/results/room.json (bench/room_bench.sh) ->
# the markdown section "## Waiting room" (bench/results/room.md). jq -r -f.

def num:
  if . == null then "–"
  elif (. | fabs) >= 100 then (. | round | tostring)
  elif (. | fabs) >= 10 then ((. * 10 | round) / 10 | tostring)
  else ((. * 100 | round) / 100 | tostring) end;
def ms: if . == null then "–" else (. / 1000 | num) end;
def yes: if . then "met" else "**missed**" end;
def ok: if . then "pass" else "**FAIL**" end;
def counters: if . == null then "none" else (to_entries | map("\(.key) \(.value)") | join(", ") | if . == "" then "none" else . end) end;
def refused: (.result.refusals.by_step // {} | [.[]] | add // 0);
def cpu($o): ($o.cpu // {}) as $c | if $c.wall_s == null or $c.wall_s == 0 then "–" else
  "\(100 * $c.client_s / $c.wall_s | round) / \($c.processes.ticketd.core_pct // null | if . == null then "–" else round end) / \($c.processes.mariadbd.core_pct // null | if . == null then "–" else round end) / \($c.host_busy_pct | round)" end;
def pct($cap): if $cap > 0 then (100 * . / $cap | round | tostring) + " %" else "–" end;

. as $r
| ($r.runs | map(select(.kind != "capacity"))) as $runs
| ($r.runs | map(select(.kind == "capacity"))[0]) as $cap
| ($runs | map({key: .tag, value: .}) | from_entries) as $by
| ($r.factors | max) as $fmax
| ($by["on-\($fmax)"]) as $top
| def over2($x): if $x.ticketd.over_2s == null then "not available" else ($x.ticketd.over_2s | tostring) end;
  def cmd_id($x): "[\($x.tag)]";
[
  "## Waiting room",
  "",
  "Purchases offered open loop at 1x, 2x and 5x the capacity measured in the same run, with the event's waiting room off (the baseline) and on. A visitor (a session of its own) joins the room (`POST /api/events/{id}/room`), follows its position on the SSE stream (up to \($runs[0].command | capture("--streams (?<n>[0-9]+)").n // "?") visitors at once; the others poll every \($runs[0].command | capture("--room-poll-ms (?<n>[0-9]+)").n // "?") ms, as the web page does), and once admitted holds 1 seat, orders, authorizes and polls its order until CONFIRMED or CANCELLED; a 503 or 429 is retried after its `Retry-After`, 3 times at most. With the room off, join answers `open` and the visitor goes straight on. *Admitted e2e* runs from admission (or the `open` answer) to the order's final state; *room wait* from arrival to admission. Completed purchases/s: purchases that reached a final state per second in the steady window of the offered period.",
  "",
  "- Command: `bash bench/room_bench.sh` (\($r.started) to \($r.finished), \($r.seconds) s); each run's own command is listed below.",
  "- Machine: \($r.machine.cpu), \($r.machine.nproc) cores, \($r.machine.mem_mb) MiB, \($r.machine.os), kernel \($r.machine.kernel); CPU busy \($r.background_busy_pct[0]) % before the runs, \($r.background_busy_pct[1]) % after. \($r.build).",
  "- Capacity: **\($r.capacity) purchases/s** (closed loop, \($r.cap_conns) purchases in flight for \($r.cap_secs) s, steady part; admitted e2e p50 \($cap.result.latency_us.admitted_end_to_end.p50 | ms) ms) [cap].",
  "- Room settings when on: rate \($r.room_rate)/s (a fixed rate: the most, which ticketd brakes while the purchase path is congested; docs/api.md, \"Waiting room\"), active_max \($r.active_max // "–"), idle_seconds \($r.idle_seconds) (what ticketd kept: \($top.room // "–" | tostring))." ,
  (if $r.room_on_skipped then "- **Room on: not measured** — \($r.room_on_skipped)." else empty end),
  "- CPU of a run: % of one core over the run's wall time (2 cores in all), for the load generator (`orders_load`, one thread, on the same cores: its own CPU), ticketd, MariaDB, and the host's busy share.",
  "- *Generator start lag*: how late the generator sent a visitor's first request (it waits for one of its connections to be free: ROOM_CONNS, streams included, within the machine's 20000 descriptors); a large lag means the offered load was not offered on time.",
  "- One run per cell (the whole suite has a 6-minute budget); spreads are over the seconds of a run (completions per second, min–max) and the percentiles of its visitors.",
  "",
  "| run | room | offered/s | completed/s (min–max per s) | of capacity | admitted e2e p50 / p95 / p99 ms | room wait p50 / p95 ms | admitted / still waiting | position update gap p99 ms | 503+429 seen (ticketd 503 / 429) | retries | waited > 2 s in ticketd | CPU % generator / ticketd / MariaDB / host busy | generator start lag p95 ms | errors | cmd |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ($runs[] | . as $x | .result as $o |
    "| \(.rate / $r.capacity | round)x | \(.kind) | \(.rate) | \($o.sustained.per_s | num) (\($o.sustained.min_second)–\($o.sustained.max_second)) | \($o.sustained.per_s | pct($r.capacity)) | \($o.latency_us.admitted_end_to_end.p50 | ms) / \($o.latency_us.admitted_end_to_end.p95 | ms) / \($o.latency_us.admitted_end_to_end.p99 | ms) | \(if .kind == "on" then "\($o.latency_us.room_wait.p50 | ms) / \($o.latency_us.room_wait.p95 | ms)" else "–" end) | \(if .kind == "on" then "\($o.room.admitted) / \($o.room.still_waiting)" else "–" end) | \(if $o.latency_us.position_update_gap.n > 0 then ($o.latency_us.position_update_gap.p99 | ms) else "–" end) | \($x | refused) (\(.ticketd.refused_503) / \(.ticketd.refused_429)) | \($o.refusals.retries) | \(over2($x)) | \(cpu($o)) | \($o.latency_us.start_lag.p95 | ms) | \($o.errors | counters) | \(cmd_id($x)) |"),
  "",
  "### Targets (issue #12, room on)",
  "",
  "| target | figure | |",
  "|---|---|---|",
  (if $top == null then "| all | room on not measured | **missed** |" else
    ( "| admitted visitors' end-to-end p95 < 1 s at \($fmax)x | \($top.result.latency_us.admitted_end_to_end.p95 | ms) ms [\($top.tag)] | \(($top.result.latency_us.admitted_end_to_end.n > 0 and $top.result.latency_us.admitted_end_to_end.p95 < 1000000) | yes) |",
      ($runs[] | select(.kind == "on") |
        "| completed purchases/s within 10 % of capacity (\(.rate / $r.capacity | round)x) | \(.result.sustained.per_s | num)/s vs \($r.capacity)/s [\(.tag)] | \(((.result.sustained.per_s - $r.capacity) | fabs) <= 0.1 * $r.capacity | yes) |"),
      ($runs | map(select(.kind == "on")) | . as $on |
        "| zero requests that waited > 2 s inside ticketd | \(if any($on[]; .ticketd.over_2s == null) then "not available (ticketd counts no request time over 2 s; over 2.5 s: \($on | map(.ticketd.over_2_5s) | add))" else ($on | map(.ticketd.over_2s) | add | tostring) end) | \(if any($on[]; .ticketd.over_2s == null) then "not measured" else (($on | map(.ticketd.over_2s) | add) == 0 | yes) end) |"),
      ($runs | map(select(.kind == "on")) | map(.result.latency_us.position_update_gap) | . as $g |
        "| queue position updates p99 < 1 s | worst run \($g | map(.p99) | max | ms) ms over \($g | map(.n) | add) updates | \(($g | map(.n) | add) > 0 and ($g | map(.p99) | max) < 1000000 | yes) |") )
  end),
  "| zero oversell (audit of MariaDB after every run) | \($r.audit.db.seat_in_two_confirmed_orders) seats in two CONFIRMED orders, \($r.audit.db.seat_sold_twice) sold twice, \($r.audit.db.confirmed_seat_not_sold_to_it) CONFIRMED seats not sold to their order | \($r.audit.ok | yes) |",
  (($runs | map(select(.kind == "off"))) as $off |
    "| room off: the excess shed with Retry-After instead of growing latency | \($off | map("\(.rate / $r.capacity | round)x: \(. | refused) refused (\(.result.refusals.retry_after_present) with Retry-After, \(.result.refusals.retry_after_missing) without), admitted e2e p95 \(.result.latency_us.admitted_end_to_end.p95 | ms) ms") | join("; ")) | \(($off | map(select(.rate > $r.capacity)) | all(. | refused > 0 and .result.refusals.retry_after_missing == 0)) | yes) |"),
  "",
  "Audit: \($r.audit.checks | to_entries | map("\(.key): \(.value | ok)") | join("; ")) (orders \($r.audit.db.orders_total), CONFIRMED \($r.audit.db.confirmed_orders), sold seats \($r.audit.db.sold_seats_total)).",
  "",
  "Commands:",
  "",
  "- [cap] `\($cap.command)`",
  ($runs[] | "- [\(.tag)] `\(.command)`")
] | .[]
