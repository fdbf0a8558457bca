-- wrk script of bench/checkin_bench.sh: POST /api/checkin, each request a
-- ticket of its own from a file (one ticket a line), threads taking
-- interleaved lines; past the end of the file it wraps (those scans are
-- duplicates: 409). Counts the answers by status; done() prints one JSON
-- line. Args (after --): tickets-file threads scanner-key.
local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	tickets = {}
	for line in io.lines(args[1]) do
		if #line > 0 then tickets[#tickets + 1] = line end
	end
	step = tonumber(args[2])
	key = args[3]
	at = tid
	ok, dup, other = 0, 0, 0
	headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
end

function request()
	local t = tickets[(at % #tickets) + 1]
	at = at + step
	return wrk.format("POST", "/api/checkin", headers,
		'{"ticket":"' .. t .. '","scanner":"bench-' .. tid .. '"}')
end

function response(status, hdrs, body)
	if status == 200 then
		ok = ok + 1
	elseif status == 409 then
		dup = dup + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local o, d, x = 0, 0, 0
	for _, t in ipairs(threads) do
		o = o + t:get("ok")
		d = d + t:get("dup")
		x = x + t:get("other")
	end
	local e = summary.errors
	io.write(string.format(
		'{"accepted":%d,"duplicate":%d,"other":%d,"requests":%d,"duration_us":%d,' ..
		'"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
		o, d, x, summary.requests, summary.duration,
		e.connect + e.read + e.write + e.timeout,
		latency:percentile(50), latency:percentile(99), latency.max))
end
