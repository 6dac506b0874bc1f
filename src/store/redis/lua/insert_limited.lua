-- Inserts one session keeping its user at no more than ARGV[1] active sessions at
-- ARGV[2] (µs): with ARGV[3] = '1' the oldest active ones (by creation, then id: the
-- user index's order) are revoked, else nothing changes.
-- Optimistic (phase 2 of 2): ARGV[4] = n and ARGV[5 .. 4 + n] are the user index as
-- the caller read it (ZRANGE 0 -1); operation 'S' follows from ARGV[5 + n]. KEYS: the
-- operation's keys, then the records of the n ids, in order.
-- Returns {'RETRY'} (the index changed since it was read: nothing done) |
-- {'DUP', what} | {'LIMIT'} | {'OK', revoked ids...}.
local max, now, revoke_oldest, n = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4])
local op, _, ki = parse_op(5 + n, 1)
if not view_holds(call('ZRANGE', op.user, 0, -1), 5, n) then return {'RETRY'} end
local why = conflict(op)
if why then return {'DUP', why} end
local active = {}
for i = 1, n do
  local id, record = ARGV[4 + i], KEYS[ki + i - 1]
  local f = call('HMGET', record, 'r', 'e')
  if f[2] == false then
    -- Redis's TTL collected the record: its index entry goes too.
    call('ZREM', op.user, id)
  elseif f[1] == false and tonumber(f[2]) > now then
    active[#active + 1] = {id = id, record = record}
  end
end
local excess = #active + 1 - max
if excess > 0 and not revoke_oldest then return {'LIMIT'} end
apply(op, server_ms())
local out = {'OK'}
for i = 1, excess do
  call('HSET', active[i].record, 'r', now)
  call('HINCRBY', active[i].record, 'v', 1)
  out[#out + 1] = active[i].id
end
return out
