"""2.1 dynamic charging profiles (K28) and priority charging (K21/K22) on the CSMS, driven by an ``ocpp``
(PyPI) 2.1 station, on SQLite and PostgreSQL (the ``csms`` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on

from chargeplane.csms.blocks.smart_charging.service import (
    EvRequest,
    SmartChargingService,
    StoredProfile,
    held_alike,
)
from chargeplane.smart_charging.model import Kind, Period, Profile, Purpose, RateUnit, Schedule
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

V21 = "2.1"
module = MODULES[V21]


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


def dynamic_profile(profile_id: int, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Dynamic",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
        ],
        **extra,
    }


@asynccontextmanager
async def booted(csms: RunningCsms, station_id: str) -> AsyncIterator[Any]:
    """A registered ``ocpp`` 2.1 station, connected and booted (Accepted)."""
    await csms.add_station(station_id)
    async with peer(csms.ocpp_url, station_id, V21, station_class=DynamicStation) as station:
        await boot(station, V21)
        yield station


async def started(station: Any, transaction_id: str) -> None:
    """The peer station's transaction on EVSE 1 begins (TransactionEvent Started)."""
    await station.call(
        module.call.TransactionEvent(
            event_type="Started",
            timestamp="2026-12-07T10:00:00Z",
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": transaction_id},
            evse={"id": 1, "connector_id": 1},
        )
    )


class DynamicStation(module.ChargePoint):  # type: ignore[misc,name-defined]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.updates: list[dict[str, Any]] = []
        self.priority: list[dict[str, Any]] = []

    @on("SetChargingProfile")
    def set_profile(self, **_: Any) -> Any:
        return module.call_result.SetChargingProfile(status="Accepted")

    @on("UpdateDynamicSchedule")
    def update(self, charging_profile_id: int, schedule_update: dict[str, Any], **_: Any) -> Any:
        self.updates.append({"id": charging_profile_id, **schedule_update})
        return module.call_result.UpdateDynamicSchedule(status="Accepted")

    @on("GetCompositeSchedule")
    def composite(self, duration: int, evse_id: int, **_: Any) -> Any:
        return module.call_result.GetCompositeSchedule(status="Rejected")

    @on("UsePriorityCharging")
    def use_priority(self, transaction_id: str, activate: bool, **_: Any) -> Any:
        self.priority.append({"transaction_id": transaction_id, "activate": activate})
        if transaction_id != "TX-P1":
            return module.call_result.UsePriorityCharging(
                status="Rejected", status_info={"reason_code": "TxNotFound"}
            )
        return module.call_result.UsePriorityCharging(status="Accepted")


async def test_K28_FR_07_12_pull_answered_from_the_operator_values_and_update_pushed(
    csms: RunningCsms,
) -> None:
    async with booted(csms, "DY1") as station:
        # K28.FR.12: no such profile in the store.
        refused = await station.call(module.call.PullDynamicScheduleUpdate(charging_profile_id=41))
        assert (refused.status, refused.status_info["reason_code"]) == ("Rejected", "InvalidProfile")
        await _json(
            csms, "PUT", "/stations/DY1/dynamic-schedules/41", 404, json={"scheduleUpdate": {"limit": 1.0}}
        )
        # K01.FR.122: what the station would refuse is refused before sending
        relative_with_interval = {
            **dynamic_profile(40, 1.0, dynUpdateInterval=5),
            "chargingProfileKind": "Relative",
        }
        refused_set = await _json(
            csms,
            "POST",
            "/stations/DY1/charging-profiles",
            422,
            json={"evseId": 0, "chargingProfile": relative_with_interval},
        )
        assert refused_set["extra"]["code"] == "InvalidProfile"
        answer = await _json(
            csms,
            "POST",
            "/stations/DY1/charging-profiles",
            json={"evseId": 0, "chargingProfile": dynamic_profile(41, 11000.0, dynUpdateInterval=60)},
        )
        assert answer["status"] == "Accepted"
        # without operator values: the profile's own
        own = await station.call(module.call.PullDynamicScheduleUpdate(charging_profile_id=41))
        assert (own.status, own.schedule_update) == ("Accepted", {"limit": 11000.0})
        # the operator's values, stored only (the next pull gets them) ...
        stored = await _json(
            csms,
            "PUT",
            "/stations/DY1/dynamic-schedules/41",
            json={"scheduleUpdate": {"limit": 7000.0, "limit_L2": 6000.0}, "send": False},
        )
        assert (stored["status"], stored["scheduleUpdate"]["limit"]) == (None, 7000.0)
        assert station.updates == []
        pulled = await station.call(module.call.PullDynamicScheduleUpdate(charging_profile_id=41))
        assert pulled.status == "Accepted"  # K28.FR.07
        assert pulled.schedule_update == {"limit": 7000.0, "limit_l2": 6000.0}  # the peer snake-cases
        # ... or pushed with UpdateDynamicSchedule (K28 scenario 1)
        pushed = await _json(
            csms, "PUT", "/stations/DY1/dynamic-schedules/41", json={"scheduleUpdate": {"limit": 3000.0}}
        )
        assert (pushed["status"], pushed["pulls"]) == ("Accepted", 1)
        assert station.updates == [{"id": 41, "limit": 3000.0}]
        [listed] = await _json(csms, "GET", "/stations/DY1/dynamic-schedules")
        assert listed["scheduleUpdate"] == {"limit": 3000.0}
        # the store follows what the station took, so reconciliation sees no drift
        [profile] = await _json(csms, "GET", "/stations/DY1/charging-profiles")
        assert (
            profile["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 3000.0
        )
        # a profile that is not Dynamic is no target (K28.FR.12)
        absolute = {**dynamic_profile(42, 5.0), "chargingProfileKind": "Absolute", "stackLevel": 1}
        absolute["chargingSchedule"][0]["startSchedule"] = "2026-12-07T00:00:00Z"
        await _json(
            csms, "POST", "/stations/DY1/charging-profiles", json={"evseId": 0, "chargingProfile": absolute}
        )
        not_dynamic = await station.call(module.call.PullDynamicScheduleUpdate(charging_profile_id=42))
        assert not_dynamic.status == "Rejected"


async def test_K21_use_priority_charging_and_K22_notice_shown_in_the_transaction_view(
    csms: RunningCsms,
) -> None:
    async with booted(csms, "PR1") as station:
        await started(station, "TX-P1")
        answer = await _json(csms, "POST", "/stations/PR1/transactions/TX-P1/priority-charging", json={})
        assert answer == {"status": "Accepted", "reasonCode": None}
        rejected = await _json(
            csms, "POST", "/stations/PR1/transactions/NOPE/priority-charging", json={"activate": True}
        )
        assert rejected == {"status": "Rejected", "reasonCode": "TxNotFound"}
        assert station.priority[0] == {"transaction_id": "TX-P1", "activate": True}
        await _json(csms, "GET", "/stations/PR1/transactions/TX-P1/priority-charging", 404)
        # K21.FR.09 / K22.FR.06: the notices are answered and stored
        assert (
            await station.call(module.call.NotifyPriorityCharging(transaction_id="TX-P1", activated=True))
            is not None
        )
        await station.call(module.call.NotifyPriorityCharging(transaction_id="TX-P1", activated=False))
        await station.call(module.call.NotifyPriorityCharging(transaction_id="TX-P1", activated=True))
        state = await _json(csms, "GET", "/stations/PR1/transactions/TX-P1/priority-charging")
        assert state["active"] is True
        assert [n["activated"] for n in state["notices"]] == [True, False, True]
        page = await _json(csms, "GET", "/transactions", params={"station": "PR1"})
        key = page["items"][0]["id"]
        detail = await _json(csms, "GET", f"/transactions/{key}")
        assert detail["sections"]["priorityCharging"]["active"] is True
        # the CSMS's own composite follows: the PriorityCharging profile in place of the TxDefaultProfile
        for profile_id, purpose, limit in (
            (71, "TxDefaultProfile", 3000.0),
            (72, "PriorityCharging", 9000.0),
        ):
            body = {**dynamic_profile(profile_id, limit), "chargingProfilePurpose": purpose}
            body["chargingProfileKind"] = "Relative"
            await _json(
                csms, "POST", "/stations/PR1/charging-profiles", json={"evseId": 0, "chargingProfile": body}
            )

        async def csms_limit() -> float:
            params = {"evseId": 1, "duration": 60, "unit": "W"}
            view = await _json(csms, "GET", "/stations/PR1/composite-schedule", params=params)
            return float(view["csms"]["chargingSchedulePeriod"][0]["limit"])

        assert await csms_limit() == 9000.0
        await station.call(module.call.NotifyPriorityCharging(transaction_id="TX-P1", activated=False))
        assert await csms_limit() == 3000.0


async def test_K21_priority_charging_is_2_1_only(csms: RunningCsms) -> None:
    await csms.add_station("PR2")
    async with peer(csms.ocpp_url, "PR2", "2.0.1") as station:
        await boot(station, "2.0.1")
        refused = await _json(csms, "POST", "/stations/PR2/transactions/T/priority-charging", 422, json={})
        assert refused["extra"]["code"] == "NotSupportedByVersion"
        await asyncio.sleep(0)


async def test_K18_FR_04_K19_ISO_15118_20_needs_get_NoChargingProfile_or_a_TxProfile(
    csms: RunningCsms,
) -> None:
    async with booted(csms, "IS20") as station:
        needs = {
            "requested_energy_transfer": "AC_three_phase",
            "control_mode": "DynamicControl",
            "v2x_charging_parameters": {
                "max_charge_current": 16,
                "min_charge_current": 6,
                "ev_target_energy_request": 20000,
            },
        }
        no_tx = await station.call(module.call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
        assert no_tx.status == "NoChargingProfile"  # K19.FR.04, not Rejected (K19.FR.15 would end it)
        await started(station, "TX-20")
        accepted = await station.call(module.call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
        assert accepted.status == "Accepted"  # K19.FR.03

        async def tx_profile() -> list[dict[str, Any]]:
            profiles = await _json(csms, "GET", "/stations/IS20/charging-profiles")
            return [p for p in profiles if p["purpose"] == "TxProfile"]

        async with asyncio.timeout(10):
            while True:  # the TxProfile follows in the background (K19.FR.07/08)
                found = await tx_profile()
                if found:
                    break
                await asyncio.sleep(0.05)
        [profile] = found
        assert len(profile["chargingProfile"]["chargingSchedule"]) == 1  # K19.FR.07: one schedule
        assert (
            profile["chargingProfile"]["chargingSchedule"][0]["chargingRateUnit"] == "A"
        )  # AC from the -20 needs
        assert profile["transactionId"] == "TX-20"


async def test_a_block_keeping_the_schedule_gets_an_ISO_15118_20_EV_NoChargingProfile_and_no_offer(
    csms: RunningCsms,
) -> None:
    """The blocks that keep a transaction's schedule (the v2x block: a V2X TxProfile in force, Q03/Q04 with
    K17/K20) are asked before the CSMS offers a TxProfile: kept, an ISO 15118-20 EV is answered
    NoChargingProfile, an ISO 15118-2 EV Accepted, and no TxProfile is sent for either."""
    asked: list[tuple[str, int]] = []
    asked_twice = asyncio.Event()

    def keeper(request: EvRequest, stored: Sequence[StoredProfile]) -> bool:
        asked.append((request.transaction_id, len(stored)))
        if len(asked) == 2:
            asked_twice.set()
        return True

    csms.app.blocks.require(SmartChargingService).add_schedule_keeper(keeper)
    async with booted(csms, "KEPT") as station:
        await started(station, "TX-KEPT")
        needs_20 = {
            "requested_energy_transfer": "AC_three_phase",
            "control_mode": "ScheduledControl",
            "v2x_charging_parameters": {"max_charge_current": 16, "min_charge_current": 6},
        }
        answer = await station.call(module.call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs_20))
        assert answer.status == "NoChargingProfile"
        assert asked == [("TX-KEPT", 0)]  # with the station's stored profiles (none yet)
        needs_2 = {
            "requested_energy_transfer": "AC_three_phase",
            "ac_charging_parameters": {
                "energy_amount": 20000,
                "ev_min_current": 6,
                "ev_max_current": 16,
                "ev_max_voltage": 400,
            },
        }
        answer = await station.call(module.call.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs_2))
        assert answer.status == "Accepted"  # K15.FR.02: a -2 EV has no NoChargingProfile
        # the offer in the background asks again, and sends nothing
        await asyncio.wait_for(asked_twice.wait(), 10)
        assert asked[1] == ("TX-KEPT", 0)
        profiles = await _json(csms, "GET", "/stations/KEPT/charging-profiles")
        assert [p for p in profiles if p["purpose"] == "TxProfile"] == []


def test_K09_K29_a_dynamic_profile_whose_values_the_station_changed_is_no_drift() -> None:
    period = Period(0, 8000.0)
    schedule = Schedule(RateUnit.WATT, (period,), None, datetime(2026, 1, 1, tzinfo=UTC))
    stored = Profile(91, 0, Purpose.TX_DEFAULT, Kind.DYNAMIC, schedule, evse_id=0)
    # an external system's value (K29.FR.05) and its update time (the schedule's start moves with it)
    updated = replace(
        stored,
        schedule=replace(schedule, periods=(Period(0, 5000.0),), start=datetime(2026, 1, 2, tzinfo=UTC)),
    )
    assert held_alike(updated, stored)
    assert not held_alike(replace(updated, stack_level=1), stored)  # anything else still counts
    absolute = replace(stored, kind=Kind.ABSOLUTE)
    assert not held_alike(replace(updated, kind=Kind.ABSOLUTE), absolute)  # values count there
    assert held_alike(absolute, absolute)
    assert not held_alike(None, stored)
