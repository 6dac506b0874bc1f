-- Reads shards' expiry indexes and the records of a view of each, in one atomic step,
-- changing nothing: phase 1 of purge, and count and export (whose check of the view is
-- done by the caller). ARGV[1]: what to read, 'count' | 'all' | 'expired'; ARGV[2]:
-- now (µs; entries at or before it, for 'count' and 'expired'); ARGV[3]: the most
-- entries per shard ('expired'); then per shard n. KEYS per shard: the expiry index,
-- then the records of its n view ids.
-- Returns, per shard, {entries, size of the index, {per view record: EXISTS ('count'),
-- HGETALL ('all') or HMGET u th ph ('expired')}}, the entries being ZRANGE 0 -1 ('all')
-- or ZRANGEBYSCORE -inf now ('count'; 'expired' with LIMIT 0 ARGV[3]).
local mode, now, limit = ARGV[1], ARGV[2], ARGV[3]
local out = {}
local ai, ki = 4, 1
while ki <= #KEYS do
  local x, n = KEYS[ki], tonumber(ARGV[ai])
  ki, ai = ki + 1, ai + 1
  local entries
  if mode == 'all' then
    entries = call('ZRANGE', x, 0, -1)
  elseif mode == 'expired' then
    entries = call('ZRANGEBYSCORE', x, '-inf', now, 'LIMIT', 0, limit)
  else
    entries = call('ZRANGEBYSCORE', x, '-inf', now)
  end
  local reads = {}
  for i = 1, n do
    local record = KEYS[ki]
    ki = ki + 1
    if mode == 'all' then
      reads[i] = call('HGETALL', record)
    elseif mode == 'expired' then
      reads[i] = call('HMGET', record, 'u', 'th', 'ph')
    else
      reads[i] = call('EXISTS', record)
    end
  end
  out[#out + 1] = {entries, call('ZCARD', x), reads}
end
return out
