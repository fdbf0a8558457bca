-- HOLD in the prior design (Redis 7 + Lua, atomic on the server): the
-- baseline that bench/udp_load.c --backend redis measures.
-- KEYS[1] seat:{E}:S  the hold; value = holder (session token), PX = length
-- KEYS[2] sold:{E}    set of the event's sold seat ids (the "is it sold?"
--                     check; {E} keeps both keys in one cluster slot)
-- ARGV[1] holder, ARGV[2] hold length in ms, ARGV[3] seat id
-- Returns a UDP protocol status: 0 OK, 1 TAKEN, 2 SOLD.
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then
  return 2
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
-- already held: the same holder's hold is renewed, anyone else's blocks
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
return 1
