"""The live site allocator: worked examples, then properties over random trees and demands (hypothesis):
no circuit exceeded on any phase, no EV above its maximum, minimums honoured when they fit, max-min fair
within a priority, monotone in the grid limit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chargeplane.smart_charging.site import (
    PHASES,
    Allocation,
    Circuit,
    Demand,
    Evse,
    Site,
    allocate,
    capacity_of,
    per_phase,
)

TOLERANCE = 1e-6


def two_feeders() -> Site:
    return Site(
        Circuit(
            "grid",
            per_phase(100),
            (
                Circuit("f1", per_phase(40), (Evse("a", 32), Evse("b", 32), Evse("c", 32))),
                Circuit("f2", per_phase(63), (Evse("d", 32), Evse("e", 32, fallback=6))),
            ),
        )
    )


def test_fair_share_under_a_feeder() -> None:
    allocation = allocate(two_feeders(), [Demand("a", 32), Demand("b", 32), Demand("c", 32)])
    assert allocation.currents == pytest.approx({"a": 40 / 3, "b": 40 / 3, "c": 40 / 3})
    assert allocation.load["f1"] == pytest.approx((40, 40, 40))


def test_an_ev_that_takes_less_gives_the_rest_back() -> None:
    allocation = allocate(two_feeders(), [Demand("a", 6), Demand("b", 32), Demand("c", 32)])
    assert allocation.currents == pytest.approx({"a": 6, "b": 17, "c": 17})


def test_grid_limit_shared_across_feeders_and_evse_limit_caps() -> None:
    allocation = allocate(
        two_feeders(), [Demand(e, 32) for e in "abcde"], grid_limit=60
    )  # 60 A: 12 each; f1 allows 13.3
    assert allocation.currents == pytest.approx(dict.fromkeys("abcde", 12.0))
    allocation = allocate(two_feeders(), [Demand("d", 80)])
    assert allocation.currents == {"d": 32.0}  # the EVSE's own limit


def test_higher_priority_served_first() -> None:
    allocation = allocate(
        two_feeders(), [Demand("a", 32, priority=1), Demand("b", 32), Demand("c", 32)], grid_limit=100
    )
    assert allocation.currents == pytest.approx({"a": 32, "b": 4, "c": 4})


def test_minimums_reserved_before_higher_priorities_fill() -> None:
    allocation = allocate(two_feeders(), [Demand("a", 32, priority=1), Demand("b", 32, minimum=6)])
    assert allocation.currents == pytest.approx({"a": 32, "b": 8})
    allocation = allocate(
        two_feeders(), [Demand("a", 32, minimum=10), Demand("b", 32, minimum=10)], grid_limit=15
    )
    assert allocation.currents == pytest.approx({"a": 15, "b": 0})  # b's minimum does not fit: paused
    assert allocation.paused == {"b"}
    # Only one minimum fits: the higher priority is admitted, even when it comes later in the input.
    allocation = allocate(
        two_feeders(), [Demand("a", 32, minimum=10), Demand("b", 32, minimum=10, priority=2)], grid_limit=15
    )
    assert allocation.currents == pytest.approx({"a": 0, "b": 15})


def test_phases_single_phase_evs_on_different_phases_do_not_compete() -> None:
    site = Site(
        Circuit(
            "grid",
            (32, 32, 20),
            (Evse("l1", 32, (0,)), Evse("l2", 32, (1,)), Evse("l3", 32, (2,)), Evse("tri", 32)),
        )
    )
    allocation = allocate(site, [Demand("l1", 32), Demand("l2", 32), Demand("l3", 32), Demand("tri", 32)])
    # L3 (20 A) is the bottleneck of l3 and tri: 10 each; on L1 and L2, l1 and l2 take the rest, 22.
    assert allocation.currents == pytest.approx({"l1": 22, "l2": 22, "l3": 10, "tri": 10})
    assert allocation.power("tri") == pytest.approx(10 * 3 * 230)
    assert allocation.power("l1") == pytest.approx(22 * 230)


def test_single_phase_ev_on_a_three_phase_evse_counts_on_its_phase_only() -> None:
    site = Site(Circuit("grid", (32, 32, 20), (Evse("l3", 32, (2,)), Evse("tri", 32, (2, 0, 1), fallback=4))))
    # An EV on "tri" that draws on the EVSE's first phase only (site L3): it shares L3 with "l3".
    allocation = allocate(site, [Demand("l3", 32), Demand("tri", 32, phases=(2,))])
    assert allocation.currents == pytest.approx({"l3": 10, "tri": 10})
    assert allocation.load["grid"] == pytest.approx((0, 0, 20))
    assert allocation.power("tri") == pytest.approx(10 * 230)
    # Counted on L1 only, it does not compete with "l3" at all.
    allocation = allocate(site, [Demand("l3", 32), Demand("tri", 32, phases=(0,))])
    assert allocation.currents == pytest.approx({"l3": 20, "tri": 32})
    # Offline: counted on all the EVSE's phases at its fallback, whatever the EV was seen to draw on.
    allocation = allocate(site, [Demand("l3", 32), Demand("tri", 32, phases=(0,), reachable=False)])
    assert allocation.currents == pytest.approx({"l3": 16, "tri": 4})
    assert allocation.load["grid"] == pytest.approx((4, 4, 20))
    with pytest.raises(ValueError, match="some of the EVSE's"):
        allocate(site, [Demand("l3", 32, phases=(0,))])


def test_unreachable_station_counted_at_its_fallback() -> None:
    allocation = allocate(two_feeders(), [Demand("e", 32, reachable=False), Demand("d", 80)], grid_limit=30)
    assert allocation.currents == pytest.approx({"e": 6, "d": 24})


def test_base_load_and_dynamic_grid_limit_reduce_the_root() -> None:
    allocation = allocate(two_feeders(), [Demand("d", 32)], grid_limit=(50, 40, 60), base_load=(10, 20, 10))
    assert allocation.currents == pytest.approx({"d": 20})
    assert capacity_of(two_feeders(), 50, 10)["grid", 0] == 40


def test_grid_below_the_fallbacks_pauses_every_live_ev() -> None:
    allocation = allocate(two_feeders(), [Demand("e", 32, reachable=False), Demand("a", 32)], grid_limit=4)
    assert allocation.currents == {"e": 6.0, "a": 0.0}
    assert allocation.paused == {"a"}


def test_rejects_bad_sites_and_demands() -> None:
    with pytest.raises(ValueError, match="fallback"):
        Site(Circuit("grid", per_phase(10), (Evse("a", 32, fallback=6), Evse("b", 32, fallback=6))))
    with pytest.raises(ValueError, match="twice"):
        Site(Circuit("grid", per_phase(10), (Evse("a", 32), Evse("a", 32))))
    with pytest.raises(ValueError, match="phase"):
        Evse("a", 32, (3,))
    with pytest.raises(ValueError, match="3 values"):
        per_phase((1, 2))
    with pytest.raises(ValueError, match="unknown"):
        allocate(two_feeders(), [Demand("z", 32)])
    with pytest.raises(ValueError, match="two demands"):
        allocate(two_feeders(), [Demand("a", 32), Demand("a", 16)])
    with pytest.raises(ValueError, match="minimum"):
        allocate(two_feeders(), [Demand("a", 6, minimum=10)])


# --- properties -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    site: Site
    demands: list[Demand]
    grid: tuple[float, float, float]


PHASE_SETS = st.sampled_from([(0, 1, 2), (0,), (1,), (2,), (1, 2, 0)])
LIMITS = st.floats(0, 80, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def cases(draw: st.DrawFn, uniform_phases: bool = False, one_priority: bool = False) -> Case:
    counter = iter(range(1000))

    def evse() -> Evse:
        phases = (0, 1, 2) if uniform_phases else draw(PHASE_SETS)
        limit = draw(LIMITS)
        fallback = min(limit, draw(st.sampled_from([0.0, 0.0, 2.0])))
        return Evse(f"e{next(counter)}", limit, phases, fallback=fallback)

    feeders = tuple(
        Circuit(
            f"f{index}",
            (draw(LIMITS), draw(LIMITS), draw(LIMITS)),
            tuple(evse() for _ in range(draw(st.integers(1, 4)))),
        )
        for index in range(draw(st.integers(0, 3)))
    )
    direct = tuple(evse() for _ in range(draw(st.integers(0 if feeders else 1, 3))))
    root_limit = (draw(LIMITS) + 100, draw(LIMITS) + 100, draw(LIMITS) + 100)
    root = Circuit("grid", root_limit, (*feeders, *direct))
    # Fallbacks larger than a feeder make the site invalid (tested above): drop them.
    try:
        site = Site(root)
    except ValueError:
        assume(False)
        raise
    demands: list[Demand] = []
    for evse_id in site.evses:
        if draw(st.booleans()) or not demands:
            maximum = draw(LIMITS)
            demands.append(
                Demand(
                    evse_id,
                    maximum,
                    minimum=draw(st.sampled_from([0.0, min(maximum, 6.0), min(maximum, 10.0)])),
                    priority=0 if one_priority else draw(st.integers(0, 2)),
                    reachable=draw(st.integers(0, 9)) > 0,
                    phases=None
                    if uniform_phases
                    else draw(st.sampled_from([None, None, site.evses[evse_id].phases[:1]])),
                )
            )
    fallback_at_root = site.fallback_load()["grid"]
    grid = tuple(draw(st.floats(fallback_at_root[p], 300, allow_nan=False)) for p in range(PHASES))
    return Case(site, demands, (grid[0], grid[1], grid[2]))


def ev_phases(site: Site, demand: Demand) -> tuple[int, ...]:
    evse_phases = site.evses[demand.evse_id].phases
    return evse_phases if demand.phases is None or not demand.reachable else demand.phases


def loads(site: Site, demands: list[Demand], allocation: Allocation) -> dict[tuple[str, int], float]:
    """Recomputed from the currents, independently of the allocator's own bookkeeping."""
    load = {(circuit_id, phase): 0.0 for circuit_id in site.circuits for phase in range(PHASES)}
    by_id = {demand.evse_id: demand for demand in demands}
    for evse_id, current in allocation.currents.items():
        for circuit_id in site.paths[evse_id]:
            for phase in ev_phases(site, by_id[evse_id]):
                load[circuit_id, phase] += current
    return load


def minimums_fit(case: Case) -> bool:
    capacity = capacity_of(case.site, case.grid)
    need = dict.fromkeys(capacity, 0.0)
    for demand in case.demands:
        evse = case.site.evses[demand.evse_id]
        amount = demand.minimum if demand.reachable else evse.fallback
        if demand.reachable and demand.minimum > min(demand.maximum, evse.limit):
            return False
        for circuit_id in case.site.paths[demand.evse_id]:
            for phase in ev_phases(case.site, demand):
                need[circuit_id, phase] += amount
    return all(need[row] <= capacity[row] for row in capacity)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_property_no_circuit_exceeded_no_ev_above_its_maximum(case: Case) -> None:
    allocation = allocate(case.site, case.demands, case.grid)
    capacity = capacity_of(case.site, case.grid)
    for row, load in loads(case.site, case.demands, allocation).items():
        assert load <= capacity[row] + TOLERANCE, row
    for demand in case.demands:
        current = allocation.currents[demand.evse_id]
        evse = case.site.evses[demand.evse_id]
        if not demand.reachable:
            assert current == evse.fallback  # counted at the fallback, never above
        else:
            assert 0 <= current <= min(demand.maximum, evse.limit) + TOLERANCE
            assert current == 0 or current >= demand.minimum - TOLERANCE  # nothing or at least the minimum


@settings(max_examples=300, deadline=None)
@given(cases())
def test_property_minimums_honoured_when_feasible(case: Case) -> None:
    allocation = allocate(case.site, case.demands, case.grid)
    if minimums_fit(case):
        assert not allocation.paused
        for demand in case.demands:
            if demand.reachable:
                assert allocation.currents[demand.evse_id] >= demand.minimum - TOLERANCE


@settings(max_examples=300, deadline=None)
@given(cases())
def test_property_max_min_fair_within_a_priority(case: Case) -> None:
    """Each live EV below its maximum has a bottleneck: a full circuit phase on which no EV of its priority
    gets more (except one held up by its own minimum) and every lower priority is at its minimum."""
    allocation = allocate(case.site, case.demands, case.grid)
    capacity = capacity_of(case.site, case.grid)
    load = loads(case.site, case.demands, allocation)
    by_id = {d.evse_id: d for d in case.demands}
    live = [d for d in case.demands if d.reachable and d.evse_id not in allocation.paused]
    for demand in live:
        x = allocation.currents[demand.evse_id]
        evse = case.site.evses[demand.evse_id]
        if x >= min(demand.maximum, evse.limit) - TOLERANCE:
            continue
        rows = [(c, p) for c in case.site.paths[demand.evse_id] for p in ev_phases(case.site, demand)]

        def bottleneck(row: tuple[str, int], x: float = x, demand: Demand = demand) -> bool:
            if load[row] < capacity[row] - 1e-5:
                return False
            circuit_id, phase = row
            for other_id in case.site.evses:
                other = by_id.get(other_id)
                if other is None or not other.reachable or other_id in allocation.paused:
                    continue
                if circuit_id not in case.site.paths[other_id] or phase not in ev_phases(case.site, other):
                    continue
                y = allocation.currents[other_id]
                if y <= other.minimum + TOLERANCE:
                    continue
                if other.priority == demand.priority and y > x + 1e-5:
                    return False
                if other.priority < demand.priority:
                    return False
            return True

        assert any(bottleneck(row) for row in rows), demand


@settings(max_examples=200, deadline=None)
@given(cases(uniform_phases=True), st.floats(0, 100, allow_nan=False))
def test_property_monotone_in_the_grid_limit(case: Case, extra: float) -> None:
    """Raising the grid limit never lowers the total; with one priority (and the minimums fitting) it lowers
    no EV either. (Not per EV across priorities: a higher priority may take a feeder's room from a lower; nor
    with EVs on different phases: a three-phase EV the higher limit lets in shares a single-phase EV's
    phase.)"""
    assume(minimums_fit(case))
    lower = allocate(case.site, case.demands, case.grid)
    higher = allocate(case.site, case.demands, tuple(g + extra for g in case.grid))
    assert sum(higher.currents.values()) >= sum(lower.currents.values()) - 1e-5
    if len({d.priority for d in case.demands}) == 1:
        for evse_id, current in lower.currents.items():
            assert higher.currents[evse_id] >= current - 1e-5, evse_id


@settings(max_examples=200, deadline=None)
@given(cases(uniform_phases=True, one_priority=True), st.floats(0, 100, allow_nan=False))
def test_property_monotone_per_ev_with_one_priority(case: Case, extra: float) -> None:
    assume(minimums_fit(case))
    lower = allocate(case.site, case.demands, case.grid)
    higher = allocate(case.site, case.demands, tuple(g + extra for g in case.grid))
    for evse_id, current in lower.currents.items():
        assert higher.currents[evse_id] >= current - 1e-5, evse_id
