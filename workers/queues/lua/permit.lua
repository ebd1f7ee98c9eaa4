-- Prepended to every script that writes (workers/queues/writer.py ``lua``): each checks its
-- writes against the caller's ACL before the first one, since Redis does not roll a failed
-- script back.
-- Raises NOPERM naming the command and key unless the caller's ACL allows ``...`` on ``key``.
local function permit(key, ...)
  if not redis.acl_check_cmd(...) then
    error({err = 'NOPERM this Redis user may not run ' .. select(1, ...) .. ' on ' .. key})
  end
end
