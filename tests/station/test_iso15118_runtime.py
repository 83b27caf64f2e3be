"""End-to-end ISO 15118 smart charging (K15-K17): a CSMS built with the independent ``ocpp`` package (2.0.1,
which checks every message against the OCA schemas) receives the station runtime's NotifyEVChargingNeeds for an
ISO 15118 EV, answers with a TxProfile, and gets the EV's schedule back within it; the EV's power follows."""

from __future__ import annotations

from typing import Any

import pytest

from chargeplane.station.control import execute
from chargeplane.station.core.model import EvChargingNeeds
from chargeplane.station.hardware import SimulatedEv
from tests.station.csms_peer import CsmsBehaviour, call, peer_csms, wait_for
from tests.station.test_runtime import running_station
from tests.station.test_smart_charging_runtime import EVERY_SECOND, limited


def tx_profile(transaction_id: str, amps: float) -> dict[str, Any]:
    return {
        "id": 15,
        "stack_level": 1,
        "charging_profile_purpose": "TxProfile",
        "charging_profile_kind": "Relative",
        "transaction_id": transaction_id,
        "charging_schedule": [
            {
                "id": 3,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": amps}],
            }
        ],
    }


async def test_K15_K16_K17_ocpp201_csms_negotiates_with_the_stations_ISO15118_EV() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, variables=EVERY_SECOND) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        ev = SimulatedEv(needs=EvChargingNeeds(30_000.0, max_current_a=16.0, departure_s=4 * 3600))
        station.plug(1, 1, ev)
        station.present_token("ISO1")
        await wait_for(lambda: behaviour.of("NotifyEVChargingNeeds"))
        [needs] = behaviour.of("NotifyEVChargingNeeds")  # K15.FR.01: once the transaction exists
        assert needs["evse_id"] == 1
        assert needs["charging_needs"]["ac_charging_parameters"]["energy_amount"] == 30_000
        assert "departure_time" in needs["charging_needs"]
        started = behaviour.of("TransactionEvent")[0]
        transaction_id = started["transaction_info"]["transaction_id"]
        csms = behaviour.stations[0]
        answer = await csms.call(
            call.SetChargingProfile(evse_id=1, charging_profile=tx_profile(transaction_id, 10.0))
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: behaviour.of("NotifyEVChargingSchedule"))
        [schedule] = behaviour.of("NotifyEVChargingSchedule")  # K15.FR.09/10
        periods = schedule["charging_schedule"]["charging_schedule_period"]
        assert schedule["charging_schedule"]["id"] == 3  # the schedule it chose (K15.FR.19)
        assert periods[0] == {"start_period": 0, "limit": 10.0}
        assert all(p["limit"] <= 10.0 for p in periods)
        # the EV draws what the profile allows: 10 A on three phases
        await wait_for(lambda: limited(behaviour.of("TransactionEvent"), 6900.0), within=5)
        # K16: the CSMS lowers the profile; the EV's new schedule follows, without new needs (K16.FR.09)
        answer = await csms.call(
            call.SetChargingProfile(evse_id=1, charging_profile=tx_profile(transaction_id, 6.0))
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: len(behaviour.of("NotifyEVChargingSchedule")) == 2)
        assert (
            behaviour.of("NotifyEVChargingSchedule")[1]["charging_schedule"]["charging_schedule_period"][0][
                "limit"
            ]
            == 6.0
        )
        assert len(behaviour.of("NotifyEVChargingNeeds")) == 1
        # K17: the EV states new needs (the station's command language: 5 kWh, leaving in 30 minutes)
        await execute(station, "needs 1 5 30")
        await wait_for(lambda: len(behaviour.of("NotifyEVChargingNeeds")) == 2)
        renewed = behaviour.of("NotifyEVChargingNeeds")[1]["charging_needs"]
        assert renewed["ac_charging_parameters"]["energy_amount"] == 5_000
        assert "departure_time" in renewed
        with pytest.raises(ValueError, match="numbers"):
            await execute(station, "needs 1 lots")
        station.unplug(1)
        with pytest.raises(ValueError, match="no EV"):
            await execute(station, "needs 1 5")


async def test_K01_FR_34_K15_FR_19_ocpp201_csms_offers_three_schedules_and_the_EV_picks_one() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url, variables=EVERY_SECOND) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        station.plug(1, 1, SimulatedEv(needs=EvChargingNeeds(20_000.0, max_current_a=16.0, departure_s=7200)))
        station.present_token("ISO1")
        await wait_for(lambda: behaviour.of("NotifyEVChargingNeeds"))
        transaction_id = behaviour.of("TransactionEvent")[0]["transaction_info"]["transaction_id"]
        profile = tx_profile(transaction_id, 6.0)
        profile["charging_schedule"] += [  # 8 A cannot deliver 20 kWh in two hours, 14 A can
            {**profile["charging_schedule"][0], "id": 4, "charging_schedule_period": [period(14.0)]},
            {**profile["charging_schedule"][0], "id": 5, "charging_schedule_period": [period(8.0)]},
        ]
        answer = await behaviour.stations[0].call(
            call.SetChargingProfile(evse_id=1, charging_profile=profile)
        )
        assert answer.status == "Accepted"
        await wait_for(lambda: behaviour.of("NotifyEVChargingSchedule"))
        [schedule] = behaviour.of("NotifyEVChargingSchedule")
        assert schedule["charging_schedule"]["id"] == 4
        assert schedule["charging_schedule"]["charging_schedule_period"][0] == period(14.0)
        # the station holds the EV to its pick: 14 A on three phases
        await wait_for(lambda: limited(behaviour.of("TransactionEvent"), 9660.0), within=5)


def period(amps: float) -> dict[str, Any]:
    return {"start_period": 0, "limit": amps}
