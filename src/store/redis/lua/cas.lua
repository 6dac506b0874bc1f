-- Compare-and-swap. KEYS: the expected token entry, then the keys of operation 'S'
-- (record, user index, expiry index, new token entry, [new previous token entry],
-- guards). ARGV: expected hash, expected version, user, new hash, new previous hash
-- or '', then operation 'S' from ARGV[6].
-- Returns {'OK'} | {'STALE'} | {'DUP', what} | {'USER'}.
local expected_hash, expected_version, user = ARGV[1], ARGV[2], ARGV[3]
local new_hash, new_prev = ARGV[4], ARGV[5]
local expected_entry = KEYS[1]
local op = parse_op(6, 2)
local record = op.record
local cur = call('HMGET', record, 'th', 'v', 'r', 'u', 'ph', 'id')
if cur[1] == false or cur[1] ~= expected_hash or cur[2] ~= expected_version or cur[3] ~= false then
  return {'STALE'}
end
if cur[4] ~= user then return {'USER'} end
local id = cur[6]
-- A new hash must not belong to another session.
for _, pair in ipairs({{new_hash, op.token}, {new_prev, op.previous}}) do
  local h, key = pair[1], pair[2]
  if key and h ~= cur[1] and h ~= cur[5] then
    local owner = call('GET', key)
    if owner and owner ~= id then return {'DUP', 'hash'} end
  end
end
for _, g in ipairs(op.guards) do
  if call('EXISTS', g.key) == 1 then return {'DUP', g.what} end
end
-- The rotated-out hash leaves the index unless it stays as the predecessor.
if expected_hash ~= new_hash and expected_hash ~= new_prev and call('GET', expected_entry) == id then
  call('DEL', expected_entry)
end
apply(op, server_ms())
return {'OK'}
