#!/usr/bin/env bash
# Prints the markdown section of the hostile-client benchmark from its
# result file (default bench/results/hostile.json), for BENCHMARKS.md.
#   bash bench/hostile_render.sh [bench/results/hostile.json]
set -euo pipefail
IN=${1:-bench/results/hostile.json}
[ -s "$IN" ] || {
	echo "hostile_render: $IN missing: raw results are not kept in git (bash bench/hostile_bench.sh writes it); bench/results/hostile.md keeps the last rendered section" >&2
	exit 1
}

jq -r '
def r2: if . == null then "n/a" else (. * 100 | round / 100 | tostring) end;
def n0: if . == null then "n/a" else (. | round | tostring) end;
def x2: if . == null then "n/a" else ((. * 100 | round / 100 | tostring) + "x") end;
def med: sort | .[((length - 1) / 2 | floor)];
# median (min-max) of a list of numbers
def mms(f): map(select(. != null)) | if length == 0 then "n/a"
  elif length == 1 then (.[0] | f)
  else "\(med | f) (\(min | f)-\(max | f))" end;
def sum0: map(. // 0) | add // 0;
def tally: (. // {}) | to_entries | map("\(.key): \(.value)") | join(", ");
. as $d
| ($d.runs | map(select(.scenario == "baseline" and .id == "baseline"))) as $base
| def base_p99(r): ($base | map(select(.round == r))[0].bystander.rest_ms.p99);
  def runs($id): $d.runs | map(select(.id == $id)) | sort_by(.round);
  def ratios($id): runs($id) | map(.bystander.rest_ms.p99 as $p | base_p99(.round) as $b
      | if $p == null or $b == null or $b == 0 then null else $p / $b end);
  def flood_cell($id):
    runs($id) as $r
    | if $id == "sessions" then
        "\($r | map(.flood.accepted_per_s) | mms(n0)) sessions/s accepted; refused (all rounds): 429: \($r | map(.flood.refused["429"]) | sum0), 503: \($r | map(.flood.refused["503"]) | sum0), connection refused/reset: \($r | map(.flood.refused.connection_refused + .flood.refused.connection_reset) | sum0); its own p99 \($r | map(.flood.latency_ms.p99) | mms(r2)) ms"
      elif $id == "garbage" then
        "\($r | map(.flood.sent_per_s) | mms(n0)) datagrams/s (\($r | map(.flood.sent) | sum0) in all), answers to them: \($r | map(.flood.replies) | sum0) (\($r | map(.flood.reply_bytes) | sum0) bytes)"
      elif $id == "slow" then
        "\($r | map(.flood.max_open) | mms(n0)) of \($r[0].flood.conns) open at most; by the end (\($r[0].flood.duration_s | n0) s): cut by the server \($r | map(.flood.cut_by_server) | mms(n0)) (\($r | map(.flood.cut_at_once // 0) | mms(n0)) of them within 0.5 s of opening; after \($r | map(.flood.cut_after_s.p50) | mms(r2)) s, median; answered before the cut \($r | map(.flood.answered) | mms(n0))), still open \($r | map(.flood.open_at_end) | mms(n0)), refused \($r | map(.flood.refused) | mms(n0))"
      else "" end;
  def row($id; $title):
    runs($id) as $r
    | "| \($title) | \($r | map(.bystander.rest_ms.p50) | mms(r2)) | \($r | map(.bystander.rest_ms.p99) | mms(r2)) | \($r | map(.bystander.rest_ms.max) | mms(r2)) | \(if $id == "baseline" then "1x" else (ratios($id) | mms(x2)) end) | \($r | map(.bystander["5xx"]) | sum0) | \($r | map(.bystander.failures) | sum0) | \($r | map(.bystander.udp.hold_rtt_ms.p99) | mms(r2)) | \($r | map(.bystander.udp.lost) | sum0) | \($r | map(.readyz_after) | unique | join("/")) | \(flood_cell($id)) |";
  def verdict($id):
    runs($id) as $r
    | ($r | map(.bystander.rest_ms.p99 // 1e9) | max) as $w
    | ($r | map(.bystander["5xx"] // 0) | add) as $x
    | ($r | map(.bystander.failures // 0) | add) as $f
    | "\($id): worst p99 \($w | r2) ms, \($x) 5xx, \($f) failed requests: **\(if $w < 100 and $x == 0 and $f == 0 then "met" else "not met" end)**";
  ($d.runs | map(select(.scenario == "ladder")) | sort_by(.flood.rate)) as $lad
| ($lad | map(select(.bystander.rest_ms.p99 > 3)) | .[0]) as $over
| "### Hostile clients: a bystander beside one address'"'"'s floods",
  "",
  "`\($d.command)`, \($d.started) to \($d.finished); \($d.machine.nproc) cores (\($d.machine.cpu)), kernel \($d.machine.kernel), \($d.machine.os); \($d.build). CPU busy from other work on the machine just before/after: \($d.background_busy_pct.before) % / \($d.background_busy_pct.after) %.",
  "",
  "ticketd with its default limits (`\($d.commands.ticketd)`), the UDP hold protocol from its socket door on 127.0.0.1. The bystander is a normal client on 127.0.0.2 with its own session: \($d.bystander_rate) cycles/s on a fixed schedule, each `GET /api/events/\($d.bystander_event)/seats`, `POST /api/reservations` of one seat, `DELETE` it (the first request of a cycle counts from its schedule, so a stall is not hidden); and from a thread of its own, on its own schedule, as many UDP HOLD and RELEASE pairs (protocol v1, same session, other seats; round trip from the send, 2 s without an answer is lost). It measures \($d.secs) s alone (baseline) and \($d.secs) s beside each flood, in each of \($d.rounds) rounds (baseline, sessions, garbage, slow, one after the other). REST latencies are over all its requests (seat map, hold, release), in ms; median over rounds, (min-max) the spread; ratio: p99 beside the flood / the baseline p99 of the same round; 5xx and failed requests (no answer in 2 s, refused or broken connection) summed over rounds; readyz: `GET /readyz` right after.",
  "",
  "| scenario | REST p50 | REST p99 | REST max | p99 / baseline | 5xx | failed | UDP hold RTT p99 | UDP lost | readyz | the flood |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
  row("baseline"; "undisturbed (baseline)"),
  row("sessions"; "127.0.0.1 floods `POST /api/sessions` (8 connections, as fast as answered)"),
  row("garbage"; "127.0.0.1 sends random datagrams (0..1500 bytes) at the UDP door"),
  row("slow"; "\(runs("slow")[0].flood.conns // "?") slow connections from 127.0.0.10-254, one header byte per second each"),
  "",
  "Target (issue #18: the bystander'"'"'s REST p99 under 100 ms and no 5xx under each flood): \(["sessions", "garbage", "slow"] | map(verdict(.)) | join("; ")).",
  "",
  "Session flood paced (127.0.0.1, \($d.ladder_secs) s per rate, one pass; 8 connections, one request in flight each, so a rate the server cannot answer is not reached: sent/s says what was), the bystander beside it; the unpaced flood of the table above is the last row:",
  "",
  "| offered sessions/s | sent/s | accepted/s | refused (429 / 503 / connection) | bystander REST p50 | p99 | max | 5xx |",
  "|---|---|---|---|---|---|---|---|",
  (runs("baseline_end")[] | "| none (undisturbed, measured after the ladder) | | | | \(.bystander.rest_ms.p50 | r2) | \(.bystander.rest_ms.p99 | r2) | \(.bystander.rest_ms.max | r2) | \(.bystander["5xx"]) |"),
  ($lad[] | "| \(.flood.rate) | \(.flood.sent_per_s | n0) | \(.flood.accepted_per_s | n0) | \(.flood.refused["429"]) / \(.flood.refused["503"]) / \(.flood.refused.connection_refused + .flood.refused.connection_reset) | \(.bystander.rest_ms.p50 | r2) | \(.bystander.rest_ms.p99 | r2) | \(.bystander.rest_ms.max | r2) | \(.bystander["5xx"]) |"),
  (runs("sessions") as $r | "| as fast as answered | \($r | map(.flood.sent_per_s) | mms(n0)) | \($r | map(.flood.accepted_per_s) | mms(n0)) | \($r | map(.flood.refused["429"]) | sum0) / \($r | map(.flood.refused["503"]) | sum0) / \($r | map(.flood.refused.connection_refused + .flood.refused.connection_reset) | sum0) | \($r | map(.bystander.rest_ms.p50) | mms(r2)) | \($r | map(.bystander.rest_ms.p99) | mms(r2)) | \($r | map(.bystander.rest_ms.max) | mms(r2)) | \($r | map(.bystander["5xx"]) | sum0) |"),
  "",
  ((if $over != null then "The bystander'"'"'s p99 first exceeds 3 ms at \($over.flood.rate) sessions/s offered (\($over.flood.accepted_per_s | n0) accepted/s; p99 \($over.bystander.rest_ms.p99 | r2) ms)."
   else "The bystander'"'"'s p99 stays at or under 3 ms at every paced rate up to \($lad | map(.flood.rate) | max) sessions/s offered." end)
   + " Its undisturbed p99 in this run: \($base | map(.bystander.rest_ms.p99) | mms(r2)) ms over the rounds, \(runs("baseline_end")[0].bystander.rest_ms.p99 | r2) ms after the ladder; other work on the machine (\($d.background_busy_pct.before) % busy before the run) moves both, so one paced rate above 3 ms is a hint, not a threshold, unless the undisturbed p99 stays well below it."),
  "",
  "How many seats of one 100-seat demo event (event \($d.probe_event)) one client address (127.0.0.3) holds at once with the defaults: it creates sessions and holds seat after seat, a new session whenever one reaches its limit, until refused; one phase over REST, then one over UDP (and again UDP first); the probe then releases every seat it took.",
  "",
  "| order | seats held at once | over REST | over UDP | sessions | what stopped REST | what stopped UDP | the event'"'"'s held count | answers |",
  "|---|---|---|---|---|---|---|---|---|",
  ($d.probes[] | "| \(.order) | **\(.held_at_once)** of \(.seats) | \(.held_rest) | \(.held_udp) | \(.sessions) (refused \(.session_refusals), waited \(.waited_s) s) | \(.stopped_rest) | \(.stopped_udp) | \(.event_held) | \(.answers | tally) |"),
  "",
  "Commands (flood_load = bench/flood_load.c; each flood starts 0.5 s before the bystander, the slow one 4 s before, once all its connections are open):",
  "- bystander: `\($d.commands.bystander)`",
  "- sessions: `\($d.commands.sessions)`",
  "- ladder: `\($d.commands.ladder)` for RATE in the table",
  "- garbage: `\($d.commands.garbage)`",
  "- slow: `\($d.commands.slow)`",
  "- probe: `\($d.commands.probe)`"
' "$IN"
