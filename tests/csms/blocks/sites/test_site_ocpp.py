"""A small site driven end to end through OCPP 2.0.1: four of OUR simulated stations (station runtime, its
simulated EVs drawing what their composite schedule allows) on a 40 A feeder behind OUR CSMS's sites block.

1. Allocator (no prices): the Current.Import values the CSMS stores, summed over the stations, never exceed
   the feeder (the fallback is 0 A, so an EV starting before its first TxProfile draws nothing).
2. A price curve (expensive now, cheap the next two hours): the sessions are planned, each TxProfile the
   stations hold carries the plan, nothing now and the energy in the cheap hours, the feeder held slot by
   slot; the currents the EVs draw stay within the feeder throughout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.clock import ScaledClock
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.model import Profile, Purpose
from chargeplane.station.core.smart_charging import SmartCharging
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.csms.conftest import PASSWORD, RunningCsms, running, settings_for

FEEDER = 40.0
STATIONS = ("SITEA", "SITEB", "SITEC", "SITED")
METERED = "Energy.Active.Import.Register,Current.Import"
ROUNDING = 0.05  # amperes: the limits travel as amperes and come back as watts


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.text and response.json()


async def _until(check: Callable[[], Awaitable[bool] | bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            found = check()
            if not isinstance(found, bool):
                found = await found
            if found:
                return
            await asyncio.sleep(0.05)


def _tree() -> dict[str, Any]:
    return {
        "id": "grid",
        "limit": [100.0],
        "circuits": [
            {
                "id": "feeder",
                "limit": [FEEDER],
                "evses": [
                    {"id": f"n{i}", "stationId": s, "evseId": 1, "limit": 32.0, "fallback": 0.0}
                    for i, s in enumerate(STATIONS)
                ],
            }
        ],
    }


class _DrawMonitor:
    """The highest sum of the currents the simulated EVs draw, read from their state every few milliseconds.

    What the EVs draw changes the moment a station applies a profile; the meter values the CSMS stores lag it
    by up to a sampling interval each, so a sum of each station's latest stored sample can pass the feeder
    while the currents never do (the allocator answers lowered limits before it sends raised ones)."""

    def __init__(self, stations: list[StationRuntime]) -> None:
        self._stations = stations
        self.peak_a = 0.0
        self._task: asyncio.Task[None] | None = None

    def current_a(self) -> float:
        watts = 0.0
        for station in self._stations:
            evse = station.hardware.evses[1]
            if evse.closed and evse.ev is not None:
                watts += evse.ev.accepted_power(evse.offered_w())
        return watts / (3 * 230.0)

    async def _watch(self) -> None:
        while True:
            self.peak_a = max(self.peak_a, self.current_a())
            await asyncio.sleep(0.005)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _profiles(station: StationRuntime, purpose: Purpose) -> list[Profile]:
    return [p for p in station.core.ctx.get(SmartCharging).profiles() if p.purpose is purpose]


def _tx_periods(station: StationRuntime) -> list[tuple[int, float]]:
    """The (startPeriod, limit) of the TxProfile the station holds for its EVSE 1."""
    profiles = _profiles(station, Purpose.TX)
    assert len(profiles) == 1
    return [(p.start, p.limit) for p in profiles[0].schedule.periods]


def _tx_periods_or_none(station: StationRuntime) -> list[tuple[int, float]] | None:
    return _tx_periods(station) if _profiles(station, Purpose.TX) else None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_site_through_ocpp_holds_the_feeder_and_shifts_energy_to_cheap_hours(database_url: str) -> None:
    # Ten seconds into an hour, so that no slot of the price curve ends during the test.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clock = ScaledClock(hour + timedelta(seconds=10))
    settings = settings_for(database_url, SitesSettings(min_interval=0.1, profile_duration=4 * 3600))
    async with running(settings, clock) as csms:
        for n, station_id in enumerate(STATIONS):
            await csms.add_station(station_id)
            await _json(csms, "POST", "/id-tokens", 201, json={"idToken": f"CARD{n}"})
        await _json(csms, "PUT", "/sites/small", json=_tree())
        stations = [
            StationRuntime(
                RuntimeSettings(
                    url=csms.ocpp_url,
                    station_id=station_id,
                    version=Version.V201,
                    password=PASSWORD,
                    meter_tick_s=0.2,
                    backoff=BackOffSettings(0.1, 0.0, 1),
                    variables={
                        ("SampledDataCtrlr", "TxUpdatedInterval", None): "1",
                        ("SampledDataCtrlr", "TxUpdatedMeasurands", None): METERED,
                    },
                ),
                clock=clock.now,
            )
            for station_id in STATIONS
        ]
        tasks = [asyncio.create_task(s.run()) for s in stations]
        draw = _DrawMonitor(stations)
        try:
            for station in stations:
                await asyncio.wait_for(station.accepted.wait(), 20)
            # Each EVSE's fallback (0 A) installed before an EV comes.
            await _until(lambda: all(_profiles(s, Purpose.TX_DEFAULT) for s in stations))
            draw.start()  # from the first EV on, the currents drawn never pass the feeder
            for n, station in enumerate(stations):
                station.plug(1, 1, SimulatedEv(max_power_w=22_080.0, capacity_wh=100_000.0, soc=10.0))
                station.present_token(f"CARD{n}")
            # 40 A among four EVs that take 32 A: 10 A each, and the EVs draw it.
            await _until(lambda: all(_tx_periods_or_none(s) == [(0, 10.0)] for s in stations))
            view: dict[str, Any] = {}

            async def drawing() -> bool:
                view.update(await _json(csms, "GET", "/sites/small/allocation"))
                measured = [s["measured"][0] for s in view["evses"]]
                return all(value == pytest.approx(10.0, abs=0.1) for value in measured)

            await _until(drawing)
            transactions = [s["transactionId"] for s in view["evses"]]
            assert all(transactions)
            assert 30.0 <= draw.current_a() <= FEEDER + ROUNDING

            # Prices: expensive now, cheap for two hours, expensive after. Each EV needs 12 kWh by 4 h from
            # now: the 48 kWh fit the two cheap hours of the feeder (40 A * 3 * 230 V = 27.6 kW), so the EVs
            # charge then only.
            prices = [0.40, 0.10, 0.10, 0.40, 0.40, 0.40]
            tariff = {"start": hour.isoformat(), "prices": prices}
            site = await _json(csms, "PUT", "/sites/small/tariff", json=tariff)
            assert site["tariff"]["slotSeconds"] == 3600
            departure = (hour + timedelta(hours=4)).isoformat()
            for transaction in transactions:
                body = {"energy": 12.0, "departure": departure}
                await _json(csms, "PUT", f"/site-ev-needs/{transaction}", 204, json=body)

            def shifted(station: StationRuntime) -> bool:
                periods = _tx_periods_or_none(station)
                return periods is not None and len(periods) > 1 and periods[0][1] == 0.0

            await _until(lambda: all(shifted(s) for s in stations))
            plan = await _json(csms, "GET", "/sites/small/plan")
            assert plan["slotSeconds"] == 3600
            assert plan["start"].startswith(hour.strftime("%Y-%m-%dT%H"))
            for evse in plan["evses"]:
                currents = evse["currents"]
                assert currents[0] == 0.0  # the expensive hour: nothing
                cheap = (currents[1] + currents[2]) * 3 * 230 / 1000
                assert cheap == pytest.approx(evse["energy"], rel=0.01)
                assert evse["unmet"] == pytest.approx(0.0, abs=1e-6)
                assert all(c == 0.0 for c in currents[3:])
            for slot in (1, 2):  # the feeder holds in every slot of the plan
                assert sum(e["currents"][slot] for e in plan["evses"]) <= FEEDER + 1e-6
            for station in stations:
                periods = _tx_periods(station)
                # The station holds: 0 A now, then the cheap hours (from the hour's start), then 0 A.
                starts = dict(periods)
                assert periods[0] == (0, 0.0)
                assert any(limit > 0 for start, limit in periods if 3600 <= start < 3 * 3600)
                assert all(limit == 0.0 for start, limit in periods if start >= 3 * 3600), starts
            # The EVs stop drawing in the expensive hour; their currents stayed within the feeder.
            await _until(lambda: all(s.hardware.evses[1].power_w == 0.0 for s in stations))
            assert draw.peak_a <= FEEDER + ROUNDING
            # Without the curve the allocator's shares are back.
            await _json(csms, "DELETE", "/sites/small/tariff", 204)
            await _json(csms, "GET", "/sites/small/plan", 404)
            await _until(lambda: all(_tx_periods_or_none(s) == [(0, 10.0)] for s in stations))
            assert draw.peak_a <= FEEDER + ROUNDING
        finally:
            await draw.stop()
            for station in stations:
                await station.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
