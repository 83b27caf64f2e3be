"""``chargeplane station --scenario`` and ``chargeplane simulate`` against a CSMS built with the ``ocpp`` package,
and where a station keeps its state by default (a data directory, never the working directory)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chargeplane.cli import build_parser
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.station.commands import (
    data_directory,
    default_control_socket,
    default_station_database,
    manufacturer_roots,
    parse_duration,
    run_command,
)
from chargeplane.station.control import HELP
from chargeplane.station.control_socket import send_command
from chargeplane.tools.conformance.pki import Issued, issue, sign
from tests.station.csms_peer import CsmsBehaviour, call, peer_csms, wait_for


async def test_station_scenario_runs_a_session(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chargeplane.station.events")
    scenario = tmp_path / "session.txt"
    scenario.write_text(
        "# a short session\nplug 1\ntoken CARD42\nwait 1.3\nstatus\ntoken CARD42\nunplug 1\nwait 0.3\n"
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
    tx_id = behaviour.of("TransactionEvent")[0]["transaction_info"]["transaction_id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "chargeplane.station.events"]
    assert lines[:3] == [
        "connected to " + url + " (OCPP 2.0.1)",
        "boot: Accepted",
        "EVSE 1: EV plugged in (connector 1)",
    ]
    assert "EVSE 1: authorized CARD42" in lines
    assert f"EVSE 1: transaction {tx_id} started" in lines
    ended = next(line for line in lines if line.startswith(f"EVSE 1: transaction {tx_id} ended, "))
    assert float(ended.split(", ")[1].removesuffix(" Wh")) > 0  # the simulated EV drew energy
    assert lines[-1] == "offline"  # the station stopped


async def test_a_refused_card_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "chargeplane.station.events")
    scenario = tmp_path / "refused.txt"
    scenario.write_text("plug 1\ntoken STRANGER\nwait 0.3\n")
    async with peer_csms(CsmsBehaviour(authorize_status="Invalid")) as url:
        args = build_parser().parse_args(
            ["station", "--url", url, "--id", "CS-R", "--scenario", str(scenario), "--control", "none"]
        )
        args.database = tmp_path / "r.db"
        assert await run_command(args) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "chargeplane.station.events"]
    assert "refused by the CSMS: Authorize Invalid" in lines
    assert not any("authorized" in line or "transaction" in line for line in lines)


async def test_help_is_plain_text(tmp_path: Path) -> None:
    assert "``" not in HELP
    assert "::" not in HELP
    assert "stay" in HELP
    usage = build_parser().parse_args(["station", "--url", "ws://x", "--id", "X"])
    assert usage.no_input is False


def _environment(tmp_path: Path) -> dict[str, str]:
    return os.environ | {"CHARGEPLANE_DATA_DIR": str(tmp_path), "COVERAGE_PROCESS_START": ""}


@asynccontextmanager
async def station_process(
    tmp_path: Path, url: str, *options: str, stdin: int | None = asyncio.subprocess.DEVNULL
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``chargeplane station`` in its own process, as a supervisor runs it (killed if a test fails)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chargeplane.cli",
        "station",
        "--url",
        url,
        "--id",
        "CS-D",
        *options,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(tmp_path),
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _ctl(tmp_path: Path, command: str) -> str:
    reply = await send_command(
        default_control_socket("CS-D", {"CHARGEPLANE_DATA_DIR": str(tmp_path)}), command
    )
    assert reply.ok, reply
    return reply.output


async def test_station_without_input_runs_until_sigterm_driven_through_its_control_socket(
    tmp_path: Path,
) -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, station_process(tmp_path, url) as process:
        await wait_for(lambda: behaviour.of("StatusNotification"), within=15)
        await asyncio.sleep(0.5)  # stdin is /dev/null: a station that took that for "quit" would be gone
        assert process.returncode is None
        await _ctl(tmp_path, "plug 1")
        await _ctl(tmp_path, "token CARD7")
        await wait_for(lambda: behaviour.of("TransactionEvent"), within=5)
        assert "tx=" in await _ctl(tmp_path, "status")
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=6)
    assert process.returncode == 0, err
    text = err.decode()
    assert "Traceback" not in text
    assert "[CS-D]: EVSE 1: authorized CARD7" in text
    assert "transaction" in text
    assert not default_control_socket("CS-D", {"CHARGEPLANE_DATA_DIR": str(tmp_path)}).exists()


async def test_end_of_input_stops_the_station_cleanly(tmp_path: Path) -> None:
    behaviour = CsmsBehaviour()
    async with (
        peer_csms(behaviour) as url,
        station_process(tmp_path, url, stdin=asyncio.subprocess.PIPE) as process,
    ):
        await wait_for(lambda: behaviour.of("StatusNotification"), within=15)
        out, err = await asyncio.wait_for(process.communicate(b"status\n"), timeout=8)  # then end of input
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    assert b"registration=Accepted" in out


async def test_scenario_ending_in_stay_keeps_the_station_until_quit(tmp_path: Path) -> None:
    scenario = tmp_path / "stay.txt"
    scenario.write_text("plug 1\ntoken CARD8\nstay\n")
    behaviour = CsmsBehaviour()
    async with (
        peer_csms(behaviour) as url,
        station_process(tmp_path, url, "--scenario", str(scenario)) as process,
    ):
        await wait_for(lambda: behaviour.of("TransactionEvent"), within=15)
        await asyncio.sleep(0.5)
        assert process.returncode is None
        assert await _ctl(tmp_path, "quit") == "stopping"
        _, err = await asyncio.wait_for(process.communicate(), timeout=6)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    assert behaviour.of("TransactionEvent")[-1]["event_type"] == "Started"  # still charging when it stopped


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
    assert summary["ev_arrivals"] >= 3
    # a session is a transaction the CSMS accepted (this one accepts every card), completed once ended
    assert summary["sessions_started"] == summary["transactions_started"] > 0
    assert summary["sessions_completed"] == summary["sessions_started"]
    assert summary["sessions_started"] == summary["ev_arrivals"] - summary["sessions_cut_short"]
    # the counts agree: every CALL sent was answered, failed, or was still in flight at the stop
    assert summary["calls_sent"] == (
        summary["calls_answered"] + summary["calls_failed"] + summary["calls_lost_at_stop"]
    )
    assert summary["calls_sent_during_activity"] <= summary["calls_sent"]
    window = summary["activity_s"]
    assert summary["calls_per_s_during_activity"] == pytest.approx(
        summary["calls_sent_during_activity"] / window, abs=0.5
    )
    assert summary["answers_per_s_during_activity"] == pytest.approx(
        summary["calls_answered_during_activity"] / window, abs=0.5
    )
    tokens = {e["id_token"]["id_token"] for e in behaviour.of("TransactionEvent") if e.get("id_token")}
    assert tokens <= {"CARD-SIM0001", "CARD-SIM0002", "CARD-SIM0003", "CARD-HUM0001", "CARD-HUM0002"}
    assert "sessions         " in output.out  # the human-readable summary
    assert "\nmessages         " in output.out
    assert " answered + " in output.out  # sent = answered + failed + unanswered at stop
    assert "online 2/2" in output.err  # the live progress line


async def test_L01_FR_21_simulate_manufacturer_roots_reach_every_station(tmp_path: Path) -> None:
    """``simulate --manufacturer-root FILE`` (repeatable): each station of the fleet trusts firmware signing
    certificates of either root (UpdateFirmware Accepted), and no other (InvalidCertificate, L01.FR.22)."""
    first, second, stranger = (issue(f"Fleet root {n}", ca=True) for n in (1, 2, 3))
    paths = []
    for number, root in enumerate((first, second)):
        paths.append(tmp_path / f"root{number}.pem")
        paths[-1].write_text(root.pem)
    image = b"CHARGEPLANE-SIM-FIRMWARE 9.9\n"

    def update(request_id: int, root_of: Issued) -> call.UpdateFirmware:
        signer = issue("Fleet firmware signer", root_of, ca=False, code_signing=True)
        firmware = {
            "location": "http://127.0.0.1:9/fw.bin",  # nothing listens: the download fails later
            "retrieve_date_time": to_wire(datetime.now(UTC) + timedelta(hours=1)),
            "signing_certificate": signer.pem,
            "signature": sign(image, signer),
        }
        return call.UpdateFirmware(request_id=request_id, firmware=firmware)

    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url:
        options = ["--manufacturer-root", str(paths[0]), "--manufacturer-root", str(paths[1])]
        args = build_parser().parse_args(
            [
                "simulate",
                "--url",
                url,
                "--stations",
                "2",
                "--duration",
                "3s",
                "--charging-share",
                "0",
                *options,
            ]
        )
        fleet = asyncio.create_task(run_command(args))
        await wait_for(lambda: len(behaviour.of("StatusNotification")) == 2, within=10.0)
        answers = []
        for station in behaviour.stations:
            for request_id, root in enumerate((first, second, stranger), start=1):
                answers.append((await station.call(update(request_id, root))).status)
        assert await asyncio.wait_for(fleet, timeout=30) == 0
    assert answers == ["Accepted", "AcceptedCanceled", "InvalidCertificate"] * 2
    rejected = [
        e
        for e in behaviour.of("SecurityEventNotification")
        if e["type"] == "InvalidFirmwareSigningCertificate"
    ]
    assert len(rejected) == 2


def test_manufacturer_root_files_are_read_and_checked(tmp_path: Path) -> None:
    root = issue("A root", ca=True)
    (tmp_path / "root.pem").write_text(root.pem)
    (tmp_path / "note.txt").write_text("not a certificate")
    assert manufacturer_roots([tmp_path / "root.pem"], "simulate") == (root.pem,)
    assert manufacturer_roots([], "simulate") == ()
    with pytest.raises(SystemExit, match="no PEM certificate"):
        manufacturer_roots([tmp_path / "note.txt"], "simulate")
    with pytest.raises(SystemExit, match=r"missing\.pem"):
        manufacturer_roots([tmp_path / "missing.pem"], "simulate")


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
