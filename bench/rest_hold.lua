-- wrk script for the REST hold benchmark (bench/rest_bench.sh), a cross-check
-- of bench/rest_load.c with a standard tool:
--   wrk -t2 -c1000 -d10s --latency -s bench/rest_hold.lua URL -- \
--       TOKENS_FILE EVENT SEAT_LO SEAT_HI HOLD_SECONDS THREADS
--
-- Each request is either a hold of one random seat with the thread's next
-- token (POST /api/reservations), or, when a hold was granted, its release
-- (DELETE /api/reservations/E/S with the same token), sent first.
--
-- What wrk cannot express, and how this script gets around it: wrk calls
-- request() and response() per thread, not per connection, and does not say
-- which request an answer belongs to. So
--   * threads use disjoint seats (seat % THREADS == thread id) and a seat is
--     never asked for twice at once within a thread (`busy`), so the seat in
--     a 201 body names the token that holds it;
--   * a 204 (or 410/403) answer frees the oldest released seat (FIFO); an
--     answer may overtake another, which at worst frees a seat whose DELETE
--     is still in flight and turns a later hold of it into a harmless 409.
-- wrk's latency histogram mixes holds and releases: use rest_load.c for the
-- hold latency alone. Prints one line "REST_WRK_JSON {...}" at the end.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local tokens, my_tokens, turn = {}, {}, 0
local event, seat_lo, seat_hi, hold_secs, nthreads
local busy = {}          -- seat -> token, from the hold until its release is answered
local delq, dq_head, dq_tail = {}, 1, 0   -- holds granted, release not yet sent
local relq, rq_head, rq_tail = {}, 1, 0   -- releases sent, answer not yet seen
counts = {}              -- status -> count (read by done() through thread:get)
extra = { no_free_seat = 0, unknown_seat = 0 }

function init(args)
  local path = args[1]
  event = tonumber(args[2]) or 1
  seat_lo = tonumber(args[3]) or 0
  seat_hi = tonumber(args[4]) or 9999
  hold_secs = tonumber(args[5]) or 10
  nthreads = tonumber(args[6]) or 2
  for line in io.lines(path) do
    if #line == 32 then table.insert(tokens, line) end
  end
  -- this thread's tokens: every nthreads-th, so threads share none
  for i = id + 1, #tokens, nthreads do table.insert(my_tokens, tokens[i]) end
  math.randomseed(os.time() * 97 + id * 7919)
end

local function pick_seat()
  -- a random seat of this thread's share that is not in use
  local span = seat_hi - seat_lo + 1
  for _ = 1, 16 do
    local s = seat_lo + math.random(0, span - 1)
    s = s - (s % nthreads) + id
    if s <= seat_hi and busy[s] == nil then return s end
  end
  return nil
end

function request()
  if dq_head <= dq_tail then
    local d = delq[dq_head]
    delq[dq_head] = nil
    dq_head = dq_head + 1
    rq_tail = rq_tail + 1
    relq[rq_tail] = d.seat
    return wrk.format("DELETE", "/api/reservations/" .. event .. "/" .. d.seat,
                      { ["Authorization"] = "Bearer " .. d.token })
  end
  local s = pick_seat()
  if s == nil then
    extra.no_free_seat = extra.no_free_seat + 1
    s = seat_lo + id
  end
  turn = turn % #my_tokens + 1
  local tok = my_tokens[turn]
  busy[s] = tok
  local body = '{"eventId":' .. event .. ',"seatIds":[' .. s ..
               '],"holdSeconds":' .. hold_secs .. '}'
  return wrk.format("POST", "/api/reservations",
                    { ["Authorization"] = "Bearer " .. tok,
                      ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 201 then
    local s = tonumber(body:match('"seatIds":%[(%d+)%]'))
    if s and busy[s] then
      dq_tail = dq_tail + 1
      delq[dq_tail] = { seat = s, token = busy[s] }
    else
      extra.unknown_seat = extra.unknown_seat + 1
    end
  elseif status == 204 or status == 410 or status == 403 then
    if rq_head <= rq_tail then
      busy[relq[rq_head]] = nil
      relq[rq_head] = nil
      rq_head = rq_head + 1
    end
  else
    -- a refused hold: 409 and 422 bodies name the seat in details.seatIds
    local s = body and tonumber(body:match('"seatIds":%[(%d+)'))
    if s then busy[s] = nil end
  end
end

function done(summary, latency, requests)
  local total, ex = {}, { no_free_seat = 0, unknown_seat = 0 }
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts") or {}) do
      total[tostring(k)] = (total[tostring(k)] or 0) + v
    end
    local e = t:get("extra") or {}
    for k, v in pairs(e) do ex[k] = (ex[k] or 0) + v end
  end
  local st = {}
  for k, v in pairs(total) do table.insert(st, string.format('"%s":%d', k, v)) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'REST_WRK_JSON {"tool":"wrk","duration_s":%.3f,"requests":%d,' ..
    '"requests_per_s":%.1f,"holds_granted":%d,"holds_granted_per_s":%.1f,' ..
    '"all_latency_us":{"n":%d,"mean":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,' ..
    '"p999":%d,"max":%d},"status":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"non2xx":%d},' ..
    '"script":{"no_free_seat":%d,"unknown_seat":%d}}\n',
    secs, summary.requests, summary.requests / secs,
    total["201"] or 0, (total["201"] or 0) / secs,
    summary.requests, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    table.concat(st, ","), e.connect, e.read, e.write, e.timeout, e.status,
    ex.no_free_seat, ex.unknown_seat))
end
