"""The 2.1 wire types of tariffs and cost details <-> the engine's model."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from msgspec import UNSET, UnsetType

from chargeplane.cost.model import (
    ALWAYS,
    Amount,
    Bound,
    Breakdown,
    Conditions,
    Element,
    Price,
    Tariff,
    TaxRate,
    UnsupportedCondition,
)
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire, to_wire

dt = v21.datatypes
en = v21.enums
_DAYS = {day.value: index for index, day in enumerate(en.DayOfWeekEnumType)}
# Conditions the engine does not evaluate: a tariff using them is answered ConditionNotSupported.
_UNSUPPORTED = (
    "min_energy",
    "max_energy",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
    "min_time",
    "max_time",
    "min_charging_time",
    "max_charging_time",
    "min_idle_time",
    "max_idle_time",
    "payment_brand",
    "payment_recognition",
)


def _number(value: float) -> Decimal:
    return Decimal(
        repr(value)
    )  # the shortest decimal that reads back as the float: 0.1, not 0.1000000000000000055


def _time(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def conditions(wire: dt.TariffConditionsType | dt.TariffConditionsFixedType | None) -> Conditions:
    if wire is None:
        return ALWAYS
    for name in _UNSUPPORTED:
        if present(getattr(wire, name, UNSET)) is not None:
            raise UnsupportedCondition(name)
    days = present(wire.day_of_week)
    kind = present(wire.evse_kind)
    try:
        return Conditions(
            start_time_of_day=_time(present(wire.start_time_of_day)),
            end_time_of_day=_time(present(wire.end_time_of_day)),
            days_of_week=frozenset(_DAYS[str(d)] for d in days) if days is not None else None,
            valid_from_date=_date(present(wire.valid_from_date)),
            valid_to_date=_date(present(wire.valid_to_date)),
            evse_kind=str(kind) if kind is not None else None,
        )
    except ValueError as error:
        raise ValueError(f"invalid condition: {error}") from error


def _rates(wire: list[dt.TaxRateType] | None) -> tuple[TaxRate, ...]:
    return tuple(TaxRate(r.type, _number(r.tax), present(r.stack) or 0) for r in wire or ())


def _energy(wire: dt.TariffEnergyType | None) -> Element | None:
    if wire is None:
        return None
    prices = tuple(Price(_number(p.price_kwh), conditions(present(p.conditions))) for p in wire.prices)
    return Element(prices, _rates(present(wire.tax_rates)))


def _time_element(wire: dt.TariffTimeType | None) -> Element | None:
    if wire is None:
        return None
    prices = tuple(Price(_number(p.price_minute), conditions(present(p.conditions))) for p in wire.prices)
    return Element(prices, _rates(present(wire.tax_rates)))


def _fixed(wire: dt.TariffFixedType | None) -> Element | None:
    if wire is None:
        return None
    prices = tuple(Price(_number(p.price_fixed), conditions(present(p.conditions))) for p in wire.prices)
    return Element(prices, _rates(present(wire.tax_rates)))


def _bound(wire: dt.PriceType | None) -> Bound | None:
    if wire is None:
        return None
    excl, incl = present(wire.excl_tax), present(wire.incl_tax)
    return Bound(_number(excl) if excl is not None else None, _number(incl) if incl is not None else None)


def tariff_from_wire(wire: dt.TariffType) -> Tariff:
    """The engine's tariff; raises UnsupportedCondition, or ValueError for an invalid structure."""
    if not wire.currency or len(wire.currency) != 3:
        raise ValueError("currency must be an ISO 4217 code")
    valid_from = present(wire.valid_from)
    for name in ("reservation_time", "reservation_fixed"):
        if present(getattr(wire, name)) is not None:
            raise UnsupportedCondition(name)
    return Tariff(
        tariff_id=wire.tariff_id,
        currency=wire.currency,
        energy=_energy(present(wire.energy)),
        charging_time=_time_element(present(wire.charging_time)),
        idle_time=_time_element(present(wire.idle_time)),
        fixed=_fixed(present(wire.fixed_fee)),
        min_cost=_bound(present(wire.min_cost)),
        max_cost=_bound(present(wire.max_cost)),
        valid_from=from_wire(valid_from) if valid_from is not None else None,
        descriptions=tuple((present(d.language) or "", d.content) for d in present(wire.description) or ()),
    )


def _price(amount: Amount | None) -> dt.PriceType | UnsetType:
    if amount is None:
        return UNSET
    return dt.PriceType(
        excl_tax=float(amount.excl_tax),
        incl_tax=float(amount.incl_tax),
        tax_rates=[
            dt.TaxRateType(type=r.type, tax=float(r.percent), stack=r.stack if r.stack else UNSET)
            for r in amount.tax_rates
        ]
        or UNSET,
    )


_COST_TYPE = {None: en.TariffCostEnumType.NORMAL_COST, "min": en.TariffCostEnumType.MIN_COST}


def cost_details(breakdown: Breakdown, *, with_periods: bool) -> dt.CostDetailsType:
    """``CostDetailsType`` of a breakdown; running cost leaves the periods out (I12 step 6a)."""
    periods = []
    for period in breakdown.periods if with_periods else ():
        dimensions = [
            dt.CostDimensionType(type=en.CostDimensionEnumType.ENERGY, volume=float(period.energy_wh))
        ]
        if period.charging_seconds:
            dimensions.append(
                dt.CostDimensionType(
                    type=en.CostDimensionEnumType.CHARGING_TIME, volume=float(period.charging_seconds)
                )
            )
        if period.idle_seconds:
            dimensions.append(
                dt.CostDimensionType(
                    type=en.CostDimensionEnumType.IDLE_T_IME, volume=float(period.idle_seconds)
                )
            )
        periods.append(
            dt.ChargingPeriodType(
                dimensions=dimensions, tariff_id=period.tariff_id, start_period=to_wire(period.start)
            )
        )
    return dt.CostDetailsType(
        charging_periods=periods or UNSET,
        total_cost=dt.TotalCostType(
            currency=breakdown.currency,
            type_of_cost=_COST_TYPE.get(breakdown.bounded, en.TariffCostEnumType.MAX_COST),
            fixed=_price(breakdown.fixed),
            energy=_price(breakdown.energy),
            charging_time=_price(breakdown.charging_time),
            idle_time=_price(breakdown.idle_time),
            total=dt.TotalPriceType(
                excl_tax=float(breakdown.total.excl_tax), incl_tax=float(breakdown.total.incl_tax)
            ),
        ),
        total_usage=dt.TotalUsageType(
            energy=float(breakdown.energy_wh),
            charging_time=int(breakdown.charging_seconds),
            idle_time=int(breakdown.idle_seconds),
        ),
    )


def reported_total(details: dt.CostDetailsType) -> tuple[Decimal | None, Decimal | None]:
    """The total (excluding, including tax) a station reported in its costDetails."""
    total = details.total_cost.total
    excl, incl = present(total.excl_tax), present(total.incl_tax)
    return (_number(excl) if excl is not None else None, _number(incl) if incl is not None else None)
