"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: a Dynamic TxProfile
with a CentralSetpoint period whose setpoint the CSMS moves with UpdateDynamicSchedule (Q04) turns the
simulated EV from discharging to charging; an EMS setpoint notified as an external constraint (Q06); the
ConnectedEV component read with GetVariables (Q01.FR.36)."""

from __future__ import annotations

import pytest
from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from chargeplane.station.control import execute
from chargeplane.station.core.model import EvChargingNeeds, V2xAbility
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import events, running_station

ALLOWED = ["AC_three_phase", "AC_BPT"]


async def discharging_ev_started(behaviour: CsmsBehaviour, station: StationRuntime) -> None:
    """An EV that can discharge plugged in on EVSE 1 and its transaction Started (the token allowed V2X)."""
    await wait_for(lambda: behaviour.of("StatusNotification"))
    station.plug(1, ev=SimulatedEv(soc=60.0, max_discharge_w=7000.0, capacity_wh=1000.0))
    station.present_token("V2XTAG", 1)
    await wait_for(lambda: any(e["event_type"] == "Started" for e in events(behaviour)))


async def test_Q04_the_ocpp_package_CSMS_moves_our_station_setpoint_with_UpdateDynamicSchedule() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=ALLOWED)
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await discharging_ev_started(behaviour, station)
        csms = behaviour.stations[0]
        tx = events(behaviour)[0]["transaction_info"]["transaction_id"]
        profile = {
            "id": 31,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Dynamic",
            "transaction_id": tx,
            "charging_schedule": [
                {
                    "id": 1,
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [
                        {"start_period": 0, "operation_mode": "CentralSetpoint", "setpoint": -4000.0}
                    ],
                }
            ],
        }
        answer = await csms.call(call21.SetChargingProfile(evse_id=1, charging_profile=profile))
        assert answer.status == "Accepted"
        await wait_for(lambda: station.hardware.evses[1].power_w == -4000.0, within=5.0)
        update = await csms.call(
            call21.UpdateDynamicSchedule(charging_profile_id=31, schedule_update={"setpoint": 3000.0})
        )
        assert update.status == "Accepted"
        await wait_for(lambda: station.hardware.evses[1].power_w == 3000.0, within=5.0)
        wrong = await csms.call(
            call21.UpdateDynamicSchedule(charging_profile_id=99, schedule_update={"setpoint": 1.0})
        )
        assert (wrong.status, wrong.status_info["reason_code"]) == ("Rejected", "InvalidProfile")


async def test_Q06_Q01_FR_36_EMS_setpoint_notified_to_the_ocpp_CSMS_and_ConnectedEV_readable() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=ALLOWED)
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await discharging_ev_started(behaviour, station)
        await execute(station, "setpoint 1 -2500 200")  # the console: an EMS setpoint with its reactive part
        await wait_for(lambda: station.hardware.evses[1].power_w == -2500.0, within=5.0)
        await wait_for(lambda: behaviour.of("NotifyChargingLimit"))
        [notice] = behaviour.of("NotifyChargingLimit")  # Q06.FR.11
        assert (notice["charging_limit"]["charging_limit_source"], notice["evse_id"]) == ("EMS", 1)
        period = notice["charging_schedule"][0]["charging_schedule_period"][0]
        assert (period["operation_mode"], period["setpoint"], period["setpoint_reactive"]) == (
            "ExternalSetpoint",
            -2500.0,
            200.0,
        )
        csms = behaviour.stations[0]
        report = await csms.call(
            call21.GetChargingProfiles(
                request_id=5,
                charging_profile={"charging_profile_purpose": "ChargingStationExternalConstraints"},
            )
        )
        assert report.status == "Accepted"  # Q06.FR.04: the profile is reported like any other
        answer = await csms.call(
            call21.GetVariables(
                get_variable_data=[
                    {
                        "component": {"name": "ConnectedEV", "evse": {"id": 1}},
                        "variable": {"name": "Available"},
                    }
                ]
            )
        )
        [result] = answer.get_variable_result
        assert (result["attribute_status"], result["attribute_value"]) == (
            "Accepted",
            "false",
        )  # no ISO 15118 EV


async def test_Q01_FR_36_the_ocpp_CSMS_reads_the_ISO_15118_EV_from_ConnectedEV() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=ALLOWED)
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        needs = EvChargingNeeds(
            10_000.0, control_mode="DynamicControl", v2x=V2xAbility(7000.0, evccid="WMI0000000099")
        )
        station.plug(1, ev=SimulatedEv(soc=60.0, capacity_wh=1000.0, needs=needs))
        station.present_token("V2XTAG", 1)
        await wait_for(lambda: behaviour.of("NotifyEVChargingNeeds"))
        names = ("Available", "VehicleId", "ProtocolAgreed")
        answer = await behaviour.stations[0].call(
            call21.GetVariables(
                get_variable_data=[
                    {"component": {"name": "ConnectedEV", "evse": {"id": 1}}, "variable": {"name": n}}
                    for n in names
                ]
            )
        )
        values = {r["variable"]["name"]: r["attribute_value"] for r in answer.get_variable_result}
        assert values == {
            "Available": "true",
            "VehicleId": "WMI0000000099",
            "ProtocolAgreed": "urn:iso:std:iso:15118:-20:AC,1,0",
        }


async def test_Q06_FR_08_the_console_setpoint_refused_when_external_constraints_are_disallowed() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=ALLOWED)
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await discharging_ev_started(behaviour, station)
        await behaviour.stations[0].call(
            call21.SetVariables(
                set_variable_data=[
                    {
                        "component": {"name": "SmartChargingCtrlr"},
                        "variable": {"name": "ExternalConstraintsProfileDisallowed"},
                        "attribute_value": "true",
                    }
                ]
            )
        )
        said: list[str] = []
        await execute(station, "setpoint 0 -2000", said.append)
        assert said
        assert "refused" in said[0]
        with pytest.raises(ValueError, match="setpoint needs"):
            await execute(station, "setpoint one 5")
        assert behaviour.of("NotifyChargingLimit") == []
