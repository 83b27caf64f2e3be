"""Site energy management, live part: share a site's grid connection among the EVs charging there.

A site is a tree of circuits: the grid connection at the root, feeders below it, the EVSEs at the leaves;
every node has a current limit per phase (amperes). Each EVSE draws on some of the site's three phases (a
single-phase EV on an EVSE wired to L2 draws on phase 1 only; the EVSE's phase rotation is part of its
wiring). The allocation gives each EV one current per phase in use, so that no node of the tree carries more
than its limit on any phase, and:

- an EVSE whose station is unreachable keeps charging at the fallback limit it was configured with (2.0.1
  K01 TxDefaultProfile / offline behaviour): the allocator counts it at that fallback, never above;
- minimum charging rates (2.0.1 ``minChargingRate``): an EV gets either at least its minimum or nothing; when
  the minimums do not all fit, the higher priorities are admitted first (then the order of the input);
- priority groups: the highest priority is filled first, the next one gets what is left;
- within a priority, the share is max-min fair (progressive filling, "water-filling"): every EV rises at the
  same pace until it reaches its maximum (what the EV takes: an EV that takes less gives the rest back to
  the others) or a node it hangs below is full;
- the grid limit can change at any time (a dynamic limit from the grid operator, 2.1 Q: external
  constraints): it is an input of each allocation, on top of the connection's own limit.

Pure: no clock, no I/O. The CSMS turns the result into TxProfiles (2.0.1 K01) of the running transactions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PHASES = 3
VOLTAGE = 230.0  # phase to neutral
EPSILON = 1e-9  # amperes: below this a difference is rounding


def per_phase(limit: float | Sequence[float]) -> tuple[float, float, float]:
    """A limit for all three phases from one number (the same on each) or three."""
    if isinstance(limit, int | float):
        return (float(limit), float(limit), float(limit))
    values = tuple(float(value) for value in limit)
    if len(values) != PHASES:
        raise ValueError(f"a per-phase limit has {PHASES} values, not {len(values)}")
    return (values[0], values[1], values[2])


@dataclass(frozen=True, slots=True)
class Evse:
    """A leaf of the tree. ``phases``: the site phases (0, 1, 2) the EVSE draws on, in its wiring order.
    ``fallback``: the current per phase the station applies on its own when the CSMS cannot reach it."""

    id: str
    limit: float  # amperes per phase: the EVSE's own maximum (cable, contactor)
    phases: tuple[int, ...] = (0, 1, 2)
    fallback: float = 0.0

    def __post_init__(self) -> None:
        if not self.phases or len(set(self.phases)) != len(self.phases):
            raise ValueError(f"EVSE {self.id}: phases must be distinct and not empty")
        if any(phase not in range(PHASES) for phase in self.phases):
            raise ValueError(f"EVSE {self.id}: a phase is 0, 1 or 2")
        if self.limit < 0 or not 0 <= self.fallback <= self.limit:
            raise ValueError(f"EVSE {self.id}: need 0 <= fallback <= limit")


@dataclass(frozen=True, slots=True)
class Circuit:
    """An inner node (the grid connection, a feeder, a sub-distribution board) with its limit per phase."""

    id: str
    limit: tuple[float, float, float]
    children: tuple[Circuit | Evse, ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    root: Circuit
    # Derived: each node's EVSEs, each EVSE's path (root first). Filled in __post_init__.
    evses: Mapping[str, Evse] = field(init=False, repr=False, compare=False)
    circuits: Mapping[str, Circuit] = field(init=False, repr=False, compare=False)
    paths: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        evses: dict[str, Evse] = {}
        circuits: dict[str, Circuit] = {}
        paths: dict[str, tuple[str, ...]] = {}

        def walk(node: Circuit, above: tuple[str, ...]) -> None:
            if node.id in circuits or node.id in evses:
                raise ValueError(f"node id {node.id} is used twice")
            circuits[node.id] = node
            path = (*above, node.id)
            for child in node.children:
                if isinstance(child, Circuit):
                    walk(child, path)
                else:
                    if child.id in evses or child.id in circuits:
                        raise ValueError(f"node id {child.id} is used twice")
                    evses[child.id] = child
                    paths[child.id] = path

        walk(self.root, ())
        object.__setattr__(self, "evses", evses)
        object.__setattr__(self, "circuits", circuits)
        object.__setattr__(self, "paths", paths)
        # Safe fallback: all EVSEs at their fallback at once must fit every circuit, or losing the
        # connection to the stations could overload the site.
        for circuit_id, load in self.fallback_load().items():
            limit = circuits[circuit_id].limit
            if any(load[phase] > limit[phase] + EPSILON for phase in range(PHASES)):
                raise ValueError(f"the fallback limits of the EVSEs below {circuit_id} exceed its limit")

    def fallback_load(self) -> dict[str, list[float]]:
        """Per circuit and phase: the current with every EVSE at its fallback."""
        load = {circuit_id: [0.0] * PHASES for circuit_id in self.circuits}
        for evse_id, evse in self.evses.items():
            for circuit_id in self.paths[evse_id]:
                for phase in evse.phases:
                    load[circuit_id][phase] += evse.fallback
        return load


@dataclass(frozen=True, slots=True)
class Demand:
    """An EV plugged in at an EVSE. ``maximum``: what the EV takes per phase (its onboard charger, or what
    it was seen to draw); ``minimum``: below this it cannot charge (``minChargingRate``)."""

    evse_id: str
    maximum: float
    minimum: float = 0.0
    priority: int = 0  # higher first
    reachable: bool = True  # False: the station is offline, it runs on its fallback
    # The site phases the EV draws on, when known to be fewer than the EVSE's (a single-phase EV on a
    # three-phase EVSE: the first phase of the EVSE's wiring, seen in its meter values). None: the EVSE's.
    phases: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    currents: Mapping[str, float]  # per EVSE with a demand: amperes per phase it draws on
    paused: frozenset[str]  # EVSEs whose minimum did not fit: 0 A (a TxProfile of 0 suspends them)
    load: Mapping[str, tuple[float, float, float]]  # per circuit: the current per phase it then carries
    phases: Mapping[str, tuple[int, ...]]  # per EVSE with a demand: the site phases it was counted on

    def power(self, evse_id: str, voltage: float = VOLTAGE) -> float:
        """Watts at the EVSE: amperes per phase times the phases in use times the voltage."""
        return self.currents[evse_id] * len(self.phases[evse_id]) * voltage


def _capacities(
    site: Site,
    grid_limit: float | Sequence[float] | None,
    base_load: float | Sequence[float],
) -> dict[tuple[str, int], float]:
    capacity: dict[tuple[str, int], float] = {}
    for circuit_id, circuit in site.circuits.items():
        for phase in range(PHASES):
            capacity[circuit_id, phase] = circuit.limit[phase]
    root = site.root.id
    dynamic = per_phase(grid_limit) if grid_limit is not None else site.root.limit
    other = per_phase(base_load)
    for phase in range(PHASES):
        capacity[root, phase] = min(capacity[root, phase], dynamic[phase]) - other[phase]
    return capacity


def _level(bounds: Sequence[tuple[float, float]], room: float, floor: float) -> float:
    """The highest water level t >= floor at which sum(clamp(t, low, high)) <= room (the caller ensures
    it holds at ``floor``). The sum is piecewise linear and non-decreasing in t, bent at each low and high."""
    points = sorted({floor, *(low for low, _ in bounds), *(high for _, high in bounds)})
    points = [point for point in points if point >= floor]

    def total(level: float) -> float:
        return sum(min(high, max(low, level)) for low, high in bounds)

    previous = floor
    for point in points:
        if total(point) > room + EPSILON:
            # Linear between previous and point: the slope is the number of EVs strictly between bounds.
            slope = sum(1 for low, high in bounds if low <= previous < high)
            if slope == 0:
                return previous
            return previous + (room - total(previous)) / slope
        previous = point
    return float("inf")  # every EV reaches its maximum


def allocate(
    site: Site,
    demands: Sequence[Demand],
    grid_limit: float | Sequence[float] | None = None,
    base_load: float | Sequence[float] = 0.0,
) -> Allocation:
    """Share the site among ``demands`` (at most one per EVSE). ``grid_limit``: the dynamic limit of the
    grid connection per phase (one number: the same on each phase), on top of the root's own limit;
    ``base_load``: what the rest of the site draws per phase through the connection."""
    seen: set[str] = set()
    for demand in demands:
        if demand.evse_id not in site.evses:
            raise ValueError(f"unknown EVSE {demand.evse_id}")
        if demand.evse_id in seen:
            raise ValueError(f"two demands for EVSE {demand.evse_id}")
        if not 0 <= demand.minimum <= demand.maximum:
            raise ValueError(f"EVSE {demand.evse_id}: need 0 <= minimum <= maximum")
        if demand.phases is not None and (
            not demand.phases or not set(demand.phases) <= set(site.evses[demand.evse_id].phases)
        ):
            raise ValueError(f"EVSE {demand.evse_id}: the EV's phases must be some of the EVSE's")
        seen.add(demand.evse_id)

    capacity = _capacities(site, grid_limit, base_load)
    # Constraints each EVSE takes part in: (circuit, phase) pairs on its path.
    # An unreachable station is counted on all its EVSE's phases: what its EV draws is not known now.
    phases = {
        d.evse_id: site.evses[d.evse_id].phases if d.phases is None or not d.reachable else d.phases
        for d in demands
    }
    rows = {
        evse_id: [(circuit_id, phase) for circuit_id in site.paths[evse_id] for phase in in_use]
        for evse_id, in_use in phases.items()
    }
    used = dict.fromkeys(capacity, 0.0)
    currents: dict[str, float] = {}

    def take(evse_id: str, amperes: float) -> None:
        for row in rows[evse_id]:
            used[row] += amperes

    # Unreachable stations run on their fallback: counted at it, whatever they would take.
    live: list[Demand] = []
    for demand in demands:
        if demand.reachable:
            live.append(demand)
        else:
            currents[demand.evse_id] = site.evses[demand.evse_id].fallback
            take(demand.evse_id, currents[demand.evse_id])

    # EV limits: the smaller of what the EV takes and what the EVSE allows.
    ceiling = {d.evse_id: min(d.maximum, site.evses[d.evse_id].limit) for d in live}
    # Minimums: admitted by priority (stable: input order within one), each only if it fits everywhere.
    order = sorted(live, key=lambda d: -d.priority)
    paused: set[str] = set()
    for demand in order:
        floor = demand.minimum
        if floor > ceiling[demand.evse_id] + EPSILON or any(
            used[row] + floor > capacity[row] + EPSILON for row in rows[demand.evse_id]
        ):
            paused.add(demand.evse_id)
            currents[demand.evse_id] = 0.0
        else:
            currents[demand.evse_id] = floor
            take(demand.evse_id, floor)

    # Progressive filling, one priority group after the other.
    for priority in sorted({d.priority for d in live}, reverse=True):
        active = {
            d.evse_id: (d.minimum, ceiling[d.evse_id])
            for d in live
            if d.priority == priority and d.evse_id not in paused
        }
        for evse_id in active:  # the group's minimums are re-added as the water rises
            take(evse_id, -currents[evse_id])
        level = 0.0
        while active:
            # The highest level each constraint allows, for the active EVs on it.
            best = float("inf")
            members: dict[tuple[str, int], list[str]] = {}
            for evse_id in active:
                for row in rows[evse_id]:
                    members.setdefault(row, []).append(evse_id)
            for row, evse_ids in members.items():
                room = capacity[row] - used[row]
                best = min(best, _level([active[e] for e in evse_ids], room, level))
            level = best
            if level == float("inf"):
                for evse_id, (_, high) in active.items():
                    currents[evse_id] = float(high)
                    take(evse_id, high)
                break
            # Freeze the EVs at their maximum and those on a constraint that is now full.
            frozen: set[str] = {e for e, (_, high) in active.items() if high <= level + EPSILON}
            for row, evse_ids in members.items():
                room = capacity[row] - used[row]
                if sum(min(active[e][1], max(active[e][0], level)) for e in evse_ids) >= room - 1e-7:
                    frozen.update(evse_ids)
            if not frozen:  # rounding: nothing detected as full although the level stopped rising
                frozen = set(active)
            for evse_id in frozen:
                low, high = active.pop(evse_id)
                currents[evse_id] = min(high, max(low, level))
                take(evse_id, currents[evse_id])

    load = {
        circuit_id: (used[circuit_id, 0], used[circuit_id, 1], used[circuit_id, 2])
        for circuit_id in site.circuits
    }
    return Allocation(currents=currents, paused=frozenset(paused), load=load, phases=phases)


def capacity_of(
    site: Site, grid_limit: float | Sequence[float] | None = None, base_load: float | Sequence[float] = 0.0
) -> dict[tuple[str, int], float]:
    """What each circuit may carry per phase for the EVs: its limit, at the root also the dynamic grid limit
    minus the rest of the site's load."""
    return _capacities(site, grid_limit, base_load)
