"""The V2X rules of charging schedule periods (2.1 block Q), pure."""

from __future__ import annotations

from datetime import UTC, datetime

from chargeplane.smart_charging.composite import Fallback, limit_at
from chargeplane.smart_charging.model import Kind, Period, Profile, Purpose, RateUnit, Schedule
from chargeplane.smart_charging.v2x import (
    ALL_MODES,
    Inputs,
    LoadBalancing,
    OperationMode,
    V2xPeriod,
    check_period,
    interpolate,
    load_delta,
    target,
)

SUPPORTED = frozenset(ALL_MODES)
LB = LoadBalancing(
    upper_threshold=10_000.0, lower_threshold=-5_000.0, upper_offset=1_000.0, lower_offset=-1_000.0
)
FCR = ((47.0, -10_000.0), (49.8, -10_000.0), (49.99, -500.0), (49.991, 0.0), (50.009, 0.0), (50.01, 500.0))


def refused(period: V2xPeriod, *, watts: bool = True, lb: LoadBalancing | None = LB) -> str | None:
    refusal = check_period(period, watts=watts, supported=SUPPORTED, load_balancing=lb)
    return None if refusal is None else refusal.reason


def test_V2X_03_V2X_04_the_setpoint_is_capped_by_limit_and_dischargeLimit() -> None:
    up = V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, limit=1000.0, setpoint=2000.0)
    down = V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, discharge_limit=-1000.0, setpoint=-2000.0)
    assert target(up, Inputs()) == 1000.0
    assert target(down, Inputs()) == -1000.0


def test_V2X_05_a_setpoint_outside_the_range_is_an_invalid_schedule() -> None:
    period = V2xPeriod(
        0, OperationMode.CENTRAL_SETPOINT, limit=1000.0, discharge_limit=-500.0, setpoint=-750.0
    )
    assert refused(period) == "InvalidSchedule"
    assert refused(V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, setpoint=-750.0)) is None


def test_Q08_FR_03_FR_04_FR_05_local_frequency_needs_curve_and_baseline_only_in_watts() -> None:
    assert refused(V2xPeriod(0, OperationMode.LOCAL_FREQUENCY, baseline=0.0)) == "NoFreqWattCurve"
    good = V2xPeriod(0, OperationMode.LOCAL_FREQUENCY, baseline=0.0, freq_watt=FCR)
    assert refused(good) is None
    assert refused(good, watts=False) == "InvalidSchedule"
    with_limit = V2xPeriod(0, OperationMode.LOCAL_FREQUENCY, baseline=0.0, freq_watt=FCR, limit=1.0)
    assert refused(with_limit) == "InvalidSchedule"


def test_Q08_FR_06_the_frequency_setpoint_is_the_baseline_plus_the_interpolated_curve() -> None:
    period = V2xPeriod(0, OperationMode.LOCAL_FREQUENCY, baseline=1000.0, freq_watt=FCR)
    assert target(period, Inputs(frequency_hz=50.0)) == 1000.0
    assert target(period, Inputs(frequency_hz=46.0)) == -9000.0  # flat beyond the curve
    assert interpolate(FCR, 49.895) == -10_000.0 + 9500.0 * (49.895 - 49.8) / (49.99 - 49.8)


def test_Q08_FR_10_the_aFRR_signal_adds_its_curve() -> None:
    period = V2xPeriod(
        0,
        OperationMode.LOCAL_FREQUENCY,
        baseline=0.0,
        freq_watt=FCR,
        signal_watt=((-1.0, -2000.0), (1.0, 2000.0)),
    )
    assert target(period, Inputs(frequency_hz=50.0, afrr_signal=1)) == 2000.0
    assert target(period, Inputs(frequency_hz=50.0, afrr_signal=0)) == 0.0


def test_Q09_FR_01_FR_02_load_balancing_needs_support_and_thresholds() -> None:
    period = V2xPeriod(0, OperationMode.LOCAL_LOAD_BALANCING)
    assert refused(period, lb=None) == "MissingDevModelInfo"
    inverted = LoadBalancing(upper_threshold=0.0, lower_threshold=0.0, upper_offset=0.0, lower_offset=0.0)
    assert refused(period, lb=inverted) == "MissingDevModelInfo"
    without = check_period(
        period, watts=True, supported=frozenset({OperationMode.CHARGING_ONLY}), load_balancing=LB
    )
    assert without is not None
    assert without.reason == "UnsupportedParam"


def test_Q09_FR_04_the_spec_example_keeps_the_load_between_11_kW_and_minus_6_kW() -> None:
    assert load_delta(15_000.0, LB) == -4_000.0  # 10 + 1 - 15
    assert load_delta(-8_000.0, LB) == 2_000.0  # -5 - 1 + 8
    assert load_delta(3_000.0, LB) == 0.0
    period = V2xPeriod(0, OperationMode.LOCAL_LOAD_BALANCING, discharge_limit=-3_000.0)
    assert target(period, Inputs(load_w=15_000.0), LB) == -3_000.0  # Q09.FR.05


def test_Q10_FR_02_idle_allows_no_limit_nor_setpoint_and_targets_zero() -> None:
    assert refused(V2xPeriod(0, OperationMode.IDLE, setpoint=0.0)) == "InvalidSchedule"
    assert target(V2xPeriod(0, OperationMode.IDLE, preconditioning=True), Inputs()) == 0.0


def test_charging_only_needs_a_limit_and_sets_no_target() -> None:
    assert refused(V2xPeriod(0, OperationMode.CHARGING_ONLY)) == "InvalidSchedule"
    assert (
        refused(V2xPeriod(0, OperationMode.CHARGING_ONLY, limit=10.0, discharge_limit=-1.0))
        == "InvalidSchedule"
    )
    assert target(V2xPeriod(0, OperationMode.CHARGING_ONLY, limit=10.0), Inputs()) is None


def test_a_V2X_period_without_limit_leaves_the_composite_to_the_other_profiles() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    v2x = Profile(
        1, 2, Purpose.TX_DEFAULT, Kind.ABSOLUTE, Schedule(RateUnit.WATT, (Period(0, float("inf")),), None, at)
    )
    cap = Profile(
        2,
        0,
        Purpose.CHARGING_STATION_MAX,
        Kind.ABSOLUTE,
        Schedule(RateUnit.WATT, (Period(0, 7000.0),), None, at),
    )
    fallback = Fallback(22_000.0, RateUnit.WATT)
    alone, _ = limit_at([v2x], at, evse_id=1, unit=RateUnit.WATT, fallback=fallback, anchor=at)
    assert alone == 22_000.0
    capped, _ = limit_at([v2x, cap], at, evse_id=1, unit=RateUnit.WATT, fallback=fallback, anchor=at)
    assert capped == 7000.0
