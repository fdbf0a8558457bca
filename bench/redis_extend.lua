-- EXTEND in the prior design: compare-and-expire.
-- KEYS[1] seat:{E}:S, ARGV[1] holder, ARGV[2] new hold length in ms
-- Returns a UDP protocol status: 0 OK, 4 NOT_HOLDER.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
return 4
