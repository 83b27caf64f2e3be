"""A site whose EVs discharge too (issue #16 item 4): 10 bidirectional EVs through an evening peak of the
building's load that alone would exceed the grid connection; the sites block's planner keeps the connection
within its limit by discharging the EVs during the peak, and every EV still leaves with its departure SoC.

The site is given in the API's own forms -- the tree (``PUT /sites/{id}``), the price curve with the base-load
forecast (``PUT /sites/{id}/tariff``), each EV's needs with its V2X battery (``PUT /site-ev-needs/{tx}``) and a
grid service window (``PUT /sites/{id}/grid-service``) -- decoded with the API's types and planned with the
sites block's ``planning.make_plan`` (HiGHS), as the running CSMS does, without stations: a depot of 10 EVs
(11 kW both ways, 60 kWh, plugged in by 17:00, leaving 06:30-08:30 at 80 % SoC, 25 % floor), a 100 kW
connection, a building drawing 30-135 kW (peak around 19:00), prices per 15 minutes (dear evening, cheap
night), and a grid operator asking 20 kW exported from 22:00 to 23:00. Simulated slot by slot: planned again
every hour and at each departure from the state reached (each EV follows its plan: its battery moves by the
energy it charged times the efficiency, less what it discharged over the efficiency). The same fleet
charge-only (no V2X) is run for comparison.

Through OCPP: ``bench/v2x_site_e2e.py`` PUTs :func:`tree`, :func:`tariff` and :func:`needs` to a running CSMS,
starts 2.1 simulated stations with the same EVs and measures the site from the stations' meter values.

Writes ``bench/v2x_site.png`` and prints a Markdown section for bench/RESULTS.md. Bounded: 64 slots, about
20 plans; a few seconds.

Run: ``.venv/bin/python bench/v2x_site.py [--seed N] [--png PATH]``. Not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt
import msgspec

from chargeplane.csms.blocks.sites.api import EvNeedsIn
from chargeplane.csms.blocks.sites.planning import Session, SitePlan, Tariff, make_plan
from chargeplane.csms.blocks.sites.service import CircuitNode, to_site
from chargeplane.csms.blocks.sites.v2x import GridServiceWindow, V2xNeeds, from_soc
from chargeplane.smart_charging.site import PHASES, VOLTAGE, Site

BENCH = Path(__file__).resolve().parent
START = datetime(2026, 12, 8, 17, tzinfo=UTC)  # the fleet is plugged in
SLOT = 900  # seconds
SLOTS = 64  # 17:00 to 09:00
GRID_KW = 100.0
GRID_A = GRID_KW * 1000 / (PHASES * VOLTAGE)  # 144.9 A per phase
EVS = 10
EV_A = 16.0  # 11 kW three-phase, both ways
CAPACITY = 60.0  # kWh
MIN_SOC, DEPARTURE_SOC = 25.0, 80.0
EFFICIENCY = 0.95  # one way (planner.Bidirectional's default)
GRID_SERVICE = {"start": "2026-12-08T22:00:00Z", "end": "2026-12-08T23:00:00Z", "exportKw": 20.0}


def at(slot: int) -> datetime:
    return START + timedelta(seconds=slot * SLOT)


def tree() -> dict[str, object]:
    """The site as ``PUT /sites/depot`` takes it: the connection, one feeder, 10 three-phase EVSEs."""
    evses = [
        {"id": f"ev{k}", "stationId": f"DEPOT{k:02d}", "evseId": 1, "limit": 32.0, "fallback": 6.0}
        for k in range(EVS)
    ]
    feeder = {"id": "feeder", "limit": [200.0], "evses": evses}
    return {"id": "grid", "limit": [round(GRID_A, 1)], "circuits": [feeder]}


def base_kw(slot: int) -> float:
    hour = 17 + slot * SLOT / 3600
    return (
        30 + 25 * max(0.0, math.cos(math.pi * (hour - 24) / 24)) + 80 * math.exp(-(((hour - 19) / 1.3) ** 2))
    )


def tariff(rng: random.Random) -> dict[str, object]:
    """As ``PUT /sites/depot/tariff`` takes it: prices per slot, the building's forecast in watts."""
    prices = []
    for slot in range(SLOTS):
        hour = (17 + slot * SLOT / 3600) % 24
        price = 0.40 if 17 <= hour < 21 else 0.28 if 21 <= hour < 23 else 0.12 if hour < 6 else 0.30
        prices.append(round(price * rng.uniform(0.95, 1.05), 3))
    return {
        "start": START.isoformat(),
        "slotSeconds": SLOT,
        "prices": prices,
        "baseLoad": [round(base_kw(slot) * 1000, 1) for slot in range(SLOTS)],
    }


@dataclass
class Ev:
    node: str
    soc: float  # % now
    departure: datetime
    log: list[float] = field(default_factory=list)  # SoC % at the end of each slot while plugged


def fleet(rng: random.Random) -> list[Ev]:
    return [
        Ev(f"ev{k}", round(rng.uniform(35, 65), 1), at(54) + timedelta(minutes=15 * rng.randint(0, 8)))
        for k in range(EVS)
    ]


def needs(ev: Ev) -> dict[str, object]:
    """As ``PUT /site-ev-needs/{transactionId}`` takes it."""
    return {
        "maximum": EV_A,
        "departure": ev.departure.isoformat(),
        "v2x": {
            "maxDischargePower": EV_A * PHASES * VOLTAGE,
            "batteryCapacity": CAPACITY,
            "soc": ev.soc,
            "minSoc": MIN_SOC,
            "departureSoc": DEPARTURE_SOC,
        },
    }


def session(ev: Ev, bidirectional: bool) -> Session:
    given = msgspec.convert(needs(ev), EvNeedsIn)
    assert given.v2x is not None
    assert given.maximum is not None
    v2x: V2xNeeds = from_soc(
        given.v2x.max_discharge_power, CAPACITY, given.v2x.soc, MIN_SOC, DEPARTURE_SOC, None
    )
    if bidirectional:
        return Session(ev.node, given.maximum, 0.0, None, given.departure, v2x)
    # charge-only: the energy to its departure SoC, counted at the grid (losses on the way in)
    return Session(ev.node, given.maximum, 0.0, v2x.wanted / EFFICIENCY, given.departure)


def plan_slot(
    site: Site, curve: Tariff, sessions: list[Session], service: GridServiceWindow | None, now: datetime
) -> SitePlan:
    found = make_plan(site, curve, sessions, {}, None, now, 10.0, service)
    assert found is not None
    return found


@dataclass
class Run:
    name: str
    grid_kw: list[float]  # per slot at the connection
    ev_kw: list[float]  # per slot, the EVs together (negative: discharging)
    socs: dict[str, list[float]]
    departed_ok: int
    cost: float
    exported_kwh: float  # by the EVs (discharged)
    plans: int
    seconds: float


def simulate(name: str, bidirectional: bool, seed: int) -> Run:
    rng = random.Random(seed)
    site, _ = to_site(msgspec.convert(tree(), CircuitNode))
    curve = msgspec.convert(tariff(rng), Tariff)
    evs = fleet(rng)
    service = msgspec.convert(GRID_SERVICE, GridServiceWindow) if bidirectional else None
    grid_kw: list[float] = []
    ev_kw: list[float] = []
    cost = exported = 0.0
    plans = 0
    plan: SitePlan | None = None
    began = time.perf_counter()
    kwh_per_amp = PHASES * VOLTAGE * SLOT / 3600 / 1000
    for slot in range(SLOTS):
        now = at(slot)
        plugged = [ev for ev in evs if ev.departure > now]
        if plan is None or slot % 4 == 0 or any(ev.departure == now for ev in evs):
            plan = plan_slot(site, curve, [session(ev, bidirectional) for ev in plugged], service, now)
            plans += 1
        index = (now - plan.start) // timedelta(seconds=SLOT)
        total = 0.0
        for ev in plugged:
            charge = plan.currents[ev.node][index]
            given = plan.discharge.get(ev.node, (0.0,) * (index + 1))[index]
            stored = CAPACITY * ev.soc / 100 + kwh_per_amp * (charge * EFFICIENCY - given / EFFICIENCY)
            ev.soc = 100 * stored / CAPACITY
            ev.log.append(ev.soc)
            total += (charge - given) * PHASES * VOLTAGE / 1000
            exported += given * kwh_per_amp
        ev_kw.append(total)
        grid_kw.append(base_kw(slot) + total)
        cost += curve.prices[slot] * max(0.0, grid_kw[-1]) * SLOT / 3600
    departed_ok = sum(1 for ev in evs if ev.soc >= DEPARTURE_SOC - 0.05)
    return Run(
        name,
        grid_kw,
        ev_kw,
        {ev.node: ev.log for ev in evs},
        departed_ok,
        cost,
        exported,
        plans,
        time.perf_counter() - began,
    )


def draw(runs: list[Run], prices: list[float], path: Path, caption: str) -> None:
    hours = [17 + slot * SLOT / 3600 for slot in range(SLOTS)]
    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(11, 9), sharex=True, height_ratios=(3, 2, 1))
    top.plot(hours, [base_kw(s) for s in range(SLOTS)], color="grey", linestyle=":", label="building alone")
    for run, colour in zip(runs, ("#1f77b4", "#ff7f0e"), strict=True):
        top.step(hours, run.grid_kw, where="post", color=colour, label=f"at the connection: {run.name}")
    top.axhline(GRID_KW, color="#d62728", linestyle="--", label=f"connection limit {GRID_KW:.0f} kW")
    top.axhline(-GRID_KW, color="#d62728", linestyle="--")
    top.axvspan(22, 23, color="#2ca02c", alpha=0.15, label="grid service: export 20 kW")
    top.set_ylabel("kW")
    top.legend(fontsize=8, loc="upper right")
    top.grid(alpha=0.3)
    v2x = runs[0]
    middle.step(hours, v2x.ev_kw, where="post", color="#1f77b4", label="EVs together (negative: discharging)")
    middle.set_ylabel("kW")
    twin = middle.twinx()
    for _node, log in v2x.socs.items():
        twin.plot(hours[: len(log)], log, linewidth=0.8, alpha=0.7)
    twin.axhline(MIN_SOC, color="black", linestyle=":", linewidth=0.8)
    twin.axhline(DEPARTURE_SOC, color="black", linestyle="--", linewidth=0.8)
    twin.set_ylabel("SoC % (one line per EV)")
    middle.legend(fontsize=8, loc="upper right")
    middle.grid(alpha=0.3)
    bottom.step(hours, prices, where="post", color="black")
    bottom.set_ylabel("price per kWh")
    bottom.set_xlabel("hour (17:00 to 09:00)")
    bottom.grid(alpha=0.3)
    figure.suptitle(
        "A depot of 10 bidirectional EVs through an evening peak (sites block planner, no stations)"
    )
    figure.text(0.01, 0.005, caption, fontsize=7)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--png", type=Path, default=BENCH / "v2x_site.png")
    args = parser.parse_args()
    runs = [simulate("V2X planner", True, args.seed), simulate("charge-only planner", False, args.seed)]
    prices = msgspec.convert(tariff(random.Random(args.seed)), Tariff).prices
    machine = f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    draw(runs, prices, args.png, f"seed {args.seed}; {EVS} EVs; {machine}; bench/v2x_site.py")
    print(
        f"seed {args.seed}: {EVS} EVs, building peak {max(base_kw(s) for s in range(SLOTS)):.1f} kW; {machine}\n"
    )
    print(
        "| run | peak at the connection (kW) | limit | slots over | lowest (kW) | EVs at departure SoC | "
        "discharged (kWh) | import cost | lowest SoC | plans | run time (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        over = sum(1 for kw in run.grid_kw if kw > GRID_KW + 1e-6)
        lowest_soc = min(min(log) for log in run.socs.values())
        print(
            f"| {run.name} | {max(run.grid_kw):.1f} | {GRID_KW:.0f} | {over} | {min(run.grid_kw):.1f} "
            f"| {run.departed_ok}/{EVS} | {run.exported_kwh:.1f} | {run.cost:.2f} | {lowest_soc:.1f} % "
            f"| {run.plans} | {run.seconds:.1f} |"
        )
    v2x = runs[0]
    if max(v2x.grid_kw) > GRID_KW + 1e-3 or v2x.departed_ok != EVS:
        raise SystemExit("the V2X plan broke the connection limit or left an EV short")


if __name__ == "__main__":
    main()
