"""Site energy management, planning part: when each EV charges over the next hours, at the least cost.

A linear programme solved with HiGHS (``highspy``). The horizon is cut into slots (say 96 of 15 minutes);
the decision is the current per phase of each EV in each slot. Constraints, per slot:

- every circuit of the site tree (``site.Site``) on every phase stays within its limit; at the grid
  connection the limit of the slot is the dynamic grid limit minus the rest of the site's load plus the solar
  production (balanced over the three phases);
- an EV charges only while plugged in (arrival to departure) and at most at its maximum;
- an EV gets at most the energy it needs; what it needs by its departure is met unless the site cannot
  deliver it (soft: each kWh missing costs ``penalty``, far above any price, so the solver misses as little
  as it can).

Objective: the cost of the energy imported (price per slot), minus what exported solar earns (feed-in, by
default nothing), plus the penalty for energy missed. Among equal costs the earlier slot wins (a tiny
tie-break), so that an EV is not kept waiting for nothing.

A vehicle's minimum charging rate (``minChargingRate``: below it the EV does not charge) makes its currents
semi-continuous, zero or between the minimum and the maximum; the programme is then a mixed-integer one,
which HiGHS solves by branch and bound (``mip_rel_gap`` bounds the distance to the optimum; within
``time_limit`` the best plan found is returned). Without minimums it stays a pure LP. Pure: no clock, no I/O.

Bidirectional EVs (V2X, issue #16 item 4; OCPP 2.1 Q03 central setpoints): a vehicle with
:class:`Bidirectional` parameters also gets a discharge current per slot (within its maximum discharge) and a
battery balance (charged energy times the efficiency in, discharged energy over the efficiency out) kept
between its floor and its capacity in every slot; its need is then the energy in the battery at departure.
Each kWh discharged costs its degradation cost, so it discharges only where the energy it replaces (the site's
import at that slot's price, or an export at the feed-in tariff) is worth more than charging it back later.
Circuits carry the net current (charge less discharge) both ways within their limits; the connection also
holds the base load, so discharging can keep it within its limit through a peak. Optionally: a soft peak
threshold on the site's import (``peak_threshold``, each kWh above costs ``peak_penalty``) and grid services
(:class:`GridService`: at least so many watts exported over some slots), hard. A plan that cannot hold the
hard constraints raises :class:`Infeasible` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from chargeplane.smart_charging.model import Period, RateUnit, Schedule
from chargeplane.smart_charging.site import PHASES, VOLTAGE, Site, capacity_of

DEFAULT_PENALTY = 10.0  # per kWh missed: above any realistic price (currency units per kWh)
TIE_BREAK = 1e-6  # per kWh and slot index: earlier among equal prices
BPT_DEGRADATION = 0.05  # per kWh discharged: the battery wear a discharge costs, by default


class Infeasible(RuntimeError):
    """No plan holds the hard constraints (grid limit with the base load, SoC floors, grid services)."""


@dataclass(frozen=True, slots=True)
class Bidirectional:
    """What a V2X vehicle allows, in kWh of its battery (any common origin: absolute, or 0 = now)."""

    discharge: float  # amperes per phase it may give back at most
    stored: float  # kWh in the battery now
    capacity: float  # kWh the battery holds at most (its maximum SoC)
    floor: float  # kWh it must keep at all times (its minimum SoC for V2X)
    efficiency: float = 0.95  # one way: charging stores this share, discharging takes 1 / this share
    degradation: float = BPT_DEGRADATION  # per kWh discharged


@dataclass(frozen=True, slots=True)
class GridService:
    """A site-level setpoint: from slot ``first`` to before ``last`` the site exports at least ``export`` W."""

    first: int
    last: int
    export: float


@dataclass(frozen=True, slots=True)
class Vehicle:
    evse_id: str
    energy: float  # kWh still needed
    maximum: float  # amperes per phase the EV takes
    arrival: int = 0  # first slot it is plugged in (slot index)
    departure: int | None = None  # first slot it is gone; None: stays to the end of the horizon
    minimum: float = 0.0  # amperes per phase below which it does not charge; 0: any current
    phases: tuple[int, ...] | None = None  # site phases it draws on, if fewer than the EVSE's (site.Demand)
    # V2X: it may discharge; ``energy`` is then the kWh to add to its battery (``stored``) by departure
    bidirectional: Bidirectional | None = None


@dataclass(frozen=True, slots=True)
class Horizon:
    slot_seconds: int
    prices: Sequence[float]  # per kWh imported, one per slot; its length is the number of slots
    grid_limit: Sequence[float] | None = None  # amperes per phase at the connection, per slot
    site_load: Sequence[float] | None = None  # watts drawn by the rest of the site, per slot
    solar: Sequence[float] | None = None  # watts produced on site, per slot
    feed_in: Sequence[float] | None = None  # per kWh exported; default min(0, price)
    penalty: float = DEFAULT_PENALTY
    # Per kWh and hour of waiting: a price on delay, so that energy is not all pushed to the last cheap slots
    # (which later arrivals, unknown to this plan, will want too). 0: cost only.
    delay_cost: float = 0.0
    mip_rel_gap: float = 1e-3  # with minimums: how far from the optimum the plan may be (relative)
    time_limit: float = 20.0  # seconds, with minimums: then the best plan found so far
    # The share of the first slot still ahead (a plan made mid-slot): its energy and cost count that much.
    first_fraction: float = 1.0
    peak_threshold: float | None = None  # watts imported above which each kWh costs ``peak_penalty``
    peak_penalty: float = 1.0  # per kWh imported above ``peak_threshold``
    services: Sequence[GridService] = ()

    @property
    def slots(self) -> int:
        return len(self.prices)


@dataclass(frozen=True, slots=True)
class VehiclePlan:
    evse_id: str
    currents: tuple[float, ...]  # amperes per phase, per slot
    energy: float  # kWh planned
    unmet: float  # kWh it will miss
    discharge: tuple[float, ...] = ()  # V2X: amperes per phase given back, per slot (empty: charge only)
    stored: tuple[float, ...] = ()  # V2X: kWh in the battery at the end of each slot

    @property
    def net(self) -> tuple[float, ...]:
        """Per slot the current per phase it draws (negative: it discharges)."""
        if not self.discharge:
            return self.currents
        return tuple(c - d for c, d in zip(self.currents, self.discharge, strict=True))

    def schedule(self, slot_seconds: int, number_phases: int) -> Schedule:
        """The plan as a charging schedule in amperes (consecutive equal slots merged), ready for a TxProfile."""
        periods: list[Period] = []
        for index, current in enumerate(self.currents):
            value = round(current, 1)
            if not periods or periods[-1].limit != value:
                periods.append(Period(start=index * slot_seconds, limit=value, number_phases=number_phases))
        return Schedule(
            unit=RateUnit.AMPERE, periods=tuple(periods), duration=len(self.currents) * slot_seconds
        )


@dataclass(frozen=True, slots=True)
class Plan:
    vehicles: tuple[VehiclePlan, ...]
    cost: float  # of the energy imported, without the penalty
    status: str  # HiGHS model status


def _series(values: Sequence[float] | None, slots: int, default: float, name: str) -> list[float]:
    if values is None:
        return [default] * slots
    if len(values) != slots:
        raise ValueError(f"{name} has {len(values)} values for {slots} slots")
    return [float(value) for value in values]


def _check(site: Site, vehicles: Sequence[Vehicle], horizon: Horizon) -> None:
    if horizon.slots == 0 or horizon.slot_seconds <= 0:
        raise ValueError("the horizon needs slots of a positive length")
    if not 0 < horizon.first_fraction <= 1:
        raise ValueError("first_fraction is in (0, 1]")
    if horizon.peak_penalty < 0:
        raise ValueError("peak_penalty must not be negative")
    for service in horizon.services:
        if service.export < 0 or not 0 <= service.first < service.last:
            raise ValueError("a grid service exports >= 0 W over at least one slot")
    for vehicle in vehicles:
        if vehicle.evse_id not in site.evses:
            raise ValueError(f"unknown EVSE {vehicle.evse_id}")
        if vehicle.energy < 0 or vehicle.maximum < 0:
            raise ValueError(f"EVSE {vehicle.evse_id}: energy and maximum must not be negative")
        if vehicle.phases is not None and (
            not vehicle.phases or not set(vehicle.phases) <= set(site.evses[vehicle.evse_id].phases)
        ):
            raise ValueError(f"EVSE {vehicle.evse_id}: the EV's phases must be some of the EVSE's")
        both = vehicle.bidirectional
        if both is not None and not (
            both.discharge >= 0
            and 0 < both.efficiency <= 1
            and both.degradation >= 0
            and both.floor <= both.capacity
            and both.stored <= both.capacity
        ):
            raise ValueError(
                f"EVSE {vehicle.evse_id}: V2X needs discharge >= 0, efficiency in (0, 1], degradation >= 0, "
                "floor and stored energy within the capacity"
            )
    if len({vehicle.evse_id for vehicle in vehicles}) != len(vehicles):
        raise ValueError("one vehicle per EVSE")


def plan(site: Site, vehicles: Sequence[Vehicle], horizon: Horizon) -> Plan:
    _check(site, vehicles, horizon)
    slots = horizon.slots
    hours = horizon.slot_seconds / 3600
    weight = [horizon.first_fraction if t == 0 else 1.0 for t in range(slots)]  # of each slot still ahead
    prices = [float(price) for price in horizon.prices]
    site_load = _series(horizon.site_load, slots, 0.0, "site_load")
    solar = _series(horizon.solar, slots, 0.0, "solar")
    feed_in = _series(horizon.feed_in, slots, 0.0, "feed_in")
    if horizon.feed_in is None:
        feed_in = [min(0.0, price) for price in prices]
    if any(f > p for f, p in zip(feed_in, prices, strict=True)):
        raise ValueError("a feed-in tariff above the import price would pay for importing to export")
    root_limit = site.root.limit
    grid = _series(horizon.grid_limit, slots, float("inf"), "grid_limit")
    phases = [site.evses[v.evse_id].phases if v.phases is None else v.phases for v in vehicles]

    n = len(vehicles)
    v2x = [i for i, vehicle in enumerate(vehicles) if vehicle.bidirectional is not None]
    m = len(v2x)

    # Columns: x[i, t] (A per phase) for i < n, t < slots; then unmet[i]; then import[t]; then export[t];
    # then for the k-th V2X vehicle its discharge d[k, t] (A per phase) and its battery e[k, t] (kWh at the
    # end of slot t); then over[t] (watts imported above the peak threshold).
    def x(i: int, t: int) -> int:
        return i * slots + t

    unmet0 = n * slots
    import0 = unmet0 + n
    export0 = import0 + slots
    discharge0 = export0 + slots
    stored0 = discharge0 + m * slots
    over0 = stored0 + m * slots
    columns = over0 + (slots if horizon.peak_threshold is not None else 0)

    def d(k: int, t: int) -> int:
        return discharge0 + k * slots + t

    def e(k: int, t: int) -> int:
        return stored0 + k * slots + t

    lower = np.zeros(columns)
    upper = np.full(columns, highspy.kHighsInf)
    cost = np.zeros(columns)
    semi: list[int] = []  # columns that are 0 or at least the vehicle's minimum
    kwh_per_amp: list[float] = []  # kWh one ampere per phase delivers in one slot, per vehicle
    windows: list[tuple[int, int]] = []  # per vehicle: the slots it is plugged in, [arrival, departure)
    for i, vehicle in enumerate(vehicles):
        evse = site.evses[vehicle.evse_id]
        kwh_per_amp.append(VOLTAGE * len(phases[i]) * hours / 1000)
        departure = slots if vehicle.departure is None else min(slots, vehicle.departure)
        windows.append((vehicle.arrival, departure))
        for t in range(slots):
            plugged = vehicle.arrival <= t < departure
            top = min(vehicle.maximum, evse.limit) if plugged else 0.0
            if vehicle.minimum > top:
                top = 0.0  # it cannot charge here at all
            elif vehicle.minimum > 0 and top > 0:
                lower[x(i, t)] = vehicle.minimum
                semi.append(x(i, t))
            upper[x(i, t)] = top
            cost[x(i, t)] = (TIE_BREAK + horizon.delay_cost * hours) * t * kwh_per_amp[i] * weight[t]
        cost[unmet0 + i] = horizon.penalty
    for k, i in enumerate(v2x):
        both = vehicles[i].bidirectional
        assert both is not None
        arrival, departure = windows[i]
        for t in range(slots):
            plugged = arrival <= t < departure
            upper[d(k, t)] = min(both.discharge, site.evses[vehicles[i].evse_id].limit) if plugged else 0.0
            cost[d(k, t)] = (both.degradation + TIE_BREAK * t) * kwh_per_amp[i] * weight[t]
            # A battery already below its floor is not discharged further, nor asked to be above it at once.
            lower[e(k, t)] = min(both.floor, both.stored)
            upper[e(k, t)] = both.capacity
    for t in range(slots):
        cost[import0 + t] = prices[t] * hours * weight[t] / 1000  # per watt over the slot
        cost[export0 + t] = -feed_in[t] * hours * weight[t] / 1000
        if horizon.peak_threshold is not None:
            cost[over0 + t] = horizon.peak_penalty * hours * weight[t] / 1000

    row_lower: list[float] = []
    row_upper: list[float] = []
    starts: list[int] = []
    indices: list[int] = []
    values: list[float] = []

    def row(entries: Sequence[tuple[int, float]], low: float, high: float) -> None:
        starts.append(len(indices))
        for index, value in entries:
            indices.append(index)
            values.append(value)
        row_lower.append(low)
        row_upper.append(high)

    # Energy of a charge-only EV: delivered + unmet >= needed, delivered <= needed.
    for i, vehicle in enumerate(vehicles):
        if vehicle.bidirectional is not None:
            continue
        delivered = [(x(i, t), kwh_per_amp[i] * weight[t]) for t in range(slots)]
        row([*delivered, (unmet0 + i, 1.0)], vehicle.energy, highspy.kHighsInf)
        row(delivered, -highspy.kHighsInf, vehicle.energy)
    # A V2X EV's battery: e[t] = e[t-1] + efficiency * charged - discharged / efficiency; at departure it
    # holds what it needs (capped at its capacity), short by ``unmet`` at most.
    for k, i in enumerate(v2x):
        both = vehicles[i].bidirectional
        assert both is not None
        for t in range(slots):
            kwh = kwh_per_amp[i] * weight[t]
            entries = [(e(k, t), 1.0), (x(i, t), -both.efficiency * kwh), (d(k, t), kwh / both.efficiency)]
            if t > 0:
                entries.append((e(k, t - 1), -1.0))
            start = both.stored if t == 0 else 0.0
            row(entries, start, start)
        target = min(both.capacity, both.stored + vehicles[i].energy)
        last = windows[i][1] - 1
        if last >= 0:
            row([(e(k, last), 1.0), (unmet0 + i, 1.0)], target, highspy.kHighsInf)
        else:
            row([(unmet0 + i, 1.0)], target - both.stored, highspy.kHighsInf)
    # Circuits per phase and slot, the net current both ways (the root's capacity is set per slot below).
    capacity = capacity_of(site)
    below: dict[str, list[int]] = {circuit_id: [] for circuit_id in site.circuits}
    by_evse = {vehicle.evse_id: i for i, vehicle in enumerate(vehicles)}
    v2x_index = {i: k for k, i in enumerate(v2x)}
    for evse_id, path in site.paths.items():
        if evse_id in by_evse:
            for circuit_id in path:
                below[circuit_id].append(by_evse[evse_id])
    root = site.root.id
    for circuit_id, members in below.items():
        for phase in range(PHASES):
            on_phase = [i for i in members if phase in phases[i]]
            if not on_phase:
                continue
            givers = [v2x_index[i] for i in on_phase if i in v2x_index]
            for t in range(slots):
                entries = [(x(i, t), 1.0) for i in on_phase] + [(d(k, t), -1.0) for k in givers]
                if circuit_id == root:
                    limit = min(root_limit[phase], grid[t])
                    other = (site_load[t] - solar[t]) / (PHASES * VOLTAGE)
                    if givers:  # discharging may have to carry the base load through a peak
                        row(entries, min(0.0, -limit - other), limit - other)
                    else:
                        row(entries, -highspy.kHighsInf, max(0.0, limit - other))  # over already: EVs off
                else:
                    row(entries, -capacity[circuit_id, phase], capacity[circuit_id, phase])
    # Grid balance in watts: import - export = site load - solar + EV power.
    for t in range(slots):
        ev_power = [(x(i, t), -VOLTAGE * len(phases[i])) for i in range(n)]
        ev_power += [(d(k, t), VOLTAGE * len(phases[i])) for k, i in enumerate(v2x)]
        balance = site_load[t] - solar[t]
        row([(import0 + t, 1.0), (export0 + t, -1.0), *ev_power], balance, balance)
        if horizon.peak_threshold is not None:
            row([(import0 + t, 1.0), (over0 + t, -1.0)], -highspy.kHighsInf, horizon.peak_threshold)
    # Grid services: at least so many watts exported in each slot of the window.
    for service in horizon.services:
        for t in range(service.first, min(service.last, slots)):
            row([(export0 + t, 1.0), (import0 + t, -1.0)], service.export, highspy.kHighsInf)

    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # its stub leaves __init__ untyped
    highs.setOptionValue("output_flag", False)
    highs.addVars(columns, lower, upper)
    highs.changeColsCost(columns, np.arange(columns, dtype=np.int32), cost)
    highs.addRows(
        len(row_lower),
        np.array(row_lower),
        np.array(row_upper),
        len(indices),
        np.array(starts, dtype=np.int32),
        np.array(indices, dtype=np.int32),
        np.array(values),
    )
    if semi:
        highs.changeColsIntegrality(
            len(semi),
            np.array(semi, dtype=np.int32),
            np.full(len(semi), highspy.HighsVarType.kSemiContinuous.value, dtype=np.uint8),
        )
        highs.setOptionValue("mip_rel_gap", horizon.mip_rel_gap)
        highs.setOptionValue("time_limit", horizon.time_limit)
    highs.run()
    if highs.getModelStatus() == highspy.HighsModelStatus.kSolveError:
        # HiGHS's presolve gives up on some degenerate semi-continuous models (the property test found one:
        # test_a_model_presolve_gives_up_on_is_solved_without_it); without presolve they solve.
        highs.setOptionValue("presolve", "off")
        highs.run()
    model_status = highs.getModelStatus()
    status = highs.modelStatusToString(model_status)
    found = highs.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status == highspy.HighsModelStatus.kInfeasible:
        raise Infeasible(_why_infeasible(site, vehicles, horizon, phases, windows))
    if model_status != highspy.HighsModelStatus.kOptimal and not (
        model_status == highspy.HighsModelStatus.kTimeLimit and found
    ):
        raise RuntimeError(f"the site plan has no solution: {status}")
    solution = list(highs.getSolution().col_value)
    result: list[VehiclePlan] = []
    for i, vehicle in enumerate(vehicles):
        currents = tuple(max(0.0, solution[x(i, t)]) for t in range(slots))
        given: tuple[float, ...] = ()
        stored: tuple[float, ...] = ()
        if i in v2x_index:
            k = v2x_index[i]
            given = tuple(max(0.0, solution[d(k, t)]) for t in range(slots))
            stored = tuple(solution[e(k, t)] for t in range(slots))
        net = [c - (given[t] if given else 0.0) for t, c in enumerate(currents)]
        result.append(
            VehiclePlan(
                evse_id=vehicle.evse_id,
                currents=currents,
                energy=sum(c * w for c, w in zip(net, weight, strict=True)) * kwh_per_amp[i],
                unmet=max(0.0, solution[unmet0 + i]),
                discharge=given,
                stored=stored,
            )
        )
    energy_cost = sum(
        (prices[t] * solution[import0 + t] - feed_in[t] * solution[export0 + t]) * hours * weight[t] / 1000
        for t in range(slots)
    )
    return Plan(vehicles=tuple(result), cost=energy_cost, status=status)


def _why_infeasible(
    site: Site,
    vehicles: Sequence[Vehicle],
    horizon: Horizon,
    phases: Sequence[tuple[int, ...]],
    windows: Sequence[tuple[int, int]],
) -> str:
    """The first hard constraint that cannot hold even at every V2X EV's full discharge, else the general
    reason (batteries too low for what is asked of them over time)."""
    slots = horizon.slots
    load = _series(horizon.site_load, slots, 0.0, "site_load")
    solar = _series(horizon.solar, slots, 0.0, "solar")
    grid = _series(horizon.grid_limit, slots, float("inf"), "grid_limit")
    for t in range(slots):
        most = 0.0  # watts the V2X EVs plugged in at t can give at most
        per_phase = [0.0] * PHASES
        for i, vehicle in enumerate(vehicles):
            both = vehicle.bidirectional
            if both is not None and windows[i][0] <= t < windows[i][1]:
                amps = min(both.discharge, site.evses[vehicle.evse_id].limit)
                most += amps * VOLTAGE * len(phases[i])
                for phase in phases[i]:
                    per_phase[phase] += amps
        for phase in range(PHASES):
            limit = min(site.root.limit[phase], grid[t])
            base = (load[t] - solar[t]) / (PHASES * VOLTAGE)
            if base - per_phase[phase] > limit + 1e-9:
                return (
                    f"slot {t}: the base load ({base:.1f} A on phase {phase + 1}) exceeds the connection's "
                    f"{limit:.1f} A even with every V2X EV discharging at its maximum"
                )
        for service in horizon.services:
            if service.first <= t < service.last and solar[t] - load[t] + most < service.export - 1e-6:
                return (
                    f"slot {t}: the grid service asks {service.export:.0f} W exported, the site can export "
                    f"{max(0.0, solar[t] - load[t] + most):.0f} W at most"
                )
    return (
        "the V2X batteries cannot hold their floors and give what the grid limit and the grid services "
        "ask of them over the horizon"
    )
