"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
Q04, central V2X control with a dynamic CSMS setpoint. The operator allows the card a bidirectional transfer,
sets a Dynamic CentralSetpoint profile, and moves its setpoint with ``PUT /dynamic-schedules``: the simulated
EV discharges, then charges."""

from __future__ import annotations

from pathlib import Path

from chargeplane.station.hardware import SimulatedEv
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_tariff import until

CARD = "E2EV2XQ4"


async def test_Q04_dynamic_setpoint_from_the_api_moves_the_EV_both_ways(tmp_path: Path) -> None:
    card = {"idToken": CARD, "type": "ISO14443"}
    async with csms_and_station(tmp_path, "E2EQ4", [card]) as (api, station):
        allowed = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
        assert (await api.put(f"/v2x/allowed/token/{CARD}", json=allowed)).status_code == 200
        station.plug(1, ev=SimulatedEv(soc=60.0, max_discharge_w=7000.0, capacity_wh=10_000.0))
        station.present_token(CARD, 1)

        async def charging() -> bool:
            items = (await api.get("/transactions?station=E2EQ4")).json()["items"]
            return bool(items) and items[0]["chargingState"] == "Charging"

        await until(charging, "the transaction charging in the CSMS")
        profile = {
            "id": 61,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Dynamic",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -3000.0}
                    ],
                }
            ],
        }
        sent = await api.post(
            "/stations/E2EQ4/charging-profiles", json={"evseId": 1, "chargingProfile": profile}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["status"] == "Accepted"
        evse = station.hardware.evses[1]

        async def power_is(watts: float) -> bool:
            return evse.power_w == watts

        await until(lambda: power_is(-3000.0), "the EV discharging at the setpoint")
        pushed = await api.put(
            "/stations/E2EQ4/dynamic-schedules/61", json={"scheduleUpdate": {"setpoint": 2500.0}}
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["status"] == "Accepted"
        await until(lambda: power_is(2500.0), "the EV charging at the updated setpoint")
        refused = await api.put(
            "/stations/E2EQ4/dynamic-schedules/61", json={"scheduleUpdate": {"limit": 5000.0}}
        )
        assert refused.status_code == 400  # Q03.FR.02: no limit for a CentralSetpoint period
