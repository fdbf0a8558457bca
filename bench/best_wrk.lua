-- wrk script of bench/best_bench.sh: POST /api/reservations/best for
-- {"eventId":E,"count":C,"holdSeconds":5}, each request with the next
-- session token of a file (one a line; threads take interleaved lines and
-- wrap). Counts answers: 201 held, 409 (NOT_ENOUGH_SEATS/CONFLICT_RETRY),
-- 422 (a session at its hold limit), other. done() prints one JSON line.
-- Args (after --): tokens-file threads event-id count.
local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	tokens = {}
	for line in io.lines(args[1]) do
		if #line > 0 then tokens[#tokens + 1] = line end
	end
	step = tonumber(args[2])
	body = '{"eventId":' .. args[3] .. ',"count":' .. args[4] .. ',"holdSeconds":5}'
	at = tid
	held, c409, c422, other = 0, 0, 0, 0
end

function request()
	local t = tokens[(at % #tokens) + 1]
	at = at + step
	return wrk.format("POST", "/api/reservations/best",
		{ ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json" }, body)
end

function response(status, hdrs, b)
	if status == 201 then held = held + 1
	elseif status == 409 then c409 = c409 + 1
	elseif status == 422 then c422 = c422 + 1
	else other = other + 1 end
end

function done(summary, latency, requests)
	local h, a, b, x = 0, 0, 0, 0
	for _, t in ipairs(threads) do
		h = h + t:get("held"); a = a + t:get("c409")
		b = b + t:get("c422"); x = x + t:get("other")
	end
	local e = summary.errors
	io.write(string.format(
		'{"held":%d,"conflict_409":%d,"limit_422":%d,"other":%d,"requests":%d,' ..
		'"duration_us":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
		h, a, b, x, summary.requests, summary.duration,
		e.connect + e.read + e.write + e.timeout,
		latency:percentile(50), latency:percentile(99), latency.max))
end
