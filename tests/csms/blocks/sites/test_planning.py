"""The planning of a live site, pure: the tree the plan must fit (grid limit, unreachable stations at their
fallback), a plan made mid-slot, the periods a TxProfile carries, the needs read from NotifyEVChargingNeeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from chargeplane.csms.blocks.sites.planning import (
    Session,
    SitePlan,
    Tariff,
    make_plan,
    planning_site,
    reported,
)
from chargeplane.smart_charging.site import Circuit, Evse, Site

START = datetime(2026, 12, 8, tzinfo=UTC)
KWH_PER_AMP_HOUR = 3 * 230 / 1000  # three phases


def _site() -> Site:
    evses = (Evse("a", 32.0, fallback=6.0), Evse("b", 32.0, fallback=6.0), Evse("c", 32.0, (1,), 6.0))
    return Site(Circuit("grid", (40.0, 40.0, 40.0), (Circuit("feeder", (36.0, 36.0, 36.0), evses),)))


def test_the_planning_tree_takes_the_grid_limit_and_the_unreachable_fallbacks_off() -> None:
    reduced = planning_site(_site(), {"c": 6.0}, (30.0, 30.0, 50.0))
    assert reduced.circuits["grid"].limit == (30.0, 24.0, 40.0)  # c draws on L2 only
    assert reduced.circuits["feeder"].limit == (36.0, 30.0, 36.0)
    assert all(evse.fallback == 0.0 for evse in reduced.evses.values())


def test_a_plan_made_mid_slot_counts_the_rest_of_the_slot_only() -> None:
    tariff = Tariff(START, [0.10, 0.50, 0.50])
    now = START + timedelta(minutes=30)  # half of the cheap hour is left
    session = Session("a", 32.0, 0.0, 20.0, None)
    plan = make_plan(_site(), tariff, [session], {}, None, now, 5.0)
    assert plan is not None
    assert plan.start == START
    currents = plan.currents["a"]
    # Half an hour at 32 A gives 11.04 kWh; the rest comes in the next (dear) hour.
    assert currents[0] == pytest.approx(32.0)
    assert plan.energy["a"] == pytest.approx(20.0)
    assert currents[1] * KWH_PER_AMP_HOUR == pytest.approx(20.0 - 32.0 * KWH_PER_AMP_HOUR / 2)
    assert currents[2] == pytest.approx(0.0)


def test_a_departure_during_a_slot_is_not_planned_in_it_and_unknown_needs_fill_the_stay() -> None:
    tariff = Tariff(START, [0.50, 0.50, 0.10, 0.10])
    leaving = Session("a", 16.0, 0.0, 30.0, START + timedelta(hours=2, minutes=30))
    unknown = Session("b", 16.0, 0.0, None, None)
    plan = make_plan(_site(), tariff, [leaving, unknown], {}, None, START, 5.0)
    assert plan is not None
    assert plan.currents["a"][2:] == (0.0, 0.0)
    assert plan.unmet["a"] == pytest.approx(30.0 - 2 * 16.0 * KWH_PER_AMP_HOUR)
    assert plan.currents["b"] == pytest.approx((16.0, 16.0, 16.0, 16.0))
    # The TxProfile's periods: merged, from the slot of now, at most ``most`` of them.
    periods, end = plan.periods("a", START + timedelta(minutes=70), START + timedelta(hours=9), 24)
    assert periods == [(START + timedelta(hours=1), 16.0), (START + timedelta(hours=2), 0.0)]
    assert end == START + timedelta(hours=4)  # the plan's end
    periods, end = plan.periods("a", START, START + timedelta(hours=9), 1)
    assert periods == [(START, 16.0)]
    assert end == START + timedelta(hours=2)  # the first period left out


def test_a_planned_rise_starts_late_and_a_fall_on_time() -> None:
    plan = SitePlan(START, START, 3600, {"a": (0.0, 10.0, 5.0, 8.0)}, {"a": 0.0}, {"a": 0.0}, 0.0, "Optimal")
    periods, end = plan.periods("a", START, START + timedelta(hours=9), 24, raise_delay=30)
    late = timedelta(seconds=30)
    hour = timedelta(hours=1)
    assert periods == [
        (START, 0.0),
        (START + hour + late, 10.0),
        (START + 2 * hour, 5.0),
        (START + 3 * hour + late, 8.0),
    ]
    assert end == START + 4 * hour
    # At most half a slot late.
    periods, _ = plan.periods("a", START, START + timedelta(hours=9), 24, raise_delay=7200)
    assert periods[1] == (START + 1.5 * hour, 10.0)


def test_no_plan_outside_the_curve_and_bad_curves_are_refused() -> None:
    tariff = Tariff(START, [0.1, 0.2])
    assert make_plan(_site(), tariff, [], {}, None, START - timedelta(seconds=1), 5.0) is None
    assert make_plan(_site(), tariff, [], {}, None, START + timedelta(hours=2), 5.0) is None
    with pytest.raises(msgspec.ValidationError, match="solar"):
        msgspec.json.decode(b'{"start": "2026-12-08T00:00:00Z", "prices": [1, 2], "solar": [0]}', type=Tariff)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"start": "2026-12-08T00:00:00Z", "prices": []}', type=Tariff)
    with pytest.raises(msgspec.ValidationError, match="offset"):
        msgspec.json.decode(b'{"start": "2026-12-08T00:00:00", "prices": [1]}', type=Tariff)


def test_the_needs_of_a_notify_ev_charging_needs() -> None:
    ac = reported(
        {
            "evseId": 1,
            "chargingNeeds": {
                "requestedEnergyTransfer": "AC_three_phase",
                "departureTime": "2026-12-08T17:00:00Z",
                "acChargingParameters": {
                    "energyAmount": 12000,
                    "evMinCurrent": 6,
                    "evMaxCurrent": 16,
                    "evMaxVoltage": 400,
                },
            },
        }
    )
    assert (ac.energy, ac.departure, ac.maximum, ac.minimum) == (12.0, START.replace(hour=17), 16.0, 6.0)
    dc = reported({"chargingNeeds": {"dcChargingParameters": {"evMaxCurrent": 200, "energyAmount": 5000}}})
    assert (dc.energy, dc.departure, dc.maximum, dc.minimum) == (5.0, None, None, None)
    broken = reported({"chargingNeeds": {"departureTime": "yesterday", "acChargingParameters": "x"}})
    assert (broken.energy, broken.departure, broken.maximum) == (None, None, None)
