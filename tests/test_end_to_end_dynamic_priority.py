"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
a Dynamic profile whose values the operator sets reaches the station by its own pull and by a push, and the
EVSE's limit follows (K28); priority charging asked through the API switches the transaction to the
PriorityCharging profile, and the station's notice shows in the transaction's view (K21)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.runtime import StationRuntime
from tests.test_end_to_end_limits import run, started
from tests.test_end_to_end_tariff import until


def profile(profile_id: int, purpose: str, kind: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "evseId": 0,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
                }
            ],
            **extra,
        },
    }


def limit_of(station: StationRuntime) -> float | None:
    return station.hardware.evses[1].limit_w


async def test_K28_dynamic_values_pulled_and_pushed_from_our_csms(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        await started(api, station)
        set_answer = await api.post(
            "/stations/E2E17/charging-profiles",
            json=profile(51, "TxDefaultProfile", "Dynamic", 9000.0, dynUpdateInterval=1),
        )
        assert set_answer.json()["status"] == "Accepted", set_answer.text
        await until(lambda: limit_of(station) == 9000.0, "the Dynamic profile's first limit")
        stored = await api.put(
            "/stations/E2E17/dynamic-schedules/51", json={"scheduleUpdate": {"limit": 5000.0}, "send": False}
        )
        assert stored.status_code == 200, stored.text
        await until(lambda: limit_of(station) == 5000.0, "the pulled limit (K28.FR.08)")
        pushed = await api.put(
            "/stations/E2E17/dynamic-schedules/51", json={"scheduleUpdate": {"limit": 4000.0}}
        )
        assert pushed.json()["status"] == "Accepted"
        await until(lambda: limit_of(station) == 4000.0, "the pushed limit (K28.FR.06)")
        [values] = (await api.get("/stations/E2E17/dynamic-schedules")).json()
        assert values["pulls"] >= 1

    await run(tmp_path, scenario)


async def test_K21_priority_charging_through_our_csms(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        transaction = await started(api, station)
        transaction_id = transaction["transactionId"]
        url = f"/stations/E2E17/transactions/{transaction_id}/priority-charging"
        assert (await api.post(url, json={})).json()["status"] == "NoProfile"  # K21.FR.01
        for body in (
            profile(61, "TxDefaultProfile", "Relative", 3000.0),
            profile(62, "PriorityCharging", "Relative", 9000.0),
        ):
            assert (await api.post("/stations/E2E17/charging-profiles", json=body)).json()[
                "status"
            ] == "Accepted"
        await until(lambda: limit_of(station) == 3000.0, "the TxDefaultProfile's limit")
        assert (await api.post(url, json={"activate": True})).json()["status"] == "Accepted"
        await until(lambda: limit_of(station) == 9000.0, "the PriorityCharging profile's limit (K21.FR.04)")

        async def shown() -> bool:
            detail = (await api.get(f"/transactions/{transaction['id']}")).json()
            section = detail.get("sections", {}).get("priorityCharging")
            return section is not None and section["active"] is True

        await until(shown, "the NotifyPriorityCharging in the transaction's view (K21.FR.05/09)")
        assert (await api.post(url, json={"activate": False})).json()["status"] == "Accepted"
        await until(lambda: limit_of(station) == 3000.0, "back on the TxDefaultProfile (K21.FR.07)")

    await run(tmp_path, scenario)
