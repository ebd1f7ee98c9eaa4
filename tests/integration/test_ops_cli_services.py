"""A Redis that answers but refuses the credentials: named as such, password hidden."""

import pytest

from workers import cli


def test_refused_redis_credentials_are_named_without_the_password(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host_and_db = redis_url.split("://", 1)[1].rsplit("@", 1)[-1]
    monkeypatch.setenv("REDIS_URL", f"redis://no-such-user:s3cr3t-pw@{host_and_db}")
    monkeypatch.delenv("ESCALATOR_REDIS_URL", raising=False)
    assert cli.main(["desk", "tail", "general", "--once"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert "refused the credentials" in line
    assert "no-such-user:***@" in line
    assert "s3cr3t-pw" not in captured.err + captured.out
