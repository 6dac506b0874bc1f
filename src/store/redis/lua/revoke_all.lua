-- Revokes every unrevoked session of a user at ARGV[2] (µs), adding one to each
-- version. KEYS[1]: the user index; ARGV[1]: the record key prefix. Returns the ids.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  local f = redis.call('HMGET', key, 'r', 'v')
  if f[2] == false then
    redis.call('ZREM', KEYS[1], id)
  elseif f[1] == false then
    redis.call('HSET', key, 'r', ARGV[2])
    redis.call('HINCRBY', key, 'v', 1)
    out[#out + 1] = id
  end
end
return out
