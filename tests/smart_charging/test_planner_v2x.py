"""The site planner with bidirectional EVs (issue #16 item 4): small exact cases of arbitrage, the battery
balance with its efficiency, peak shaving under a hard connection limit and a soft threshold, grid services,
and the plans that cannot exist, reported with their reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargeplane.smart_charging.planner import (
    Bidirectional,
    GridService,
    Horizon,
    Infeasible,
    Vehicle,
    VehiclePlan,
    plan,
)
from chargeplane.smart_charging.site import PHASES, VOLTAGE, Circuit, Evse, Site, per_phase

HOUR = 3600
WATTS_PER_AMP = 3 * VOLTAGE  # a three-phase EV: 690 W per ampere per phase
KWH_16A = 16 * WATTS_PER_AMP / 1000  # 11.04 kWh in an hour at 16 A


def site(grid: float = 63) -> Site:
    return Site(Circuit("grid", per_phase(grid), (Evse("a", 32), Evse("b", 32))))


def v2x(
    stored: float = 20.0, floor: float = 10.0, efficiency: float = 1.0, degradation: float = 0.05
) -> Bidirectional:
    return Bidirectional(16.0, stored, 60.0, floor, efficiency, degradation)


def only(vehicles: tuple[VehiclePlan, ...]) -> VehiclePlan:
    (vehicle,) = vehicles
    return vehicle


def test_arbitrage_charges_cheap_and_discharges_into_the_dear_base_load() -> None:
    # The base load of the dear hour is 16 A: the EV charges it in the cheap hour and gives it back, its
    # battery where it was at departure (needs 0 kWh more).
    horizon = Horizon(HOUR, [0.10, 0.50], site_load=[0.0, KWH_16A * 1000])
    result = plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon)
    vehicle = only(result.vehicles)
    assert vehicle.currents == pytest.approx((16.0, 0.0))
    assert vehicle.discharge == pytest.approx((0.0, 16.0))
    assert vehicle.net == pytest.approx((16.0, -16.0))
    assert vehicle.stored == pytest.approx((20.0 + KWH_16A, 20.0))
    assert result.cost == pytest.approx(0.10 * KWH_16A)  # nothing imported in the dear hour


def test_no_discharge_when_the_spread_does_not_pay_the_degradation() -> None:
    horizon = Horizon(HOUR, [0.10, 0.14], site_load=[0.0, KWH_16A * 1000])
    vehicle = only(plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon).vehicles)
    assert vehicle.discharge == pytest.approx((0.0, 0.0))
    assert vehicle.currents == pytest.approx((0.0, 0.0))


def test_the_battery_balance_counts_the_efficiency_both_ways() -> None:
    # 0.9 each way: 16 A for an hour stores 9.936 kWh; the departure needs 9 kWh more than now.
    horizon = Horizon(HOUR, [0.10, 0.50])
    vehicle = only(plan(site(), [Vehicle("a", 9.0, 16, bidirectional=v2x(efficiency=0.9))], horizon).vehicles)
    assert vehicle.currents[0] == pytest.approx(9.0 / 0.9 / WATTS_PER_AMP * 1000)
    assert vehicle.stored[-1] == pytest.approx(29.0)
    assert vehicle.unmet == pytest.approx(0.0)


def test_peak_shaving_keeps_the_connection_within_its_limit_with_the_base_load() -> None:
    # 20 A at the connection, 32 A of base load in the second hour: the EV gives 12 A then, recharges later.
    base = [0.0, 32 * WATTS_PER_AMP, 0.0]
    horizon = Horizon(HOUR, [0.20, 0.20, 0.20], site_load=base)
    vehicle = only(plan(site(grid=20), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon).vehicles)
    assert vehicle.discharge[1] == pytest.approx(12.0)
    for t in range(3):
        assert base[t] / WATTS_PER_AMP + vehicle.net[t] <= 20 + 1e-6
    assert vehicle.stored[-1] == pytest.approx(20.0)  # its departure energy is met


def test_a_soft_peak_threshold_is_shaved_when_its_penalty_outweighs_the_degradation() -> None:
    horizon = Horizon(HOUR, [0.20, 0.20], site_load=[0.0, 8000.0], peak_threshold=5000.0, peak_penalty=1.0)
    vehicle = only(plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon).vehicles)
    assert vehicle.discharge[1] * WATTS_PER_AMP == pytest.approx(3000.0)


def test_a_grid_service_exports_its_setpoint_over_its_window() -> None:
    horizon = Horizon(HOUR, [0.2, 0.2, 0.2], services=[GridService(1, 2, 5000.0)])
    vehicle = only(plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon).vehicles)
    assert vehicle.net[1] * WATTS_PER_AMP == pytest.approx(-5000.0)
    assert vehicle.stored[-1] == pytest.approx(20.0)


def test_infeasible_base_load_over_the_connection_even_with_every_discharge() -> None:
    horizon = Horizon(HOUR, [0.2, 0.2], site_load=[0.0, 40 * WATTS_PER_AMP])
    with pytest.raises(Infeasible, match="slot 1: the base load"):
        plan(site(grid=20), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon)


def test_infeasible_grid_service_beyond_what_the_evs_can_give() -> None:
    horizon = Horizon(HOUR, [0.2, 0.2], services=[GridService(0, 2, 20_000.0)])
    with pytest.raises(Infeasible, match="slot 0: the grid service asks 20000 W"):
        plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x())], horizon)


def test_infeasible_when_the_soc_floor_cannot_give_what_the_service_asks() -> None:
    # 5 kWh above the floor, 2 hours of 11.04 kWh each asked: power would do, energy does not.
    horizon = Horizon(HOUR, [0.2, 0.2], services=[GridService(0, 2, KWH_16A * 1000)])
    with pytest.raises(Infeasible, match="floors"):
        plan(site(), [Vehicle("a", 0.0, 16, bidirectional=v2x(stored=15.0))], horizon)


def test_a_charge_only_ev_next_to_a_v2x_one_is_never_discharged() -> None:
    base = [0.0, 32 * WATTS_PER_AMP]
    horizon = Horizon(HOUR, [0.10, 0.50], site_load=base)
    result = plan(
        site(grid=40),
        [Vehicle("a", 0.0, 16, bidirectional=v2x()), Vehicle("b", KWH_16A, 16)],
        horizon,
    )
    a, b = result.vehicles
    assert b.discharge == ()
    assert b.net == b.currents
    assert b.currents == pytest.approx((16.0, 0.0))
    assert a.discharge[1] == pytest.approx(16.0)  # the dear hour's base load, partly covered


def test_bad_v2x_parameters_are_refused() -> None:
    horizon = Horizon(HOUR, [0.2])
    with pytest.raises(ValueError, match="V2X"):
        plan(site(), [Vehicle("a", 0.0, 16, bidirectional=Bidirectional(16, 70, 60, 10))], horizon)
    with pytest.raises(ValueError, match="grid service"):
        plan(site(), [], Horizon(HOUR, [0.2], services=[GridService(1, 1, 10.0)]))


@st.composite
def v2x_instances(draw: st.DrawFn) -> tuple[Site, list[Vehicle], Horizon]:
    limit = st.integers(0, 64).map(float)
    evses = [Evse(f"e{i}", draw(limit), draw(st.sampled_from([(0, 1, 2), (0,), (1,)]))) for i in range(4)]
    grid = (draw(limit), draw(limit), draw(limit))
    site_ = Site(Circuit("grid", grid, (Circuit("f", per_phase(draw(limit)), tuple(evses[:2])), *evses[2:])))
    slots = draw(st.integers(1, 6))
    vehicles = []
    for evse in evses:
        if not draw(st.booleans()):
            continue
        arrival = draw(st.integers(0, slots - 1))
        capacity = draw(st.floats(10, 80, allow_nan=False))
        stored = draw(st.floats(0, capacity, allow_nan=False))
        both = None
        if draw(st.booleans()):
            both = Bidirectional(
                draw(limit),
                stored,
                capacity,
                draw(st.floats(0, capacity, allow_nan=False)),
                draw(st.floats(0.8, 1.0, allow_nan=False)),
                draw(st.floats(0, 0.2, allow_nan=False)),
            )
        vehicles.append(
            Vehicle(
                evse.id,
                energy=draw(st.floats(0, 40, allow_nan=False)),
                maximum=draw(limit),
                arrival=arrival,
                departure=draw(st.integers(arrival, slots)),
                bidirectional=both,
            )
        )
    series = st.lists(st.floats(0, 20_000, allow_nan=False), min_size=slots, max_size=slots)
    horizon = Horizon(
        900,
        prices=draw(st.lists(st.floats(0, 0.5, allow_nan=False), min_size=slots, max_size=slots)),
        site_load=draw(series),
        peak_threshold=draw(st.sampled_from([None, 5000.0])),
    )
    return site_, vehicles, horizon


@settings(max_examples=50, deadline=None)
@given(v2x_instances())
def test_property_a_v2x_plan_holds_every_limit_and_battery(
    instance: tuple[Site, list[Vehicle], Horizon],
) -> None:
    site_, vehicles, horizon = instance
    try:
        result = plan(site_, vehicles, horizon)
    except Infeasible:
        return  # the base load over the connection beyond what the EVs can give: reported, not planned
    assert horizon.site_load is not None
    tol = 1e-5
    by_evse = {v.evse_id: v for v in vehicles}
    hours = horizon.slot_seconds / 3600
    for t in range(horizon.slots):
        for circuit_id, circuit in site_.circuits.items():
            for phase in range(PHASES):
                members = [
                    vp
                    for vp in result.vehicles
                    if circuit_id in site_.paths[vp.evse_id] and phase in site_.evses[vp.evse_id].phases
                ]
                net = sum(vp.net[t] for vp in members)
                cap = circuit.limit[phase]
                if circuit_id == "grid":
                    room = cap - horizon.site_load[t] / (PHASES * VOLTAGE)
                    givers = any(by_evse[vp.evse_id].bidirectional is not None for vp in members)
                    assert net <= (room if givers else max(0.0, room)) + tol, (t, phase)
                else:
                    assert -cap - tol <= net <= cap + tol, (t, circuit_id, phase)
    for vp in result.vehicles:
        vehicle = by_evse[vp.evse_id]
        both = vehicle.bidirectional
        departure = horizon.slots if vehicle.departure is None else vehicle.departure
        if both is None:
            assert vp.discharge == ()
            continue
        kwh = VOLTAGE * len(site_.evses[vp.evse_id].phases) * hours / 1000
        level = both.stored
        for t in range(horizon.slots):
            assert vp.discharge[t] <= both.discharge + tol
            if not vehicle.arrival <= t < departure:
                assert vp.discharge[t] == pytest.approx(0, abs=tol)
                assert vp.currents[t] == pytest.approx(0, abs=tol)
            level += kwh * (vp.currents[t] * both.efficiency - vp.discharge[t] / both.efficiency)
            assert vp.stored[t] == pytest.approx(level, abs=1e-4)
            assert min(both.floor, both.stored) - tol <= vp.stored[t] <= both.capacity + tol
        target = min(both.capacity, both.stored + vehicle.energy)
        held = both.stored if departure == 0 else vp.stored[departure - 1]
        assert held + vp.unmet >= target - 1e-4
