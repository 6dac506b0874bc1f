-- Revokes every unrevoked session of a user at ARGV[1] (µs), adding one to each
-- version. Phase 2 of 2: ARGV[2] = n and ARGV[3 .. 2 + n] are the user index as the
-- caller read it (ZRANGE 0 -1), which holds every session created before the call
-- began (a session and its index entry are written by one script). KEYS[1]: the user
-- index; KEYS[2 .. 1 + n]: the records of the n ids, in order. Sessions created after
-- the read are concurrent with the revocation and stay: no view check, so a user who
-- keeps creating sessions can never make revoke-all fail.
-- Returns {'OK', revoked ids...}.
local at, n = ARGV[1], tonumber(ARGV[2])
local out = {'OK'}
for i = 1, n do
  local id, record = ARGV[2 + i], KEYS[1 + i]
  local f = call('HMGET', record, 'r', 'v')
  if f[2] == false then
    -- Redis's TTL collected the record (or purge removed it): its entry goes too.
    call('ZREM', KEYS[1], id)
  elseif f[1] == false then
    call('HSET', record, 'r', at)
    call('HINCRBY', record, 'v', 1)
    out[#out + 1] = id
  end
end
return out
