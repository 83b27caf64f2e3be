"""``chargeplane token`` and the start of ``chargeplane serve`` (issue "Field readiness" #5: locked out)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargeplane.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tokens_are_created_listed_and_revoked_on_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
    code, secret, _ = run(capsys, "token", "--database-url", url, "create", "--name", "ci", "--scope", "read")
    assert code == 0
    assert secret.strip().startswith("cp_")
    code, listed, _ = run(capsys, "token", "--database-url", url, "list")
    assert code == 0
    assert listed.split("\t")[1] == "read"
    assert listed.strip().endswith("\tci")
    assert secret.strip() not in listed
    code, out, _ = run(capsys, "token", "--database-url", url, "revoke", "ci")
    assert (code, out.startswith("revoked 1 (ci, read)")) == (0, True)
    assert run(capsys, "token", "--database-url", url, "list")[1] == ""
    code, _, err = run(capsys, "token", "--database-url", url, "revoke", "ci")
    assert code == 1
    assert "no token" in err


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("which", ["--ocpp-port", "--api-port"])
def test_a_port_in_use_ends_serve_with_one_line_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], busy_port: int, which: str
) -> None:
    database = tmp_path / "csms.db"
    other = "--api-port" if which == "--ocpp-port" else "--ocpp-port"
    code, out, err = run(
        capsys,
        "serve",
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        "--ocpp-host",
        "127.0.0.1",
        "--api-host",
        "127.0.0.1",
        which,
        str(busy_port),
        other,
        "0",
    )
    assert code == 1
    assert err.strip().splitlines() == [err.strip()]
    assert f"cannot listen on 127.0.0.1:{busy_port}" in err
    assert "Traceback" not in err
    assert not database.exists()  # no database, so no token nobody saw
    assert "API token" not in out
