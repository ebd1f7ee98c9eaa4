"""The Lua scripts behind DeskClient (``workers/desk/lua/``): each step that must not
interleave with another desk.

Consumer groups already keep two desks from receiving the same entry; the scripts make the
*choice* atomic too (which stream holds the oldest entry of the highest tier) and tie the
acknowledgement to the ownership record. Each checks the caller's ACL before its first write,
so a desk user short of a permission changes nothing (Redis does not roll a script back).
"""

from importlib import resources


def lua(name: str) -> str:
    """One of the desk's Lua scripts (``workers/desk/lua/NAME.lua``)."""
    return resources.files("workers.desk").joinpath(f"lua/{name}.lua").read_text("utf-8")


CLAIM_SCRIPT = lua("claim")
ACCEPT_SCRIPT = lua("accept")
FINISH_SCRIPT = lua("finish")
