"""The optional HTTP access log (issue "Field readiness" #8): one line per request through the process's log
setup, text or JSON, never the token; off by default."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chargeplane.cli import _serve_settings, build_parser
from chargeplane.logs import JsonFormatter, TextFormatter
from tests import migrated_databases
from tests.csms.conftest import running, settings_for


def sqlite(tmp_path: Path) -> str:
    return migrated_databases.sqlite_url(tmp_path)


async def test_each_request_is_one_line_with_method_path_status_and_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chargeplane.api.access")
    async with running(settings_for(sqlite(tmp_path), api_access_log=True)) as csms:
        await csms.api.get("/api/v1/stations?limit=5", headers=csms.auth)
        await csms.api.get("/api/v1/stations/NOPE", headers=csms.auth)
        await csms.api.get("/api/v1/id-tokens/SECRETCARD7", headers=csms.auth)
        await csms.api.get("/api/v1/transactions?idToken=SECRETCARD7&limit=5", headers=csms.auth)
        await csms.add_station("CS-LOG1")
        await csms.api.get("/api/v1/stations/CS-LOG1", headers=csms.auth)
        await csms.api.get(
            "/api/v1/stations", headers=csms.auth
        )  # a line is written once its answer went out
    records = [r for r in caplog.records if r.name == "chargeplane.api.access"]
    lines = [r.getMessage() for r in records]
    assert lines[0].startswith("GET /api/v1/stations?limit 200 ")  # the names of the query, not its values
    assert lines[0].endswith("from 127.0.0.1")
    assert lines[1].startswith("GET /api/v1/stations/NOPE 404 ")  # the station id stays
    assert lines[2].startswith("GET /api/v1/id-tokens/{id_token")  # an id token is personal data
    assert lines[3].startswith("GET /api/v1/transactions?idToken&limit ")
    assert [line for line in lines if line.startswith("GET /api/v1/stations/CS-LOG1 200 ")], lines
    assert all(csms.token not in line and "SECRETCARD7" not in line for line in lines)
    text = TextFormatter().format(records[0])
    assert text.count("\n") == 0
    assert "chargeplane.api.access" in text
    fields = json.loads(JsonFormatter().format(records[1]))["fields"]
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/api/v1/stations/NOPE", 404)
    assert fields["duration_ms"] >= 0


async def test_there_is_no_access_log_unless_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chargeplane.api.access")
    async with running(settings_for(sqlite(tmp_path))) as csms:
        await csms.api.get("/api/v1/stations", headers=csms.auth)
    assert not [r for r in caplog.records if r.name == "chargeplane.api.access"]


def test_serve_access_log_option_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARGEPLANE_API_ACCESS_LOG", raising=False)
    assert _serve_settings(build_parser().parse_args(["serve", "--access-log"])).api_access_log is True
    assert _serve_settings(build_parser().parse_args(["serve"])).api_access_log is False
    monkeypatch.setenv("CHARGEPLANE_API_ACCESS_LOG", "yes")
    assert _serve_settings(build_parser().parse_args(["serve"])).api_access_log is True


async def test_the_api_keeps_the_process_log_setup(tmp_path: Path) -> None:
    before = list(logging.getLogger().handlers)
    async with running(settings_for(sqlite(tmp_path))) as csms:
        await csms.api.get("/api/v1/stations", headers=csms.auth)
        assert logging.getLogger().handlers == before  # Litestar's default would replace them
