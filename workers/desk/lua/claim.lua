-- Strict priority, oldest first, reclaim before new. Tier by tier (KEYS are sorted by priority,
-- then queue): first the oldest entry another desk claimed longer than the claim timeout ago
-- (XPENDING IDLE finds each stream's oldest, XCLAIM takes exactly that one; an entry deleted
-- while claimed is acknowledged away), then the oldest entry no desk has received (the entry
-- after the group's last-delivered-id, delivered with XREADGROUP >). The worker creates each
-- stream with the desks' group at id 0; a stream without it (or without entries) is skipped.
-- KEYS: the served queue streams. ARGV: group, consumer, claim timeout in ms, each key's tier.
-- Returns {stream, entry id, deliveries, {field, value, ...}} or false.
--
-- Every write is checked against the caller's ACL before the first one (Redis does not roll a
-- failed script back).
local group, consumer, timeout = ARGV[1], ARGV[2], ARGV[3]

for i = 1, #KEYS do
  permit(KEYS[i], 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', '1', 'STREAMS', KEYS[i], '>')
  permit(KEYS[i], 'XCLAIM', KEYS[i], group, consumer, timeout, '0-0')
  permit(KEYS[i], 'XACK', KEYS[i], group, '0-0')
end

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
  return nil
end

local function reclaim(first, last, delivered)
  while true do
    local stream, id
    for i = first, last do
      if delivered[i] then
        local oldest = redis.call('XPENDING', KEYS[i], group, 'IDLE', timeout, '-', '+', 1)[1]
        if oldest and (not id or older(oldest[1], id)) then stream, id = KEYS[i], oldest[1] end
      end
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
    if delivered[i] then
      local nextup = redis.call('XRANGE', KEYS[i], '(' .. delivered[i], '+', 'COUNT', 1)[1]
      if nextup and (not id or older(nextup[1], id)) then stream, id = KEYS[i], nextup[1] end
    end
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
  local claimed = reclaim(first, last, delivered) or deliver_new(first, last, delivered)
  if claimed then return claimed end
  first = last + 1
end
return false
