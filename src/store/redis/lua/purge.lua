-- Removes sessions whose expiry (µs) is at or before ARGV[1], at most ARGV[2] per
-- shard, with their token entries and user index entries. KEYS: expiry indexes
-- (`<base>x`); a shard's other keys share its base. Returns {removed, more (0|1)}.
local now, limit = ARGV[1], tonumber(ARGV[2])
local removed, more = 0, 0
for _, xkey in ipairs(KEYS) do
  local base = string.sub(xkey, 1, -2)
  local ids = redis.call('ZRANGEBYSCORE', xkey, '-inf', now, 'LIMIT', 0, limit)
  if #ids == limit then more = 1 end
  for _, id in ipairs(ids) do
    local record = base .. 's:' .. id
    local f = redis.call('HMGET', record, 'u', 'th', 'ph')
    if f[1] then
      for i = 2, 3 do
        if f[i] and redis.call('GET', base .. 't:' .. f[i]) == id then
          redis.call('DEL', base .. 't:' .. f[i])
        end
      end
      redis.call('ZREM', base .. 'u:' .. f[1], id)
      redis.call('DEL', record)
    end
    redis.call('ZREM', xkey, id)
    removed = removed + 1
  end
end
return {removed, more}
