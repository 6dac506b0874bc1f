-- How many sessions the shards of KEYS (expiry indexes) hold. Entries whose record
-- Redis's TTL collected (only ever expired ones, at or before ARGV[1] µs) are pruned.
local n = 0
for _, xkey in ipairs(KEYS) do
  local base = string.sub(xkey, 1, -2)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', xkey, '-inf', ARGV[1])) do
    if redis.call('EXISTS', base .. 's:' .. id) == 0 then redis.call('ZREM', xkey, id) end
  end
  n = n + redis.call('ZCARD', xkey)
end
return n
