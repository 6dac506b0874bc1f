-- Inserts one session (operation 'S' from ARGV[5]) keeping its user at no more than
-- ARGV[1] active sessions at ARGV[2] (µs): with ARGV[3] = '1' the oldest active ones
-- (by creation, then id: the user index's order) are revoked, else nothing changes.
-- ARGV[4] is the shard's record key prefix. Returns {'DUP', what} | {'LIMIT'} |
-- {'OK', revoked ids...}.
local max, now, revoke_oldest, rpfx = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local op = parse_op(5, 1)
local why = conflict(op)
if why then return {'DUP', why} end
local active = {}
for _, id in ipairs(redis.call('ZRANGE', op.user, 0, -1)) do
  -- Keys reached through the user index are in this slot (same hash tag).
  local f = redis.call('HMGET', rpfx .. id, 'r', 'e')
  if f[2] == false then
    redis.call('ZREM', op.user, id)
  elseif f[1] == false and tonumber(f[2]) > now then
    active[#active + 1] = id
  end
end
local excess = #active + 1 - max
if excess > 0 and not revoke_oldest then return {'LIMIT'} end
apply(op, server_ms())
local out = {'OK'}
for i = 1, excess do
  redis.call('HSET', rpfx .. active[i], 'r', now)
  redis.call('HINCRBY', rpfx .. active[i], 'v', 1)
  out[#out + 1] = active[i]
end
return out
