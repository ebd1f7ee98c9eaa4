-- Resolve, return to bot, abandon: store the event for this status once (a retry republishes
-- the same one) and release the ownership.
-- KEYS: owner hash, handoff hash. ARGV: status, event JSON, ttl seconds.
-- Returns the stored event JSON. Every write is checked against the caller's ACL first.
permit(KEYS[2], 'HSETNX', KEYS[2], ARGV[1], ARGV[2])
permit(KEYS[2], 'EXPIRE', KEYS[2], ARGV[3])
permit(KEYS[1], 'DEL', KEYS[1])

redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[1])
return redis.call('HGET', KEYS[2], ARGV[1])
