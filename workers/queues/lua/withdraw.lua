-- Take an escalation out of its queue (answered elsewhere, session ended). The marker stays,
-- so a redelivered event cannot put it back.
-- KEYS: marker, stream. Returns the number of entries removed (0 or 1).
local entry = redis.call('GET', KEYS[1])
if entry then
  return redis.call('XDEL', KEYS[2], entry)
end
return 0
