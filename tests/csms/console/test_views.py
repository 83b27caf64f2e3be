"""What the console's pages compute from the blocks' records (no database): the chart's series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chargeplane.csms.console.views import ENERGY, POWER, chart_series, matches, start_of_day

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    timestamp: datetime
    measurand: str
    value: float | None
    unit: str | None = None
    multiplier: int | None = None
    phase: str | None = None


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_energy_and_power_in_base_units_in_time_order() -> None:
    series = chart_series(
        [
            Sample(T0 + timedelta(seconds=10), ENERGY, 1.5, "kWh"),
            Sample(T0, ENERGY, 1000.0, "Wh"),
            Sample(T0, POWER, 7.2, "kW"),
            Sample(T0 + timedelta(seconds=10), POWER, 11, "W", multiplier=3),
            Sample(T0, "Current.Import", 16.0, "A"),  # not charted
            Sample(T0, "Energy.Reactive.Import.Register", 5.0, "kvarh"),  # not charted
        ]
    )
    assert series.energy == [(at(0), 1000.0), (at(10), 1500.0)]
    assert series.power == [(at(0), 7200.0), (at(10), 11000.0)]


def test_default_units_and_unknown_units() -> None:
    series = chart_series([Sample(T0, ENERGY, 42.0), Sample(T0, POWER, 3.0, "varh"), Sample(T0, POWER, None)])
    assert series.energy == [(at(0), 42.0)]  # the register's default unit is Wh
    assert series.power == []


def test_per_phase_values_add_up_only_when_there_is_no_total() -> None:
    phases = [Sample(T0, POWER, 3.0, "kW", phase=p) for p in ("L1", "L2", "L3")]
    assert chart_series(phases).power == [(at(0), 9000.0)]
    with_total = [*phases, Sample(T0, POWER, 8.9, "kW")]
    assert chart_series(with_total).power == [(at(0), 8900.0)]
    line_to_line = [Sample(T0, POWER, 1.0, "kW", phase="L1-L2"), Sample(T0, POWER, 2.0, "kW", phase="L1-N")]
    assert chart_series(line_to_line).power == [(at(0), 2000.0)]  # line to line is no share of the total


def test_search_and_day() -> None:
    assert matches("", None)
    assert matches(" depot ", "CS1", "North Depot")
    assert not matches("south", "CS1", None, "North Depot")
    assert start_of_day(T0 + timedelta(hours=5, minutes=3)) == T0 - timedelta(hours=8)
