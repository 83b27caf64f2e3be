"""Tariffs as the cost engine sees them, the same on the CSMS and the station (2.1 Part 2 block I, §1.2).

A tariff has price lists for energy (per kWh), charging time and idle time (per minute) and a fixed fee,
each with its tax rates; a price applies when all of its conditions hold, and of several the first in the
list applies (2.1 §1.2). Money and quantities are ``Decimal``; times are aware datetimes. The wire form
(``TariffType``) is converted by ``wire.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal


class UnsupportedCondition(ValueError):
    """A tariff condition this engine does not evaluate (power, current, energy, duration, payment)."""


@dataclass(frozen=True)
class Conditions:
    """When a price applies, in the station's local time (I07.FR.17); every condition set must hold."""

    start_time_of_day: time | None = None
    end_time_of_day: time | None = None  # before start: wraps past midnight; 00:00 ends at midnight
    days_of_week: frozenset[int] | None = None  # 0 Monday .. 6 Sunday (date.weekday())
    valid_from_date: date | None = None  # inclusive
    valid_to_date: date | None = None  # exclusive
    evse_kind: str | None = None  # "AC" / "DC"

    def holds(self, local: datetime, evse_kind: str | None) -> bool:
        """Whether the conditions hold at the local wall time ``local``."""
        if self.evse_kind is not None and evse_kind is not None and self.evse_kind != evse_kind:
            return False
        day = local.date()
        if self.valid_from_date is not None and day < self.valid_from_date:
            return False
        if self.valid_to_date is not None and day >= self.valid_to_date:
            return False
        if self.days_of_week is not None and local.weekday() not in self.days_of_week:
            return False
        return self._in_window(local.time().replace(tzinfo=None))

    def _in_window(self, now: time) -> bool:
        start, end = self.start_time_of_day, self.end_time_of_day
        if start is None and end is None:
            return True
        if end == time(0):
            end = None  # "to stop at end of the day use 00:00"
        if start is None:
            return end is None or now < end
        if end is None:
            return now >= start
        if start <= end:
            return start <= now < end
        return now >= start or now < end  # wraps around midnight

    def times_of_day(self) -> tuple[time, ...]:
        """The local times of day at which the result of :meth:`holds` may change."""
        return tuple(t for t in (self.start_time_of_day, self.end_time_of_day) if t is not None)


ALWAYS = Conditions()


@dataclass(frozen=True)
class TaxRate:
    type: str
    percent: Decimal
    stack: int = 0


@dataclass(frozen=True)
class Price:
    """A price per kWh (energy), per minute (time) or per transaction (fixed), excluding tax."""

    amount: Decimal
    conditions: Conditions = ALWAYS


@dataclass(frozen=True)
class Element:
    """A price list with the tax rates of its prices; the first price whose conditions hold applies."""

    prices: tuple[Price, ...]
    tax_rates: tuple[TaxRate, ...] = ()

    def applicable(self, local: datetime, evse_kind: str | None) -> int | None:
        for index, price in enumerate(self.prices):
            if price.conditions.holds(local, evse_kind):
                return index
        return None


@dataclass(frozen=True)
class Bound:
    """A minimum or maximum cost of a transaction (``PriceType``)."""

    excl_tax: Decimal | None = None
    incl_tax: Decimal | None = None


@dataclass(frozen=True)
class Tariff:
    tariff_id: str
    currency: str
    energy: Element | None = None  # per kWh
    charging_time: Element | None = None  # per minute of charging
    idle_time: Element | None = None  # per minute connected without charging
    fixed: Element | None = None  # once, at the start of the transaction
    min_cost: Bound | None = None
    max_cost: Bound | None = None
    valid_from: datetime | None = None  # system time (I07.FR.18)
    descriptions: tuple[tuple[str, str], ...] = ()  # (language, text)

    def elements(self) -> tuple[Element, ...]:
        return tuple(
            e for e in (self.energy, self.charging_time, self.idle_time, self.fixed) if e is not None
        )

    def element_count(self) -> int:
        """The number of price entries (what TariffCostCtrlr.MaxElements limits, I07.FR.02)."""
        return sum(len(e.prices) for e in self.elements())

    def has_conditions(self) -> bool:
        return any(p.conditions != ALWAYS for e in self.elements() for p in e.prices)

    def times_of_day(self) -> frozenset[time]:
        return frozenset(t for e in self.elements() for p in e.prices for t in p.conditions.times_of_day())


@dataclass(frozen=True)
class TariffSpan:
    """A tariff applied from ``start`` on (I11.FR.08: a changed tariff applies from then, not before)."""

    start: datetime
    tariff: Tariff


@dataclass(frozen=True)
class MeterSample:
    """A reading of the energy register (Wh, cumulative) and whether the EV is charging from then on."""

    at: datetime
    energy_wh: Decimal
    charging: bool


@dataclass(frozen=True)
class Amount:
    """Money excluding and including tax (``PriceType``), rounded."""

    excl_tax: Decimal
    incl_tax: Decimal
    tax_rates: tuple[TaxRate, ...] = ()

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.excl_tax + other.excl_tax, self.incl_tax + other.incl_tax)


@dataclass(frozen=True)
class Period:
    """A stretch of the transaction with one tariff and the same prices applying (``ChargingPeriodType``)."""

    start: datetime
    tariff_id: str
    energy_wh: Decimal
    charging_seconds: Decimal
    idle_seconds: Decimal


@dataclass(frozen=True)
class Breakdown:
    """The cost of a transaction (``CostDetailsType``): per component, the total and the usage."""

    currency: str
    fixed: Amount | None
    energy: Amount | None
    charging_time: Amount | None
    idle_time: Amount | None
    total: Amount
    energy_wh: Decimal
    charging_seconds: Decimal
    idle_seconds: Decimal
    periods: tuple[Period, ...] = field(default=())
    bounded: str | None = None  # "min" / "max" when min_cost / max_cost replaced the sum
