-- QUERY in the prior design: the seat's state, unchanged.
-- KEYS[1] seat:{E}:S, KEYS[2] sold:{E}, ARGV[1] seat id
-- Returns a UDP protocol status: 0 available, 1 held, 2 sold.
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  return 2
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 1
end
return 0
