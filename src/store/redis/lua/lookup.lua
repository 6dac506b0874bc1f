-- The session whose current or previous token hash is ARGV[1]. KEYS: token entry,
-- hash alias (both in the hash's shard); ARGV[2]: the shard's record key prefix.
-- Returns {'S', fields...} | {'A', label of the user's shard} | {}.
local id = redis.call('GET', KEYS[1])
if id then
  -- The record is in this slot (same hash tag); an entry left by an older rotation
  -- no longer matches the record's hashes and is ignored.
  local f = redis.call('HGETALL', ARGV[2] .. id)
  for i = 1, #f, 2 do
    if (f[i] == 'th' or f[i] == 'ph') and f[i + 1] == ARGV[1] then
      table.insert(f, 1, 'S')
      return f
    end
  end
end
local label = redis.call('GET', KEYS[2])
if label then return {'A', label} end
return {}
