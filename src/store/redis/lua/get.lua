-- A session by id. KEYS: record, id alias (the id's home shard).
-- Returns {'S', fields...} | {'A', label} | {}.
local f = call('HGETALL', KEYS[1])
if #f > 0 then
  table.insert(f, 1, 'S')
  return f
end
local label = call('GET', KEYS[2])
if label then return {'A', label} end
return {}
