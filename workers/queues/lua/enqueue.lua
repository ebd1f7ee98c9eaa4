-- Put an escalation in its queue unless it is there already; with an old marker and stream
-- (an SLA breach), take the escalation it replaces out in the same step, so a desk never sees
-- both or neither.
-- KEYS: marker, stream, queue index[, old marker, old stream].
-- ARGV: payload, marker ttl, escalation id, session id, priority, desk group.
-- Returns {1, entry id} when this call wrote the entry, {0, entry id} when it was there.
--
-- Every write is checked against the caller's ACL before the first one (Redis does not roll a
-- failed script back), and the marker is written last: a script that fails leaves no marker
-- claiming an entry that does not exist.
local marker, stream, index = KEYS[1], KEYS[2], KEYS[3]
local old_marker, old_stream = KEYS[4], KEYS[5]
local group = ARGV[6]

local existing = redis.call('GET', marker)
if existing then
  return {0, existing}
end
permit(stream, 'XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
permit(stream, 'XADD', stream, '*', 'escalation_id', ARGV[3])
permit(index, 'SADD', index, stream)
permit(marker, 'SET', marker, '0-0', 'EX', ARGV[2])
if old_marker then
  permit(old_marker, 'GET', old_marker)
  permit(old_stream, 'XDEL', old_stream, '0-0')
end

if old_marker then
  local old = redis.call('GET', old_marker)
  if old then
    redis.call('XDEL', old_stream, old)
  end
end
-- Desks read through the group; it starts at 0 so it serves every entry (BUSYGROUP: it exists).
redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
local entry = redis.call('XADD', stream, '*',
  'escalation_id', ARGV[3], 'session_id', ARGV[4], 'priority', ARGV[5], 'payload', ARGV[1])
redis.call('SADD', index, stream)
redis.call('SET', marker, entry, 'EX', tonumber(ARGV[2]))
return {1, entry}
