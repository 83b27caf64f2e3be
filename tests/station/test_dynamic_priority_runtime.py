"""End-to-end 2.1 dynamic profiles (K28) and priority charging (K21/K22): a CSMS built with the independent
``ocpp`` package (which checks every message against the OCA schemas) drives the station runtime, and the
simulated EV's power, as the meter values report it, follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ocpp.v21

from chargeplane.ocpp.versions import Version
from chargeplane.station.control import execute
from chargeplane.station.runtime import StationRuntime
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import running_station
from tests.station.test_smart_charging_runtime import EV_MAX_W, EVERY_SECOND, charging, limited

call21 = ocpp.v21.call


@asynccontextmanager
async def station21(behaviour: CsmsBehaviour) -> AsyncIterator[StationRuntime]:
    """Our 2.1 station runtime (meter values each second) connected to an ``ocpp`` 2.1 CSMS."""
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21, variables=EVERY_SECOND) as station,
    ):
        yield station


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
    async with station21(behaviour) as station:
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
    async with station21(behaviour) as station:
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


async def test_K19_K20_ISO_15118_20_dynamic_control_with_an_ocpp21_csms() -> None:
    behaviour = CsmsBehaviour()
    async with station21(behaviour) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1, 1)
        station.present_token("ISO20")
        await wait_for(lambda: behaviour.of("TransactionEvent"))
        await execute(station, "needs 1 20 60 dynamic")  # an ISO 15118-20 EV in dynamic control mode
        await wait_for(lambda: behaviour.of("NotifyEVChargingNeeds"))
        needs = behaviour.of("NotifyEVChargingNeeds")[0]["charging_needs"]
        assert needs["control_mode"] == "DynamicControl"  # K19.FR.01
        assert needs["v2x_charging_parameters"]["ev_target_energy_request"] == 20_000  # K19.FR.06
        transaction_id = behaviour.of("TransactionEvent")[0]["transaction_info"]["transaction_id"]
        tx_profile = {
            "id": 19,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "transaction_id": transaction_id,
            "charging_schedule": [
                {
                    "id": 4,
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 5000.0}],
                }
            ],
        }
        csms = behaviour.stations[0]
        assert (
            await csms.call(call21.SetChargingProfile(evse_id=1, charging_profile=tx_profile))
        ).status == "Accepted"
        await wait_for(lambda: behaviour.of("NotifyEVChargingSchedule"))
        [schedule] = behaviour.of("NotifyEVChargingSchedule")  # K19.FR.10: the CSMS's schedule
        assert schedule["selected_charging_schedule_id"] == 4
        assert schedule["charging_schedule"]["charging_schedule_period"][0]["limit"] == 5000.0
        await execute(station, "needs 1 10 30 dynamic")  # K20.FR.01: new needs go out again
        await wait_for(lambda: len(behaviour.of("NotifyEVChargingNeeds")) == 2)
        renewed = behaviour.of("NotifyEVChargingNeeds")[1]["charging_needs"]
        assert renewed["v2x_charging_parameters"]["ev_target_energy_request"] == 10_000
        await execute(station, "departure 1 10")  # K20 scenario 3: the driver's new departure at the station
        await wait_for(lambda: len(behaviour.of("NotifyEVChargingNeeds")) == 3)
        latest = behaviour.of("NotifyEVChargingNeeds")[2]["charging_needs"]
        assert latest["departure_time"] < renewed["departure_time"]
        shown: list[str] = []
        await execute(station, "departure 2 10", shown.append)
        assert shown == ["no ISO 15118-20 EV in dynamic control at EVSE 2"]


async def test_K27_local_generation_and_K29_external_values_into_the_csms_dynamic_profile() -> None:
    behaviour = CsmsBehaviour()
    async with station21(behaviour) as station:
        tx_events = await charging(behaviour, station, "EMS21")
        csms = behaviour.stations[0]
        external = dynamic_default(3000.0)
        external["charging_schedule"][0]["charging_schedule_period"][0]["operation_mode"] = "ExternalLimits"
        assert (
            await csms.call(call21.SetChargingProfile(evse_id=1, charging_profile=external))
        ).status == "Accepted"
        await wait_for(lambda: limited(tx_events(), 3000.0), within=5)
        await execute(station, "limit 1 2000")  # K29.FR.03/05: the EMS value lands in the CSMS's profile
        await wait_for(lambda: limited(tx_events(), 2000.0), within=5)
        [notify] = behaviour.of("NotifyChargingLimit")
        assert notify["charging_limit"]["charging_limit_source"] == "EMS"
        await execute(station, "generation 0 1500")  # K27: 1.5 kW of solar on top
        await wait_for(lambda: limited(tx_events(), 3500.0), within=5)
        solar = behaviour.of("NotifyChargingLimit")[-1]
        assert solar["charging_limit"]["is_local_generation"] is True  # K27.FR.03
        reported = await csms.call(
            call21.GetChargingProfiles(
                request_id=5, charging_profile={"charging_profile_purpose": "LocalGeneration"}
            )
        )
        assert reported.status == "Accepted"  # K27.FR.02
        await wait_for(lambda: behaviour.of("ReportChargingProfiles"), within=5)
