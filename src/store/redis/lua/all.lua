-- Every session record of the shards of KEYS (expiry indexes), as field lists.
local out = {}
for _, xkey in ipairs(KEYS) do
  local base = string.sub(xkey, 1, -2)
  for _, id in ipairs(redis.call('ZRANGE', xkey, 0, -1)) do
    local f = redis.call('HGETALL', base .. 's:' .. id)
    if #f == 0 then
      redis.call('ZREM', xkey, id)
    else
      out[#out + 1] = f
    end
  end
end
return out
