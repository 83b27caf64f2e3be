"""``chargeplane user create|reset-password|list`` on the database directly."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from chargeplane.cli import main
from chargeplane.csms.console.users import Role, UserStore
from chargeplane.csms.storage.engine import create_engine


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _authenticate(url: str, username: str, password: str) -> Role | None:
    engine = create_engine(url)
    try:
        user = await UserStore(engine).authenticate(username, password)
        return None if user is None else user.role
    finally:
        await engine.dispose()


def test_user_create_list_and_reset_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
    code, out, _ = run(
        capsys,
        monkeypatch,
        "first-password-1\n",
        "user",
        "--database-url",
        url,
        "create",
        "Ops",
        "--role",
        "operator",
    )
    assert (code, out.strip()) == (0, "created ops (operator)")
    assert asyncio.run(_authenticate(url, "ops", "first-password-1")) is Role.OPERATOR
    code, out, _ = run(capsys, monkeypatch, "", "user", "--database-url", url, "list")
    assert (code, out) == (0, "ops\toperator\n")
    code, _, _ = run(
        capsys, monkeypatch, "second-password-2\n", "user", "--database-url", url, "reset-password", "ops"
    )
    assert code == 0
    assert asyncio.run(_authenticate(url, "ops", "first-password-1")) is None
    assert asyncio.run(_authenticate(url, "ops", "second-password-2")) is Role.OPERATOR


def test_user_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
    code, _, err = run(capsys, monkeypatch, "short\n", "user", "--database-url", url, "create", "ops")
    assert (code, err.strip()) == (2, "chargeplane user: a password has 10 to 128 characters")
    run(capsys, monkeypatch, "first-password-1\n", "user", "--database-url", url, "create", "ops")
    code, _, err = run(
        capsys, monkeypatch, "first-password-1\n", "user", "--database-url", url, "create", "OPS"
    )
    assert code == 2
    assert "exists already" in err
    code, _, err = run(
        capsys, monkeypatch, "first-password-1\n", "user", "--database-url", url, "reset-password", "nobody"
    )
    assert code == 2
    assert "no user nobody" in err
    code, out, _ = run(capsys, monkeypatch, "", "user", "--database-url", url, "list")
    assert out == "ops\tviewer\n"  # the default role
