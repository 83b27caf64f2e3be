"""One log format for every command, the station on every line, repeated warnings counted (issue #12 item 8)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest

from chargeplane.cli import build_parser
from chargeplane.logs import RepeatFilter, configure, current_station
from tests.csms.conftest import running, settings_for


def test_text_lines_carry_utc_time_level_logger_and_station(restore_root_logger: None) -> None:
    out = io.StringIO()
    configure("INFO", "text", out)
    logging.getLogger("chargeplane.test").info("no station here")
    token = current_station.set("CS001")
    try:
        logging.getLogger("chargeplane.test").warning("boot refused: %s", "Rejected")
    finally:
        current_station.reset(token)
    first, second = out.getvalue().splitlines()
    assert first.endswith("Z INFO chargeplane.test: no station here")
    assert second.endswith("Z WARNING chargeplane.test [CS001]: boot refused: Rejected")
    assert first[4] == "-"
    assert first[10] == "T"


async def test_tasks_started_for_a_station_inherit_it_in_json_lines(restore_root_logger: None) -> None:
    out = io.StringIO()
    configure("DEBUG", "json", out)

    async def connection(station: str) -> None:
        current_station.set(station)
        await asyncio.create_task(asyncio.sleep(0))  # a handler task of that connection
        logging.getLogger("chargeplane.transport").info("message from %s", station)

    await asyncio.gather(connection("A"), connection("B"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {(line["station"], line["message"]) for line in lines} == {
        ("A", "message from A"),
        ("B", "message from B"),
    }
    assert {line["level"] for line in lines} == {"INFO"}
    assert all(line["ts"].endswith("Z") and line["logger"] == "chargeplane.transport" for line in lines)


def test_exceptions_go_into_the_json_line(restore_root_logger: None) -> None:
    out = io.StringIO()
    configure("INFO", "json", out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("handler failed")
    line = json.loads(out.getvalue())
    assert line["message"] == "handler failed"
    assert "RuntimeError: boom" in line["exception"]


def test_repeated_warnings_are_counted_not_printed() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=60, clock=lambda: now[0])

    def passes(message: str, level: int = logging.WARNING) -> str | None:
        record = logging.LogRecord("chargeplane.x", level, __file__, 1, message, None, None)
        return record.getMessage() if repeats.filter(record) else None

    assert passes("connection refused") == "connection refused"
    for _ in range(999):
        now[0] += 0.01
        assert passes("connection refused") is None
    assert passes("another warning") == "another warning"
    assert passes("info lines are never held back", logging.INFO) is not None
    assert passes("info lines are never held back", logging.INFO) is not None
    now[0] = 61
    assert passes("connection refused") == "connection refused (and 999 more like it in 60 s)"
    now[0] = 200
    assert passes("connection refused") == "connection refused"


def test_log_format_option_and_bad_format() -> None:
    assert build_parser().parse_args(["--log-format", "json", "serve"]).log_format == "json"
    with pytest.raises(ValueError, match="log format"):
        configure("INFO", "xml")


async def test_a_running_csms_keeps_the_one_log_format(restore_root_logger: None, tmp_path: Path) -> None:
    """The web framework inside serve must not install a logging setup of its own (it used to)."""
    out = io.StringIO()
    handler = configure("INFO", "text", out)
    async with running(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}")) as csms:
        assert (await csms.api.get("/api/v1/stations", headers=csms.auth)).status_code == 200
        logging.getLogger("chargeplane.csms").info("still ours")
    assert logging.getLogger().handlers == [handler]
    assert any(line.endswith("Z INFO chargeplane.csms: still ours") for line in out.getvalue().splitlines())
    assert "alembic.runtime.plugins" not in out.getvalue()
