"""Our 2.1 station runtime against the independent ``ocpp`` package (v21) as the CSMS: a Dynamic TxProfile
with a CentralSetpoint period whose setpoint the CSMS moves with UpdateDynamicSchedule (Q04) turns the
simulated EV from discharging to charging."""

from __future__ import annotations

from ocpp.v21 import call as call21

from chargeplane.ocpp.versions import Version
from chargeplane.station.hardware import SimulatedEv
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.station.test_runtime import events, running_station


async def test_Q04_the_ocpp_package_CSMS_moves_our_station_setpoint_with_UpdateDynamicSchedule() -> None:
    behaviour = CsmsBehaviour(allowed_energy_transfer=["AC_three_phase", "AC_BPT"])
    async with peer_csms(behaviour, "ocpp2.1") as url, running_station(url, version=Version.V21) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        ev = SimulatedEv(soc=60.0, max_discharge_w=7000.0, capacity_wh=1000.0)
        station.plug(1, ev=ev)
        station.present_token("V2XTAG", 1)
        await wait_for(lambda: any(e["event_type"] == "Started" for e in events(behaviour)))
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
