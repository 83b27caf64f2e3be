"""K08.FR.03: the composite of EVSE 0 is what the station draws from the grid, the sum of its EVSEs' capped by
the station-wide profiles."""

from __future__ import annotations

from datetime import UTC, datetime

from chargeplane.smart_charging.composite import station_total
from chargeplane.smart_charging.model import Composite, Interval, RateUnit

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def composite(*pieces: tuple[int, float]) -> Composite:
    return Composite(T0, 600, RateUnit.AMPERE, tuple(Interval(s, limit, 3) for s, limit in pieces))


def test_K08_FR_03_sum_of_the_evses_capped_by_the_station() -> None:
    evse1 = composite((0, 10.0), (300, 16.0))
    evse2 = composite((0, 6.0), (100, 20.0))
    station = composite((0, 32.0), (400, 24.0))
    total = station_total([evse1, evse2], station)
    assert [(i.start, i.limit) for i in total.intervals] == [(0, 16.0), (100, 30.0), (300, 32.0), (400, 24.0)]
    assert (total.start, total.duration, total.unit) == (T0, 600, RateUnit.AMPERE)


def test_equal_neighbours_merge_and_no_evse_leaves_the_station_composite() -> None:
    flat = station_total([composite((0, 8.0)), composite((0, 8.0), (200, 8.0))], composite((0, 40.0)))
    assert [(i.start, i.limit) for i in flat.intervals] == [(0, 16.0)]
    alone = station_total([], composite((0, 40.0), (60, 20.0)))
    assert [(i.start, i.limit) for i in alone.intervals] == [(0, 40.0), (60, 20.0)]
