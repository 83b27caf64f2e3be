"""EV needs told over ISO 15118 drive the plan of a site with prices: a peer station of the ``ocpp`` package
(2.0.1) sends NotifyEVChargingNeeds (K15: energy, minimum and maximum current, departure); with no needs set
through the API, the sites block plans with those, and the TxProfile it sends carries the plan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.sites.service import TX_PROFILE_BASE
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.clock import ScaledClock
from tests.csms.blocks.sites.test_sites import _json, _until
from tests.csms.conftest import running, settings_for
from tests.csms.peers import MODULES, boot, peer

MODULE = MODULES["2.0.1"]


class PlannedStation(MODULE.ChargePoint):  # type: ignore[misc,name-defined]
    """Keeps the periods of the last TxProfile of the sites block per EVSE."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.periods: dict[int, list[tuple[int, float]]] = {}

    @on("SetChargingProfile")
    def set_profile(self, evse_id: int, charging_profile: dict[str, Any]) -> Any:
        if charging_profile["id"] == TX_PROFILE_BASE + evse_id:
            schedule = charging_profile["charging_schedule"][0]
            self.periods[evse_id] = [
                (p["start_period"], p["limit"]) for p in schedule["charging_schedule_period"]
            ]
        return MODULE.call_result.SetChargingProfile(status="Accepted")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_K15_ev_needs_drive_the_site_plan(database_url: str) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clock = ScaledClock(hour + timedelta(seconds=10))  # no slot ends during the test
    settings = settings_for(database_url, SitesSettings(min_interval=0.05, profile_duration=4 * 3600))
    async with running(settings, clock) as csms:
        await csms.add_station("EV15118")
        tree = {
            "id": "grid",
            "limit": [63.0],
            "evses": [{"id": "e1", "stationId": "EV15118", "evseId": 1, "limit": 32.0}],
        }
        await _json(csms, "PUT", "/sites/iso", json=tree)
        tariff = {"start": hour.isoformat(), "prices": [0.30, 0.30, 0.05, 0.30]}
        await _json(csms, "PUT", "/sites/iso/tariff", json=tariff)
        async with peer(csms.ocpp_url, "EV15118", "2.0.1", station_class=PlannedStation) as station:
            await boot(station, "2.0.1")
            await station.call(
                MODULE.call.TransactionEvent(
                    event_type="Started",
                    timestamp=clock.now().isoformat(),
                    trigger_reason="CablePluggedIn",
                    seq_no=0,
                    transaction_info={"transaction_id": "TX15118"},
                    evse={"id": 1, "connector_id": 1},
                )
            )
            # Unknown needs: as much as it takes, at the EVSE's 32 A in every slot.
            await _until(lambda: station.periods.get(1) == [(0, 32.0)])
            departure = (hour + timedelta(hours=3, minutes=30)).isoformat()
            answer = await station.call(
                MODULE.call.NotifyEVChargingNeeds(
                    evse_id=1,
                    charging_needs={
                        "requested_energy_transfer": "AC_three_phase",
                        "departure_time": departure,
                        "ac_charging_parameters": {
                            "energy_amount": 9000,
                            "ev_min_current": 6,
                            "ev_max_current": 16,
                            "ev_max_voltage": 400,
                        },
                    },
                )
            )
            assert answer.status == "Processing"  # the sites block takes the needs over (K15.FR.07)
            # 9 kWh at most 16 A (11 kW) fit the cheap third hour: from this hour's start 0 A, then 13 A in the
            # third hour (the rise raise_delay, 10 s, after its start), 0 A after.
            await _until(lambda: station.periods.get(1, [])[:1] == [(0, 0.0)])
            (_, first), (cheap, limit), (after, last) = station.periods[1]
            assert (first, cheap, after, last) == (0.0, 7210, 10800, 0.0)
            assert limit == pytest.approx(9000 / (3 * 230), abs=0.1)
            plan = await _json(csms, "GET", "/sites/iso/plan")
            (evse,) = plan["evses"]
            assert evse["currents"][:2] == [0.0, 0.0]
            assert 6.0 <= evse["currents"][2] <= 16.0  # within the EV's minimum and maximum
            assert evse["energy"] == pytest.approx(9.0, rel=1e-3)
            assert evse["unmet"] == pytest.approx(0.0, abs=1e-6)
            assert all(c == 0.0 for c in evse["currents"][3:])  # it left during the fourth hour
            # Needs set through the API replace the EV's: 3 kWh, maximum 32 A.
            await _json(csms, "PUT", "/site-ev-needs/TX15118", 204, json={"energy": 3.0, "maximum": 32.0})

            async with asyncio.timeout(10):
                while True:
                    if (await _json(csms, "GET", "/sites/iso/plan"))["evses"][0]["energy"] < 3.001:
                        break
                    await asyncio.sleep(0.05)
            await _until(lambda: station.periods[1][1][1] == pytest.approx(3000 / (3 * 230), abs=0.1))
