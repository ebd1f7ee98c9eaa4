"""The Redis ACL users hold exactly the commands their role runs: read from the Lua scripts and
from the Redis calls of the role's Python modules, so a script or a call added without its
permission (or a permission nothing needs any more) fails here, not in production."""

import re
from pathlib import Path

import pytest

from workers.queues.acl import (
    CONNECTION_COMMANDS,
    DESK_COMMANDS,
    DESK_DELETE,
    WORKER_COMMANDS,
    desk_user,
    worker_user,
)

ROOT = Path(__file__).resolve().parents[2]
# Commands whose ACL permission is per subcommand.
WITH_SUBCOMMAND = {"xgroup", "xinfo", "script"}
# redis-py client methods and the commands they send; a method missing here fails the test.
CLIENT_METHODS: dict[str, tuple[str, ...]] = {
    "smembers": ("smembers",),
    "xlen": ("xlen",),
    "xrange": ("xrange",),
    "xpending_range": ("xpending",),
    "hget": ("hget",),
    "ping": ("ping",),
    "register_script": ("evalsha", "script|load"),
    "pipeline": (),
    "execute": (),
    "aclose": (),
    "close": (),
}
ROLES = {
    "worker": (
        ["workers/queues/lua"],
        ["workers/queues/writer.py", "workers/metrics.py", "workers/board/source.py"],
    ),
    "desk": (
        ["workers/desk/lua"],
        ["workers/desk/client.py", "workers/desk/tail.py", "workers/desk/commands.py"],
    ),
}
LUA_CALL = re.compile(r"redis\.p?call\('(\w+)'(?:,\s*'(\w+)')?")
CLIENT_CALL = re.compile(
    r"\b(?:client|pipe|redis|self\._redis|self\._client|self\._depth_client)\.(\w+)\("
)


def lua_commands(folder: str) -> set[str]:
    found = set()
    for script in sorted((ROOT / folder).glob("*.lua")):
        for command, sub in LUA_CALL.findall(script.read_text()):
            name = command.lower()
            found.add(f"{name}|{sub.lower()}" if name in WITH_SUBCOMMAND else name)
    return found


def python_commands(modules: list[str]) -> set[str]:
    found: set[str] = set()
    for module in modules:
        for method in CLIENT_CALL.findall((ROOT / module).read_text()):
            assert method in CLIENT_METHODS, f"{module} calls Redis method {method}: add it"
            found.update(CLIENT_METHODS[method])
    return found


def test_the_scripts_are_read() -> None:
    assert {"xadd", "set", "xgroup|create"} <= lua_commands("workers/queues/lua")
    assert {"xreadgroup", "hsetnx", "xinfo|groups", "del"} <= lua_commands("workers/desk/lua")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_holds_exactly_what_it_runs(role: str) -> None:
    scripts, modules = ROLES[role]
    used = set(CONNECTION_COMMANDS) | python_commands(modules)
    for folder in scripts:
        used |= lua_commands(folder)
    granted = set(WORKER_COMMANDS) if role == "worker" else {*DESK_COMMANDS, DESK_DELETE}
    assert used - granted == set(), "run but not granted"
    assert granted - used == set(), "granted but never run"


def test_a_desk_deletes_only_ownership_records_and_touches_no_marker() -> None:
    rules = desk_user("esc", ["billing", "fraud"], name="desk-b").rules
    assert "+del" not in rules
    assert "(~esc:owner:* -@all +del)" in rules
    assert not any("escalation" in rule for rule in rules)
    assert "~esc:queue:billing:p*" in rules
    assert "~esc:queue:fraud:p*" in rules
    assert not any(rule.startswith("+xgroup") for rule in rules)


def test_the_worker_owns_its_prefix_only() -> None:
    rules = worker_user("esc").rules
    assert all(rule.startswith(("~esc:", "%R~esc:", "+", "-", "reset")) for rule in rules)
    assert "+xgroup|create" in rules
    assert "+xgroup" not in rules


def test_a_desk_user_serves_at_least_one_queue() -> None:
    with pytest.raises(ValueError, match="at least one queue"):
        desk_user("esc", [], name="nobody")


def test_the_users_in_docs_security_are_the_generated_ones() -> None:
    """docs/security.md shows `escalator redis-acl --desk desk-billing=billing,fraud --desk
    desk-general=general`, line for line."""
    documented = [
        line
        for line in (ROOT / "docs" / "security.md").read_text().splitlines()
        if line.startswith("ACL SETUSER")
    ]
    generated = [
        worker_user("escalator").command_line("WORKER_PASSWORD"),
        desk_user("escalator", ["billing", "fraud"], "desk-billing").command_line(
            "DESK_BILLING_PASSWORD"
        ),
        desk_user("escalator", ["general"], "desk-general").command_line("DESK_GENERAL_PASSWORD"),
    ]
    assert documented == generated
