"""Site energy management over one simulated day (issue #15 items 4-5): the pure core, no OCPP.

50 EVSEs on a 200 kW grid connection (5 feeders of 10 EVSEs, 100 A per phase each; 40 three-phase EVSEs
and 10 single-phase ones spread over L1/L2/L3), a building that draws 25-70 kW, 80 kW peak of solar, hourly
prices. EVs arrive over the day (seeded random: morning commuters, midday visitors, evening fleet) with an
energy need, a departure time and an onboard charger (11 kW or 22 kW three-phase, 7.4 kW single-phase;
6 A minimum). Four runs, simulated minute by minute:

- unmanaged: every EV charges at its full power from arrival until full or gone;
- allocator: ``site.allocate`` every minute (the grid limit minus the building plus the sun at the root);
- planner (twice: cost only, then with a delay cost of 0.05 per kWh and hour): ``planner.plan`` over the
  rest of the day in 15-minute slots, re-planned at the start of the slot after an arrival (an EV waits at
  most one slot before it is scheduled, as the schedules of TxProfiles are slot-aligned); each EV follows its
  plan (the 6 A minimum is in the plan: a current is 0 or at least 6 A). The plan's forecast of the
  building and the sun is, per slot, the least favourable minute of the slot, so a plan followed to the letter
  stays within the limit.

Reports the peak at the grid connection against the limit (kW summed and amperes on the worst phase),
energy delivered against needs, and the cost of the EVs' energy (the site's import cost minus what the
building alone would have cost) against unmanaged. Writes ``bench/site.png`` and prints a Markdown section
for bench/RESULTS.md. Bounded: one day, a fixed seed; about 30 s on 2 cores.

Run: ``.venv/bin/python bench/site.py [--seed N] [--png PATH]``. Not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt

from chargeplane.smart_charging.planner import Horizon, Vehicle, plan
from chargeplane.smart_charging.site import PHASES, VOLTAGE, Circuit, Demand, Evse, Site, allocate, per_phase

BENCH = Path(__file__).resolve().parent
MINUTES = 24 * 60
SLOT = 15  # minutes
GRID_KW = 200.0
GRID_A = GRID_KW * 1000 / (PHASES * VOLTAGE)  # 289.9 A per phase
FEEDER_A = 100.0
MIN_A = 6.0  # IEC 61851: below this an EV does not charge
# The planner runs: name -> delay cost per kWh and hour of waiting (see planner.Horizon.delay_cost).
PLANNERS = {"planner": 0.0, "planner, delay cost": 0.05}


@dataclass
class Session:
    evse: str
    arrival: int  # minute
    departure: int  # minute (exclusive)
    need: float  # kWh
    max_a: float  # amperes per phase
    delivered: float = 0.0


def build_site() -> Site:
    feeders = []
    for f in range(5):
        evses: list[Evse] = []
        for k in range(10):
            index = f * 10 + k
            phases = (index % PHASES,) if k >= 8 else (0, 1, 2)  # two single-phase EVSEs per feeder
            evses.append(Evse(f"evse{index:02d}", 32.0, phases))
        feeders.append(Circuit(f"feeder{f}", per_phase(FEEDER_A), tuple(evses)))
    return Site(Circuit("grid", per_phase(GRID_A), tuple(feeders)))


def building_kw(minute: int) -> float:
    hour = minute / 60
    return 25 + 45 * math.exp(-(((hour - 13) / 4.0) ** 2))  # 25 kW at night, 70 kW early afternoon


def solar_kw(minute: int) -> float:
    hour = minute / 60
    return max(0.0, 80 * math.sin(math.pi * (hour - 6) / 14)) if 6 <= hour <= 20 else 0.0


def hourly_prices(rng: random.Random) -> list[float]:
    shape = [0.14, 0.13, 0.12, 0.12, 0.13, 0.16, 0.24, 0.32, 0.34, 0.28, 0.20, 0.15]
    shape += [0.12, 0.12, 0.14, 0.18, 0.26, 0.34, 0.40, 0.38, 0.30, 0.24, 0.19, 0.16]
    return [round(p * rng.uniform(0.9, 1.1), 3) for p in shape]  # per kWh


def sessions(site: Site, rng: random.Random) -> list[Session]:
    result: list[Session] = []
    for evse_id, evse in site.evses.items():
        kind = rng.random()
        t = int(rng.choice([rng.gauss(8 * 60, 60), rng.gauss(12 * 60, 90), rng.gauss(17 * 60, 60)]))
        while 0 <= t < 22 * 60:
            dwell = int(rng.uniform(2, 9) * 60)
            # 7.4 kW single-phase; 22 kW or 11 kW three-phase
            max_a = 32.0 if len(evse.phases) == 1 or kind < 0.3 else 16.0
            need = round(rng.uniform(8, 45), 1)
            result.append(Session(evse_id, t, min(MINUTES, t + dwell), need, max_a))
            t += dwell + int(rng.uniform(30, 300))
    return sorted(result, key=lambda s: s.arrival)


@dataclass
class Run:
    name: str
    grid_kw: list[float]  # per minute, at the connection (building + EVs - sun)
    worst_phase_a: float
    delivered: float
    served: int  # sessions that got all they needed
    cost: float  # the EVs' share of the import bill
    seconds: float


def phase_loads(site: Site, currents: dict[str, float], other_a: float) -> list[float]:
    loads = [other_a] * PHASES
    for evse_id, current in currents.items():
        for phase in site.evses[evse_id].phases:
            loads[phase] += current
    return loads


def simulate(name: str, site: Site, all_sessions: list[Session], prices: list[float]) -> Run:
    started = time.perf_counter()
    todo = [Session(s.evse, s.arrival, s.departure, s.need, s.max_a) for s in all_sessions]
    planned: dict[str, tuple[int, tuple[float, ...]]] = {}  # evse -> (first slot, currents per slot)
    grid_kw: list[float] = []
    worst = 0.0
    cost = 0.0
    for minute in range(MINUTES):
        present = [s for s in todo if s.arrival <= minute < s.departure]
        other_kw = building_kw(minute) - solar_kw(minute)
        other_a = other_kw * 1000 / (PHASES * VOLTAGE)

        def wants(s: Session) -> float:  # what the EV takes this minute: its charger, or what it still needs
            phases = len(site.evses[s.evse].phases)
            rest = (s.need - s.delivered) * 1000 * 60 / (VOLTAGE * phases)
            return max(0.0, min(s.max_a, rest))

        if name in PLANNERS and minute % SLOT == 0 and any(minute - SLOT < s.arrival <= minute for s in todo):
            replan(site, present, minute, prices, PLANNERS[name])
            for vp in LAST_PLAN:
                planned[vp[0]] = (minute // SLOT, vp[1])
        currents: dict[str, float] = {}
        if name == "unmanaged":
            currents = {s.evse: wants(s) for s in present}
        elif name == "allocator":
            demands = [
                Demand(s.evse, wants(s), minimum=min(MIN_A, wants(s))) for s in present if wants(s) > 0
            ]
            allocation = allocate(site, demands, grid_limit=GRID_A, base_load=other_a)
            currents = dict(allocation.currents)
        else:
            for s in present:
                first, plan_currents = planned.get(s.evse, (0, ()))
                slot = minute // SLOT - first
                offered = plan_currents[slot] if 0 <= slot < len(plan_currents) else 0.0
                offered = offered if offered >= MIN_A - 1e-6 else 0.0
                currents[s.evse] = min(offered, wants(s))
        for s in present:
            phases = len(site.evses[s.evse].phases)
            s.delivered += currents.get(s.evse, 0.0) * VOLTAGE * phases / 1000 / 60
        ev_kw = sum(currents[e] * VOLTAGE * len(site.evses[e].phases) / 1000 for e in currents)
        total = other_kw + ev_kw
        grid_kw.append(total)
        worst = max(worst, *phase_loads(site, currents, other_a))
        price = prices[minute // 60]
        cost += (max(0.0, total) - max(0.0, other_kw)) * price / 60
    delivered = sum(s.delivered for s in todo)
    served = sum(1 for s in todo if s.delivered >= s.need - 0.05)
    return Run(name, grid_kw, worst, delivered, served, cost, time.perf_counter() - started)


LAST_PLAN: list[tuple[str, tuple[float, ...]]] = []


def replan(site: Site, present: list[Session], minute: int, prices: list[float], delay_cost: float) -> None:
    """Plan the rest of the day for every EV plugged in, from the slot of ``minute``."""
    first = minute // SLOT
    slots = MINUTES // SLOT - first
    worst_other = []
    for slot in range(first, first + slots):
        lo = max(slot * SLOT, minute)
        worst_other.append(max(building_kw(m) - solar_kw(m) for m in range(lo, (slot + 1) * SLOT)) * 1000)
    vehicles = []
    for s in present:
        if s.need - s.delivered <= 0.01:
            continue
        departure = (s.departure - first * SLOT) // SLOT  # whole slots only: never past the departure
        vehicles.append(Vehicle(s.evse, s.need - s.delivered, s.max_a, 0, departure, minimum=MIN_A))
    horizon = Horizon(
        SLOT * 60,
        prices=[prices[(first + k) * SLOT // 60] for k in range(slots)],
        grid_limit=[GRID_A] * slots,
        site_load=worst_other,
        delay_cost=delay_cost,
        mip_rel_gap=0.01,
        time_limit=1.0,
    )
    result = plan(site, vehicles, horizon)
    LAST_PLAN.clear()
    LAST_PLAN.extend((vp.evse_id, vp.currents) for vp in result.vehicles)


def draw(runs: list[Run], prices: list[float], path: Path, caption: str) -> None:
    hours = [m / 60 for m in range(MINUTES)]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 1])
    colours = {
        "unmanaged": "#d62728",
        "allocator": "#1f77b4",
        "planner": "#2ca02c",
        "planner, delay cost": "#ff7f0e",
    }
    for run in runs:
        top.plot(hours, run.grid_kw, label=run.name, color=colours[run.name], linewidth=1.2)
    base = [building_kw(m) - solar_kw(m) for m in range(MINUTES)]
    top.plot(hours, base, label="building - solar", color="#7f7f7f", linestyle=":")
    top.axhline(GRID_KW, color="black", linestyle="--", linewidth=1, label=f"grid limit {GRID_KW:.0f} kW")
    top.set_ylabel("power at the grid connection (kW)")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.step(range(25), [*prices, prices[-1]], where="post", color="#9467bd")
    bottom.set_ylabel("price (per kWh)")
    bottom.set_xlabel("hour of the day")
    bottom.set_xlim(0, 24)
    bottom.grid(alpha=0.3)
    figure.suptitle("Site energy management, 50 EVSEs on 200 kW (pure core, simulated day)")
    figure.text(0.01, 0.005, caption, fontsize=7)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--png", type=Path, default=BENCH / "site.png")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    site = build_site()
    prices = hourly_prices(rng)
    all_sessions = sessions(site, rng)
    need = sum(s.need for s in all_sessions)
    runs = [simulate(name, site, all_sessions, prices) for name in ("unmanaged", "allocator", *PLANNERS)]
    machine = f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    draw(runs, prices, args.png, f"seed {args.seed}; {len(all_sessions)} sessions; {machine}; bench/site.py")
    base = runs[0].cost
    print(f"seed {args.seed}: {len(all_sessions)} sessions, {need:.0f} kWh needed; {machine}\n")
    print(
        "| run | peak at the grid (kW) | worst phase (A) | limit | delivered (kWh) | of needs | sessions served | EV energy cost | per kWh | vs unmanaged | run time (s) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run.name} | {max(run.grid_kw):.1f} | {run.worst_phase_a:.1f} | {GRID_KW:.0f} kW / {GRID_A:.1f} A "
            f"| {run.delivered:.0f} | {100 * run.delivered / need:.1f} % | {run.served}/{len(all_sessions)} "
            f"| {run.cost:.2f} | {run.cost / run.delivered:.3f} | {100 * run.cost / base:.0f} % | {run.seconds:.1f} |"
        )
    for run in runs[1:]:
        if run.worst_phase_a > GRID_A + 1e-6:
            raise SystemExit(f"{run.name} exceeded the grid limit: {run.worst_phase_a:.1f} A")


if __name__ == "__main__":
    main()
