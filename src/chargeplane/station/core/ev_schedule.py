"""What a simulated ISO 15118 EV does with the schedule the station offers it (K15-K17), as pure functions.

The station hands the EV its composite schedule for the EVSE (in ISO 15118: the SAScheduleTuple of
ChargeParameterDiscoveryRes); the EV answers with its own charging profile (PowerDeliveryReq), which the
station checks against what it offered (K15.FR.09, K16.FR.04, K17.FR.09) before passing it on in
NotifyEVChargingSchedule. Our EV charges as fast as the offer and its own maximum allow until its energy need
is met, then stops: an honest schedule the CSMS can verify. Offered several schedules (ISO 15118
SAScheduleTuples, K15.FR.07), it picks the one that delivers most of its need before departure, soonest
(:func:`pick`); sales tariffs are not modelled, so price plays no part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chargeplane.smart_charging import composite
from chargeplane.smart_charging.model import Composite, RateUnit

VOLTAGE_V = 230.0  # phase to neutral, as the shared engine converts A <-> W
TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class EvLimits:
    """The EV's side of the negotiation: its maximum rate and the energy it still wants."""

    max_current_a: float  # per phase (AC), or the DC current
    max_power_w: float | None  # DC: its maximum power (None: current times voltage)
    max_voltage_v: float
    energy_wh: float
    dc: bool
    phases: int = 3


@dataclass(frozen=True, slots=True)
class EvPeriod:
    start: int  # seconds after the schedule's start
    limit: float  # in the schedule's unit


def ev_max(ev: EvLimits, unit: RateUnit) -> float:
    """The EV's own maximum in ``unit``."""
    if unit is RateUnit.AMPERE:
        return ev.max_current_a
    if ev.dc:
        return ev.max_power_w if ev.max_power_w is not None else ev.max_current_a * ev.max_voltage_v
    return ev.max_current_a * VOLTAGE_V * ev.phases


def _watts(limit: float, unit: RateUnit, phases: int) -> float:
    return limit * VOLTAGE_V * phases if unit is RateUnit.AMPERE else limit


@dataclass(frozen=True, slots=True)
class Plan:
    """What the EV would draw from an offer: its periods, the energy they deliver, when its need is met."""

    periods: list[EvPeriod]
    delivered_wh: float
    done_at: int | None  # seconds after the offer's start; None: not within the offer


def pick(
    offers: Sequence[tuple[int, Composite]], ev: EvLimits, most_periods: int
) -> tuple[int, list[EvPeriod]]:
    """K15.FR.19: the id of the offered schedule the EV takes and its profile within it. The most energy
    delivered before departure (the offers' end) wins, then the need met soonest, then the first offered."""

    def rank(n: int) -> tuple[float, float, int]:
        plan = _plan(offers[n][1], ev)
        done = float("inf") if plan.done_at is None else float(plan.done_at)
        return (-round(plan.delivered_wh, 3), done, n)

    best = min(range(len(offers)), key=rank)
    schedule_id, offer = offers[best]
    return schedule_id, choose(offer, ev, most_periods)


def _plan(offer: Composite, ev: EvLimits) -> Plan:
    """min(offer, EV maximum) from the start until ``ev.energy_wh`` is delivered, 0 afterwards; equal
    neighbours merged."""
    cap = ev_max(ev, offer.unit)
    left_wh = max(0.0, ev.energy_wh)
    done_at: int | None = 0 if left_wh <= TOLERANCE else None
    periods: list[EvPeriod] = []

    def add(start: int, limit: float) -> None:
        limit = round(limit, 1)
        if periods and abs(periods[-1].limit - limit) < TOLERANCE:
            return
        periods.append(EvPeriod(start, limit))

    intervals = [i for i in offer.intervals if i.start < offer.duration]
    for n, interval in enumerate(intervals):
        end = intervals[n + 1].start if n + 1 < len(intervals) else offer.duration
        if left_wh <= TOLERANCE:
            add(interval.start, 0.0)
            continue
        limit = max(0.0, min(interval.limit, cap))
        watts = _watts(limit, offer.unit, interval.number_phases or ev.phases)
        if watts <= TOLERANCE:
            add(interval.start, 0.0)
            continue
        seconds = end - interval.start
        needed_s = int(left_wh * 3600.0 / watts + 0.999)  # whole seconds, rounding up
        add(interval.start, limit)
        if needed_s < seconds:
            add(interval.start + needed_s, 0.0)
            left_wh = 0.0
            done_at = interval.start + needed_s
        else:
            left_wh -= watts * seconds / 3600.0
            if left_wh <= TOLERANCE:
                done_at = end
    return Plan(periods, max(0.0, ev.energy_wh) - max(0.0, left_wh), done_at)


def choose(offer: Composite, ev: EvLimits, most_periods: int) -> list[EvPeriod]:
    """The EV's profile within ``offer`` (see :func:`_plan`), at most ``most_periods`` periods (the rest of
    the offer is then left at the last period's limit lowered to the offer's minimum over that rest, so that
    it stays within the offer)."""
    cap = ev_max(ev, offer.unit)
    periods = _plan(offer, ev).periods
    if not periods:
        return [EvPeriod(0, 0.0)]
    if len(periods) > most_periods >= 1:
        kept = periods[: most_periods - 1]
        tail_start = periods[most_periods - 1].start
        floor = min(
            [offer.limit_at(tail_start).limit]
            + [i.limit for i in offer.intervals if tail_start < i.start < offer.duration]
        )
        kept.append(EvPeriod(tail_start, round(max(0.0, min(floor, cap)), 1)))
        periods = kept
    return periods


def within(periods: list[EvPeriod], offer: Composite) -> bool:
    """K15.FR.09 / K16.FR.04 / K17.FR.09: the EV's profile stays at or below the offer wherever they overlap."""
    return composite.within([(p.start, p.limit) for p in periods], offer, TOLERANCE)
