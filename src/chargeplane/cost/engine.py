"""The cost of a transaction from its meter samples and the tariffs that applied (2.1 I12; 2.0.1 I02/I03).

Between two samples the energy is taken to flow evenly, and the EV's state (charging or idle) is that of the
earlier sample. The session is cut at every sample, every change of tariff and every local time of day at
which a price condition may change (its start and end times, local midnights); in each piece one energy
price and one time price apply, so the cost is exact: the arithmetic is done in fractions and money is
rounded once per component at the end.

Decisions where the specification is silent:

* Money is rounded half-up to ``places`` decimals (default 2, the currency's minor unit) per component,
  excluding and including tax; ``total`` is the sum of the rounded components (I12.FR.17).
* The fixed fee is that of the tariff in force at the start, its conditions evaluated at the start
  (2.1 §1.2: a fixed fee is applied at the start of a transaction).
* A minimum or maximum cost bounds the total excluding tax; the bound's ``inclTax`` is used when given,
  else the total including tax is scaled by the same ratio.
* A day-of-week or date condition is evaluated on the local date of each instant (a window wrapping past
  midnight belongs, after midnight, to the next day).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from chargeplane.cost.model import (
    Amount,
    Bound,
    Breakdown,
    Element,
    MeterSample,
    Period,
    Tariff,
    TariffSpan,
    TaxRate,
)

_SECOND = timedelta(seconds=1)


def tax_factor(rates: Sequence[TaxRate]) -> Fraction:
    """I12.FR.13: the rates of stack 0 apply to the net price, those of stack 1 to that result, and so on."""
    factor = Fraction(1)
    for stack in sorted({rate.stack for rate in rates}):
        factor *= 1 + sum((Fraction(r.percent) for r in rates if r.stack == stack), Fraction(0)) / 100
    return factor


def round_money(value: Fraction | Decimal, places: int = 2) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    with localcontext() as context:
        context.prec = 60
        exact = value if isinstance(value, Decimal) else Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(quantum, rounding=ROUND_HALF_UP)


def _decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 30
        return (Decimal(value.numerator) / Decimal(value.denominator)).normalize()


@dataclass
class _Sum:
    """One cost component: exact amounts and whether any price of it applied."""

    excl: Fraction = Fraction(0)
    incl: Fraction = Fraction(0)
    used: bool = False
    rates: tuple[TaxRate, ...] = ()

    def add(self, amount: Fraction, element: Element) -> None:
        self.excl += amount
        self.incl += amount * tax_factor(element.tax_rates)
        if not self.used:
            self.rates = element.tax_rates
        self.used = True

    def amount(self, places: int) -> Amount | None:
        if not self.used:
            return None
        return Amount(round_money(self.excl, places), round_money(self.incl, places), self.rates)


def _seconds(delta: timedelta) -> Fraction:
    return Fraction(delta // timedelta(microseconds=1), 1_000_000)


def _change_points(
    spans: Sequence[TariffSpan], first: datetime, last: datetime, tz: tzinfo
) -> list[datetime]:
    """Local midnights and the condition times of day of every tariff, in UTC, strictly inside (first, last)."""
    times = frozenset({time(0)}).union(*(span.tariff.times_of_day() for span in spans))
    day = first.astimezone(tz).date() - timedelta(days=1)
    end_day = last.astimezone(tz).date() + timedelta(days=1)
    points: list[datetime] = []
    while day <= end_day:
        for moment in times:
            at = datetime.combine(day, moment).replace(tzinfo=tz).astimezone(UTC)
            if first < at < last:
                points.append(at)
        day += timedelta(days=1)
    return points


def _tariff_at(spans: Sequence[TariffSpan], at: datetime) -> Tariff:
    chosen = spans[0].tariff
    for span in spans:
        if span.start <= at:
            chosen = span.tariff
    return chosen


def _bounded(total: Amount, tariff: Tariff, places: int) -> tuple[Amount, str | None]:
    def replace(bound: Bound) -> Amount:
        assert bound.excl_tax is not None
        excl = round_money(bound.excl_tax, places)
        if bound.incl_tax is not None:
            return Amount(excl, round_money(bound.incl_tax, places))
        if total.excl_tax == 0:
            return Amount(excl, excl)
        return Amount(excl, round_money(bound.excl_tax * total.incl_tax / total.excl_tax, places))

    low, high = tariff.min_cost, tariff.max_cost
    if low is not None and low.excl_tax is not None and total.excl_tax < low.excl_tax:
        return replace(low), "min"
    if high is not None and high.excl_tax is not None and total.excl_tax > high.excl_tax:
        return replace(high), "max"
    return total, None


def cost(
    spans: Sequence[TariffSpan],
    samples: Sequence[MeterSample],
    *,
    tz: tzinfo = UTC,
    evse_kind: str | None = None,
    places: int = 2,
) -> Breakdown:
    """The cost of a transaction whose meter was read at ``samples`` (in time order), under ``spans``
    (tariffs in force from their start, in order). ``tz`` is the station's local time zone."""
    if not spans:
        raise ValueError("no tariff")
    currency = spans[0].tariff.currency
    if any(span.tariff.currency != currency for span in spans):
        raise ValueError("a transaction's tariffs must share one currency (I11.FR.05)")
    ordered = sorted(samples, key=lambda s: s.at)
    start = ordered[0].at if ordered else spans[0].start
    local: Callable[[datetime], datetime] = lambda at: at.astimezone(tz)  # noqa: E731

    fixed, energy, charging, idle = _Sum(), _Sum(), _Sum(), _Sum()
    opening = _tariff_at(spans, start)
    if opening.fixed is not None:
        index = opening.fixed.applicable(local(start), evse_kind)
        if index is not None:
            fixed.add(Fraction(opening.fixed.prices[index].amount), opening.fixed)

    used_wh, charging_s, idle_s = Fraction(0), Fraction(0), Fraction(0)
    periods: list[tuple[tuple[object, ...], datetime, list[Fraction]]] = []
    if len(ordered) >= 2:
        cuts = sorted(
            set(_change_points(spans, start, ordered[-1].at, tz))
            | {s.start for s in spans if start < s.start < ordered[-1].at}
        )
        cut_index = 0
        for before, after in itertools.pairwise(ordered):
            length = _seconds(after.at - before.at)
            if length <= 0:
                continue
            delta_wh = Fraction(after.energy_wh) - Fraction(before.energy_wh)
            while cut_index < len(cuts) and cuts[cut_index] <= before.at:
                cut_index += 1
            edges = [before.at]
            while cut_index < len(cuts) and cuts[cut_index] < after.at:
                edges.append(cuts[cut_index])
                cut_index += 1
            edges.append(after.at)
            for a, b in itertools.pairwise(edges):
                seconds = _seconds(b - a)
                wh = delta_wh * seconds / length
                tariff = _tariff_at(spans, a)
                wall = local(a)
                energy_index: int | None = None
                if tariff.energy is not None:
                    energy_index = tariff.energy.applicable(wall, evse_kind)
                    if energy_index is not None:
                        price = Fraction(tariff.energy.prices[energy_index].amount)
                        energy.add(wh / 1000 * price, tariff.energy)
                element = tariff.charging_time if before.charging else tariff.idle_time
                sum_ = charging if before.charging else idle
                time_index: int | None = None
                if element is not None:
                    time_index = element.applicable(wall, evse_kind)
                    if time_index is not None:
                        sum_.add(seconds / 60 * Fraction(element.prices[time_index].amount), element)
                used_wh += wh
                if before.charging:
                    charging_s += seconds
                else:
                    idle_s += seconds
                key = (tariff.tariff_id, energy_index, before.charging, time_index)
                if not periods or periods[-1][0] != key:
                    periods.append((key, a, [Fraction(0), Fraction(0), Fraction(0)]))
                volumes = periods[-1][2]
                volumes[0] += wh
                volumes[1 if before.charging else 2] += seconds

    parts = [s.amount(places) for s in (fixed, energy, charging, idle)]
    total = Amount(Decimal(0).scaleb(-places), Decimal(0).scaleb(-places))
    for part in parts:
        if part is not None:
            total = total + part
    total, bounded = _bounded(total, _tariff_at(spans, ordered[-1].at if ordered else start), places)
    return Breakdown(
        currency=currency,
        fixed=parts[0],
        energy=parts[1],
        charging_time=parts[2],
        idle_time=parts[3],
        total=total,
        energy_wh=_decimal(used_wh),
        charging_seconds=_decimal(charging_s),
        idle_seconds=_decimal(idle_s),
        periods=tuple(
            Period(
                start=at,
                tariff_id=str(key[0]),
                energy_wh=_decimal(v[0]),
                charging_seconds=_decimal(v[1]),
                idle_seconds=_decimal(v[2]),
            )
            for key, at, v in periods
        ),
        bounded=bounded,
    )
