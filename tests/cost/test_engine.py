"""The cost engine (2.1 I12, I07.FR.17, I12.FR.13): worked examples from the specification, then property
tests against a brute-force reference that prices every second of the session from the rules directly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chargeplane.cost.engine import cost, round_money, tax_factor
from chargeplane.cost.model import (
    Bound,
    Conditions,
    Element,
    MeterSample,
    Price,
    Tariff,
    TariffSpan,
    TaxRate,
)
from chargeplane.cost.wire import cost_details, tariff_from_wire
from chargeplane.ocpp.messages import v21

T0 = datetime(2023, 4, 5, 17, 30, tzinfo=UTC)  # a Wednesday
D = Decimal
OFFICE = Conditions(start_time_of_day=time(8), end_time_of_day=time(18))
VAT10 = (TaxRate("vat", D(10)),)


def spec_tariff_11() -> Tariff:
    """2.1 §1.2.2: 0.40/kWh 08:00-18:00, else 0.25; an idle fee of 1/min during office hours."""
    return Tariff(
        "11",
        "EUR",
        energy=Element((Price(D("0.40"), OFFICE), Price(D("0.25"))), VAT10),
        idle_time=Element((Price(D(1), OFFICE),), VAT10),
    )


def sample(minutes: float, wh: float, charging: bool = True) -> MeterSample:
    return MeterSample(T0 + timedelta(minutes=minutes), D(str(wh)), charging)


def test_I12_time_of_day_energy_split_at_the_condition_boundary() -> None:
    # 60 minutes at an even 12 kW from 17:30: 6 kWh before 18:00 at 0.40, 6 kWh after at 0.25.
    result = cost([TariffSpan(T0, spec_tariff_11())], [sample(0, 0), sample(60, 12000)])
    assert result.energy is not None
    assert result.energy.excl_tax == D("3.90")  # 6 * 0.40 + 6 * 0.25
    assert result.energy.incl_tax == D("4.29")
    assert result.total.excl_tax == D("3.90")
    assert result.total.incl_tax == D("4.29")
    assert result.energy_wh == 12000
    assert [(p.start, p.energy_wh) for p in result.periods] == [
        (T0, D(6000)),
        (T0 + timedelta(minutes=30), D(6000)),
    ]


def test_I12_idle_fee_only_while_not_charging_and_in_office_hours() -> None:
    samples = [sample(-40, 0), sample(-20, 5000, charging=False), sample(10, 5000, charging=False)]
    result = cost([TariffSpan(T0 - timedelta(hours=1), spec_tariff_11())], samples)
    # Idle from 17:10 to 17:40, but the fee applies only until 18:00 -> whole 30 minutes.
    assert result.idle_time is not None
    assert result.idle_time.excl_tax == D("30.00")
    assert result.idle_seconds == 1800
    assert result.charging_seconds == 1200


def test_I12_FR_13_stacked_taxes() -> None:
    rates = (TaxRate("energy", D(5), 0), TaxRate("vat", D(20), 1), TaxRate("local", D(1), 1))
    assert tax_factor(rates) == Fraction(105, 100) * Fraction(121, 100)


def test_fixed_fee_min_and_max_cost() -> None:
    tariff = Tariff(
        "t",
        "EUR",
        energy=Element((Price(D("0.30")),)),
        fixed=Element((Price(D("1.00")),), VAT10),
        min_cost=Bound(D("2.00"), D("2.40")),
        max_cost=Bound(D("10.00")),
    )
    small = cost([TariffSpan(T0, tariff)], [sample(0, 0), sample(10, 1000)])
    assert small.bounded == "min"
    assert small.total.excl_tax == D("2.00")
    assert small.total.incl_tax == D("2.40")
    big = cost([TariffSpan(T0, tariff)], [sample(0, 0), sample(600, 100000)])
    assert big.bounded == "max"
    assert big.total.excl_tax == D("10.00")


def test_I11_FR_08_a_changed_tariff_applies_from_the_change_only() -> None:
    cheap = Tariff("a", "EUR", energy=Element((Price(D("0.10")),)))
    dear = Tariff("b", "EUR", energy=Element((Price(D("0.50")),)))
    spans = [TariffSpan(T0, cheap), TariffSpan(T0 + timedelta(minutes=30), dear)]
    result = cost(spans, [sample(0, 0), sample(60, 2000)])
    assert result.total.excl_tax == D("0.60")
    assert [p.tariff_id for p in result.periods] == ["a", "b"]
    with pytest.raises(ValueError, match="currency"):
        cost([TariffSpan(T0, cheap), TariffSpan(T0, Tariff("c", "USD"))], [])


def test_wrapping_window_day_of_week_and_local_time() -> None:
    night = Conditions(start_time_of_day=time(22), end_time_of_day=time(6), days_of_week=frozenset({2}))
    assert night.holds(datetime(2023, 4, 5, 23, 0), None)  # Wednesday 23:00
    assert not night.holds(datetime(2023, 4, 6, 1, 0), None)  # Thursday 01:00: not a Wednesday
    assert Conditions(start_time_of_day=time(18), end_time_of_day=time(0)).holds(
        datetime(2023, 4, 5, 23), None
    )
    tz = timezone(timedelta(hours=2))
    tariff = Tariff("t", "EUR", energy=Element((Price(D(1), OFFICE), Price(D(0)))))
    # 17:30Z is 19:30 local (+02:00): outside office hours, free.
    assert cost([TariffSpan(T0, tariff)], [sample(0, 0), sample(10, 1000)], tz=tz).total.excl_tax == 0


def test_wire_round_trip_and_unsupported_condition() -> None:
    dt = v21.datatypes
    wire = dt.TariffType(
        tariff_id="11",
        currency="EUR",
        energy=dt.TariffEnergyType(
            prices=[
                dt.TariffEnergyPriceType(
                    price_kwh=0.4,
                    conditions=dt.TariffConditionsType(start_time_of_day="08:00", end_time_of_day="18:00"),
                ),
                dt.TariffEnergyPriceType(price_kwh=0.25),
            ],
            tax_rates=[dt.TaxRateType(type="vat", tax=10.0)],
        ),
    )
    tariff = tariff_from_wire(wire)
    assert tariff.energy is not None
    assert tariff.energy.prices[0].amount == D("0.4")
    details = cost_details(
        cost([TariffSpan(T0, tariff)], [sample(0, 0), sample(60, 12000)]), with_periods=True
    )
    assert details.total_cost.total.incl_tax == 4.29
    assert details.charging_periods
    assert len(details.charging_periods) == 2
    from chargeplane.cost.model import UnsupportedCondition

    with pytest.raises(UnsupportedCondition):
        tariff_from_wire(
            dt.TariffType(
                tariff_id="x",
                currency="EUR",
                energy=dt.TariffEnergyType(
                    prices=[
                        dt.TariffEnergyPriceType(
                            price_kwh=1, conditions=dt.TariffConditionsType(max_power=11000)
                        )
                    ]
                ),
            )
        )


# -- properties -------------------------------------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=2, places=2)
minute_of_day = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
conditions = st.builds(
    Conditions,
    start_time_of_day=st.none() | minute_of_day,
    end_time_of_day=st.none() | minute_of_day,
    days_of_week=st.none() | st.frozensets(st.integers(0, 6), min_size=1),
)
elements = st.none() | st.builds(
    Element,
    prices=st.lists(st.builds(Price, prices, conditions), min_size=1, max_size=3).map(tuple),
    tax_rates=st.lists(
        st.builds(TaxRate, st.just("t"), st.decimals(min_value=0, max_value=30, places=1), st.integers(0, 1)),
        max_size=2,
    ).map(tuple),
)
tariffs = st.builds(
    Tariff,
    tariff_id=st.just("T"),
    currency=st.just("EUR"),
    energy=elements,
    charging_time=elements,
    idle_time=elements,
)


@st.composite
def sessions(draw: st.DrawFn) -> list[MeterSample]:
    """Samples at whole seconds over up to two days, the register never going back."""
    at, wh = T0 - timedelta(hours=draw(st.integers(0, 30))), D(0)
    out = [MeterSample(at, wh, draw(st.booleans()))]
    for _ in range(draw(st.integers(1, 6))):
        at += timedelta(seconds=draw(st.integers(1, 8 * 3600)))
        wh += D(draw(st.integers(0, 30000)))
        out.append(MeterSample(at, wh, draw(st.booleans())))
    return out


def brute_force(tariff: Tariff, samples: list[MeterSample], tz: timezone) -> Fraction:
    """Every second of the session priced on its own (excluding tax, before rounding)."""
    total = Fraction(0)
    for before, after in itertools.pairwise(samples):
        seconds = int((after.at - before.at).total_seconds())
        per_second_wh = (Fraction(after.energy_wh) - Fraction(before.energy_wh)) / seconds
        for k in range(seconds):
            local = (before.at + timedelta(seconds=k)).astimezone(tz)
            if tariff.energy is not None:
                i = tariff.energy.applicable(local, None)
                if i is not None:
                    total += per_second_wh / 1000 * Fraction(tariff.energy.prices[i].amount)
            element = tariff.charging_time if before.charging else tariff.idle_time
            if element is not None:
                j = element.applicable(local, None)
                if j is not None:
                    total += Fraction(element.prices[j].amount) / 60
    return total


def excl_sum(tariff: Tariff, samples: list[MeterSample], tz: timezone = UTC) -> Decimal:
    result = cost([TariffSpan(samples[0].at, tariff)], samples, tz=tz)
    return result.total.excl_tax


@settings(max_examples=40, deadline=None)
@given(tariffs, sessions(), st.integers(-12, 12))
def test_against_a_per_second_reference(tariff: Tariff, samples: list[MeterSample], hours: int) -> None:
    tz = timezone(timedelta(hours=hours))
    short = [s for s in samples if s.at - samples[0].at <= timedelta(hours=3)]  # keep the reference quick
    if len(short) < 2:
        return
    expected = brute_force(tariff, short, tz)
    result = cost([TariffSpan(short[0].at, tariff)], short, tz=tz)
    parts = [p for p in (result.energy, result.charging_time, result.idle_time) if p is not None]
    # Each component is rounded on its own: the sum differs from the exact value by at most half a cent each.
    assert abs(Fraction(result.total.excl_tax) - expected) <= Fraction(len(parts), 200)


@settings(max_examples=60, deadline=None)
@given(tariffs, sessions(), st.floats(0, 1))
def test_splitting_a_session_anywhere_keeps_the_total(
    tariff: Tariff, samples: list[MeterSample], where: float
) -> None:
    first, last = samples[0].at, samples[-1].at
    cut = first + timedelta(seconds=int((last - first).total_seconds() * where))
    for before, after in itertools.pairwise(samples):
        if before.at < cut < after.at:
            share = Fraction(
                (cut - before.at) // timedelta(seconds=1), (after.at - before.at) // timedelta(seconds=1)
            )
            wh = Fraction(before.energy_wh) + (Fraction(after.energy_wh) - Fraction(before.energy_wh)) * share
            if wh.denominator not in (1, 2, 4, 5, 8, 10):  # only exactly representable readings
                return
            split = [
                *samples[: samples.index(after)],
                MeterSample(cut, D(wh.numerator) / D(wh.denominator), before.charging),
                *samples[samples.index(after) :],
            ]
            assert (
                cost([TariffSpan(first, tariff)], split).total
                == cost([TariffSpan(first, tariff)], samples).total
            )


@settings(max_examples=60, deadline=None)
@given(tariffs, sessions(), st.integers(0, 50000), st.integers(0, 3600))
def test_cost_is_monotone_in_energy_and_time(
    tariff: Tariff, samples: list[MeterSample], more_wh: int, more_seconds: int
) -> None:
    base = excl_sum(tariff, samples)
    last = samples[-1]
    more_energy = [*samples[:-1], MeterSample(last.at, last.energy_wh + more_wh, last.charging)]
    assert excl_sum(tariff, more_energy) >= base
    longer = [
        *samples,
        MeterSample(last.at + timedelta(seconds=more_seconds + 1), last.energy_wh, last.charging),
    ]
    assert excl_sum(tariff, longer) >= base


@settings(max_examples=60, deadline=None)
@given(tariffs, sessions(), prices, prices)
def test_min_and_max_cost_respected(
    tariff: Tariff, samples: list[MeterSample], low: Decimal, high: Decimal
) -> None:
    low, high = min(low, high), max(low, high)
    bounded = Tariff(**{**tariff.__dict__, "min_cost": Bound(low), "max_cost": Bound(high)})
    total = excl_sum(bounded, samples)
    assert low <= total <= high


def test_rounding_is_half_up_to_the_cent() -> None:
    assert round_money(Fraction(1, 200)) == D("0.01")
    assert round_money(Fraction(1, 201)) == D("0.00")
