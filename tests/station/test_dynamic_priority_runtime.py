"""End-to-end 2.1 dynamic profiles (K28) and priority charging (K21/K22): a CSMS built with the independent
``ocpp`` package (which checks every message against the OCA schemas) drives the station runtime, and the
simulated EV's power, as the meter values report it, follows."""

from __future__ import annotations

from typing import Any

import ocpp.v21

from chargeplane.ocpp.versions import Version
from chargeplane.station.control import execute
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import running_station
from tests.station.test_smart_charging_runtime import EV_MAX_W, EVERY_SECOND, charging, limited

call21 = ocpp.v21.call


def dynamic_default(limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": 31,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Dynamic",
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            }
        ],
        **extra,
    }


async def test_K28_FR_10_the_station_pulls_every_interval_and_takes_pushed_updates() -> None:
    behaviour = CsmsBehaviour(dynamic_update={"limit": 4000.0})
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21, variables=EVERY_SECOND) as station,
    ):
        tx_events = await charging(behaviour, station, "DYN1")
        csms = behaviour.stations[0]
        answer = await csms.call(
            call21.SetChargingProfile(
                evse_id=0, charging_profile=dynamic_default(6000.0, dyn_update_interval=1)
            )
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: behaviour.of("PullDynamicScheduleUpdate"), within=5)  # K28.FR.10
        assert behaviour.of("PullDynamicScheduleUpdate")[0]["charging_profile_id"] == 31
        await wait_for(lambda: limited(tx_events(), 4000.0), within=5)  # K28.FR.08
        behaviour.dynamic_update = None  # the CSMS stops answering with values: the pushed one stays
        pushed = await csms.call(
            call21.UpdateDynamicSchedule(charging_profile_id=31, schedule_update={"limit": 2500.0})
        )
        assert pushed.status == "Accepted"  # K28.FR.06
        await wait_for(lambda: limited(tx_events(), 2500.0), within=5)
        unknown = await csms.call(
            call21.UpdateDynamicSchedule(charging_profile_id=99, schedule_update={"limit": 1.0})
        )
        assert (unknown.status, unknown.status_info["reason_code"]) == (
            "Rejected",
            "InvalidProfile",
        )  # K28.FR.11


async def test_K21_remote_priority_and_K22_the_priority_button() -> None:
    behaviour = CsmsBehaviour()
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21, variables=EVERY_SECOND) as station,
    ):
        tx_events = await charging(behaviour, station, "PRIO1")
        csms = behaviour.stations[0]
        transaction_id = tx_events()[0]["transaction_info"]["transaction_id"]
        no_profile = await csms.call(call21.UsePriorityCharging(transaction_id=transaction_id, activate=True))
        assert no_profile.status == "NoProfile"  # K21.FR.01
        await csms.call(call21.SetChargingProfile(evse_id=0, charging_profile=dynamic_default(3000.0)))
        priority = {
            **dynamic_default(22000.0),
            "id": 32,
            "charging_profile_purpose": "PriorityCharging",
            "charging_profile_kind": "Relative",
        }
        assert (
            await csms.call(call21.SetChargingProfile(evse_id=1, charging_profile=priority))
        ).status == "Accepted"
        await wait_for(lambda: limited(tx_events(), 3000.0), within=5)
        used = await csms.call(call21.UsePriorityCharging(transaction_id=transaction_id, activate=True))
        assert used.status == "Accepted"  # K21.FR.03
        await wait_for(lambda: limited(tx_events(), EV_MAX_W), within=5)  # K21.FR.04
        await wait_for(lambda: behaviour.of("NotifyPriorityCharging"), within=5)
        assert behaviour.of("NotifyPriorityCharging")[0] == {
            "transaction_id": transaction_id,
            "activated": True,
        }
        shown: list[str] = []
        await execute(station, "priority 1", shown.append)  # K22.FR.04: the driver ends it
        assert shown == ["priority charging off"]
        await wait_for(lambda: limited(tx_events(), 3000.0), within=5)
        await wait_for(lambda: len(behaviour.of("NotifyPriorityCharging")) == 2, within=5)
        assert behaviour.of("NotifyPriorityCharging")[1]["activated"] is False  # K22.FR.05
