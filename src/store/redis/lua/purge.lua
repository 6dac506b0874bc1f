-- Removes expired sessions with their token entries and user index entries.
-- Optimistic (phase 2 of 2): ARGV[1] = now (µs), ARGV[2] = the per-shard limit, then
-- for each shard n and, n times, the id and its record's u, th, ph ('' when absent),
-- as the caller read them (ZRANGEBYSCORE x -inf now LIMIT 0 limit, then HMGET).
-- KEYS, per shard: the expiry index, the deadline index, then for each id its record,
-- its user index (if u), the token entries of th and ph (if present).
-- Every view is checked before anything is removed. Returns {'RETRY', 0} (a view
-- changed: nothing done) | {'OK', removed}.
local now, limit = ARGV[1], ARGV[2]
local shards = {}
local ai, ki = 3, 1
while ki <= #KEYS do
  local shard = {x = KEYS[ki], d = KEYS[ki + 1], entries = {}}
  local n = tonumber(ARGV[ai])
  ki, ai = ki + 2, ai + 1
  local members = call('ZRANGEBYSCORE', shard.x, '-inf', now, 'LIMIT', 0, limit)
  if #members ~= n then return {'RETRY', 0} end
  for i = 1, n do
    local e = {id = ARGV[ai], u = ARGV[ai + 1], th = ARGV[ai + 2], ph = ARGV[ai + 3], record = KEYS[ki]}
    ai, ki = ai + 4, ki + 1
    if members[i] ~= e.id then return {'RETRY', 0} end
    if e.u ~= '' then e.user, ki = KEYS[ki], ki + 1 end
    if e.th ~= '' then e.token, ki = KEYS[ki], ki + 1 end
    if e.ph ~= '' then e.previous, ki = KEYS[ki], ki + 1 end
    local f = call('HMGET', e.record, 'u', 'th', 'ph')
    if (f[1] or '') ~= e.u or (f[2] or '') ~= e.th or (f[3] or '') ~= e.ph then return {'RETRY', 0} end
    shard.entries[i] = e
  end
  shards[#shards + 1] = shard
end
local removed = 0
for _, shard in ipairs(shards) do
  for _, e in ipairs(shard.entries) do
    -- A record without a user (collected by Redis's TTL, or damaged) only leaves the
    -- expiry index; Redis's TTL removes the rest.
    if e.user then
      for _, key in ipairs({e.token or false, e.previous or false}) do
        if key and call('GET', key) == e.id then call('DEL', key) end
      end
      call('ZREM', e.user, e.id)
      call('DEL', e.record)
    end
    call('ZREM', shard.x, e.id)
    call('ZREM', shard.d, e.id)
    removed = removed + 1
  end
end
return {'OK', removed}
