-- Every session of a user, oldest first. Optimistic (phase 2 of 2): ARGV[1] = n and
-- ARGV[2 .. 1 + n] are the user index as the caller read it (ZRANGE 0 -1). KEYS[1]:
-- the user index; KEYS[2 .. 1 + n]: the records of the n ids, in order. Ids whose
-- record Redis's TTL collected are pruned from the index.
-- Returns {'RETRY', {}} (the index changed since it was read: nothing done) |
-- {'OK', {field list of each record}}.
local n = tonumber(ARGV[1])
if not view_holds(call('ZRANGE', KEYS[1], 0, -1), 2, n) then return {'RETRY', {}} end
local out = {}
for i = 1, n do
  local f = call('HGETALL', KEYS[1 + i])
  if #f == 0 then
    call('ZREM', KEYS[1], ARGV[1 + i])
  else
    out[#out + 1] = f
  end
end
return {'OK', out}
