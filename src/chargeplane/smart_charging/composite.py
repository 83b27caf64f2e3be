"""The composite schedule (2.0.1 K08, 1.6 §3.13.3): the limit an EVSE obeys over time, merged from every
valid profile it is subject to.

Within one purpose the profile with the highest stack level that has a period at time *t* leads (K08 /
1.6 stacking; a higher level without a period at *t* lets the next one through). Across purposes the lowest
limit wins, converted between amperes and watts with the phases of each period; a TxProfile of the running
transaction replaces the TxDefaultProfile while it is valid (validFrom / validTo), even where its schedule
has no period: 2.0.1 Part 2 §3.5 leaves the TxDefaultProfile out whenever a TxProfile is valid, and 1.6
§3.13.2 for the rest of the transaction (TC_K_41_CS expects no TxDefault limit after the TxProfile's
schedule ends). ChargingStationMaxProfile and ChargingStationExternalConstraints on EVSE 0
cap every EVSE. Where no profile has a limit, the EVSE's own maximum applies (``fallback``).

Pure: the clock is an argument. The result is piecewise constant; its pieces start at the points where any
candidate profile may change (validity bounds, schedule occurrences, period starts, schedule ends), so it is
exact without sampling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chargeplane.smart_charging.model import (
    Composite,
    Electrical,
    Interval,
    Kind,
    Period,
    Profile,
    Purpose,
    RateUnit,
)

MAINS = Electrical()  # 230 V phase to neutral


@dataclass(frozen=True, slots=True)
class Fallback:
    """The EVSE's own maximum, used where no profile limits it."""

    limit: float
    unit: RateUnit
    phases: int = 3


def _seconds(delta: timedelta) -> int:
    return math.floor(delta.total_seconds())


def occurrence_start(profile: Profile, at: datetime, anchor: datetime) -> datetime | None:
    """Where the occurrence of the profile's schedule that covers ``at`` begins (before any duration cut);
    ``None`` when no occurrence has begun. ``anchor`` starts a Relative schedule (the transaction's start, or
    the request's when there is none) and an Absolute one without a startSchedule."""
    schedule = profile.schedule
    if profile.kind is Kind.RELATIVE:
        base = anchor
    elif profile.kind in (Kind.ABSOLUTE, Kind.DYNAMIC):  # Dynamic: in force from receipt (K28.FR.02)
        base = schedule.start if schedule.start is not None else anchor
    else:
        if schedule.start is None or profile.recurrency is None or at < schedule.start:
            return None  # never before its first occurrence (nor invalid: validation refuses those)
        cycle = profile.recurrency.seconds
        base = schedule.start + timedelta(seconds=cycle * (_seconds(at - schedule.start) // cycle))
    return base if base <= at else None


def is_valid(profile: Profile, at: datetime) -> bool:
    """K01.FR.36 / K01.FR.37: validFrom <= ``at`` < validTo (a bound left out does not limit)."""
    return (profile.valid_from is None or profile.valid_from <= at) and (
        profile.valid_to is None or at < profile.valid_to
    )


def period_at(profile: Profile, at: datetime, anchor: datetime) -> Period | None:
    """The period of ``profile`` in force at ``at`` (``None``: the profile has nothing to say then)."""
    if not is_valid(profile, at):
        return None
    base = occurrence_start(profile, at, anchor)
    if base is None:
        return None
    offset = _seconds(at - base)
    schedule = profile.schedule
    if schedule.duration is not None and offset >= schedule.duration:
        return None
    current: Period | None = None
    for period in schedule.periods:
        if period.start > offset:
            break
        current = period
    return current


def _leading(profiles: Sequence[Profile], at: datetime, anchor: datetime) -> tuple[Profile, Period] | None:
    """The highest stack level with a period at ``at``; on equal levels an EVSE's own profile before one for
    every EVSE (equal levels are refused by K01.FR.52/53, this only makes the choice deterministic)."""
    best: tuple[Profile, Period] | None = None
    for profile in profiles:
        period = period_at(profile, at, anchor)
        if period is None:
            continue
        if best is None or (profile.stack_level, profile.evse_id != 0) > (
            best[0].stack_level,
            best[0].evse_id != 0,
        ):
            best = (profile, period)
    return best


def _layers(profiles: Iterable[Profile], evse_id: int) -> list[list[Profile]]:
    """The groups whose leading limits are combined by minimum. On an EVSE :func:`limit_at` adds the
    transaction's: its TxProfiles, else (where none of them is valid) the TxDefaultProfiles."""
    profiles = list(profiles)
    external = [p for p in profiles if p.purpose is Purpose.EXTERNAL_CONSTRAINTS]
    layers = [
        [p for p in profiles if p.purpose is Purpose.CHARGING_STATION_MAX and p.evse_id == 0],
        [p for p in external if p.evse_id == 0],
    ]
    if evse_id != 0:
        layers.append([p for p in external if p.evse_id == evse_id])
    return layers


def _transaction_layers(
    profiles: Iterable[Profile], evse_id: int, transaction_id: str | None
) -> tuple[list[Profile], list[Profile]]:
    tx = [
        p
        for p in profiles
        if p.purpose is Purpose.TX
        and p.evse_id == evse_id
        and transaction_id is not None
        # 1.6 TxProfiles may leave the transaction out: they belong to the connector's running one
        and p.transaction_id in (None, transaction_id)
    ]
    default = [p for p in profiles if p.purpose is Purpose.TX_DEFAULT and p.evse_id in (0, evse_id)]
    return tx, default


def limit_at(
    profiles: Sequence[Profile],
    at: datetime,
    *,
    evse_id: int,
    unit: RateUnit,
    fallback: Fallback,
    anchor: datetime,
    transaction_id: str | None = None,
    electrical: Electrical = MAINS,
    priority: bool = False,
) -> tuple[float, int]:
    """The composite limit at one instant (in ``unit``) and the phases it assumes. ``priority``: the
    transaction charges with priority (2.1 K21/K22), its PriorityCharging profile replaces Tx(Default)."""
    chosen = [lead for layer in _layers(profiles, evse_id) if (lead := _leading(layer, at, anchor))]
    if evse_id != 0:
        lead = _priority_lead(profiles, evse_id, at, anchor) if priority else None
        if lead is None:
            tx, default = _transaction_layers(profiles, evse_id, transaction_id)
            overruled = any(is_valid(p, at) for p in tx)  # the TxDefaultProfiles do not count then
            lead = _leading(tx, at, anchor) if overruled else _leading(default, at, anchor)
        if lead is not None:
            chosen.append(lead)
    chosen = [
        lead for lead in chosen if math.isfinite(lead[1].limit)
    ]  # a V2X period without limit caps nothing
    if not chosen:
        return electrical.to_unit(fallback.limit, fallback.unit, fallback.phases, unit), fallback.phases
    limits = [
        electrical.to_unit(period.limit, profile.schedule.unit, period.phases, unit)
        for profile, period in chosen
    ]
    phases = min(period.phases for _, period in chosen)
    return min(limits) + _generation(profiles, evse_id, at, anchor, unit, electrical), phases


def _priority_lead(
    profiles: Sequence[Profile], evse_id: int, at: datetime, anchor: datetime
) -> tuple[Profile, Period] | None:
    """K21.FR.04 / K22.FR.02: the PriorityCharging profile of the EVSE or of EVSE 0 in force at ``at``."""
    mine = [p for p in profiles if p.purpose is Purpose.PRIORITY_CHARGING and p.evse_id in (0, evse_id)]
    return _leading(mine, at, anchor)


def _generation(
    profiles: Sequence[Profile],
    evse_id: int,
    at: datetime,
    anchor: datetime,
    unit: RateUnit,
    electrical: Electrical,
) -> float:
    """SC.01 / K08.FR.04 (2.1), K27: the capacity of a LocalGeneration profile (of the EVSE, or of EVSE 0)
    comes on top of the merged limit."""
    mine = [p for p in profiles if p.purpose is Purpose.LOCAL_GENERATION and p.evse_id in (0, evse_id)]
    lead = _leading(mine, at, anchor)
    if lead is None:
        return 0.0
    profile, period = lead
    return electrical.to_unit(period.limit, profile.schedule.unit, period.phases, unit)


def _change_points(profile: Profile, start: datetime, end: datetime, anchor: datetime) -> Iterator[datetime]:
    """Every instant in [start, end) at which ``profile``'s period may change."""
    if profile.valid_from is not None:
        yield profile.valid_from
    if profile.valid_to is not None:
        yield profile.valid_to
    schedule = profile.schedule
    if profile.kind is Kind.RECURRING:
        if schedule.start is None or profile.recurrency is None:
            return
        cycle = profile.recurrency.seconds
        first = _seconds(start - schedule.start) // cycle
        last = _seconds(end - schedule.start) // cycle
        bases = [schedule.start + timedelta(seconds=cycle * k) for k in range(max(first, 0), last + 1)]
    elif profile.kind is Kind.RELATIVE or schedule.start is None:
        bases = [anchor]
    else:
        bases = [schedule.start]
    for base in bases:
        for period in schedule.periods:
            yield base + timedelta(seconds=period.start)
        if schedule.duration is not None:
            yield base + timedelta(seconds=schedule.duration)


def composite_schedule(
    profiles: Sequence[Profile],
    *,
    start: datetime,
    duration: int,
    evse_id: int,
    unit: RateUnit,
    fallback: Fallback,
    transaction_id: str | None = None,
    transaction_start: datetime | None = None,
    electrical: Electrical = MAINS,
    priority: bool = False,
) -> Composite:
    """The composite schedule of ``evse_id`` (0: the station) from ``start`` for ``duration`` seconds.

    ``profiles`` are the profiles installed on the station (any EVSE, any purpose); those that do not apply
    to this EVSE or transaction are ignored. A Relative profile counts from ``transaction_start`` (else from
    ``start``). ``priority``: see :func:`limit_at`."""
    start = start.replace(microsecond=0)
    end = start + timedelta(seconds=duration)
    anchor = transaction_start if transaction_start is not None else start
    points = {0}
    for profile in profiles:
        for point in _change_points(profile, start, end, anchor):
            offset = math.ceil((point - start).total_seconds())
            if 0 < offset < duration:
                points.add(offset)
    intervals: list[Interval] = []
    for offset in sorted(points):
        limit, phases = limit_at(
            profiles,
            start + timedelta(seconds=offset),
            evse_id=evse_id,
            unit=unit,
            fallback=fallback,
            anchor=anchor,
            transaction_id=transaction_id,
            electrical=electrical,
            priority=priority,
        )
        if intervals and intervals[-1].limit == limit and intervals[-1].number_phases == phases:
            continue
        intervals.append(Interval(offset, limit, phases))
    return Composite(start, duration, unit, tuple(intervals))


def station_total(per_evse: Sequence[Composite], station: Composite) -> Composite:
    """The composite of EVSE 0 (K08.FR.03): what the whole station expects to draw from the grid, the sum of
    its EVSEs' composites, capped by the station's own (``station``: ``composite_schedule`` of EVSE 0, which
    holds ChargingStationMaxProfile and the external constraints). All in one unit, over the same window."""
    points = sorted({i.start for c in (*per_evse, station) for i in c.intervals})
    intervals: list[Interval] = []
    for offset in points:
        cap = station.limit_at(offset)
        total = sum(c.limit_at(offset).limit for c in per_evse)
        limit = min(total, cap.limit) if per_evse else cap.limit
        if intervals and intervals[-1].limit == limit and intervals[-1].number_phases == cap.number_phases:
            continue
        intervals.append(Interval(offset, limit, cap.number_phases))
    return Composite(station.start, station.duration, station.unit, tuple(intervals))


def within(periods: Sequence[tuple[int, float | None]], composite: Composite, tolerance: float = 0.0) -> bool:
    """Whether a schedule's periods (start offset, limit; None: no limit given) stay at or below ``composite``
    wherever they overlap: each piece of the composite that begins inside a period counts, not only the one in
    force at its start (K15.FR.09 on the station, K15.FR.11/12 on the CSMS: an EV's schedule against the
    schedule it was offered)."""
    ordered = sorted(periods, key=lambda p: p[0])
    for n, (start, limit) in enumerate(ordered):
        if limit is None or start >= composite.duration:
            continue
        end = ordered[n + 1][0] if n + 1 < len(ordered) else composite.duration
        points = {start} | {i.start for i in composite.intervals if start < i.start < end}
        if any(limit > composite.limit_at(t).limit + tolerance for t in points):
            return False
    return True
