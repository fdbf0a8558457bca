#!/usr/bin/env bash
# Prints the markdown section of the REST hold benchmark from its result file
# (default bench/results/rest_hold.json), for BENCHMARKS.md.
#   bash bench/rest_render.sh [bench/results/rest_hold.json]
set -euo pipefail
IN=${1:-bench/results/rest_hold.json}
[ -s "$IN" ] || {
	echo "rest_render: $IN missing: raw results are not kept in git (bash bench/rest_bench.sh writes it); bench/results/rest_hold.md keeps the last rendered section" >&2
	exit 1
}

jq -r '
def ms: if . == null then "n/a" else (. / 1000 * 100 | round / 100 | tostring) end;
def n0: if . == null then "n/a" else (. | round | tostring) end;
def d1: if . == null then "n/a" else (. * 10 | round / 10 | tostring) end;
def x2: if . == null then "n/a" else ((. * 100 | round / 100 | tostring) + "x") end;
# median (min-max)
def mms(f): if . == null then "n/a" else "\(.median | f) (\(.min | f)-\(.max | f))" end;
def st(o): (o // {}) | to_entries | map("\(.key): \(.value)") | join(", ");
def ok(b): if b then "ok" else "FAILED" end;
def offered: if .rate == 0 then "closed loop" else "\(.rate) holds/s" end;
def name:
  if .kind == "rest" then "ticketd REST (rest_load)"
  elif .kind == "redis" then "Redis+Lua alone, no HTTP layer"
  else "ticketd REST via wrk (holds and releases mixed)" end;
def row:
  .summary as $s
  | if .kind == "wrk" then
      "| \(name) | \(offered) | \($s.requests_per_s | mms(n0)) | \($s.holds_granted_per_s | mms(n0)) | all: \($s.all_latency_us.p50 | mms(ms)) | all: \($s.all_latency_us.p95 | mms(ms)) | all: \($s.all_latency_us.p99 | mms(ms)) | all: \($s.all_latency_us.max | mms(ms)) | | \($s.server_cpu_us_per_request | mms(d1)) | |"
    else
      "| \(name) | \(offered) | \($s.requests_per_s | mms(n0)) | \($s.holds_granted_per_s | mms(n0)) | \($s.hold_latency_us.p50 | mms(ms)) | \($s.hold_latency_us.p95 | mms(ms)) | \($s.hold_latency_us.p99 | mms(ms)) | \($s.hold_latency_us.max | mms(ms)) | \($s.release_latency_us.p99 | mms(ms)) | \($s.server_cpu_us_per_request | mms(d1)) | \($s.serving_cpu_us_per_request_with_journal | mms(d1)) |"
    end;
def ratio_row:
  .paired_by_rep as $p
  | "| *ratio REST / Redis+Lua, paired runs* | \(if .rate == 0 then "closed loop" else "\(.rate) holds/s" end) | \($p.requests_per_s | mms(x2)) | | \($p.hold_p50 | mms(x2)) | \($p.hold_p95 | mms(x2)) | \($p.hold_p99 | mms(x2)) | | | \($p.server_cpu_us_per_request | mms(x2)) | \($p.serving_cpu_with_journal | mms(x2)) |";
def tgt:
  "\(.series): p95 \(.hold_p95_lt_20ms.median_us | ms) ms (worst run \(.hold_p95_lt_20ms.worst_run_us | ms)) **\(if .hold_p95_lt_20ms.met then "met" else "missed" end)**, p99 \(.hold_p99_lt_50ms.median_us | ms) ms (worst run \(.hold_p99_lt_50ms.worst_run_us | ms)) **\(if .hold_p99_lt_50ms.met then "met" else "missed" end)**";

. as $r
| $r.machine as $m
| $r.series as $S
| ($S | to_entries | map(.value)) as $all
| $r.audit.storm.audit as $sa
| [
  "### REST holds at \($r.settings.connections) connections",
  "",
  "`bash bench/rest_bench.sh`, \($r.started) to \($r.finished); \($m.nproc) cores (\($m.cpu)), kernel \($m.kernel), \($m.os), Redis \($m.redis), wrk \($m.wrk); \($r.build). CPU busy from other work on the machine just before/after: \($r.background_busy_pct.before) % / \($r.background_busy_pct.after) %.",
  "",
  "Each of \($r.settings.connections) connections (\($r.settings.sessions) sessions, each connection its own) holds one random seat of a \($r.settings.rows) x \($r.settings.cols) event (holdSeconds \($r.settings.hold_seconds)) and releases it when granted; one request in flight per connection. Closed loop: the next hold goes at once (\($r.settings.runs) runs of \($r.settings.seconds) s). Paced: holds leave on a fixed schedule and their latency counts from it (\($r.settings.rate_runs) runs of \($r.settings.seconds) s). REST and Redis+Lua runs alternate. ticketd: \($r.settings.ticketd_http_threads) HTTP threads; load generator: \($r.settings.client_threads) threads on the same machine. Median over runs, (min-max) the spread; latencies in ms. Server CPU: ticketd'"'"'s (or the baseline redis-server'"'"'s) user + system time per request; \"with ticketd'"'"'s Redis\" adds the CPU of the Redis that ticketd journals every seat change to (asynchronously, off the request path, but on the same two cores). Redis+Lua alone, no HTTP layer, is a lower bound for the seed design'"'"'s hold latency: the seed also had Spring, JSON and a database \"is it sold?\" query on this path.",
  "",
  "| path | load | requests/s | holds granted/s | hold p50 | hold p95 | hold p99 | hold max | release p99 | server CPU us/request | with ticketd'"'"'s Redis |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
  ( [$r.ratios_vs_redis_lua[] as $c
      | ($S[$c.rest] | row), ($S[$c.baseline] | row), ($c | ratio_row),
        (if $c.rate == 0 and $S.rest_wrk then ($S.rest_wrk | row) else empty end)] | .[]),
  "",
  "Targets (REST hold latency, median of runs; p95 < 20 ms, p99 < 50 ms): \($r.targets.closed_loop | tgt)\([$r.targets.paced[] | "; " + tgt] | join("")). Zero oversell: **\(if $r.targets.zero_oversell.met then "met" else "FAILED" end)**.",
  "",
  "- REST answers (closed loop, all runs): holds \(st($S.rest.summary.hold_status_total)); releases \(st($S.rest.summary.release_status_total)); error codes \(st($S.rest.summary.codes_total)); client errors \(st($S.rest.summary.errors_total)); holds left unreleased \($S.rest.summary.holds_unreleased_total).",
  "- Redis+Lua answers (0 OK, 1 TAKEN; closed loop): holds \(st($S.redis.summary.hold_status_total)); releases \(st($S.redis.summary.release_status_total)); client errors \(st($S.redis.summary.errors_total)).",
  (if $S.rest_wrk then "- wrk answers: \(st($S.rest_wrk.summary.status_total)); wrk errors \(st($S.rest_wrk.summary.errors_total))." else empty end),
  "- Oversell audit: a \($r.audit.storm.load.duration_s) s hold storm without releases (600 s holds, limit 8 per session) granted \($sa.grants_seen) holds (\($r.audit.storm.load.hold_status | st(.))); the \($r.settings.sessions) sessions'"'"' GET /api/reservations list \($sa.listed_holds) holds, the seat map shows \($sa.held_in_map) HELD, \($sa.sessions_at_limit) sessions at the limit; \($sa.checks | to_entries | map("\(.key) \(ok(.value))") | join(", ")). Releasing them all: \(st($r.audit.release_after_storm.statuses)), \($r.audit.release_after_storm.held_after) seats held after. After every REST run the seat map held \([$r.audit.after_each_rest_run[].held] | map(tostring) | join("/")) seats (allowed: holds whose release did not answer): \(ok([$r.audit.after_each_rest_run[].ok] | all)). ticketd alive at the end: \($r.audit.ticketd_alive_at_end).",
  "- Hot path: ticketd'"'"'s MariaDB questions per run during REST runs: \($r.hot_path_evidence.per_series.rest.ticketd_mariadb_questions | map(tostring) | join(", ")) (for \($r.hot_path_evidence.per_series.rest.requests | map(tostring) | join(", ")) requests); the same while it sat idle (Redis+Lua runs): \($r.hot_path_evidence.per_series.redis.ticketd_mariadb_questions | map(tostring) | join(", ")). Its Redis commands: \($r.hot_path_evidence.per_series.rest.ticketd_redis_commands | map(tostring) | join(", ")) (idle: \($r.hot_path_evidence.per_series.redis.ticketd_redis_commands | map(tostring) | join(", "))): the journal of seat changes, written by the change consumer thread, not by the request.",
  "- Back ends'"'"' CPU seconds per run, REST runs vs Redis+Lua runs (ticketd idle): ticketd'"'"'s Redis \($r.series.rest.summary.backends_cpu_s.redis | mms(.*100|round/100)) vs \($r.series.redis.summary.backends_cpu_s.redis | mms(.*100|round/100)); MariaDB \($r.series.rest.summary.backends_cpu_s.mariadb | mms(.*100|round/100)) vs \($r.series.redis.summary.backends_cpu_s.mariadb | mms(.*100|round/100)); Kafka \($r.series.rest.summary.backends_cpu_s.kafka | mms(.*100|round/100)) vs \($r.series.redis.summary.backends_cpu_s.kafka | mms(.*100|round/100)).",
  (if ($r.hot_path_evidence.profile.by_dso | length) > 0 then "- perf on ticketd under the closed loop, by DSO: \($r.hot_path_evidence.profile.by_dso[:8] | join("; ")). Top symbols: \($r.hot_path_evidence.profile.top_symbols[:8] | join("; ")). By thread: \($r.hot_path_evidence.profile.by_thread | join("; "))." else empty end),
  "",
  "Commands (rest_load = bench/rest_load.c):",
  ( $all[] | "- \(.id): `\(.command)`"),
  "- storm: `\($r.audit.storm.command)`, then `python3 bench/rest_audit.py storm|release ...`",
  "- profile: `\($r.hot_path_evidence.profile.command)`",
  ""
] | .[]
' "$IN"
