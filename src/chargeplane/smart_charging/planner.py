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


@dataclass(frozen=True, slots=True)
class Vehicle:
    evse_id: str
    energy: float  # kWh still needed
    maximum: float  # amperes per phase the EV takes
    arrival: int = 0  # first slot it is plugged in (slot index)
    departure: int | None = None  # first slot it is gone; None: stays to the end of the horizon
    minimum: float = 0.0  # amperes per phase below which it does not charge; 0: any current
    phases: tuple[int, ...] | None = None  # site phases it draws on, if fewer than the EVSE's (site.Demand)


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

    @property
    def slots(self) -> int:
        return len(self.prices)


@dataclass(frozen=True, slots=True)
class VehiclePlan:
    evse_id: str
    currents: tuple[float, ...]  # amperes per phase, per slot
    energy: float  # kWh planned
    unmet: float  # kWh it will miss

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


def plan(site: Site, vehicles: Sequence[Vehicle], horizon: Horizon) -> Plan:
    slots = horizon.slots
    if slots == 0 or horizon.slot_seconds <= 0:
        raise ValueError("the horizon needs slots of a positive length")
    if not 0 < horizon.first_fraction <= 1:
        raise ValueError("first_fraction is in (0, 1]")
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
    for vehicle in vehicles:
        if vehicle.evse_id not in site.evses:
            raise ValueError(f"unknown EVSE {vehicle.evse_id}")
        if vehicle.energy < 0 or vehicle.maximum < 0:
            raise ValueError(f"EVSE {vehicle.evse_id}: energy and maximum must not be negative")
        if vehicle.phases is not None and (
            not vehicle.phases or not set(vehicle.phases) <= set(site.evses[vehicle.evse_id].phases)
        ):
            raise ValueError(f"EVSE {vehicle.evse_id}: the EV's phases must be some of the EVSE's")
    phases = [site.evses[v.evse_id].phases if v.phases is None else v.phases for v in vehicles]
    if len({vehicle.evse_id for vehicle in vehicles}) != len(vehicles):
        raise ValueError("one vehicle per EVSE")

    n = len(vehicles)

    # Columns: x[i, t] (A per phase) for i < n, t < slots; then unmet[i]; then import[t]; then export[t].
    def x(i: int, t: int) -> int:
        return i * slots + t

    unmet0 = n * slots
    import0 = unmet0 + n
    export0 = import0 + slots
    columns = export0 + slots
    lower = np.zeros(columns)
    upper = np.full(columns, highspy.kHighsInf)
    cost = np.zeros(columns)
    semi: list[int] = []  # columns that are 0 or at least the vehicle's minimum
    kwh_per_amp: list[float] = []  # kWh one ampere per phase delivers in one slot, per vehicle
    for i, vehicle in enumerate(vehicles):
        evse = site.evses[vehicle.evse_id]
        kwh_per_amp.append(VOLTAGE * len(phases[i]) * hours / 1000)
        departure = slots if vehicle.departure is None else min(slots, vehicle.departure)
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
    for t in range(slots):
        cost[import0 + t] = prices[t] * hours * weight[t] / 1000  # per watt over the slot
        cost[export0 + t] = -feed_in[t] * hours * weight[t] / 1000

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

    # Energy: delivered + unmet >= needed, delivered <= needed.
    for i, vehicle in enumerate(vehicles):
        delivered = [(x(i, t), kwh_per_amp[i] * weight[t]) for t in range(slots)]
        row([*delivered, (unmet0 + i, 1.0)], vehicle.energy, highspy.kHighsInf)
        row(delivered, -highspy.kHighsInf, vehicle.energy)
    # Circuits per phase and slot (the root's capacity is set per slot below).
    capacity = capacity_of(site)
    below: dict[str, list[int]] = {circuit_id: [] for circuit_id in site.circuits}
    by_evse = {vehicle.evse_id: i for i, vehicle in enumerate(vehicles)}
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
            for t in range(slots):
                entries = [(x(i, t), 1.0) for i in on_phase]
                if circuit_id == root:
                    limit = min(root_limit[phase], grid[t])
                    other = (site_load[t] - solar[t]) / (PHASES * VOLTAGE)
                    row(entries, -highspy.kHighsInf, max(0.0, limit - other))  # over already: EVs off
                else:
                    row(entries, -highspy.kHighsInf, capacity[circuit_id, phase])
    # Grid balance in watts: import - export = site load - solar + EV power.
    for t in range(slots):
        ev_power = [(x(i, t), -VOLTAGE * len(phases[i])) for i in range(n)]
        balance = site_load[t] - solar[t]
        row([(import0 + t, 1.0), (export0 + t, -1.0), *ev_power], balance, balance)

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
    model_status = highs.getModelStatus()
    status = highs.modelStatusToString(model_status)
    found = highs.getInfo().primal_solution_status == 2  # kSolutionStatusFeasible
    if model_status != highspy.HighsModelStatus.kOptimal and not (
        model_status == highspy.HighsModelStatus.kTimeLimit and found
    ):
        raise RuntimeError(f"the site plan has no solution: {status}")
    solution = list(highs.getSolution().col_value)
    result: list[VehiclePlan] = []
    for i, vehicle in enumerate(vehicles):
        currents = tuple(max(0.0, solution[x(i, t)]) for t in range(slots))
        result.append(
            VehiclePlan(
                evse_id=vehicle.evse_id,
                currents=currents,
                energy=sum(c * w for c, w in zip(currents, weight, strict=True)) * kwh_per_amp[i],
                unmet=max(0.0, solution[unmet0 + i]),
            )
        )
    energy_cost = sum(
        (prices[t] * solution[import0 + t] - feed_in[t] * solution[export0 + t]) * hours * weight[t] / 1000
        for t in range(slots)
    )
    return Plan(vehicles=tuple(result), cost=energy_cost, status=status)
