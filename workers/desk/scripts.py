"""The Lua scripts behind DeskClient (``workers/desk/lua/``): each step that must not
interleave with another desk.

Consumer groups already keep two desks from receiving the same entry; the scripts make the
*choice* atomic too (which stream holds the oldest entry of the highest tier) and tie the
acknowledgement to the ownership record. Each checks the caller's ACL before its first write,
so a desk user short of a permission changes nothing (Redis does not roll a script back).
"""

from workers.queues.writer import lua

CLAIM_SCRIPT = lua("claim", "workers.desk")
ACCEPT_SCRIPT = lua("accept", "workers.desk")
FINISH_SCRIPT = lua("finish", "workers.desk")
