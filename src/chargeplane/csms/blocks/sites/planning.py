"""Planning of a live site from its price curve (issue #15 item 4): the sessions running now, their departure
times and energy needs, planned with :func:`chargeplane.smart_charging.planner.plan` (HiGHS) over the slots of
the curve that are still ahead.

The plan holds to the same tree the allocator does: every circuit's limit per phase, the grid operator's
dynamic limit at the connection, and an unreachable station counted at its fallback on every circuit above it
(it charges on its own at that current, whatever the plan says). A plan of every slot therefore fits the tree
as long as the sessions stay the ones it was made for; the sites service plans again when they change.

V2X (issue #16 item 4): a session with :class:`~chargeplane.csms.blocks.sites.v2x.V2xNeeds` may discharge
(within its battery's floor and capacity, its departure need met), the curve may carry a feed-in tariff and a
peak threshold, and a grid service window asks the site to export; the plan then holds per EVSE a discharge
per slot and its periods are the net current (negative: discharge).

Pure: no clock, no I/O (the caller gives ``now``); the solver runs in a thread of the caller's choosing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from chargeplane.csms.blocks.sites.v2x import GridServiceWindow, V2xNeeds
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.smart_charging.planner import Bidirectional, Horizon, Vehicle, plan
from chargeplane.smart_charging.site import VOLTAGE, Circuit, Evse, Site

MAX_SLOTS = 24 * 7  # a week of hourly prices
Watts = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
Price = Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]


class Tariff(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A site's price curve: ``prices[k]`` per kWh imported from ``start + k * slotSeconds``; optional
    forecasts per slot of the rest of the site's load and of its solar production (watts, balanced over the
    three phases)."""

    start: datetime
    prices: Annotated[list[Price], msgspec.Meta(min_length=1, max_length=MAX_SLOTS)]
    slot_seconds: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 3600
    base_load: list[Watts] | None = None
    solar: list[Watts] | None = None
    # per kWh exported (V2X arbitrage sells at it); None: exports earn nothing (nor cost, at negative prices)
    feed_in: list[Price] | None = None
    peak_threshold: Watts | None = None  # watts imported above which each kWh costs ``peak_penalty``
    peak_penalty: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 1.0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start needs a UTC offset")
        if self.feed_in is not None and any(f > p for f, p in zip(self.feed_in, self.prices, strict=False)):
            raise ValueError("feedIn must not be above the import price of its slot")
        for name, series in (("baseLoad", self.base_load), ("solar", self.solar), ("feedIn", self.feed_in)):
            if series is not None and len(series) != len(self.prices):
                raise ValueError(f"{name} needs one value per price ({len(self.prices)})")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.slot_seconds * len(self.prices))


@dataclass(frozen=True, slots=True)
class Session:
    """A running transaction to plan, at EVSE node ``node_id``."""

    node_id: str
    maximum: float  # amperes per phase the EV takes
    minimum: float  # amperes per phase below which it does not charge
    energy: float | None  # kWh it still needs; None: unknown, as much as it takes until it leaves
    departure: datetime | None  # None: stays to the end of the curve
    v2x: V2xNeeds | None = None  # may discharge (a 2.1 station's bidirectional EV); ``energy`` is then unused


@dataclass(frozen=True, slots=True)
class SitePlan:
    made_at: datetime
    start: datetime  # the start of the first slot (the one ``made_at`` falls in)
    slot_seconds: int
    currents: Mapping[str, tuple[float, ...]]  # per EVSE node: amperes per phase per slot
    energy: Mapping[str, float]  # per EVSE node: kWh planned from ``made_at``
    unmet: Mapping[str, float]  # per EVSE node: kWh it will miss
    cost: float  # of the energy the site imports over the plan (the whole site when forecasts are given)
    status: str  # the solver's
    discharge: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # per V2X node: A per phase
    stored: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # per V2X node: kWh per slot end
    initial: Mapping[str, float] = field(default_factory=dict)  # per V2X node: kWh when the plan was made

    def stored_at(self, node_id: str, at: datetime) -> float | None:
        """The kWh the plan expects in the node's battery at ``at`` (linear within a slot); None: not a V2X
        node of this plan."""
        series = self.stored.get(node_id)
        if series is None:
            return None
        step = timedelta(seconds=self.slot_seconds)
        index = min(len(series) - 1, max(0, (at - self.start) // step))
        begin = max(self.made_at, self.start + index * step)
        before = self.initial[node_id] if index == 0 else series[index - 1]
        end = self.start + (index + 1) * step
        share = min(1.0, max(0.0, (at - begin) / (end - begin))) if end > begin else 1.0
        return before + (series[index] - before) * share

    def net(self, node_id: str) -> tuple[float, ...]:
        """The node's current per phase per slot, discharge counted negative."""
        given = self.discharge.get(node_id)
        if given is None:
            return self.currents[node_id]
        return tuple(c - d for c, d in zip(self.currents[node_id], given, strict=True))

    def periods(
        self, node_id: str, now: datetime, until: datetime, most: int, raise_delay: float = 0.0
    ) -> tuple[list[tuple[datetime, float]], datetime]:
        """The node's plan from the slot ``now`` is in, as at most ``most`` periods (from, amperes) with
        equal neighbours merged, and when the last one ends (``until`` at the latest, the plan's end, or the
        start of the first period left out). Floored to one decimal, as the wire carries it, so that a
        period is never above the plan. A rise starts ``raise_delay`` seconds after its slot (at most half
        a slot): at a slot change the EVSEs that go down do so first, whatever the skew of the stations'
        clocks and meter ticks, so the tree is not overloaded in between."""
        delay = timedelta(seconds=min(raise_delay, self.slot_seconds / 2))
        found: list[tuple[datetime, float]] = []
        end = min(until, self.end)
        for index, current in enumerate(self.net(node_id)):
            at = self.start + timedelta(seconds=index * self.slot_seconds)
            if at + timedelta(seconds=self.slot_seconds) <= now:
                continue  # over already
            if at >= end:
                break
            limit = math.floor(current * 10 + 1e-6) / 10
            if not found or found[-1][1] != limit:
                if len(found) == most:
                    end = at
                    break
                found.append((at + delay if found and limit > found[-1][1] else at, limit))
        return found, end

    @property
    def end(self) -> datetime:
        slots = max((len(c) for c in self.currents.values()), default=0)
        return self.start + timedelta(seconds=slots * self.slot_seconds)


def planning_site(site: Site, unreachable: Mapping[str, float], grid_limit: Sequence[float] | None) -> Site:
    """The tree the plan must fit: each circuit's limit (the root's also within the grid limit) less the
    fallbacks of the unreachable EVSEs below it; fallbacks zeroed, the planner does not use them."""

    def build(circuit: Circuit, root: bool) -> Circuit:
        limit = list(circuit.limit)
        if root and grid_limit is not None:
            limit = [min(own, dynamic) for own, dynamic in zip(limit, grid_limit, strict=True)]
        children: list[Circuit | Evse] = []
        for child in circuit.children:
            if isinstance(child, Circuit):
                children.append(build(child, False))
            else:
                children.append(Evse(child.id, child.limit, child.phases, 0.0))
        for evse_id, fallback in unreachable.items():
            if circuit.id in site.paths[evse_id]:
                for phase in site.evses[evse_id].phases:
                    limit[phase] -= fallback
        low = [max(0.0, value) for value in limit]
        return Circuit(circuit.id, (low[0], low[1], low[2]), tuple(children))

    return Site(build(site.root, True))


def make_plan(
    site: Site,
    tariff: Tariff,
    sessions: Sequence[Session],
    unreachable: Mapping[str, float],
    grid_limit: Sequence[float] | None,
    now: datetime,
    time_limit: float,
    service: GridServiceWindow | None = None,
) -> SitePlan | None:
    """The plan of ``sessions`` from ``now`` to the end of the curve; None when the curve does not cover
    ``now`` (the allocator takes over). Raises RuntimeError when the solver finds no plan (``Infeasible``, a
    subclass, with the reason when the hard constraints cannot hold)."""
    if not tariff.start <= now < tariff.end:
        return None
    first = int((now - tariff.start).total_seconds() // tariff.slot_seconds)
    slot_start = tariff.start + timedelta(seconds=first * tariff.slot_seconds)
    ahead = 1.0 - (now - slot_start).total_seconds() / tariff.slot_seconds
    slots = len(tariff.prices) - first
    hours_in = [tariff.slot_seconds / 3600 * (ahead if t == 0 else 1.0) for t in range(slots)]
    vehicles: list[Vehicle] = []
    for session in sessions:
        evse = site.evses[session.node_id]
        departure = None
        if session.departure is not None:
            # The first slot it is gone: a slot it leaves during is not planned (the plan must not count
            # on energy the EV is not there to take).
            gone = (session.departure - slot_start).total_seconds() / tariff.slot_seconds
            departure = max(0, min(slots, math.floor(gone)))
        maximum = min(session.maximum, evse.limit)
        energy = session.energy
        bidirectional = None
        if session.v2x is not None:
            needs = session.v2x
            energy = needs.wanted
            if needs.max_charge is not None:
                maximum = min(maximum, needs.max_charge / (VOLTAGE * len(evse.phases)))
            bidirectional = Bidirectional(
                needs.max_discharge / (VOLTAGE * len(evse.phases)),
                needs.stored,
                needs.capacity,
                needs.floor,
                degradation=needs.degradation,
            )
        elif energy is None:  # as much as it takes while it is there
            stay = sum(hours_in[: slots if departure is None else departure])
            energy = maximum * len(evse.phases) * VOLTAGE * stay / 1000
        vehicles.append(
            Vehicle(
                session.node_id,
                max(0.0, energy),
                maximum,
                departure=departure,
                minimum=min(session.minimum, maximum),
                bidirectional=bidirectional,
            )
        )
    per_slot = slice(first, None)
    window = None if service is None else service.slots(slot_start, tariff.slot_seconds, slots)
    horizon = Horizon(
        slot_seconds=tariff.slot_seconds,
        prices=tariff.prices[per_slot],
        site_load=None if tariff.base_load is None else tariff.base_load[per_slot],
        solar=None if tariff.solar is None else tariff.solar[per_slot],
        feed_in=None if tariff.feed_in is None else tariff.feed_in[per_slot],
        time_limit=time_limit,
        first_fraction=max(ahead, 1e-6),
        peak_threshold=tariff.peak_threshold,
        peak_penalty=tariff.peak_penalty,
        services=[] if window is None else [window],
    )
    result = plan(planning_site(site, unreachable, grid_limit), vehicles, horizon)
    return SitePlan(
        made_at=now,
        start=slot_start,
        slot_seconds=tariff.slot_seconds,
        currents={v.evse_id: v.currents for v in result.vehicles},
        energy={v.evse_id: v.energy for v in result.vehicles},
        unmet={v.evse_id: v.unmet for v in result.vehicles},
        cost=result.cost,
        status=result.status,
        discharge={v.evse_id: v.discharge for v in result.vehicles if v.discharge},
        stored={v.evse_id: v.stored for v in result.vehicles if v.stored},
        initial={s.node_id: s.v2x.stored for s in sessions if s.v2x is not None},
    )


@dataclass(frozen=True, slots=True)
class Reported:
    """What an EV told through ISO 15118 (NotifyEVChargingNeeds, K15-K17): each part None when not said."""

    energy: float | None  # kWh requested (energyAmount), counted from the transaction's start
    departure: datetime | None
    maximum: float | None  # amperes per phase (AC evMaxCurrent)
    minimum: float | None  # amperes per phase (AC evMinCurrent)


def reported(request: Mapping[str, object]) -> Reported:
    """The needs in a stored NotifyEVChargingNeeds request (its wire form); a part it lacks or cannot be
    read is None."""
    needs = request.get("chargingNeeds")
    if not isinstance(needs, dict):
        return Reported(None, None, None, None)
    ac = needs.get("acChargingParameters")
    dc = needs.get("dcChargingParameters")
    params = ac if isinstance(ac, dict) else dc if isinstance(dc, dict) else {}

    def number(value: object) -> float | None:
        return float(value) if isinstance(value, int | float) and value >= 0 else None

    departure = None
    if isinstance(needs.get("departureTime"), str):
        try:
            departure = from_wire(str(needs["departureTime"]))
        except ValueError:
            departure = None
    energy = number(params.get("energyAmount"))
    return Reported(
        None if energy is None else energy / 1000,
        departure,
        number(params.get("evMaxCurrent")) if isinstance(ac, dict) else None,
        number(params.get("evMinCurrent")) if isinstance(ac, dict) else None,
    )
