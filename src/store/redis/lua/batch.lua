-- Applies every operation of ARGV[1] operations, or none: all are checked first.
-- Returns {'OK'} or {'DUP', 'id' | 'hash', index of the operation (1-based)}.
local n = tonumber(ARGV[1])
local ops, ai, ki = {}, 2, 1
for i = 1, n do ops[i], ai, ki = parse_op(ai, ki) end
for i, op in ipairs(ops) do
  local why = conflict(op)
  if why then return {'DUP', why, tostring(i)} end
end
local now_ms = server_ms()
for _, op in ipairs(ops) do apply(op, now_ms) end
return {'OK'}
