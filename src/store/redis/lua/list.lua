-- Every session of a user, oldest first. Phase 2 of 2: ARGV[1] = n and
-- ARGV[2 .. 1 + n] are the user index as the caller read it (ZRANGE 0 -1). KEYS[1]:
-- the user index; KEYS[2 .. 1 + n]: the records of the n ids, in order, read here in
-- one atomic step. A session created after the read is concurrent with the list and
-- is not in it (no view check, so concurrent creates never make a list fail). Ids
-- whose record Redis's TTL collected are pruned from the index.
-- Returns {'OK', {field list of each record}}.
local n = tonumber(ARGV[1])
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
