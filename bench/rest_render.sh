#!/usr/bin/env bash
# Prints the markdown section of the REST hold benchmark from its result file
# (default bench/results/rest_hold.json), for BENCHMARKS.md.
#   bash bench/rest_render.sh [bench/results/rest_hold.json]
set -euo pipefail
IN=${1:-bench/results/rest_hold.json}
[ -s "$IN" ] || { echo "rest_render: $IN missing" >&2; exit 1; }

jq -r '
def ms: if . == null then "n/a" else (. / 1000 * 100 | round / 100 | tostring) end;
def n0: if . == null then "n/a" else (. | round | tostring) end;
def x2: if . == null then "n/a" else ((. * 100 | round / 100 | tostring) + "x") end;
# median (min-max)
def mms(f): if . == null then "n/a" else "\(.median | f) (\(.min | f)-\(.max | f))" end;
def st(o): o | to_entries | map("\(.key): \(.value)") | join(", ");

. as $r
| $r.series.rest.summary as $a | $r.series.redis_lua.summary as $b
| $r.series.rest_wrk as $w
| $r.ratios_vs_redis_lua.paired_by_rep as $p
| $r.machine as $m
| [
  "### REST holds at \($r.settings.connections) connections",
  "",
  "`bash bench/rest_bench.sh` on \($r.started) (\($r.settings.runs) runs x \($r.settings.seconds) s per path, interleaved; \($m.nproc) cores, \($m.cpu), kernel \($m.kernel), \($m.os), Redis \($m.redis), wrk \($m.wrk); \($r.build)). CPU busy from other work just before/after the runs: \($r.background_busy_pct.before) % / \($r.background_busy_pct.after) %. Each connection loops: hold one random seat of a \($r.settings.rows) x \($r.settings.cols) event (holdSeconds \($r.settings.hold_seconds)), and release it when granted; one request in flight per connection. ticketd runs with \($r.settings.ticketd_http_threads) HTTP threads and the load generator with \($r.settings.client_threads) threads on the same machine. Figures are the median over runs, (min-max) the spread; latencies in ms.",
  "",
  "| path | requests/s | holds granted/s | hold p50 | hold p95 | hold p99 | hold max | release p99 | server CPU us/request |",
  "|---|---|---|---|---|---|---|---|---|",
  "| ticketd REST (rest_load) | \($a.requests_per_s | mms(n0)) | \($a.holds_granted_per_s | mms(n0)) | \($a.hold_latency_us.p50 | mms(ms)) | \($a.hold_latency_us.p95 | mms(ms)) | \($a.hold_latency_us.p99 | mms(ms)) | \($a.hold_latency_us.max | mms(ms)) | \($a.release_latency_us.p99 | mms(ms)) | \($a.server_cpu_us_per_request | mms(.*10|round/10)) |",
  "| Redis+Lua alone, no HTTP layer (a lower bound for the seed design'"'"'s hold latency) | \($b.requests_per_s | mms(n0)) | \($b.holds_granted_per_s | mms(n0)) | \($b.hold_latency_us.p50 | mms(ms)) | \($b.hold_latency_us.p95 | mms(ms)) | \($b.hold_latency_us.p99 | mms(ms)) | \($b.hold_latency_us.max | mms(ms)) | \($b.release_latency_us.p99 | mms(ms)) | \($b.server_cpu_us_per_request | mms(.*10|round/10)) |",
  (if $w then "| ticketd REST via wrk (latency of holds and releases mixed) | \($w.summary.requests_per_s | mms(n0)) | \($w.summary.holds_granted_per_s | mms(n0)) | all: \($w.summary.all_latency_us.p50 | mms(ms)) | all: \($w.summary.all_latency_us.p95 | mms(ms)) | all: \($w.summary.all_latency_us.p99 | mms(ms)) | all: \($w.summary.all_latency_us.max | mms(ms)) | | \($w.summary.server_cpu_us_per_request | mms(.*10|round/10)) |" else empty end),
  "| ratio REST / Redis+Lua, paired by run: median (min-max) | \($p.requests_per_s | mms(x2)) | | \($p.hold_p50 | mms(x2)) | \($p.hold_p95 | mms(x2)) | \($p.hold_p99 | mms(x2)) | | | \($p.server_cpu_us_per_request | mms(x2)) |",
  "",
  "Targets (hold latency, median of runs): p95 < 20 ms: **\(if $r.targets.hold_p95_lt_20ms.met then "met" else "missed" end)** (\($r.targets.hold_p95_lt_20ms.median_us | ms) ms, worst run \($r.targets.hold_p95_lt_20ms.worst_run_us | ms) ms); p99 < 50 ms: **\(if $r.targets.hold_p99_lt_50ms.met then "met" else "missed" end)** (\($r.targets.hold_p99_lt_50ms.median_us | ms) ms, worst run \($r.targets.hold_p99_lt_50ms.worst_run_us | ms) ms); zero oversell: **\(if $r.targets.zero_oversell.met then "met" else "FAILED" end)**.",
  "",
  "- REST hold answers, all runs: \(st($a.hold_status_total)); release answers: \(st($a.release_status_total)); error codes: \(st($a.codes_total)); client errors: \(st($a.errors_total)); holds left unreleased: \($a.holds_unreleased_total).",
  "- Redis+Lua hold answers (0 OK, 1 TAKEN): \(st($b.hold_status_total)); release: \(st($b.release_status_total)); client errors: \(st($b.errors_total)).",
  (if $w then "- wrk answers: \(st($w.summary.status_total)); wrk errors: \(st($w.summary.errors_total))." else empty end),
  "- Oversell audit after a \($r.audit.storm.load.duration_s) s hold storm without releases (600 s holds, \($r.settings.sessions) sessions, limit 8 each): \($r.audit.storm.audit.grants_seen) holds granted, \($r.audit.storm.audit.listed_holds) in the sessions'"'"' lists, \($r.audit.storm.audit.held_in_map) HELD in the seat map, \($r.audit.storm.audit.sessions_at_limit) sessions at the limit; checks: \($r.audit.storm.audit.checks | to_entries | map("\(.key) \(if .value then "ok" else "FAILED" end)") | join(", ")). After each timed run the seat map showed \([$r.audit.after_each_rest_run[].held] | map(tostring) | join("/")) seats still held (allowed: the holds whose release did not answer). ticketd alive at the end: \($r.audit.ticketd_alive_at_end).",
  "- Hot path: MariaDB queries during each timed REST run: \($r.hot_path_evidence.mariadb_questions_per_rest_run | map(tostring) | join(", ")) (for \($a.requests_per_s.median * $r.settings.seconds | round) requests a run); ticketd'"'"'s Redis commands a run: \($r.hot_path_evidence.ticketd_redis_commands_per_rest_run | map(tostring) | join(", ")). The same while ticketd sat idle (during the Redis+Lua runs): MariaDB \($r.hot_path_evidence.mariadb_questions_while_ticketd_idle | map(tostring) | join(", ")), Redis \($r.hot_path_evidence.ticketd_redis_commands_while_ticketd_idle | map(tostring) | join(", ")).",
  (if ($r.hot_path_evidence.profile.by_dso | length) > 0 then "- perf on ticketd under load (by DSO): \($r.hot_path_evidence.profile.by_dso[:8] | join("; "))" else empty end),
  "",
  "Commands:",
  "- REST: `\($r.series.rest.command)`",
  "- baseline: `\($r.series.redis_lua.command)`",
  (if $w then "- wrk: `\($w.command)`" else empty end),
  "- storm: `\($r.audit.storm.command)` then `python3 bench/rest_audit.py storm ...`",
  ""
] | .[]
' "$IN"
