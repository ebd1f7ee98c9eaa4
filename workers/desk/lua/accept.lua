-- Accept: only the desk holding the claim may acknowledge it, and only while the entry is still
-- in the stream (the worker deletes entries it withdraws or replaces). The entry is acknowledged
-- and deleted (a queue holds only waiting escalations), the owner is recorded and the accepted
-- event is stored once, so a retried accept (say, after Kafka failed) republishes the same
-- event. A positive cap trims the stream to that many entries (exact MAXLEN), off by default.
-- KEYS: stream, owner hash, handoff hash.
-- ARGV: group, consumer, entry id, agent id, session id, event JSON, ttl seconds, cap (0: none).
-- Returns {1, stored event JSON}, {0, the consumer now holding the entry, or ''} or
-- {-1, ''} when the worker withdrew the escalation.
--
-- Every write is checked against the caller's ACL before the first one: a desk user without
-- them must not take an escalation out of its queue without recording who has it.
local group, consumer, entry_id = ARGV[1], ARGV[2], ARGV[3]

permit(KEYS[1], 'XACK', KEYS[1], group, entry_id)
permit(KEYS[1], 'XDEL', KEYS[1], entry_id)
if tonumber(ARGV[8]) > 0 then permit(KEYS[1], 'XTRIM', KEYS[1], 'MAXLEN', ARGV[8]) end
permit(KEYS[2], 'HSET', KEYS[2], 'agent_id', ARGV[4])
permit(KEYS[2], 'EXPIRE', KEYS[2], ARGV[7])
permit(KEYS[3], 'HSETNX', KEYS[3], 'accepted', ARGV[6])
permit(KEYS[3], 'EXPIRE', KEYS[3], ARGV[7])

local holder = redis.call('XPENDING', KEYS[1], group, entry_id, entry_id, 1)[1]
if holder then
  if holder[2] ~= consumer then return {0, holder[2]} end
  if #redis.call('XRANGE', KEYS[1], entry_id, entry_id) == 0 then
    redis.call('XACK', KEYS[1], group, entry_id)
    return {-1, ''}
  end
  redis.call('XACK', KEYS[1], group, entry_id)
  redis.call('XDEL', KEYS[1], entry_id)
  if tonumber(ARGV[8]) > 0 then redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[8]) end
  redis.call('HSET', KEYS[2], 'agent_id', ARGV[4], 'consumer', consumer,
    'session_id', ARGV[5], 'stream', KEYS[1], 'entry_id', entry_id)
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  redis.call('HSETNX', KEYS[3], 'accepted', ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
  return {1, redis.call('HGET', KEYS[3], 'accepted')}
end
local owner = redis.call('HMGET', KEYS[2], 'consumer', 'entry_id')
if owner[1] == consumer and owner[2] == entry_id then
  return {1, redis.call('HGET', KEYS[3], 'accepted')}
end
return {0, ''}
