"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
a Dynamic profile whose values the operator sets reaches the station by its own pull and by a push, and the
EVSE's limit follows (K28); priority charging asked through the API switches the transaction to the
PriorityCharging profile, and the station's notice shows in the transaction's view (K21); the driver's priority
button does the same from the station (K22); an EMS's limits and local generation reach the CSMS as the EMS
topologies say (K23-K27), and an external system's values land in the CSMS's Dynamic profile (K29)."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx

from chargeplane.ocpp.timestamps import from_wire
from chargeplane.station.core.priority_charging import NO_PROFILE_TEXT
from chargeplane.station.runtime import StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_limits import CARD, run, started
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


async def install(api: httpx.AsyncClient, *bodies: dict[str, Any]) -> None:
    """SetChargingProfile through the API, each Accepted by the station."""
    for body in bodies:
        answer = await api.post("/stations/E2E17/charging-profiles", json=body)
        assert answer.json()["status"] == "Accepted", answer.text


async def priority_on_hand(api: httpx.AsyncClient, station: StationRuntime, first_id: int) -> None:
    """A 3 kW TxDefaultProfile in force and a 9 kW PriorityCharging profile installed (K21/K22)."""
    await install(
        api,
        profile(first_id, "TxDefaultProfile", "Relative", 3000.0),
        profile(first_id + 1, "PriorityCharging", "Relative", 9000.0),
    )
    await until(lambda: limit_of(station) == 3000.0, "the TxDefaultProfile's limit")


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
        await priority_on_hand(api, station, 61)
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


async def priority_view(api: httpx.AsyncClient, transaction_id: str) -> dict[str, Any] | None:
    answer = await api.get(f"/stations/E2E17/transactions/{transaction_id}/priority-charging")
    return answer.json() if answer.status_code == 200 else None


async def test_K22_priority_button_at_the_station_reaches_our_csms(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        transaction_id = (await started(api, station))["transactionId"]
        assert station.press_priority_button() is False  # K22.FR.01: no PriorityCharging profile
        assert station.hardware.display.text == NO_PROFILE_TEXT  # the driver is told
        await priority_on_hand(api, station, 71)
        assert station.press_priority_button() is True  # K22.FR.02
        await until(lambda: limit_of(station) == 9000.0, "the PriorityCharging profile's limit")

        async def notified(active: bool, count: int) -> bool:
            view = await priority_view(api, transaction_id)
            return view is not None and view["active"] is active and len(view["notices"]) == count

        await until(lambda: notified(True, 1), "NotifyPriorityCharging activated (K22.FR.03/06)")
        assert station.press_priority_button() is False  # K22.FR.04: the driver ends it
        await until(lambda: limit_of(station) == 3000.0, "back on the TxDefaultProfile (K22.FR.04)")
        await until(lambda: notified(False, 2), "NotifyPriorityCharging deactivated (K22.FR.05/06)")

    await run(tmp_path, scenario)


async def limit_events(api: httpx.AsyncClient, message: str) -> list[dict[str, Any]]:
    page = (await api.get(f"/stations/E2E17/charging-limits?message={message}")).json()
    return list(reversed(page["items"]))  # oldest first


async def rate_changes(api: httpx.AsyncClient, key: int) -> int:
    found: list[dict[str, Any]] = (await api.get(f"/transactions/{key}")).json()["events"]
    return sum(1 for e in found if e["triggerReason"] == "ChargingRateChanged")


async def reported(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await api.post("/stations/E2E17/charging-profiles/report", json={"wait": 5})
    assert answer.status_code == 200, answer.text
    return [p["chargingProfile"] for p in answer.json()["profiles"]]


async def test_K23_to_K27_ems_limits_and_local_generation_reach_our_csms(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        transaction = await started(api, station)
        key = transaction["id"]
        # K23: an EMS connected to the station limits it (K11/K12): an external constraint, notified as EMS
        station.external_limit(0, 4000.0)
        await until(lambda: limit_of(station) == 4000.0, "the EMS's limit obeyed (K11.FR.01)")
        [notice] = await until(
            lambda: limit_events(api, "NotifyChargingLimit"), "NotifyChargingLimit (K23 5)"
        )
        assert notice["source"] == "EMS"
        assert notice["data"]["chargingLimit"].get("isLocalGeneration") is not True
        await until(lambda: rate_changes(api, key), "ChargingRateChanged in the transaction (K23 6)")
        [external] = [
            p
            for p in await reported(api)
            if p["chargingProfilePurpose"] == "ChargingStationExternalConstraints"
        ]
        assert external["chargingProfileKind"] == "Dynamic"  # K29.FR.04
        [period] = external["chargingSchedule"][0]["chargingSchedulePeriod"]
        assert (period["limit"], period["operationMode"]) == (4000.0, "ExternalLimits")
        station.external_limit(0, None)
        await until(lambda: limit_events(api, "ClearedChargingLimit"), "ClearedChargingLimit (K13)")
        await until(lambda: limit_of(station) is None or limit_of(station) > 4000.0, "the EMS's limit lifted")
        # K24-K26: an EMS acting as (or behind) a Local Controller sets ChargingStationMaxProfiles, the LC's
        # part played here by the API; the station records the rate change, the LC alone notifies the limit
        before = await rate_changes(api, key)
        notices = len(await limit_events(api, "NotifyChargingLimit"))
        max_profile = profile(81, "ChargingStationMaxProfile", "Absolute", 4500.0)
        max_profile["chargingProfile"]["chargingSchedule"][0]["startSchedule"] = "2020-01-01T00:00:00Z"
        await install(api, max_profile)
        await until(lambda: limit_of(station) == 4500.0, "the Local Controller's maximum")
        await until(
            lambda: _more(rate_changes(api, key), before), "ChargingRateChanged for the LC's profile (K24 7)"
        )
        assert len(await limit_events(api, "NotifyChargingLimit")) == notices
        cleared = await api.post("/stations/E2E17/charging-profiles/clear", json={"id": 81})
        assert cleared.json()["status"] == "Accepted"
        # K27 (scenario 2): 2 kW of local generation on top of a 5 kW TxDefaultProfile, then 1 kW
        await install(api, profile(82, "TxDefaultProfile", "Relative", 5000.0))
        await until(lambda: limit_of(station) == 5000.0, "the TxDefaultProfile's 5 kW")
        station.local_generation(0, 2000.0)
        await until(lambda: limit_of(station) == 7000.0, "5 kW plus 2 kW generated (K27 3b)")

        async def generation_notices() -> list[dict[str, Any]]:
            found = await limit_events(api, "NotifyChargingLimit")
            return [n for n in found if n["data"]["chargingLimit"].get("isLocalGeneration") is True]

        [first] = await until(generation_notices, "NotifyChargingLimit isLocalGeneration (K27.FR.03)")
        assert first["source"] == "EMS"
        station.local_generation(0, 1000.0)
        await until(lambda: limit_of(station) == 6000.0, "5 kW plus 1 kW generated (K27 4b)")
        await until(lambda: _count(generation_notices, 2), "a second notice after the drop (K27 4a)")
        [generation] = [
            p for p in await reported(api) if p["chargingProfilePurpose"] == "LocalGeneration"
        ]  # K27.FR.02
        assert generation["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 1000.0

    await run(tmp_path, scenario)


async def _count(source: Any, count: int) -> bool:
    return len(await source()) >= count


async def _more(found: Awaitable[int], than: int) -> bool:
    return await found > than


async def test_K29_external_values_in_our_csms_dynamic_profile_with_external_limits(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        await started(api, station)
        dynamic = profile(91, "TxDefaultProfile", "Dynamic", 8000.0)
        dynamic["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["operationMode"] = (
            "ExternalLimits"
        )
        await install(api, dynamic)  # K29 scenario 2, steps 1-2
        await until(lambda: limit_of(station) == 8000.0, "the CSMS's Dynamic profile's first limit")
        [first] = [p for p in await reported(api) if p["id"] == 91]
        station.external_limit(0, 5000.0)  # the EMS's value lands in the CSMS's profile (K29.FR.03/05)
        await until(lambda: limit_of(station) == 5000.0, "the external value obeyed")
        [notice] = await until(
            lambda: limit_events(api, "NotifyChargingLimit"), "NotifyChargingLimit (K29 4)"
        )
        assert notice["source"] == "EMS"
        profiles = await reported(api)
        assert all(p["chargingProfilePurpose"] != "ChargingStationExternalConstraints" for p in profiles)
        [held] = [p for p in profiles if p["id"] == 91]
        assert held["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 5000.0
        stamps = [from_wire(p["dynUpdateTime"]) for p in (first, held)]
        assert stamps[1] > stamps[0]  # K29.FR.06: stamped by the update
        station.external_limit(0, 5020.0)  # 0.4 %: below LimitChangeSignificance, obeyed but not notified
        await until(lambda: limit_of(station) == 5020.0, "the small change obeyed")
        assert len(await limit_events(api, "NotifyChargingLimit")) == 1

    await run(tmp_path, scenario)


async def test_K21_offline_priority_falls_back_past_max_offline_duration_and_back_online(
    tmp_path: Path,
) -> None:
    """The K21 remark (K01.FR.101/102): a PriorityCharging profile with maxOfflineDuration at a higher stack
    level gives way offline to the one without, and is used again once the station is back online."""
    card = {"idToken": CARD, "type": "ISO14443"}
    slow_return = BackOffSettings(4.0, 0.0, 1)  # the station stays offline for about 4 s
    async with csms_and_station(tmp_path, "E2E17", [card], backoff=slow_return) as (api, station):
        transaction_id = (await started(api, station))["transactionId"]
        await priority_on_hand(api, station, 101)
        online_only = profile(103, "PriorityCharging", "Relative", 12000.0, maxOfflineDuration=1)
        online_only["chargingProfile"]["stackLevel"] = 1
        await install(api, online_only)
        url = f"/stations/E2E17/transactions/{transaction_id}/priority-charging"
        assert (await api.post(url, json={"activate": True})).json()["status"] == "Accepted"
        await until(lambda: limit_of(station) == 12000.0, "the online PriorityCharging profile")
        await station.go_offline()
        await until(lambda: limit_of(station) == 9000.0, "offline past maxOfflineDuration (K01.FR.101)")
        await until(lambda: limit_of(station) == 12000.0, "online again (K01.FR.102)", seconds=20.0)
