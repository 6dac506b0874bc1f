-- The session whose current or previous token hash is ARGV[1]. KEYS: token entry,
-- hash alias (both in the hash's shard); ARGV[2]: the shard's record key prefix.
-- Returns {'S', fields...} | {'A', label of the user's shard} | {}.
local id = call('GET', KEYS[1])
if id then
  -- The record is not in KEYS (naming it would cost a second round trip): a read
  -- in the same hash tag as the entry, checked by read_beside_first_key (prelude).
  -- An entry left by an older rotation no longer matches the record's hashes and is
  -- ignored.
  local f = read_beside_first_key(ARGV[2] .. id)
  for i = 1, #f, 2 do
    if (f[i] == 'th' or f[i] == 'ph') and f[i + 1] == ARGV[1] then
      table.insert(f, 1, 'S')
      return f
    end
  end
end
local label = call('GET', KEYS[2])
if label then return {'A', label} end
return {}
