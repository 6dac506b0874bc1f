-- Shared by every script (prepended by scripts.rs).

-- Every key a script touches must be one of KEYS (Redis's scripting contract: a
-- cluster routes a script by its declared keys, and a server may refuse undeclared
-- ones). Scripts never use redis.call directly (a unit test in scripts.rs checks):
-- they use `call`, which refuses, with an error naming the key, any command or key
-- it cannot vouch for, so a script that reaches an undeclared key fails loudly in
-- every test instead of working by the accident of a shared hash slot.
local declared = {}
for _, k in ipairs(KEYS) do declared[k] = true end
-- The key arguments of every command the scripts use: the first, all, or none.
local KEY_ARGS = {
  GET = 'first', SET = 'first', HSET = 'first', HMGET = 'first', HGETALL = 'first',
  HINCRBY = 'first', ZADD = 'first', ZREM = 'first', ZRANGE = 'first',
  ZRANGEBYSCORE = 'first', ZSCORE = 'first', ZCARD = 'first', PEXPIREAT = 'first',
  PEXPIRETIME = 'first', DEL = 'all', EXISTS = 'all', TIME = 'none',
}
local function call(command, ...)
  local spec = KEY_ARGS[command]
  local args = {...}
  if spec == nil then error('sessions: command ' .. command .. ' is not known to the key check') end
  local last = (spec == 'all' and #args) or (spec == 'first' and 1) or 0
  for i = 1, last do
    if not declared[args[i]] then
      error('sessions: ' .. command .. ' on undeclared key ' .. tostring(args[i]))
    end
  end
  return redis.call(command, ...)
end

-- The one exception, for lookup.lua only: HGETALL of a record reached through a token
-- entry (KEYS[1]), in the same hash tag (so the same slot and node). Declaring it
-- would cost validate a second round trip; a read changes nothing, and the script
-- reads the entry and the record in one atomic step.
local function read_beside_first_key(key)
  local tag = string.match(KEYS[1], '^[^{]*{[^}]*}')
  if not tag or string.sub(key, 1, #tag) ~= tag then
    error('sessions: HGETALL on ' .. tostring(key) .. ' outside the hash tag of ' .. KEYS[1])
  end
  return redis.call('HGETALL', key)
end

-- Whether `members` (what an index holds now) is exactly ARGV[first .. first + n - 1],
-- in order: the check that the view the caller read before the script (phase 1 of an
-- optimistic two-phase change) still holds.
local function view_holds(members, first, n)
  if #members ~= n then return false end
  for i = 1, n do
    if members[i] ~= ARGV[first + i - 1] then return false end
  end
  return true
end
-- Times in session records are integer microseconds since the Unix epoch (exact in a
-- Lua number up to 2^53); TTL deadlines are the SERVER's milliseconds (TIME), so a
-- deadline never depends on the app server's clock.
local function server_ms()
  local t = call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Moves a key's expiry later (never earlier).
local function extend(key, deadline)
  local cur = call('PEXPIRETIME', key)
  if cur < deadline then call('PEXPIREAT', key, deadline) end
end

-- Reads one operation of a batch from ARGV at index ai and KEYS at index ki.
--   'S' (a session): ARGV nguards, has_previous, id, created_us, expires_us, ttl_ms,
--       nfields, fields..., guard kinds...; KEYS record, user index, expiry index,
--       deadline index, token entry, [previous token entry], guards...
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
  op.record, op.user, op.expiry, op.deadlines = KEYS[ki], KEYS[ki + 1], KEYS[ki + 2], KEYS[ki + 3]
  op.token = KEYS[ki + 4]
  ki = ki + 5
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
    local value = call('GET', op.alias)
    if value and not (op.mode == 'ensure' and value == op.value) then return op.what end
    if call('EXISTS', op.home) == 1 then return op.what end
    return nil
  end
  if call('EXISTS', op.record) == 1 then return 'id' end
  if call('EXISTS', op.token) == 1 then return 'hash' end
  if op.previous and call('EXISTS', op.previous) == 1 then return 'hash' end
  for _, g in ipairs(op.guards) do
    if call('EXISTS', g.key) == 1 then return g.what end
  end
  return nil
end

-- Applies an operation checked by `conflict`.
local function apply(op, now_ms)
  local deadline = now_ms + op.ttl
  if op.kind == 'C' then
    call('SET', op.alias, op.value, 'PXAT', deadline)
    return
  end
  call('DEL', op.record)
  call('HSET', op.record, unpack(op.fields))
  call('PEXPIREAT', op.record, deadline)
  call('SET', op.token, op.id, 'PXAT', deadline)
  if op.previous then call('SET', op.previous, op.id, 'PXAT', deadline) end
  call('ZADD', op.user, op.created, op.id)
  extend(op.user, deadline)
  call('ZADD', op.expiry, op.expires, op.id)
  call('ZADD', op.deadlines, deadline, op.id)
  -- Opportunistic trim: a record whose TTL deadline (the server's time, in the
  -- deadline index) has passed is gone, so its expiry index entry goes too (what purge
  -- would do), and its entry in this user's index if it was this user's. At most 32
  -- per write; the server's clock alone decides, so no manager clock can make a live
  -- record's entries go.
  for _, id in ipairs(call('ZRANGEBYSCORE', op.deadlines, '-inf', string.format('(%.0f', now_ms), 'LIMIT', 0, 32)) do
    call('ZREM', op.expiry, id)
    call('ZREM', op.user, id)
    call('ZREM', op.deadlines, id)
  end
end
