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
    phase_setpoints,
    reactive,
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


def test_setpoint_L2_L3_make_setpoint_phase_L1_each_phase_within_its_own_bounds() -> None:
    per_phase = V2xPeriod(
        0,
        OperationMode.CENTRAL_SETPOINT,
        setpoint=-2000.0,
        setpoint_l2=-1000.0,
        setpoint_l3=500.0,
        discharge_limit=-1500.0,
        discharge_limit_l2=-1500.0,
        discharge_limit_l3=-1500.0,
    )
    assert phase_setpoints(per_phase) == (-1500.0, -1000.0, 500.0)  # L1 held at its dischargeLimit
    assert target(per_phase, Inputs()) == -2000.0  # the sum of the phases
    # a sum limit without L2 / L3 values is a third per phase
    summed = V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, setpoint=3000.0, setpoint_l2=0.0, setpoint_l3=0.0,
                       limit=3000.0)  # fmt: skip
    assert phase_setpoints(summed) == (1000.0, 0.0, 0.0)
    # without both L2 and L3 the setpoint is the sum
    assert (
        phase_setpoints(V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, setpoint=1.0, setpoint_l2=1.0)) is None
    )


def test_setpointReactive_is_the_sum_of_its_phases_and_an_external_systems_for_ExternalSetpoint() -> None:
    central = V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, setpoint=0.0, setpoint_reactive=300.0)
    assert reactive(central) == 300.0
    phased = V2xPeriod(0, OperationMode.CENTRAL_SETPOINT, setpoint=0.0, setpoint_reactive=100.0,
                       setpoint_reactive_l2=200.0, setpoint_reactive_l3=-50.0)  # fmt: skip
    assert reactive(phased) == 250.0
    external = V2xPeriod(0, OperationMode.EXTERNAL_SETPOINT, setpoint_reactive=10.0)
    assert reactive(external, 700.0) == 700.0  # Q05.FR.01
    assert reactive(external) == 10.0
    assert reactive(V2xPeriod(0, OperationMode.IDLE)) is None


def test_Q08_FR_04_Q10_FR_02_Q02_FR_02_the_L2_L3_variants_count_too() -> None:
    idle = V2xPeriod(0, OperationMode.IDLE, setpoint_l2=1.0)
    assert refused(idle) == "InvalidSchedule"
    only = V2xPeriod(0, OperationMode.CHARGING_ONLY, limit=1000.0, discharge_limit_l3=-100.0)
    assert refused(only) == "InvalidSchedule"
    reactive_only = V2xPeriod(0, OperationMode.CHARGING_ONLY, limit=1000.0, setpoint_reactive=5.0)
    assert refused(reactive_only) == "InvalidSchedule"
    assert refused(V2xPeriod(0, OperationMode.CHARGING_ONLY, limit=1000.0, limit_l2=300.0)) is None
