"""Issue #16's Done-when demo through OCPP: the depot of ``bench/v2x_site.py`` (10 bidirectional EVs, a 100 kW
connection, a building whose evening peak alone exceeds it) run with our CSMS and our simulated 2.1 stations
instead of following the planner's plan by hand.

Our CSMS runs in this process (temporary SQLite file, loopback) with a :class:`ScaledClock` running
``--scale`` times real time; so do 10 of our simulated stations (station runtime, OCPP 2.1, one EVSE each,
``time_scale``). The operator allows V2X per station (``PUT /v2x/allowed/station/{id}``: the Authorize
answer's allowedEnergyTransfer, Q01.FR.01), the site is the tree, the prices and the building's forecast of
``bench/v2x_site.py`` (``PUT /sites/depot``, ``PUT /sites/depot/tariff``). At 17:00 every EV is plugged in and
its card presented; once its transaction runs, the driver tells the CSMS its needs with its V2X battery
(``PUT /site-ev-needs/{transactionId}``, ``v2x``), and again every hour with its state of charge then (as an
ISO 15118-20 EV renegotiating: the CSMS otherwise carries the battery from its own plans, and what a
station delivers late or early would never be made up); the sites block plans the sessions both ways and sends
each station a TxProfile of CentralSetpoint periods (Q03.FR.01), under which the station's simulated EV
charges or discharges. At its departure (06:30-08:30) the card ends the session and the EV leaves.

The figures come from what the CSMS stored: the clock-aligned Energy.Active.Import.Register and
Energy.Active.Export.Register samples (J01, AlignedDataCtrlr.Interval one 15-minute slot; also sent while
idle) give each EVSE's net energy per slot; plus the building's forecast that is the site's import per slot,
against the connection's limit. Each EV's state of charge at its departure is the simulated battery's, against
its departure SoC. The same day charge-only (no V2X allowed, needs without ``v2x``: the energy to the
departure SoC) is run for comparison. Writes ``bench/v2x_site_e2e.png`` and prints a Markdown section for
bench/RESULTS.md. Bounded: 16 simulated hours per run (80 s at 720x); it stops by itself.

Run: ``.venv/bin/python bench/v2x_site_e2e.py [--scale 720] [--runs v2x,charge-only]``. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import logging
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt
from site_e2e import aligned_station, bench_csms, caller, pages
from station_fleet import machine
from v2x_site import (
    CAPACITY,
    DEPARTURE_SOC,
    EV_A,
    EVS,
    GRID_KW,
    MIN_SOC,
    SLOT,
    SLOTS,
    START,
    Ev,
    at,
    base_kw,
    fleet,
    needs,
    tariff,
    tree,
)

from chargeplane.csms.blocks.sites.service import SitesService
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.clock import ScaledClock
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.site import PHASES, VOLTAGE
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
PASSWORD = "v2x-e2e-password-0123456789"
TICK_S = 0.05  # real seconds between two meter readings of a station (36 simulated seconds at 720x)
RETELL = timedelta(hours=1)  # how often the EV's needs (its SoC) go to the CSMS again
LEAD = timedelta(minutes=30)  # simulated time before 17:00 for the fallback profiles to go out
RUNS = ("v2x", "charge-only")
ALLOWED = {"allowedEnergyTransfer": ["AC_three_phase", "AC_BPT"]}
log = logging.getLogger("v2x_site_e2e")


def station_id(k: int) -> str:
    return f"DEPOT{k:02d}"  # as in v2x_site.tree()


@dataclass
class Car:
    """One EV of the fleet on the station of the same index, and what became of it."""

    ev: Ev  # from v2x_site.fleet: starting SoC, departure
    battery: SimulatedEv
    transaction: str | None = None
    told_at: datetime | None = None  # when the needs last went to the CSMS
    left: bool = False
    soc_at_departure: float | None = None


@dataclass
class Outcome:
    name: str
    ev_kw: list[float] = field(default_factory=lambda: [0.0] * SLOTS)  # measured, per slot (negative: out)
    planned_kw: list[float | None] = field(
        default_factory=lambda: [None] * SLOTS
    )  # the CSMS's plan, per slot
    grid_kw: list[float] = field(default_factory=list)  # building forecast + measured EVs
    departure_socs: list[float] = field(default_factory=list)
    exported_kwh: float = 0.0
    imported_kwh: float = 0.0
    samples: int = 0
    plans: int = 0
    seconds: float = 0.0

    @property
    def slots_over(self) -> int:
        return sum(1 for kw in self.grid_kw if kw > GRID_KW + 0.5)

    @property
    def off_plan_kw(self) -> float:
        """The largest gap between the measured and the planned EV power in a slot with a plan."""
        gaps = [
            abs(kw - plan) for kw, plan in zip(self.ev_kw, self.planned_kw, strict=True) if plan is not None
        ]
        return max(gaps, default=0.0)

    @property
    def departed_ok(self) -> int:
        return sum(1 for soc in self.departure_socs if soc >= DEPARTURE_SOC - 0.5)


def charge_only_needs(ev: Ev) -> dict[str, object]:
    """The same EV without V2X: the energy to its departure SoC (the simulated battery has no losses)."""
    return {
        "maximum": EV_A,
        "departure": ev.departure.isoformat(),
        "energy": round(CAPACITY * (DEPARTURE_SOC - ev.soc) / 100, 2),
    }


async def run_night(name: str, args: argparse.Namespace) -> Outcome:
    rng = random.Random(args.seed)
    curve = tariff(rng)  # same draws as bench/v2x_site.py: the prices first, then the fleet
    cars = [
        Car(
            ev,
            SimulatedEv(
                capacity_wh=CAPACITY * 1000,
                soc=ev.soc,
                max_power_w=EV_A * PHASES * VOLTAGE,
                max_discharge_w=EV_A * PHASES * VOLTAGE if name == "v2x" else 0.0,
                min_soc=MIN_SOC,
            ),
        )
        for ev in fleet(rng)[: args.evs]
    ]
    outcome = Outcome(name)
    clock = ScaledClock(START - LEAD - timedelta(hours=1), 1.0)  # real time while it sets up
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="v2x-e2e-") as tmp:
        # A planned rise waits two meter ticks after its slot begins (the station applies a period at a tick).
        sites = SitesSettings(
            min_interval=0.5,
            profile_duration=6 * 3600,
            plan_interval=3600,
            raise_delay=2 * TICK_S * args.scale,
        )
        csms = bench_csms(tmp, clock, sites)
        token = await csms.start()
        assert token is not None
        stations: list[StationRuntime] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{csms.api_port}/api/v1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as api:
                call = caller(api)

                for k in range(len(cars)):
                    await call(
                        "POST", "/stations", 201, json={"stationId": station_id(k), "password": PASSWORD}
                    )
                    await call("POST", "/id-tokens", 201, json={"idToken": f"CARD{k:02d}"})
                    if name == "v2x":  # Q01: the operator lets this station's sessions discharge
                        await call("PUT", f"/v2x/allowed/station/{station_id(k)}", 200, json=ALLOWED)
                site = tree()
                site["circuits"][0]["evses"] = site["circuits"][0]["evses"][: len(cars)]  # type: ignore[index]
                await call("PUT", "/sites/depot", 200, json=site)
                await call("PUT", "/sites/depot/tariff", 200, json=curve)
                for k in range(len(cars)):
                    station = aligned_station(
                        csms, station_id(k), Version.V21, PASSWORD, TICK_S, args.scale, clock,
                        SLOT, "Energy.Active.Import.Register,Energy.Active.Export.Register",
                    )  # fmt: skip
                    stations.append(station)
                    tasks.append(asyncio.create_task(station.run()))
                async with asyncio.timeout(60):
                    for station in stations:
                        await station.accepted.wait()
                clock.reset(START - LEAD, args.scale)  # the fallbacks go out, then the evening begins
                log.info("%s: set up in %.1f s", name, time.monotonic() - started)
                await drive(name, clock, stations, cars, call, outcome)
                log.info("%s: the night ran in %.1f s", name, time.monotonic() - started)
                outcome.plans = csms.blocks.require(SitesService).plans
                await measure(call, cars, outcome)
        finally:
            for station in stations:
                await station.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await csms.stop(deadline=2.0)
    outcome.seconds = time.monotonic() - started
    return outcome


async def drive(
    name: str,
    clock: ScaledClock,
    stations: list[StationRuntime],
    cars: list[Car],
    call: Any,
    outcome: Outcome,
) -> None:
    """Plug and card at 17:00, the driver's needs once the transaction is known, card and unplug at the
    departure; until the end of the curve (and half a slot more for the last clock-aligned sample). Halfway
    through each slot, what the CSMS's plan in force says the EVs do in it."""
    end = at(SLOTS) + timedelta(seconds=SLOT // 2)
    await asyncio.sleep(max(0.0, (START - clock.now()).total_seconds()) / clock.scale)
    for k, car in enumerate(cars):
        stations[k].plug(1, 1, car.battery)
        stations[k].present_token(f"CARD{k:02d}")
    while clock.now() < end:
        now = clock.now()
        for k, car in enumerate(cars):
            station = stations[k]
            tx = station.core.evses[1].tx
            if car.transaction is None and tx is not None:
                car.transaction = tx.id
            if (
                car.transaction is not None
                and not car.left
                and (car.told_at is None or now >= car.told_at + RETELL)
            ):
                # V2X: the EV's state of charge now, the CSMS plans from it (else from its own plans' bookkeeping);
                # charge-only: the energy is the transaction's whole (the CSMS counts off what it delivered)
                ev = replace(car.ev, soc=round(car.battery.soc, 2))
                body = needs(ev) if name == "v2x" else charge_only_needs(car.ev)
                await call("PUT", f"/site-ev-needs/{car.transaction}", 204, json=body)
                car.told_at = now
            if not car.left and car.ev.departure <= now:
                car.soc_at_departure = car.battery.soc
                station.present_token(f"CARD{k:02d}")
                station.unplug(1)
                car.left = True
        slot = int((now - START).total_seconds() // SLOT)
        if (
            0 <= slot < SLOTS
            and outcome.planned_kw[slot] is None
            and now >= at(slot) + timedelta(seconds=SLOT // 2)
        ):
            outcome.planned_kw[slot] = await planned_kw(call, now)
        await asyncio.sleep(0.02)


async def planned_kw(call: Any, now: datetime) -> float | None:
    """The EVs' net power in the slot of ``now`` by the CSMS's plan (``GET /sites/depot/plan``); None: none."""
    try:
        plan = await call("GET", "/sites/depot/plan", 200)
    except RuntimeError:  # 404: no plan (the allocator runs), with its reason
        return None
    index = int((now - datetime.fromisoformat(plan["start"])).total_seconds() // plan["slotSeconds"])
    amps = 0.0
    for evse in plan["evses"]:
        if 0 <= index < len(evse["currents"]):
            amps += evse["currents"][index]
        if 0 <= index < len(evse["discharge"]):
            amps -= evse["discharge"][index]
    return amps * PHASES * VOLTAGE / 1000


def register_at(readings: list[tuple[float, float]], second: float) -> float:
    """A meter register (sorted (second, Wh) readings) at ``second``: linear between two readings, the
    nearest one outside them (the register does not move while no EV is plugged)."""
    times = [t for t, _ in readings]
    i = bisect.bisect_left(times, second)
    if i == 0:
        return readings[0][1]
    if i == len(readings):
        return readings[-1][1]
    (t0, v0), (t1, v1) = readings[i - 1], readings[i]
    return v0 + (v1 - v0) * (second - t0) / (t1 - t0) if t1 > t0 else v1


async def measure(call: Any, cars: list[Car], outcome: Outcome) -> None:
    """The figures from what the CSMS stored (see the module's docstring)."""
    for k in range(len(cars)):
        url = f"/stations/{station_id(k)}/meter-values"
        for measurand, sign in (
            ("Energy.Active.Import.Register", 1.0),
            ("Energy.Active.Export.Register", -1.0),
        ):
            rows = await pages(call, url, {"measurand": measurand, "limit": 5000})
            readings = sorted(
                ((datetime.fromisoformat(r["timestamp"]) - START).total_seconds(), float(r["value"]))
                for r in rows
                if r["value"] is not None
            )
            outcome.samples += len(readings)
            if not readings:
                continue
            for slot in range(SLOTS):
                kwh = (register_at(readings, (slot + 1) * SLOT) - register_at(readings, slot * SLOT)) / 1000
                outcome.ev_kw[slot] += sign * kwh * 3600 / SLOT
                if sign > 0:
                    outcome.imported_kwh += kwh
                else:
                    outcome.exported_kwh += kwh
    outcome.grid_kw = [base_kw(slot) + outcome.ev_kw[slot] for slot in range(SLOTS)]
    outcome.departure_socs = [
        car.soc_at_departure if car.soc_at_departure is not None else car.battery.soc for car in cars
    ]


def plot(outcomes: list[Outcome], path: Path, caption: str) -> None:
    hours = [17 + slot * SLOT / 3600 for slot in range(SLOTS)]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2))
    top.plot(hours, [base_kw(s) for s in range(SLOTS)], color="grey", linestyle=":", label="building alone")
    for outcome, colour in zip(outcomes, ("#1f77b4", "#ff7f0e"), strict=False):
        top.step(
            hours,
            outcome.grid_kw,
            where="post",
            color=colour,
            label=f"site import: {outcome.name} (measured)",
        )
        bottom.step(hours, outcome.ev_kw, where="post", color=colour, label=f"EVs together: {outcome.name}")
        planned = [kw if kw is not None else float("nan") for kw in outcome.planned_kw]
        bottom.step(
            hours,
            planned,
            where="post",
            color=colour,
            linestyle=":",
            label=f"the CSMS's plan: {outcome.name}",
        )
    top.axhline(GRID_KW, color="#d62728", linestyle="--", label=f"connection limit {GRID_KW:.0f} kW")
    top.set_ylabel("kW")
    top.legend(fontsize=8, loc="upper right")
    top.grid(alpha=0.3)
    bottom.axhline(0, color="black", linewidth=0.6)
    bottom.set_ylabel("kW (negative: discharging)")
    bottom.set_xlabel("hour (17:00 to 09:00), from the stations' clock-aligned energy registers in the CSMS")
    bottom.legend(fontsize=8, loc="upper right")
    bottom.grid(alpha=0.3)
    figure.suptitle(
        "10 bidirectional EVs through an evening peak, through OCPP 2.1 (CSMS + simulated stations)"
    )
    figure.text(0.01, 0.005, caption, fontsize=7)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(outcomes: list[Outcome], args: argparse.Namespace, command: str) -> str:
    lines = [
        f"- Command: `{command}`; {datetime.now(UTC).date().isoformat()}; {machine()}.",
        f"- {args.evs} stations (OCPP 2.1, our station runtime, one EVSE each) with a bidirectional EV each "
        f"(11 kW both ways, 60 kWh) on a {GRID_KW:.0f} kW connection; time {args.scale:.0f}x "
        f"(17:00-09:00 in {SLOTS * SLOT / args.scale:.0f} s); energy registers clock-aligned every {SLOT} "
        "simulated seconds.",
        "",
        "| run | peak site import (kW) | slots over the limit | EVs at departure SoC | lowest departure SoC | "
        "imported / exported by the EVs (kWh) | largest gap to the plan (kW) | plans | samples | wall time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.name} | {max(o.grid_kw):.1f} | {o.slots_over}/{SLOTS} | {o.departed_ok}/{len(o.departure_socs)} "
            f"| {min(o.departure_socs):.1f} % | {o.imported_kwh:.1f} / {o.exported_kwh:.1f} | {o.off_plan_kw:.1f} | {o.plans} "
            f"| {o.samples} | {o.seconds:.0f} s |"
        )
    for o in outcomes:
        socs = ", ".join(f"{soc:.1f}" for soc in o.departure_socs)
        lines.append(f"- {o.name}: SoC at departure (%): {socs}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for name in args.runs.split(","):
        if name not in RUNS:
            raise SystemExit(f"unknown run {name}: one of {', '.join(RUNS)}")
        outcome = await run_night(name, args)
        print(f"{name}: done in {outcome.seconds:.0f} s", file=sys.stderr)
        outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--evs", type=int, default=EVS, help="how many of the fleet's EVs (and stations)")
    parser.add_argument("--scale", type=float, default=720.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--png", type=Path, default=BENCH / "v2x_site_e2e.png")
    args = parser.parse_args()
    if not 1 <= args.evs <= EVS or not 60 <= args.scale <= 20_000:
        raise SystemExit(f"1-{EVS} EVs and a scale of 60-20000 keep the run bounded")
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    outcomes = asyncio.run(main_async(args))
    plot(outcomes, args.png, f"seed {args.seed}; {machine()}; bench/v2x_site_e2e.py")
    print(report(outcomes, args, "python bench/v2x_site_e2e.py " + " ".join(sys.argv[1:])))
    v2x = next((o for o in outcomes if o.name == "v2x"), None)
    if v2x is not None and (v2x.slots_over or v2x.departed_ok != len(v2x.departure_socs)):
        raise SystemExit("through OCPP the V2X run broke the connection limit or left an EV short")


if __name__ == "__main__":
    main()
