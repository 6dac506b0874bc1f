-- Removes a session a failed batch inserted (a cluster's all-or-nothing import rolls
-- back the shards it already wrote). KEYS: record, user index, expiry index, deadline
-- index, token entries...; ARGV[1]: the id.
local id = ARGV[1]
call('DEL', KEYS[1])
call('ZREM', KEYS[2], id)
call('ZREM', KEYS[3], id)
call('ZREM', KEYS[4], id)
for i = 5, #KEYS do
  if call('GET', KEYS[i]) == id then call('DEL', KEYS[i]) end
end
return 'OK'
