"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: V2X authorization,
a central setpoint that makes the simulated EV discharge, the export register in the meter values, and
AFRRSignal / NotifyAllowedEnergyTransfer answered (block Q)."""

from __future__ import annotations

from typing import Any

from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from chargeplane.station.hardware import SimulatedEv
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import events, running_station


def exported(event: dict[str, Any]) -> float | None:
    for value in event.get("meter_value") or []:
        for sample in value["sampled_value"]:
            if sample.get("measurand") == "Energy.Active.Export.Register":
                return float(sample["value"])
    return None


async def test_Q01_Q03_the_ocpp_package_CSMS_makes_our_station_discharge_the_EV() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=["AC_three_phase", "AC_BPT"])
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        await behaviour.stations[0].call(
            call21.SetVariables(
                set_variable_data=[
                    {
                        "component": {"name": "SampledDataCtrlr"},
                        "variable": {"name": "TxUpdatedInterval"},
                        "attribute_value": "1",
                    }
                ]
            )
        )
        ev = SimulatedEv(soc=60.0, max_discharge_w=7000.0, capacity_wh=1000.0)
        station.plug(1, ev=ev)
        station.present_token("V2XTAG", 1)
        await wait_for(lambda: any(e["event_type"] == "Started" for e in events(behaviour)))
        csms = behaviour.stations[0]
        tx = events(behaviour)[0]["transaction_info"]["transaction_id"]
        profile = {
            "id": 30,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "transaction_id": tx,
            "charging_schedule": [
                {
                    "id": 1,
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [
                        {"start_period": 0, "operation_mode": "CentralSetpoint", "setpoint": -5000.0}
                    ],
                }
            ],
        }
        answer = await csms.call(call21.SetChargingProfile(evse_id=1, charging_profile=profile))
        assert answer.status == "Accepted"
        await wait_for(lambda: station.hardware.evses[1].energy_export_wh > 1.0, within=8.0)
        assert station.hardware.evses[1].power_w == -5000.0
        assert ev.soc < 60.0
        await wait_for(lambda: any((exported(e) or 0.0) > 0.0 for e in events(behaviour)), within=8.0)

        afrr = await csms.call(call21.AFRRSignal(timestamp="2026-01-01T00:00:00Z", signal=1))
        assert (afrr.status, afrr.status_info["reason_code"]) == (
            "Rejected",
            "NoSignalWattCurve",
        )  # Q08.FR.11
        allowed = await csms.call(
            call21.NotifyAllowedEnergyTransfer(transaction_id=tx, allowed_energy_transfer=["AC_three_phase"])
        )
        assert allowed.status == "Accepted"
        await wait_for(lambda: station.hardware.evses[1].power_w >= 0.0, within=5.0)  # no longer allowed
