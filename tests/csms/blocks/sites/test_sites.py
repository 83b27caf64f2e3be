"""Site energy management on the CSMS side against a peer station of the ``ocpp`` package (2.0.1): three
EVSEs on a feeder limited below their sum each get a TxProfile, and the EVSEs' profiles in force never add up
to more than the feeder; a stopped transaction and a lowered grid limit re-allocate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.ocpp.timestamps import from_wire
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

MODULE = MODULES["2.0.1"]
FEEDER = 40.0


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.text and response.json()


class SiteStation(MODULE.ChargePoint):  # type: ignore[misc,name-defined]
    """Holds the profiles it is given per EVSE and purpose; checks after each that the TxProfiles in force
    do not add up to more than the feeder."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_force: dict[tuple[int, str], float] = {}
        self.sums: list[float] = []
        self.windows: list[tuple[datetime, datetime]] = []  # each TxProfile: its schedule's end, its validTo

    @on("SetChargingProfile")
    def set_profile(self, evse_id: int, charging_profile: dict[str, Any]) -> Any:
        purpose = charging_profile["charging_profile_purpose"]
        limit = charging_profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"]
        self.in_force[evse_id, purpose] = limit
        if purpose == "TxProfile":
            self.sums.append(self.tx_sum())
            schedule = charging_profile["charging_schedule"][0]
            ends = from_wire(schedule["start_schedule"]) + timedelta(seconds=schedule["duration"])
            self.windows.append((ends, from_wire(charging_profile.get("valid_to", "1970-01-01T00:00:00Z"))))
        return MODULE.call_result.SetChargingProfile(status="Accepted")

    def tx_sum(self) -> float:
        return sum(v for (_, purpose), v in self.in_force.items() if purpose == "TxProfile")

    def tx(self, evse: int) -> float | None:
        return self.in_force.get((evse, "TxProfile"))


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while True:
            if check():
                return
            await asyncio.sleep(0.05)


async def _transaction(station: Any, event: str, evse: int, seq: int) -> None:
    if event == "Ended":  # a TxProfile ends with its transaction
        station.in_force.pop((evse, "TxProfile"), None)
    await station.call(
        MODULE.call.TransactionEvent(
            event_type=event,
            timestamp="2026-12-07T10:00:00Z",
            trigger_reason="CablePluggedIn" if event == "Started" else "EVCommunicationLost",
            seq_no=seq,
            transaction_info={"transaction_id": f"TX{evse}"},
            evse={"id": evse, "connector_id": 1} if event == "Started" else None,
        )
    )


def _tree(feeder: float = FEEDER, fallback: float = 6.0) -> dict[str, Any]:
    return {
        "id": "grid",
        "limit": [100.0],
        "circuits": [
            {
                "id": "feeder",
                "limit": [feeder],
                "evses": [
                    {"id": f"e{n}", "stationId": "SITE1", "evseId": n, "limit": 32.0, "fallback": fallback}
                    for n in (1, 2, 3)
                ],
            }
        ],
    }


async def test_site_allocation_follows_transactions_and_the_grid_limit(database_url: str) -> None:
    settings = settings_for(database_url, SitesSettings(min_interval=0.05))
    async with running(settings) as csms:
        await csms.add_station("SITE1")
        # A tree whose fallbacks overload the feeder is refused; an unknown site is 404.
        bad = await _json(csms, "PUT", "/sites/s1", 400, json=_tree(fallback=20.0))
        assert "fallback" in bad["detail"]
        await _json(csms, "GET", "/sites/s1", 404)
        created = await _json(csms, "PUT", "/sites/s1", json=_tree())
        assert created["root"]["circuits"][0]["evses"][2]["evseId"] == 3
        async with peer(csms.ocpp_url, "SITE1", "2.0.1", station_class=SiteStation) as station:
            await boot(station, "2.0.1")
            # The safe fallback: each EVSE's TxDefaultProfile at its fallback current, once it is accepted.
            await _until(lambda: all(station.in_force.get((n, "TxDefaultProfile")) == 6.0 for n in (1, 2, 3)))
            for evse in (1, 2, 3):
                await _transaction(station, "Started", evse, 0)
            # 40 A among three EVs that take 32 A each: 13.3 A each, never more than the feeder in force.
            await _until(lambda: all(station.tx(n) == 13.3 for n in (1, 2, 3)))
            assert max(station.sums) <= FEEDER
            # Each valid no longer than its schedule: a valid TxProfile keeps the TxDefaultProfile (the
            # fallback) out even after its schedule ends (2.0.1 Part 2 §3.5).
            assert station.windows
            assert all(ends == valid_to for ends, valid_to in station.windows)
            allocation = await _json(csms, "GET", "/sites/s1/allocation")
            shares = {s["nodeId"]: s for s in allocation["evses"]}
            assert {s["transactionId"] for s in shares.values()} == {"TX1", "TX2", "TX3"}
            assert all(s["reachable"] and s["current"] == pytest.approx(40 / 3) for s in shares.values())
            feeder = next(c for c in allocation["circuits"] if c["nodeId"] == "feeder")
            assert feeder["allocated"] == pytest.approx([40.0, 40.0, 40.0])
            # A stop re-allocates: the two left share the feeder.
            await _transaction(station, "Ended", 2, 1)
            await _until(lambda: station.tx(1) == 20.0 and station.tx(3) == 20.0)
            # A lowered grid limit (grid operator) re-allocates below it.
            limited = await _json(csms, "PUT", "/sites/s1/grid-limit", json={"limit": [30.0]})
            assert limited["gridLimit"] == [30.0, 30.0, 30.0]
            await _until(lambda: station.tx(1) == 15.0 and station.tx(3) == 15.0)
            # EV needs: a higher priority is filled first.
            await _json(csms, "PUT", "/site-ev-needs/TX3", 204, json={"priority": 1, "maximum": 25.0})
            await _until(lambda: station.tx(3) == 25.0 and station.tx(1) == 5.0)
            assert max(station.sums) <= FEEDER  # at no step, whatever the order of the sends
            assert station.tx(1) + station.tx(3) <= 30.0  # type: ignore[operator]
            # The measured load per node: the latest Current.Import per phase, summed up the tree.
            now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            await station.call(
                MODULE.call.MeterValues(
                    evse_id=3,
                    meter_value=[
                        {
                            "timestamp": now,
                            "sampled_value": [
                                {"value": value, "measurand": "Current.Import", "phase": phase}
                                for value, phase in ((24.0, "L1"), (23.0, "L2"), (22.0, "L3"))
                            ],
                        }
                    ],
                )
            )
            view = await _json(csms, "GET", "/sites/s1/allocation")
            assert {s["nodeId"]: s["measured"] for s in view["evses"]}["e3"] == [24.0, 23.0, 22.0]
            loads = {c["nodeId"]: c for c in view["circuits"]}
            assert loads["feeder"]["measured"] == loads["grid"]["measured"] == [24.0, 23.0, 22.0]
            assert loads["grid"]["capacity"] == [30.0, 30.0, 30.0]
        # Offline: counted at its fallback.
        async with asyncio.timeout(10):
            while True:
                view = await _json(csms, "GET", "/sites/s1/allocation")
                if not any(s["reachable"] for s in view["evses"]):
                    break
                await asyncio.sleep(0.05)
        assert {s["nodeId"]: s["current"] for s in view["evses"] if s["transactionId"]} == {
            "e1": 6.0,
            "e3": 6.0,
        }
        await _json(csms, "DELETE", "/sites/s1", 204)
        assert await _json(csms, "GET", "/sites") == []


async def test_site_allocation_on_a_16_station_by_connector(database_url: str) -> None:
    module = MODULES["1.6"]

    class Station16(module.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_force: dict[tuple[int, str], float] = {}

        @on("SetChargingProfile")
        def set_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
            schedule = cs_charging_profiles["charging_schedule"]
            limit = schedule["charging_schedule_period"][0]["limit"]
            self.in_force[connector_id, cs_charging_profiles["charging_profile_purpose"]] = limit
            return module.call_result.SetChargingProfile(status="Accepted")

    settings = settings_for(database_url, SitesSettings(min_interval=0.05))
    async with running(settings) as csms:
        await csms.add_station("SITE16")
        tree = {
            "id": "grid",
            "limit": [20.0],
            "evses": [
                {"id": f"c{n}", "stationId": "SITE16", "evseId": n, "limit": 16.0, "fallback": 6.0}
                for n in (1, 2)
            ],
        }
        await _json(csms, "PUT", "/sites/s16", json=tree)
        for connector in (1, 2):
            await _json(csms, "POST", "/id-tokens", 201, json={"idToken": f"TAG{connector}"})
        async with peer(csms.ocpp_url, "SITE16", "1.6", station_class=Station16) as station:
            await boot(station, "1.6")
            await _until(lambda: station.in_force.get((2, "TxDefaultProfile")) == 6.0)
            for connector in (1, 2):
                await station.call(
                    module.call.StartTransaction(
                        connector_id=connector,
                        id_tag=f"TAG{connector}",
                        meter_start=0,
                        timestamp="2026-12-07T10:00:00Z",
                    )
                )
            await _until(lambda: all(station.in_force.get((n, "TxProfile")) == 10.0 for n in (1, 2)))


async def test_K15_FR_05_ev_needs_on_a_site_evse_are_the_sites_to_allocate(database_url: str) -> None:
    """NotifyEVChargingNeeds on an EVSE of a site: Processing, and the site's allocation sends the TxProfile
    with the EV's maximum current as its need (the smart charging block sends none of its own)."""
    settings = settings_for(database_url, SitesSettings(min_interval=0.05))
    async with running(settings) as csms:
        await csms.add_station("SITE1")
        await _json(csms, "PUT", "/sites/s1", json=_tree())
        async with peer(csms.ocpp_url, "SITE1", "2.0.1", station_class=SiteStation) as station:
            await boot(station, "2.0.1")
            await _transaction(station, "Started", 1, 0)
            await _until(lambda: station.tx(1) == 32.0)  # alone on the feeder: the EVSE's limit
            needs = await station.call(
                MODULE.call.NotifyEVChargingNeeds(
                    evse_id=1,
                    charging_needs={
                        "requested_energy_transfer": "AC_three_phase",
                        "departure_time": "2026-12-07T18:00:00Z",
                        "ac_charging_parameters": {
                            "energy_amount": 20000,
                            "ev_min_current": 6,
                            "ev_max_current": 16,
                            "ev_max_voltage": 400,
                        },
                    },
                )
            )
            assert needs.status == "Processing"
            await _until(lambda: station.tx(1) == 16.0)
            allocation = await _json(csms, "GET", "/sites/s1/allocation")
            assert {s["nodeId"]: s["current"] for s in allocation["evses"]}["e1"] == pytest.approx(16.0)
            # an EVSE outside every site: the smart charging block's own answer
            outside = await station.call(
                MODULE.call.NotifyEVChargingNeeds(
                    evse_id=4,
                    charging_needs={
                        "requested_energy_transfer": "DC",
                        "dc_charging_parameters": {"ev_max_current": 100, "ev_max_voltage": 500},
                    },
                )
            )
            assert outside.status == "Rejected"  # no transaction there
