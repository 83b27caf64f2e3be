"""``chargeplane simulate --register`` against our own CSMS (in-process, SQLite, default policies: unknown
stations and cards refused): the fleet registers its stations and cards through the HTTP API, then 1.6 and
2.0.1 stations charge with ONE shared card, and the summary counts what the CSMS accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chargeplane.cli import build_parser
from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.station.commands import run_command
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases


async def shared_card_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: int) -> dict[str, Any]:
    """Our CSMS with default policies; ``simulate --register`` ``runs`` times; the last run's summary."""
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None, admission_max_lag=None),
            api_port=0,
            blocks=(ProvisioningSettings(presence_flush_interval=0.2),),
        )
    )
    api_token = await csms.start()
    assert api_token is not None
    summary: dict[str, Any] = {}
    try:
        for _ in range(runs):
            args = build_parser().parse_args(
                [
                    "simulate",
                    "--url",
                    f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                    "--register",
                    "--api",
                    f"http://127.0.0.1:{csms.api_port}/api/v1",
                    "--api-token",
                    api_token,
                    "--token",
                    "FLEETCARD",
                    "--stations",
                    "4",
                    "--versions",
                    "1.6,2.0.1",
                    "--duration",
                    "4s",
                    "--session-seconds",
                    "1.5",
                    "--quiet",
                    "--json",
                ]
            )
            code = await run_command(args)
            summary = json.loads(capsys.readouterr().out)
            assert code == 0, summary
            assert summary["accepted"] == 4, summary  # registered, with the generated password
    finally:
        await csms.stop(deadline=1.0)
    return summary


async def test_fleet_of_16_and_201_stations_registers_and_completes_sessions_with_one_shared_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = await shared_card_fleet(tmp_path, capsys, runs=2)  # registering again works (idempotent)
    assert summary["ev_arrivals"] >= 4, summary
    assert summary["sessions_started"] > 0, summary
    assert summary["sessions_completed"] == summary["sessions_started"], summary
    assert summary["sessions_started"] <= summary["transactions_started"], summary
    assert summary["calls_sent"] == (
        summary["calls_answered"] + summary["calls_failed"] + summary["calls_lost_at_stop"]
    ), summary
    refusals = set(summary["calls_refused_by_action"])
    assert refusals <= {"StartTransaction ConcurrentTx", "TransactionEvent ConcurrentTx"}, summary


async def test_one_shared_card_charges_on_every_station_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = await shared_card_fleet(tmp_path, capsys, runs=1)
    assert summary["calls_rejected"] == 0, summary["calls_refused_by_action"]
