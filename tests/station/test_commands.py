"""``chargeplane station --scenario`` and ``chargeplane simulate`` against a CSMS built with the ``ocpp`` package,
and where a station keeps its state by default (a data directory, never the working directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargeplane.cli import build_parser
from chargeplane.station.commands import (
    data_directory,
    default_station_database,
    parse_duration,
    run_command,
)
from tests.station.csms_peer import CsmsBehaviour, peer_csms


async def test_station_scenario_runs_a_session(tmp_path: Path) -> None:
    scenario = tmp_path / "session.txt"
    scenario.write_text(
        "# a short session\nplug 1\ntoken CARD42\nwait 0.3\nstatus\ntoken CARD42\nunplug 1\nwait 0.3\n"
    )
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url:
        args = build_parser().parse_args(
            [
                "station",
                "--url",
                url,
                "--id",
                "CS-CLI",
                "--scenario",
                str(scenario),
                "--database",
                str(tmp_path / "s.db"),
            ]
        )
        assert await run_command(args) == 0
    kinds = [e["event_type"] for e in behaviour.of("TransactionEvent")]
    assert kinds[0] == "Started"
    assert kinds[-1] == "Ended"


async def test_simulate_fleet_summary(capsys: pytest.CaptureFixture[str]) -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url:
        args = build_parser().parse_args(
            [
                "simulate",
                "--url",
                url,
                "--stations",
                "3",
                "--duration",
                "1.5s",
                "--session-seconds",
                "0.3",
                "--json",
            ]
        )
        assert await run_command(args) == 0
        human = build_parser().parse_args(
            ["simulate", "--url", url, "--stations", "2", "--duration", "2.5s", "--prefix", "HUM"]
        )
        assert await run_command(human) == 0
    output = capsys.readouterr()
    summary = json.loads(output.out[: output.out.index("\n}\n") + 2])
    assert summary["stations"] == 3
    assert summary["accepted"] == 3
    assert summary["sessions_started"] >= 3
    assert len(behaviour.of("BootNotification")) == 5
    assert "sessions         " in output.out  # the human-readable summary
    assert "online 2/2" in output.err  # the live progress line


def test_parse_duration() -> None:
    assert parse_duration("10m") == 600
    assert parse_duration("30s") == 30
    assert parse_duration("2") == 2
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration("soon")


def test_data_dir_setting_wins(tmp_path: Path) -> None:
    env = {"CHARGEPLANE_DATA_DIR": str(tmp_path / "own"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert data_directory(env) == tmp_path / "own"


def test_xdg_data_home_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_directory({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "chargeplane"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_directory({}) == tmp_path / "home" / ".local" / "share" / "chargeplane"


def test_station_database_under_the_data_dir_with_a_safe_name(tmp_path: Path) -> None:
    path = default_station_database("CS/01 x", {"CHARGEPLANE_DATA_DIR": str(tmp_path)})
    assert path == tmp_path / "stations" / "CS%2F01%20x.db"
    assert path.parent.is_dir()
    assert Path.cwd() not in path.parents
