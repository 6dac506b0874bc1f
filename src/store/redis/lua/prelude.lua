-- Shared by every script (prepended by scripts.rs).
-- Times in session records are integer microseconds since the Unix epoch (exact in a
-- Lua number up to 2^53); TTL deadlines are the SERVER's milliseconds (TIME), so a
-- deadline never depends on the app server's clock.
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Moves a key's expiry later (never earlier).
local function extend(key, deadline)
  local cur = redis.call('PEXPIRETIME', key)
  if cur < deadline then redis.call('PEXPIREAT', key, deadline) end
end

-- Reads one operation of a batch from ARGV at index ai and KEYS at index ki.
--   'S' (a session): ARGV nguards, has_previous, id, created_us, expires_us, ttl_ms,
--       nfields, fields..., guard kinds...; KEYS record, user index, expiry index,
--       token entry, [previous token entry], guards...
--   'C' (an alias claim): ARGV kind ('id' | 'hash'), mode ('strict' | 'ensure'),
--       value, ttl_ms; KEYS alias, the home key a stored session would have.
local function parse_op(ai, ki)
  local op = {kind = ARGV[ai]}
  if op.kind == 'C' then
    op.what, op.mode, op.value, op.ttl = ARGV[ai + 1], ARGV[ai + 2], ARGV[ai + 3], tonumber(ARGV[ai + 4])
    op.alias, op.home = KEYS[ki], KEYS[ki + 1]
    return op, ai + 5, ki + 2
  end
  local nguards, has_prev = tonumber(ARGV[ai + 1]), ARGV[ai + 2] == '1'
  op.id, op.created, op.expires, op.ttl = ARGV[ai + 3], ARGV[ai + 4], ARGV[ai + 5], tonumber(ARGV[ai + 6])
  local nfields = tonumber(ARGV[ai + 7])
  op.fields = {}
  for i = 1, nfields do op.fields[i] = ARGV[ai + 7 + i] end
  ai = ai + 8 + nfields
  op.record, op.user, op.expiry, op.token = KEYS[ki], KEYS[ki + 1], KEYS[ki + 2], KEYS[ki + 3]
  ki = ki + 4
  if has_prev then op.previous = KEYS[ki]; ki = ki + 1 end
  op.guards = {}
  for i = 1, nguards do
    op.guards[i] = {key = KEYS[ki], what = ARGV[ai]}
    ki, ai = ki + 1, ai + 1
  end
  return op, ai, ki
end

-- Why an operation cannot be applied ('id' or 'hash' duplicate), or nil.
local function conflict(op)
  if op.kind == 'C' then
    local value = redis.call('GET', op.alias)
    if value and not (op.mode == 'ensure' and value == op.value) then return op.what end
    if redis.call('EXISTS', op.home) == 1 then return op.what end
    return nil
  end
  if redis.call('EXISTS', op.record) == 1 then return 'id' end
  if redis.call('EXISTS', op.token) == 1 then return 'hash' end
  if op.previous and redis.call('EXISTS', op.previous) == 1 then return 'hash' end
  for _, g in ipairs(op.guards) do
    if redis.call('EXISTS', g.key) == 1 then return g.what end
  end
  return nil
end

-- Applies an operation checked by `conflict`.
local function apply(op, now_ms)
  local deadline = now_ms + op.ttl
  if op.kind == 'C' then
    redis.call('SET', op.alias, op.value, 'PXAT', deadline)
    return
  end
  redis.call('DEL', op.record)
  redis.call('HSET', op.record, unpack(op.fields))
  redis.call('PEXPIREAT', op.record, deadline)
  redis.call('SET', op.token, op.id, 'PXAT', deadline)
  if op.previous then redis.call('SET', op.previous, op.id, 'PXAT', deadline) end
  redis.call('ZADD', op.user, op.created, op.id)
  extend(op.user, deadline)
  redis.call('ZADD', op.expiry, op.expires, op.id)
end
