"""The composite-schedule engine (2.0.1 K08, 1.6 §3.13.3): worked examples, then a property test against a
brute-force reference that evaluates every second of the window from the spec's rules directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargeplane.smart_charging.composite import Fallback, composite_schedule, within
from chargeplane.smart_charging.model import (
    Composite,
    Interval,
    Kind,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
)

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
A, W = RateUnit.AMPERE, RateUnit.WATT
HW = Fallback(32.0, A, 3)  # the EVSE's own maximum


def profile(
    id: int,
    purpose: Purpose,
    periods: list[tuple[int, float]],
    *,
    level: int = 0,
    evse: int = 1,
    kind: Kind = Kind.ABSOLUTE,
    unit: RateUnit = A,
    start: datetime | None = T0,
    duration: int | None = None,
    recurrency: Recurrency | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    tx: str | None = None,
    phases: int | None = None,
) -> Profile:
    return Profile(
        id=id,
        stack_level=level,
        purpose=purpose,
        kind=kind,
        schedule=Schedule(
            unit,
            tuple(Period(s, limit, phases) for s, limit in periods),
            duration,
            None if kind is Kind.RELATIVE else start,
        ),
        evse_id=evse,
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=tx,
    )


def pieces(profiles: list[Profile], duration: int = 3600, **kwargs: object) -> list[tuple[int, float]]:
    options: dict[str, object] = {"evse_id": 1, "unit": A, "fallback": HW, **kwargs}
    result = composite_schedule(profiles, start=T0, duration=duration, **options)  # type: ignore[arg-type]
    return [(i.start, round(i.limit, 3)) for i in result.intervals]


def test_K08_no_profile_gives_the_evse_maximum() -> None:
    assert pieces([]) == [(0, 32.0)]


def test_K08_higher_stack_level_leads_only_where_it_has_a_period() -> None:
    base = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)], level=0)
    # level 1 limits to 10 A for the first 10 minutes, then has nothing to say: level 0 comes back
    top = profile(2, Purpose.TX_DEFAULT, [(0, 10.0)], level=1, duration=600)
    assert pieces([base, top]) == [(0, 10.0), (600, 16.0)]


def test_K08_a_valid_tx_profile_overrules_tx_default_even_after_its_schedule_ends() -> None:
    """Part 2 §3.5: while a TxProfile is valid the TxDefaultProfile is left out, so once the TxProfile's
    schedule ends the EVSE's own maximum applies (TC_K_41_CS), and the TxDefault comes back at validTo."""
    default = profile(1, Purpose.TX_DEFAULT, [(0, 8.0)], level=5)
    tx = profile(2, Purpose.TX, [(0, 20.0)], level=0, tx="T1", duration=1200)
    assert pieces([default, tx], transaction_id="T1") == [(0, 20.0), (1200, 32.0)]
    until = profile(2, Purpose.TX, [(0, 20.0)], tx="T1", duration=1200, valid_to=T0 + timedelta(seconds=1800))
    assert pieces([default, until], transaction_id="T1") == [(0, 20.0), (1200, 32.0), (1800, 8.0)]
    later = profile(2, Purpose.TX, [(0, 20.0)], tx="T1", valid_from=T0 + timedelta(seconds=600))
    assert pieces([default, later], transaction_id="T1") == [(0, 8.0), (600, 20.0)]
    # another transaction's TxProfile, or none running: TxDefault only
    assert pieces([default, tx], transaction_id="T2") == [(0, 8.0)]
    assert pieces([default, tx]) == [(0, 8.0)]


def test_K08_lowest_limit_across_purposes_with_watts_converted_by_phases() -> None:
    station_max = profile(
        1, Purpose.CHARGING_STATION_MAX, [(0, 11_040.0)], evse=0, unit=W
    )  # 16 A x 3 x 230 V
    default = profile(2, Purpose.TX_DEFAULT, [(0, 20.0), (1800, 10.0)])
    assert pieces([station_max, default]) == [(0, 16.0), (1800, 10.0)]
    single = profile(
        3, Purpose.EXTERNAL_CONSTRAINTS, [(0, 2_300.0)], evse=1, unit=W, phases=1
    )  # 10 A on 1 phase
    result = composite_schedule([single], start=T0, duration=60, evse_id=1, unit=A, fallback=HW)
    assert [(i.limit, i.number_phases) for i in result.intervals] == [(10.0, 1)]


def test_K08_station_wide_limits_cap_every_evse_and_evse_zero_reports_them() -> None:
    station_max = profile(1, Purpose.CHARGING_STATION_MAX, [(0, 25.0)], evse=0)
    default = profile(2, Purpose.TX_DEFAULT, [(0, 30.0)], evse=0)
    assert pieces([station_max, default], evse_id=2) == [(0, 25.0)]
    assert pieces([station_max, default], evse_id=0) == [
        (0, 25.0)
    ]  # TxDefault is per EVSE, not a station cap


def test_K01_evse_specific_tx_default_overrides_evse_zero_at_a_higher_level() -> None:
    everywhere = profile(1, Purpose.TX_DEFAULT, [(0, 16.0)], evse=0, level=1)
    own = profile(2, Purpose.TX_DEFAULT, [(0, 6.0)], evse=1, level=2)
    assert pieces([everywhere, own], evse_id=1) == [(0, 6.0)]
    assert pieces([everywhere, own], evse_id=2) == [(0, 16.0)]


def test_K01_recurring_daily_repeats_from_start_schedule() -> None:
    # 22:00-06:00 cheap: 32 A; otherwise 10 A; the schedule began on a day in the past
    night = profile(
        1,
        Purpose.TX_DEFAULT,
        [(0, 32.0), (8 * 3600, 10.0)],
        kind=Kind.RECURRING,
        recurrency=Recurrency.DAILY,
        start=datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
    )
    result = composite_schedule(
        [night],
        start=datetime(2026, 12, 7, 5, 0, tzinfo=UTC),
        duration=18 * 3600,
        evse_id=1,
        unit=A,
        fallback=HW,
    )
    assert [(i.start, i.limit) for i in result.intervals] == [(0, 32.0), (3600, 10.0), (17 * 3600, 32.0)]


def test_K01_relative_counts_from_the_transaction_start() -> None:
    relative = profile(1, Purpose.TX, [(0, 6.0), (600, 16.0)], kind=Kind.RELATIVE, tx="T1")
    started = T0 - timedelta(seconds=300)
    assert pieces([relative], transaction_id="T1", transaction_start=started) == [(0, 6.0), (300, 16.0)]


def test_K01_validity_bounds_and_future_schedules() -> None:
    later = profile(
        1,
        Purpose.TX_DEFAULT,
        [(0, 12.0)],
        start=T0 + timedelta(minutes=20),
        valid_to=T0 + timedelta(minutes=40),
    )
    assert pieces([later]) == [(0, 32.0), (1200, 12.0), (2400, 32.0)]
    not_yet = profile(2, Purpose.TX_DEFAULT, [(0, 5.0)], valid_from=T0 + timedelta(minutes=50))
    assert pieces([not_yet]) == [(0, 32.0), (3000, 5.0)]


def test_periods_at_or_after_the_duration_are_ignored() -> None:
    short = profile(1, Purpose.TX_DEFAULT, [(0, 12.0), (900, 4.0)], duration=900)
    assert pieces([short]) == [(0, 12.0), (900, 32.0)]


# ------------------------------------------------------------------------------------------------ reference
def _reference(
    profiles: list[Profile], at: datetime, tx: str | None, tx_start: datetime, unit: RateUnit
) -> float:
    """The rules evaluated naively at one instant: enumerate occurrences one by one, scan every period."""

    def period(p: Profile) -> Period | None:
        if (p.valid_from and at < p.valid_from) or (p.valid_to and at >= p.valid_to):
            return None
        s = p.schedule
        if p.kind is Kind.RELATIVE:
            base: datetime | None = tx_start
        elif p.kind is Kind.ABSOLUTE:
            base = s.start
        else:
            assert s.start is not None
            assert p.recurrency is not None
            base = None
            k = 0
            while s.start + timedelta(seconds=k * p.recurrency.seconds) <= at:
                base = s.start + timedelta(seconds=k * p.recurrency.seconds)
                k += 1
        if base is None or base > at:
            return None
        offset = int((at - base).total_seconds())
        if s.duration is not None and offset >= s.duration:
            return None
        candidates = [q for q in s.periods if q.start <= offset]
        return max(candidates, key=lambda q: q.start) if candidates else None

    def lead(group: list[Profile]) -> tuple[Profile, Period] | None:
        found = [(p, q) for p in group if (q := period(p)) is not None]
        if not found:
            return None
        return max(found, key=lambda pq: (pq[0].stack_level, pq[0].evse_id))

    def watts(p: Profile, q: Period) -> float:
        return q.limit * 230.0 * q.phases if p.schedule.unit is A else q.limit

    def phases_of(p: Profile, q: Period) -> int:
        return q.phases

    groups = [
        [p for p in profiles if p.purpose is Purpose.CHARGING_STATION_MAX and p.evse_id == 0],
        [p for p in profiles if p.purpose is Purpose.EXTERNAL_CONSTRAINTS and p.evse_id == 0],
        [p for p in profiles if p.purpose is Purpose.EXTERNAL_CONSTRAINTS and p.evse_id == 1],
    ]
    chosen = [x for g in groups if (x := lead(g)) is not None]
    tx_profiles = [
        p for p in profiles if p.purpose is Purpose.TX and p.evse_id == 1 and tx and p.transaction_id == tx
    ]
    # a valid TxProfile (validFrom <= at < validTo) leaves every TxDefaultProfile out, period or not
    overruled = any(
        (p.valid_from is None or p.valid_from <= at) and (p.valid_to is None or at < p.valid_to)
        for p in tx_profiles
    )
    transaction_lead = lead(
        tx_profiles if overruled else [p for p in profiles if p.purpose is Purpose.TX_DEFAULT]
    )
    if transaction_lead is not None:
        chosen.append(transaction_lead)
    if not chosen:
        return 32.0 if unit is A else 32.0 * 230.0 * 3
    best = min(chosen, key=lambda pq: watts(*pq))
    if unit is W:
        return watts(*best)
    # in amperes each limit is converted with its own phases, then the lowest taken
    return min(watts(p, q) / (230.0 * phases_of(p, q)) for p, q in chosen)


# the 2.0.1 rules the reference implements; the 2.1 purposes and Dynamic: test_composite21.py
_purposes = st.sampled_from(
    [Purpose.CHARGING_STATION_MAX, Purpose.TX_DEFAULT, Purpose.TX, Purpose.EXTERNAL_CONSTRAINTS]
)
_kind = st.sampled_from([Kind.ABSOLUTE, Kind.RECURRING, Kind.RELATIVE])


@st.composite
def _profiles(draw: st.DrawFn) -> Profile:
    purpose = draw(_purposes)
    kind = draw(_kind)
    if purpose is Purpose.CHARGING_STATION_MAX and kind is Kind.RELATIVE:
        kind = Kind.ABSOLUTE  # K01.FR.38
    starts = sorted(draw(st.sets(st.integers(1, 2400), max_size=3)))
    unit = draw(st.sampled_from([A, W]))
    limits = (
        st.sampled_from([6.0, 10.0, 16.0, 32.0])
        if unit is A
        else st.sampled_from([1380.0, 4140.0, 7360.0, 22080.0])
    )
    phases = draw(st.sampled_from([None, 1, 3]))
    periods = tuple(Period(s, draw(limits), phases) for s in [0, *starts])
    start = T0 + timedelta(seconds=draw(st.integers(-3 * 86_400, 1800)))
    valid_from = draw(st.none() | st.integers(-1800, 1800).map(lambda s: T0 + timedelta(seconds=s)))
    valid_to = draw(st.none() | st.integers(-600, 3600).map(lambda s: T0 + timedelta(seconds=s)))
    return Profile(
        id=draw(st.integers(1, 99)),
        stack_level=draw(st.integers(0, 3)),
        purpose=purpose,
        kind=kind,
        schedule=Schedule(
            unit, periods, draw(st.none() | st.integers(60, 3600)), None if kind is Kind.RELATIVE else start
        ),
        evse_id=0
        if purpose is Purpose.CHARGING_STATION_MAX
        else (1 if purpose is Purpose.TX else draw(st.sampled_from([0, 1]))),
        recurrency=Recurrency.DAILY if kind is Kind.RECURRING else None,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id="T1" if purpose is Purpose.TX else None,
    )


@settings(max_examples=120, deadline=None)
@given(
    profiles=st.lists(_profiles(), max_size=5),
    tx=st.sampled_from([None, "T1", "T1"]),
    tx_started=st.integers(0, 3600),
    unit=st.sampled_from([A, W]),
    offset=st.integers(0, 600),
)
def test_K08_composite_matches_the_rules_at_every_second(
    profiles: list[Profile], tx: str | None, tx_started: int, unit: RateUnit, offset: int
) -> None:
    # equal stack levels of one purpose are refused at SetChargingProfile (K01.FR.05/52/53): keep them apart
    seen: set[tuple[Purpose, int]] = set()
    profiles = [
        p
        for p in profiles
        if (p.purpose, p.stack_level) not in seen and not seen.add((p.purpose, p.stack_level))
    ]
    start = T0 + timedelta(seconds=offset)
    tx_start = start - timedelta(seconds=tx_started)
    duration = 1800
    result = composite_schedule(
        profiles,
        start=start,
        duration=duration,
        evse_id=1,
        unit=unit,
        fallback=HW,
        transaction_id=tx,
        transaction_start=tx_start,
    )
    for second in range(duration):
        expected = _reference(profiles, start + timedelta(seconds=second), tx, tx_start, unit)
        assert result.limit_at(second).limit == pytest.approx(expected), f"at second {second}"


def test_within_counts_every_piece_of_the_composite_a_period_spans() -> None:
    offer = Composite(
        datetime(2026, 1, 1, tzinfo=UTC), 900, RateUnit.AMPERE, (Interval(0, 16.0, 3), Interval(600, 6.0, 3))
    )
    assert not within([(0, 16.0)], offer)  # the drop at 600 s falls inside the one period
    assert within([(0, 16.0), (600, 6.0)], offer)
    assert within([(0, 16.0), (600, None)], offer)  # a period without a limit says nothing
    assert within([(0, 16.05), (600, 6.0)], offer, tolerance=0.1)
    assert within([(0, 6.0), (900, 99.0)], offer)  # after the composite's end: not compared
