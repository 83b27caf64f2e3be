"""Site energy management end to end through OCPP (issue #15 item 5): a simulated day, compressed.

Our CSMS runs in this process (temporary SQLite file, loopback) with a :class:`ScaledClock` that runs
``--scale`` times real time (720: a day in 2 minutes); so does each of our simulated stations (station runtime,
OCPP 2.0.1, one EVSE each, ``time_scale``: its deadlines and its meter run as fast). The site: a grid
connection of ``--grid-kw`` above three feeders of EVSEs (32 A each, fallback 0 A). EVs arrive over the day
(seeded): commuters in the morning, visitors at midday, residents in the evening, each with an energy need, a
departure and an onboard charger of 11 or 22 kW (three-phase); an EV stops drawing once it has its need. On
arrival the station sees the plug and the card, and the driver tells the CSMS the need and the departure
and the EV's maximum current (``PUT /site-ev-needs/{transactionId}``; what ISO 15118 would tell); at the departure the card ends the session and the EV leaves.

Three runs of the same day:

- unmanaged: no site defined, the sites block sends nothing, every EV charges at its full power;
- allocator: the site, no prices: each EV's share of the live allocation as a TxProfile;
- planner: the site with the day's hourly prices (``PUT /sites/{id}/tariff``): the sessions are planned
  (HiGHS) and each TxProfile carries its plan.

The figures come from what the CSMS stored: the clock-aligned Current.Import samples of the stations (J01,
AlignedDataCtrlr.Interval 300 simulated seconds: every station samples at the same instants), summed over the
EVSEs per instant, give the peak against the connection's limit and the time above it; the Energy.Active.Import.Register samples give the
energy per transaction (against the needs) and per hour (times the price: the cost). Writes
``bench/site_e2e.png`` and prints a Markdown section for bench/RESULTS.md. Bounded: one day per run, a fixed
seed, about two and a half minutes per run; it stops by itself.

Run: ``.venv/bin/python bench/site_e2e.py [--evses 24] [--scale 720] [--runs unmanaged,allocator,planner]``.
Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt
from station_fleet import machine

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.sites.service import SitesService
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.clock import ScaledClock
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
PASSWORD = "site-e2e-password-0123456789"
VOLTAGE = 230.0
PHASES = 3
DAY = datetime(2026, 12, 8, tzinfo=UTC)  # the simulated day (its date does not matter)
LEAD = timedelta(minutes=30)  # simulated time before midnight for the fallback profiles to go out
SAMPLE_S = 300  # AlignedDataCtrlr.Interval, simulated seconds: every station samples at the same instants
# Hourly prices per kWh: cheap at night and midday (sun), peaks in the morning and the evening.
PRICES = [0.14, 0.13, 0.12, 0.12, 0.13, 0.16, 0.24, 0.32, 0.34, 0.28, 0.20, 0.15]
PRICES += [0.12, 0.11, 0.13, 0.18, 0.26, 0.34, 0.40, 0.38, 0.30, 0.24, 0.19, 0.16]
RUNS = ("unmanaged", "allocator", "planner")
log = logging.getLogger("site_e2e")


@dataclass
class Visit:
    evse: int  # index of the station
    arrival: datetime
    departure: datetime
    need_kwh: float
    max_a: float  # per phase: the onboard charger (16 A: 11 kW, 32 A: 22 kW)
    transaction: str | None = None
    told: bool = False


class NeedEv(SimulatedEv):
    """An EV that takes what it is offered up to its charger's power until it has its need (then it is
    'full': it draws nothing more), without the battery model's taper."""

    def __init__(self, need_wh: float, max_power_w: float) -> None:
        super().__init__(capacity_wh=1e9, soc=0.0, max_power_w=max_power_w)
        self.need_wh = need_wh
        self.taken_wh = 0.0

    def accepted_power(self, offered_w: float) -> float:
        return 0.0 if self.taken_wh >= self.need_wh else min(offered_w, self.max_power_w)

    def charge(self, energy_wh: float) -> None:
        self.taken_wh += energy_wh


def visits(evses: int, seed: int) -> list[Visit]:
    """Seeded arrivals over the day on the EVSEs (a free EVSE each, a quarter of an hour between two EVs)."""
    rng = random.Random(seed)
    wanted: list[tuple[float, float, float, float]] = []  # arrival h, stay h, need kWh, A per phase
    for _ in range(int(evses * 0.9)):  # commuters: arrive 7-9, stay 8-10 h
        wanted.append((rng.gauss(8, 0.6), rng.uniform(8, 10), rng.uniform(10, 30), 16.0))
    for _ in range(int(evses * 0.6)):  # visitors: midday, 1-3 h
        wanted.append((rng.gauss(12.5, 1.2), rng.uniform(1, 3), rng.uniform(5, 15), 32.0))
    for _ in range(int(evses * 0.5)):  # residents: evening, until the end of the day
        wanted.append((rng.gauss(18, 0.8), 24.0, rng.uniform(15, 40), 16.0 if rng.random() < 0.6 else 32.0))
    free = [DAY] * evses
    result: list[Visit] = []
    for arrival_h, stay_h, need, amps in sorted(wanted):
        arrival = DAY + timedelta(hours=min(max(arrival_h, 0.5), 22.0))
        departure = min(arrival + timedelta(hours=stay_h), DAY + timedelta(hours=23, minutes=45))
        evse = min(range(evses), key=lambda i: free[i])
        if free[evse] > arrival:
            continue  # the site is full: the EV goes elsewhere
        free[evse] = departure + timedelta(minutes=15)
        result.append(Visit(evse, arrival, departure, round(need, 1), amps))
    return result


def site_tree(evses: int, grid_kw: float) -> dict[str, Any]:
    grid_a = round(grid_kw * 1000 / (PHASES * VOLTAGE), 1)
    feeders = [list(range(evses))[f::3] for f in range(3)]
    return {
        "id": "grid",
        "limit": [grid_a],
        "circuits": [
            {
                "id": f"feeder{f}",
                "limit": [min(grid_a, 16.0 * len(members))],
                "evses": [
                    {
                        "id": f"e{i:02d}",
                        "stationId": f"SITE{i:02d}",
                        "evseId": 1,
                        "limit": 32.0,
                        "fallback": 0.0,
                    }
                    for i in members
                ],
            }
            for f, members in enumerate(feeders)
        ],
    }


@dataclass
class Outcome:
    name: str
    times: list[datetime] = field(default_factory=list)  # the step function of the summed current
    amps: list[float] = field(default_factory=list)
    peak_a: float = 0.0
    above_minutes: float = 0.0  # simulated minutes (sampling instants times their interval) above the limit
    worst_excess_a: float = 0.0
    delivered_kwh: float = 0.0
    needed_kwh: float = 0.0
    served: int = 0  # sessions that got their need (within 0.1 kWh)
    short_kwh: float = 0.0  # summed over the sessions: what each missed of its need
    sessions: int = 0
    cost: float = 0.0
    plans: int = 0
    samples: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def bench_csms(tmp: str, clock: ScaledClock, sites: SitesSettings) -> Csms:
    """Our CSMS for a site demo: SQLite in ``tmp``, loopback, no load shedding, heartbeats out of the way."""
    return Csms(
        CsmsSettings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'csms.db'}",
            ocpp=ServerSettings(host=HOST, port=0, tls_port=None, admission_max_lag=None),
            api_host=HOST,
            api_port=0,
            blocks=(ProvisioningSettings(heartbeat_interval=86_400), sites),
        ),
        clock,
    )


def caller(api: httpx.AsyncClient) -> Callable[..., Awaitable[Any]]:
    """``call(method, url, status, **kwargs)``: the answer's JSON (None when empty), RuntimeError on another
    status than ``status``."""

    async def call(method: str, url: str, status: int, **kwargs: Any) -> Any:
        try:
            response = await api.request(method, url, **kwargs)
        except httpx.TransportError:  # a kept-alive connection closed under it: once more
            response = await api.request(method, url, **kwargs)
        if response.status_code != status:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")
        return response.json() if response.text else None

    return call


def aligned_station(
    csms: Csms,
    station_id: str,
    version: Version,
    password: str,
    tick_s: float,
    scale: float,
    clock: ScaledClock,
    interval_s: int,
    measurands: str,
) -> StationRuntime:
    """One of our simulated stations on ``csms`` at ``scale``x, reading its meter every ``tick_s`` real
    seconds, sampling ``measurands`` clock-aligned every ``interval_s`` simulated seconds (no periodic ones)."""
    return StationRuntime(
        RuntimeSettings(
            url=f"ws://{HOST}:{csms.server.ports[0]}/ocpp",
            station_id=station_id,
            version=version,
            password=password,
            meter_tick_s=tick_s,
            time_scale=scale,
            backoff=BackOffSettings(0.2, 0.0, 1),
            variables={
                ("SampledDataCtrlr", "TxUpdatedInterval", None): "0",
                ("AlignedDataCtrlr", "Interval", None): str(interval_s),
                ("AlignedDataCtrlr", "Measurands", None): measurands,
            },
        ),
        clock=clock.now,
    )


async def run_day(name: str, args: argparse.Namespace, plan: list[Visit]) -> Outcome:
    outcome = Outcome(name)
    clock = ScaledClock(DAY - LEAD - timedelta(hours=1), 1.0)  # real time while it sets up
    grid_a = round(args.grid_kw * 1000 / (PHASES * VOLTAGE), 1)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="site-e2e-") as tmp:
        # A planned rise waits two meter ticks (simulated: 0.1 s real each) after its slot begins.
        sites = SitesSettings(
            min_interval=0.5, profile_duration=6 * 3600, plan_interval=1800, raise_delay=0.2 * args.scale
        )
        csms = bench_csms(tmp, clock, sites)
        token = await csms.start()
        assert token is not None
        headers = {"Authorization": f"Bearer {token}"}
        stations: list[StationRuntime] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{csms.api_port}/api/v1", headers=headers, timeout=60
            ) as api:
                call = caller(api)

                async def register(i: int) -> None:
                    body = {"stationId": f"SITE{i:02d}", "password": PASSWORD}
                    await call("POST", "/stations", 201, json=body)
                    await call("POST", "/id-tokens", 201, json={"idToken": f"CARD{i:02d}"})

                await asyncio.gather(*(register(i) for i in range(args.evses)))
                if name != "unmanaged":
                    await call("PUT", "/sites/depot", 200, json=site_tree(args.evses, args.grid_kw))
                if name == "planner":
                    tariff = {"start": DAY.isoformat(), "prices": PRICES}
                    await call("PUT", "/sites/depot/tariff", 200, json=tariff)
                for i in range(args.evses):
                    station = aligned_station(
                        csms, f"SITE{i:02d}", Version.V201, PASSWORD, 0.1, args.scale, clock,
                        SAMPLE_S, "Energy.Active.Import.Register,Current.Import",
                    )  # fmt: skip
                    stations.append(station)
                    tasks.append(asyncio.create_task(station.run()))
                async with asyncio.timeout(60):
                    for station in stations:
                        await station.accepted.wait()
                clock.reset(DAY - LEAD, args.scale)  # the fallbacks go out, then the day begins
                log.info("%s: set up in %.1f s", name, time.monotonic() - started)
                await drive(clock, api, stations, plan, call)
                log.info("%s: the day ran in %.1f s", name, time.monotonic() - started)
                if name != "unmanaged":
                    await asyncio.sleep(0.5)
                    outcome.plans = csms.blocks.require(SitesService).plans
                await measure(api, call, args.evses, plan, grid_a, outcome)
                log.info("%s: measured after %.1f s", name, time.monotonic() - started)
        finally:
            for station in stations:
                await station.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await csms.stop(deadline=2.0)
    outcome.seconds = time.monotonic() - started
    return outcome


async def drive(
    clock: ScaledClock, api: httpx.AsyncClient, stations: list[StationRuntime], plan: list[Visit], call: Any
) -> None:
    """Plug and card at each arrival, the driver's needs once the transaction is known, card and unplug
    at the departure; until the end of the day."""
    arrivals = sorted(plan, key=lambda v: v.arrival)
    present: list[Visit] = []
    end = DAY + timedelta(days=1)
    while clock.now() < end:
        now = clock.now()
        while arrivals and arrivals[0].arrival <= now:
            visit = arrivals.pop(0)
            station = stations[visit.evse]
            station.plug(1, 1, NeedEv(visit.need_kwh * 1000, visit.max_a * PHASES * VOLTAGE))
            station.present_token(f"CARD{visit.evse:02d}")
            present.append(visit)
        for visit in list(present):
            station = stations[visit.evse]
            tx = station.core.evses[1].tx
            if visit.transaction is None and tx is not None:
                visit.transaction = tx.id
            if visit.transaction is not None and not visit.told:
                body = {
                    "energy": visit.need_kwh,
                    "departure": visit.departure.isoformat(),
                    "maximum": visit.max_a,
                }
                await call("PUT", f"/site-ev-needs/{visit.transaction}", 204, json=body)
                visit.told = True
            if visit.departure <= now:
                station.present_token(f"CARD{visit.evse:02d}")
                station.unplug(1)
                present.remove(visit)
        await asyncio.sleep(0.02)


async def pages(call: Any, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = await call("GET", url, 200, params=params | {"offset": len(found)})
        found += page["items"]
        if len(page["items"]) < params["limit"]:
            return found


async def measure(
    api: httpx.AsyncClient, call: Any, evses: int, plan: list[Visit], grid_a: float, outcome: Outcome
) -> None:
    """The figures from what the CSMS stored (see the module's docstring)."""
    ends: dict[int, datetime] = {}
    energy: dict[str, float] = {}
    for i in range(evses):
        for tx in await pages(call, "/transactions", {"station": f"SITE{i:02d}", "limit": 100}):
            ends[tx["id"]] = (
                datetime.fromisoformat(tx["endedAt"]) if tx["endedAt"] else DAY + timedelta(days=1)
            )
            energy[tx["transactionId"]] = (tx["energyWh"] or 0.0) / 1000
    # Clock-aligned samples (J01): every station samples at the same instants; a sample is put on the
    # nearest instant of the grid (a station's timer fires a little late, more so at a high time scale).
    instants: dict[int, dict[int, float]] = {}  # instant index -> transaction key -> amperes per phase
    hourly = [0.0] * 24
    for i in range(evses):
        url = f"/stations/SITE{i:02d}/meter-values"
        currents = await pages(call, url, {"measurand": "Current.Import", "limit": 5000})
        registers = await pages(call, url, {"measurand": "Energy.Active.Import.Register", "limit": 5000})
        for s in currents:
            if s["transaction"] is None or s["value"] is None or s["context"] != "Sample.Clock":
                continue
            at = (datetime.fromisoformat(s["timestamp"]) - DAY).total_seconds()
            instants.setdefault(round(at / SAMPLE_S), {})[s["transaction"]] = s["value"]
            outcome.samples += 1
        last: dict[int, tuple[datetime, float]] = {}
        for s in registers:  # energy between two readings of a transaction, spread over the hours evenly
            key, at, wh = s["transaction"], datetime.fromisoformat(s["timestamp"]), s["value"]
            if key is None or wh is None:
                continue
            if key in last:
                spread(hourly, last[key][0], at, (wh - last[key][1]) / 1000)
            last[key] = (at, wh)
    for index in range(min(instants, default=0), max(instants, default=-1) + 1):
        total = sum(instants.get(index, {}).values())
        outcome.times.append(DAY + timedelta(seconds=index * SAMPLE_S))
        outcome.amps.append(total)
        outcome.peak_a = max(outcome.peak_a, total)
        if total > grid_a + 0.05:
            log.info("%s: %.1f A at %s: %s", outcome.name, total, outcome.times[-1], instants.get(index))
            outcome.above_minutes += SAMPLE_S / 60
            outcome.worst_excess_a = max(outcome.worst_excess_a, total - grid_a)
    outcome.cost = sum(kwh * price for kwh, price in zip(hourly, PRICES, strict=True))
    for visit in plan:
        got = energy.get(visit.transaction or "", 0.0)
        outcome.sessions += 1
        outcome.needed_kwh += visit.need_kwh
        outcome.delivered_kwh += got
        outcome.served += got >= visit.need_kwh - 0.1
        outcome.short_kwh += max(0.0, visit.need_kwh - got)


def spread(hourly: list[float], start: datetime, end: datetime, kwh: float) -> None:
    seconds = (end - start).total_seconds()
    if seconds <= 0 or kwh <= 0:
        return
    at = start
    while at < end:
        hour = int((at - DAY).total_seconds() // 3600)
        boundary = min(end, DAY + timedelta(hours=hour + 1))
        if 0 <= hour < 24:
            hourly[hour] += kwh * (boundary - at).total_seconds() / seconds
        at = boundary


def plot(outcomes: list[Outcome], grid_kw: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 5))
    for outcome in outcomes:
        hours = [(t - DAY).total_seconds() / 3600 for t in outcome.times]
        kw = [a * PHASES * VOLTAGE / 1000 for a in outcome.amps]
        ax.plot(hours, kw, label=f"{outcome.name} (measured)", linewidth=1.2)
    ax.axhline(grid_kw, color="black", linestyle="--", linewidth=1, label="site limit")
    ax.set_xlim(0, 24)
    ax.set_xlabel("simulated hour of the day")
    ax.set_ylabel("EV power from the CSMS's Current.Import samples (kW)")
    prices = ax.twinx()
    prices.step(range(25), [*PRICES, PRICES[-1]], where="post", color="grey", alpha=0.5, label="price")
    prices.set_ylabel("price per kWh")
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = prices.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="upper left", fontsize=8)
    ax.set_title("Site through OCPP: summed measured EV power, a compressed day")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(outcomes: list[Outcome], args: argparse.Namespace, command: str) -> str:
    grid_a = args.grid_kw * 1000 / (PHASES * VOLTAGE)
    base = next((o for o in outcomes if o.name == "unmanaged"), None)
    lines = [
        f"- Command: `{command}`; {datetime.now(UTC).date().isoformat()}; {machine()}.",
        f"- Site: {args.evses} stations (OCPP 2.0.1, our station runtime, one EVSE each, 32 A, fallback 0 A) "
        f"on three feeders below a {args.grid_kw:.0f} kW connection ({grid_a:.1f} A per phase); "
        f"{outcomes[0].sessions} EV sessions over the day (seed {args.seed}); time {args.scale:.0f}x "
        f"(a day in {86400 / args.scale:.0f} s); Current.Import clock-aligned every {SAMPLE_S} simulated seconds.",
        "",
        "| run | peak measured (kW / A per phase) | time above the limit | worst excess | energy / needed | "
        "sessions served (missed) | cost | per kWh | vs unmanaged | plans | samples | wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        versus = f"{(o.cost / base.cost - 1) * 100:+.1f} %" if base is not None and base.cost else "-"
        lines.append(
            f"| {o.name} | {o.peak_a * PHASES * VOLTAGE / 1000:.1f} / {o.peak_a:.1f} | "
            f"{o.above_minutes:.0f} min | {o.worst_excess_a:.1f} A | {o.delivered_kwh:.0f} / "
            f"{o.needed_kwh:.0f} kWh | {o.served}/{o.sessions} ({o.short_kwh:.1f} kWh) | {o.cost:.2f} | "
            f"{o.cost / o.delivered_kwh if o.delivered_kwh else 0:.3f} | {versus} | "
            f"{o.plans or '-'} | {o.samples} | {o.seconds:.0f} s |"
        )
    for o in outcomes:
        if o.errors:
            lines.append(f"- {o.name}: {'; '.join(o.errors)}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Outcome]:
    plan = visits(args.evses, args.seed)
    outcomes: list[Outcome] = []
    for name in args.runs.split(","):
        if name not in RUNS:
            raise SystemExit(f"unknown run {name}: one of {', '.join(RUNS)}")
        fresh = [Visit(v.evse, v.arrival, v.departure, v.need_kwh, v.max_a) for v in plan]
        outcome = await run_day(name, args, fresh)
        print(f"{name}: done in {outcome.seconds:.0f} s", file=sys.stderr)
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--evses", type=int, default=24)
    parser.add_argument("--grid-kw", type=float, default=100.0)
    parser.add_argument("--scale", type=float, default=720.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--png", type=Path, default=BENCH / "site_e2e.png")
    args = parser.parse_args()
    if not 1 <= args.evses <= 60 or not 60 <= args.scale <= 10_000:
        raise SystemExit("1-60 EVSEs and a scale of 60-10000 keep the run bounded")
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    outcomes = asyncio.run(main_async(args))
    plot(outcomes, args.grid_kw, args.png)
    print(report(outcomes, args, "python bench/site_e2e.py " + " ".join(sys.argv[1:])))


if __name__ == "__main__":
    main()
