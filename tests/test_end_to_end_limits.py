"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
a transaction limit set through the API reaches the station in a TransactionEventResponse, is confirmed with
LimitSet and suspends the energy when reached (E16); a Reset ImmediateAndResume reboots the station and the
same transaction goes on in the CSMS's store (B13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.runtime import StationRuntime
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_tariff import until

CARD = "E2ECARD17"


async def run(tmp_path: Path, scenario: Any) -> None:
    """``scenario(api, station)`` against a fresh CSMS and a running 2.1 station E2E17 with resumption on."""
    variables = {
        ("SampledDataCtrlr", "TxUpdatedInterval", None): "1",  # an event (and answer) each second
        ("TxCtrlr", "ResumptionTimeout", None): "60",
    }
    card = {"idToken": CARD, "type": "ISO14443"}
    async with csms_and_station(tmp_path, "E2E17", [card], variables=variables) as (api, station):
        await scenario(api, station)


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
