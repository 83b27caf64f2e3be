"""The V2X parts of site planning, pure: a bidirectional EV's battery from the API's states of charge and
from a 2.1 NotifyEVChargingNeeds (Q01.FR.03), a grid service window over the plan's slots, the CentralSetpoint
period (Q03.FR.01), and a live plan that discharges through the base load's peak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from chargeplane.csms.blocks.sites.planning import Session, Tariff, make_plan
from chargeplane.csms.blocks.sites.v2x import (
    GridServiceWindow,
    from_charging_needs,
    from_soc,
    setpoint_period,
)
from chargeplane.smart_charging.planner import GridService, Infeasible
from chargeplane.smart_charging.site import VOLTAGE, Circuit, Evse, Site

START = datetime(2026, 12, 8, 16, tzinfo=UTC)
WATTS_PER_AMP = 3 * VOLTAGE


def test_v2x_needs_from_states_of_charge() -> None:
    needs = from_soc(11_000, 60.0, 50.0, 20.0, 80.0, None)
    assert (needs.stored, needs.floor, needs.capacity) == (30.0, 12.0, 60.0)
    assert needs.wanted == pytest.approx(18.0)
    assert from_soc(11_000, 60.0, 90.0, 20.0, 80.0, 0.02).wanted == 0.0  # above its departure SoC already
    assert from_soc(11_000, 60.0, 50.0, 20.0, None, None).wanted == 30.0  # none given: full
    with pytest.raises(ValueError, match="capacity"):
        from_soc(11_000, 0.0, 50.0, 20.0, None, None)


def test_a_soc_reading_places_the_battery_of_needs_given_in_states_of_charge_only() -> None:
    needs = from_soc(11_000, 60.0, 50.0, 20.0, 80.0, None)
    read = needs.at_soc(25.0)
    assert read is not None
    assert (read.stored, read.floor, read.capacity) == (15.0, 12.0, 60.0)
    assert read.wanted == pytest.approx(33.0)  # the departure target (80 %) kept
    assert needs.at_soc(101.0) is None
    relative = {
        "requestedEnergyTransfer": "AC_BPT",
        "v2xChargingParameters": {"maxDischargePower": 11_000, "evMaxEnergyRequest": 30_000},
    }
    told = from_charging_needs(relative)
    assert told is not None
    assert told.at_soc(25.0) is None  # relative energies: a percentage has no place on them


def test_Q01_FR_03_v2x_needs_from_the_charging_needs_of_a_bidirectional_transfer() -> None:
    needs = {
        "requestedEnergyTransfer": "DC_BPT",
        "v2xChargingParameters": {
            "maxDischargePower": 7000,
            "maxChargePower": 11000,
            "evTargetEnergyRequest": 5000,
            "evMinV2XEnergyRequest": -15000,
            "evMaxEnergyRequest": 25000,
        },
    }
    found = from_charging_needs(needs)
    assert found is not None
    assert (found.max_discharge, found.stored, found.floor, found.capacity) == (7000.0, 0.0, -15.0, 25.0)
    assert found.wanted == 5.0
    assert found.max_charge == 11000.0
    # Below its V2X range: the floor is above now (the planner does not discharge it below where it is).
    assert (
        from_charging_needs(
            needs
            | {
                "v2xChargingParameters": {
                    "maxDischargePower": 7000,
                    "evMinV2XEnergyRequest": 3000,
                    "evMaxV2XEnergyRequest": 20000,
                }
            }
        )
        is not None
    )
    assert from_charging_needs(needs | {"requestedEnergyTransfer": "DC"}) is None  # charge only
    assert from_charging_needs({"requestedEnergyTransfer": "AC_BPT"}) is None
    no_power = {"requestedEnergyTransfer": "AC_BPT", "v2xChargingParameters": {"evMaxEnergyRequest": 1}}
    assert from_charging_needs(no_power) is None


def test_a_grid_service_window_covers_every_slot_it_overlaps() -> None:
    window = GridServiceWindow(START + timedelta(minutes=30), START + timedelta(hours=2), 5.0)
    assert window.slots(START, 3600, 4) == GridService(0, 2, 5000.0)
    assert window.slots(START + timedelta(hours=1), 3600, 4) == GridService(0, 1, 5000.0)
    assert window.slots(START + timedelta(hours=3), 3600, 4) is None  # over before the plan
    with pytest.raises(msgspec.ValidationError, match="after start"):
        msgspec.json.decode(
            b'{"start": "2026-12-08T17:00:00Z", "end": "2026-12-08T16:00:00Z", "exportKw": 1}',
            type=GridServiceWindow,
        )


def test_Q03_FR_01_02_a_setpoint_period_without_limits() -> None:
    assert setpoint_period(60, -7.5, 3) == {
        "startPeriod": 60,
        "operationMode": "CentralSetpoint",
        "setpoint": -7.5,
        "numberPhases": 3,
    }


def _site() -> Site:
    return Site(Circuit("grid", (20.0, 20.0, 20.0), (Evse("a", 32.0), Evse("b", 32.0))))


def test_a_live_plan_discharges_through_the_peak_and_its_periods_go_negative() -> None:
    tariff = Tariff(START, [0.10, 0.50, 0.30], base_load=[0.0, 28 * WATTS_PER_AMP, 0.0])
    v2x = from_soc(16 * WATTS_PER_AMP, 60.0, 50.0, 20.0, 50.0, None)
    sessions = [Session("a", 32.0, 0.0, None, None, v2x), Session("b", 16.0, 0.0, 5.0, None)]
    plan = make_plan(_site(), tariff, sessions, {}, None, START, 5.0)
    assert plan is not None
    assert plan.net("a")[1] == pytest.approx(-16.0)  # the whole base load in the dear hour, 8 A at least
    assert plan.stored["a"][-1] == pytest.approx(30.0)
    assert "b" not in plan.discharge
    periods, _ = plan.periods("a", START, START + timedelta(hours=3), 24)
    assert periods[1] == (START + timedelta(hours=1), -16.0)
    # A grid service the EV cannot give: no plan, with the reason.
    window = GridServiceWindow(START, START + timedelta(hours=1), 30.0)
    with pytest.raises(Infeasible, match="grid service"):
        make_plan(_site(), tariff, sessions, {}, None, START, 5.0, window)


def test_a_replan_starts_from_where_the_last_plan_took_the_battery() -> None:
    tariff = Tariff(START, [0.10, 0.50, 0.30], base_load=[0.0, 28 * WATTS_PER_AMP, 0.0])
    v2x = from_soc(16 * WATTS_PER_AMP, 60.0, 50.0, 20.0, 50.0, None)
    plan = make_plan(_site(), tariff, [Session("a", 32.0, 0.0, None, None, v2x)], {}, None, START, 5.0)
    assert plan is not None
    assert plan.stored_at("a", START) == pytest.approx(30.0)
    half = plan.stored_at("a", START + timedelta(minutes=30))
    assert half == pytest.approx((30.0 + plan.stored["a"][0]) / 2)
    assert plan.stored_at("a", START + timedelta(hours=2)) == pytest.approx(plan.stored["a"][1])
    assert plan.stored_at("b", START) is None
    # The departure target (30 kWh) stays where it was, whatever the battery holds now.
    moved = v2x.advanced(40.0)
    assert (moved.stored, moved.wanted, moved.floor) == (40.0, 0.0, 12.0)
    assert v2x.advanced(25.0).wanted == pytest.approx(5.0)


def test_the_evs_max_charge_power_caps_its_charging_current() -> None:
    tariff = Tariff(START, [0.10, 0.50])
    v2x = msgspec.structs.replace(
        from_soc(11_000, 60.0, 20.0, 20.0, None, None), max_charge=8 * WATTS_PER_AMP
    )
    plan = make_plan(_site(), tariff, [Session("a", 32.0, 0.0, None, None, v2x)], {}, None, START, 5.0)
    assert plan is not None
    assert max(plan.currents["a"]) == pytest.approx(8.0)


def test_a_tariff_with_feed_in_and_a_peak_threshold() -> None:
    curve = msgspec.json.decode(
        b'{"start": "2026-12-08T16:00:00Z", "prices": [0.3, 0.1], "feedIn": [0.2, 0.05],'
        b' "peakThreshold": 5000, "peakPenalty": 2}',
        type=Tariff,
    )
    assert (curve.feed_in, curve.peak_threshold, curve.peak_penalty) == ([0.2, 0.05], 5000.0, 2.0)
    with pytest.raises(msgspec.ValidationError, match="feedIn must not be above"):
        msgspec.json.decode(
            b'{"start": "2026-12-08T16:00:00Z", "prices": [0.1], "feedIn": [0.2]}', type=Tariff
        )
    with pytest.raises(msgspec.ValidationError, match="feedIn needs one value per price"):
        msgspec.json.decode(
            b'{"start": "2026-12-08T16:00:00Z", "prices": [0.1, 0.2], "feedIn": [0]}', type=Tariff
        )
    # Exported energy sold at the feed-in tariff: the EV discharges into the grid in the dear hour.
    sold = Tariff(START, [0.10, 0.50], feed_in=[0.0, 0.45])
    v2x = from_soc(16 * WATTS_PER_AMP, 60.0, 50.0, 20.0, 50.0, None)
    plan = make_plan(_site(), sold, [Session("a", 32.0, 0.0, None, None, v2x)], {}, None, START, 5.0)
    assert plan is not None
    assert plan.discharge["a"][1] == pytest.approx(16.0)
