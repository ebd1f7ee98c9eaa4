"""The Lua scripts behind DeskClient: each step that must not interleave with another desk.

Consumer groups already keep two desks from receiving the same entry; the scripts make the
*choice* atomic too (which stream holds the oldest entry of the highest tier) and tie the
acknowledgement to the ownership record.
"""

# Strict priority, oldest first, reclaim before new. Tier by tier (KEYS are sorted by priority,
# then queue): first the oldest entry another desk claimed longer than the claim timeout ago
# (XPENDING IDLE finds each stream's oldest, XCLAIM takes exactly that one; an entry deleted
# while claimed is acknowledged away), then the oldest entry no desk has received (the entry
# after the group's last-delivered-id, delivered with XREADGROUP >). A missing group is
# created at id 0 with MKSTREAM, so entries written before any desk started are served.
# KEYS: the served queue streams. ARGV: group, consumer, claim timeout in ms, each key's tier.
# Returns {stream, entry id, deliveries, {field, value, ...}} or false.
CLAIM_SCRIPT = """
local group, consumer, timeout = ARGV[1], ARGV[2], ARGV[3]

local function order(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end

local function older(a, b)
  local a_ms, a_seq = order(a)
  local b_ms, b_seq = order(b)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

local function last_delivered(stream)
  if redis.call('EXISTS', stream) == 1 then
    for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local fields = {}
      for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
      if fields['name'] == group then return fields['last-delivered-id'] end
    end
  end
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  return '0-0'
end

local function reclaim(first, last)
  while true do
    local stream, id
    for i = first, last do
      local oldest = redis.call('XPENDING', KEYS[i], group, 'IDLE', timeout, '-', '+', 1)[1]
      if oldest and (not id or older(oldest[1], id)) then stream, id = KEYS[i], oldest[1] end
    end
    if not id then return nil end
    if #redis.call('XRANGE', stream, id, id) == 0 then
      redis.call('XACK', stream, group, id)
    else
      local entry = redis.call('XCLAIM', stream, group, consumer, timeout, id)[1]
      local deliveries = redis.call('XPENDING', stream, group, id, id, 1)[1][4]
      return {stream, entry[1], deliveries, entry[2]}
    end
  end
end

local function deliver_new(first, last, delivered)
  local stream, id
  for i = first, last do
    local nextup = redis.call('XRANGE', KEYS[i], '(' .. delivered[i], '+', 'COUNT', 1)[1]
    if nextup and (not id or older(nextup[1], id)) then stream, id = KEYS[i], nextup[1] end
  end
  if not id then return nil end
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1,
    'STREAMS', stream, '>')
  local entry = read[1][2][1]
  return {stream, entry[1], 1, entry[2]}
end

local first = 1
while first <= #KEYS do
  local tier = ARGV[3 + first]
  local last = first
  while last < #KEYS and ARGV[4 + last] == tier do last = last + 1 end
  local delivered = {}
  for i = first, last do delivered[i] = last_delivered(KEYS[i]) end
  local claimed = reclaim(first, last) or deliver_new(first, last, delivered)
  if claimed then return claimed end
  first = last + 1
end
return false
"""

# Accept: only the desk holding the claim may acknowledge it, and only while the entry is still
# in the stream (the worker deletes entries it withdraws or replaces). The entry is acknowledged
# and deleted (a queue holds only waiting escalations), the owner is recorded and the accepted
# event is stored once, so a retried accept (say, after Kafka failed) republishes the same
# event. A positive cap trims the stream to that many entries (exact MAXLEN), off by default.
# KEYS: stream, owner hash, handoff hash.
# ARGV: group, consumer, entry id, agent id, session id, event JSON, ttl seconds, cap (0: none).
# Returns {1, stored event JSON}, {0, the consumer now holding the entry, or ''} or
# {-1, ''} when the worker withdrew the escalation.
ACCEPT_SCRIPT = """
local group, consumer, entry_id = ARGV[1], ARGV[2], ARGV[3]
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
"""

# Resolve, return to bot, abandon: store the event for this status once (a retry republishes
# the same one) and release the ownership.
# KEYS: owner hash, handoff hash. ARGV: status, event JSON, ttl seconds.
# Returns the stored event JSON.
FINISH_SCRIPT = """
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[1])
return redis.call('HGET', KEYS[2], ARGV[1])
"""
