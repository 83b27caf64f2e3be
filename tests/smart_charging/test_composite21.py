"""The 2.1 additions to the composite schedule: PriorityCharging in place of Tx(Default) (K21.FR.04,
K22.FR.02), LocalGeneration on top (SC.01, K08.FR.04, K27) and Dynamic profiles (K28.FR.02), and the 2.1
checks of a profile (K01.FR.70, K28.FR.01)."""

from __future__ import annotations

from datetime import UTC, datetime

from chargeplane.smart_charging import validation
from chargeplane.smart_charging.composite import Fallback, composite_schedule
from chargeplane.smart_charging.model import Interval, Kind, Period, Profile, Purpose, RateUnit, Schedule

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
W = RateUnit.WATT
HW = Fallback(22000.0, W, 3)
CAPS = validation.Capabilities(frozenset({1}), frozenset({W}), 10, 24)


def make(
    id: int, purpose: Purpose, limit: float, *, evse: int = 0, kind: Kind = Kind.RELATIVE, periods: int = 1
) -> Profile:
    start = None if kind is Kind.RELATIVE else T0
    schedule = Schedule(W, tuple(Period(600 * n, limit) for n in range(periods)), None, start)
    return Profile(id, 0, purpose, kind, schedule, evse_id=evse)


def limits(profiles: list[Profile], *, priority: bool = False) -> tuple[Interval, ...]:
    return composite_schedule(
        profiles,
        start=T0,
        duration=60,
        evse_id=1,
        unit=W,
        fallback=HW,
        transaction_id="T1",
        priority=priority,
    ).intervals


def test_K21_FR_04_priority_replaces_tx_default_but_the_station_max_still_caps() -> None:
    profiles = [
        make(1, Purpose.TX_DEFAULT, 5000.0),
        make(2, Purpose.PRIORITY_CHARGING, 20000.0, evse=1),
        make(3, Purpose.CHARGING_STATION_MAX, 16000.0, kind=Kind.ABSOLUTE),
    ]
    assert limits(profiles) == (Interval(0, 5000.0, 3),)
    assert limits(profiles, priority=True) == (Interval(0, 16000.0, 3),)


def test_priority_without_a_priority_profile_keeps_the_tx_default() -> None:
    assert limits([make(1, Purpose.TX_DEFAULT, 5000.0)], priority=True) == (Interval(0, 5000.0, 3),)


def test_SC_01_K27_local_generation_comes_on_top_of_the_merged_limit() -> None:
    profiles = [
        make(1, Purpose.TX_DEFAULT, 5000.0),
        make(2, Purpose.LOCAL_GENERATION, 2000.0, kind=Kind.DYNAMIC),
    ]
    assert limits(profiles) == (Interval(0, 7000.0, 3),)


def test_K28_FR_02_a_dynamic_profile_is_in_force_from_its_start() -> None:
    assert limits([make(1, Purpose.TX_DEFAULT, 4000.0, kind=Kind.DYNAMIC)]) == (Interval(0, 4000.0, 3),)


def test_K28_FR_01_dynamic_with_two_periods_and_K01_FR_70_priority_with_duration_refused() -> None:
    two = make(1, Purpose.TX_DEFAULT, 4000.0, kind=Kind.DYNAMIC, periods=2)
    verdict = validation.check_set(two, installed=[], running={}, caps=CAPS)
    assert (verdict.accepted, verdict.reason) == (False, "InvalidSchedule")
    priority = make(2, Purpose.PRIORITY_CHARGING, 4000.0)
    lasting = Profile(2, 0, priority.purpose, priority.kind, Schedule(W, (Period(0, 1.0),), 600))
    verdict = validation.check_set(lasting, installed=[], running={}, caps=CAPS)
    assert (verdict.accepted, verdict.reason) == (False, "InvalidSchedule")
    assert validation.check_set(priority, installed=[], running={}, caps=CAPS).accepted
