"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
a transaction limit set through the API reaches the station in a TransactionEventResponse, is confirmed with
LimitSet and suspends the energy when reached (E16); a Reset ImmediateAndResume reboots the station and the
same transaction goes on in the CSMS's store (B13)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases
from tests.test_end_to_end_tariff import until

PASSWORD = "e2e-password-0123456789"
CARD = "E2ECARD17"


async def run(tmp_path: Path, scenario: Any) -> None:
    """``scenario(api, station)`` against a fresh CSMS and a running 2.1 station E2E17 with resumption on."""
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(ProvisioningSettings(presence_flush_interval=0.2),),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            created = await api.post("/stations", json={"stationId": "E2E17", "password": PASSWORD})
            assert created.status_code == 201
            card = {"idToken": CARD, "type": "ISO14443"}
            assert (await api.post("/id-tokens", json=card)).status_code == 201
            settings = RuntimeSettings(
                url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                station_id="E2E17",
                version=Version.V21,
                password=PASSWORD,
                database=tmp_path / "station.db",
                meter_tick_s=0.2,
                backoff=BackOffSettings(0.1, 0.0, 1),
                variables={
                    ("SampledDataCtrlr", "TxUpdatedInterval", None): "1",  # an event (and answer) each second
                    ("TxCtrlr", "ResumptionTimeout", None): "60",
                },
            )
            station = StationRuntime(settings)
            task = asyncio.create_task(station.run())
            try:
                async with asyncio.timeout(10):
                    await station.accepted.wait()
                await scenario(api, station)
            finally:
                await station.stop()
                await asyncio.wait_for(task, timeout=5)
    finally:
        await csms.stop(deadline=1.0)


async def started(api: httpx.AsyncClient, station: StationRuntime) -> dict[str, Any]:
    station.plug()
    station.present_token(CARD)

    async def active() -> dict[str, Any] | None:
        items: list[dict[str, Any]] = (await api.get("/transactions?station=E2E17")).json()["items"]
        return items[0] if items and items[0]["chargingState"] == "Charging" else None

    found: dict[str, Any] = await until(active, "the transaction charging in the CSMS")
    return found


async def events(api: httpx.AsyncClient, key: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get(f"/transactions/{key}")).json()["events"]
    return found


async def test_E16_limit_from_the_api_suspends_the_energy_at_the_station(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        tx = await started(api, station)
        assert (await api.post(f"/transactions/{tx['id']}/limit", json={})).status_code == 400
        energy = (station.core.transaction(1) and station.core.ctx.evses[1].meter.energy_wh) or 0.0
        tx_start = station.core.transaction(1)
        assert tx_start is not None
        used = energy - tx_start.meter_start_wh
        answer = await api.post(f"/transactions/{tx['id']}/limit", json={"maxEnergy": used + 2.0})
        assert answer.status_code == 202, answer.text

        async def reached() -> list[dict[str, Any]]:
            return [e for e in await events(api, tx["id"]) if e["triggerReason"] == "EnergyLimitReached"]

        hit = await until(reached, "EnergyLimitReached in the CSMS")
        assert hit[0]["chargingState"] == "SuspendedEVSE"  # E16.FR.05
        kinds = [e["triggerReason"] for e in await events(api, tx["id"])]
        assert kinds.index("LimitSet") < kinds.index("EnergyLimitReached")  # E16.FR.03 confirmed first
        detail = (await api.get(f"/transactions/{tx['id']}")).json()["transaction"]
        assert detail["transactionLimit"] == {"maxEnergy": used + 2.0}
        assert detail["limitRequest"] is None  # sent once
        assert not station.hardware.evses[1].closed  # the contactor is open

    await run(tmp_path, scenario)


async def test_B13_reset_and_resume_keeps_one_transaction_in_the_csms(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        tx = await started(api, station)
        station.accepted.clear()
        reset = await api.post("/stations/E2E17/reset", json={"type": "ImmediateAndResume"})
        assert reset.status_code == 200, reset.text
        assert reset.json()["response"]["status"] == "Accepted"

        async def resumed() -> list[dict[str, Any]]:
            return [e for e in await events(api, tx["id"]) if e["triggerReason"] == "TxResumed"]

        after = await until(resumed, "TxResumed in the CSMS")
        assert after[0]["chargingState"] == "Charging"
        kinds = [e["triggerReason"] for e in await events(api, tx["id"])]
        assert kinds.index("ResetCommand") < kinds.index("TxResumed")
        items = (await api.get("/transactions?station=E2E17")).json()["items"]
        assert len(items) == 1  # no duplicate
        assert items[0]["status"] == "active"
        assert items[0]["missingSeqNos"] == []  # the numbering went on
        assert items[0]["transactionId"] == tx["transactionId"]

    await run(tmp_path, scenario)
