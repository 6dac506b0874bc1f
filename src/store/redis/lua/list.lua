-- Every session of a user, oldest first. KEYS[1]: the user index; ARGV[1]: the
-- shard's record key prefix. Ids whose record Redis's TTL collected are pruned.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HGETALL', ARGV[1] .. id)
  if #f == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    out[#out + 1] = f
  end
end
return out
