-- RELEASE in the prior design: compare-and-delete, so only the holder can
-- release (the seed's missing owner check, put back).
-- KEYS[1] seat:{E}:S, ARGV[1] holder
-- Returns a UDP protocol status: 0 OK, 4 NOT_HOLDER.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
return 4
