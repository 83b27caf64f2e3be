"""The CSMS's dynamic update of a V2X period (Q04, Q07: ``smart_charging.v2x.check_update``)."""

from __future__ import annotations

from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.smart_charging.v2x import check_update

D21 = v21.datatypes


def period(**fields: Any) -> D21.ChargingSchedulePeriodType:
    return D21.ChargingSchedulePeriodType(start_period=0, **fields)


def update(**fields: Any) -> D21.ChargingScheduleUpdateType:
    return D21.ChargingScheduleUpdateType(**fields)


def test_Q04_Q07_central_periods_take_setpoints() -> None:
    for mode in ("CentralSetpoint", "CentralFrequency"):
        current = period(operation_mode=mode, setpoint=100.0)
        assert check_update(current, update(setpoint=-2000.0, setpoint_reactive=50.0), watts=True) is None


def test_Q03_FR_02_no_limits_for_a_central_period_per_phase_too() -> None:
    current = period(operation_mode="CentralSetpoint", setpoint=100.0)
    refusal = check_update(current, update(limit_l2=10.0, discharge_limit=-5.0), watts=True)
    assert refusal is not None
    assert refusal.reason == "InvalidValue"
    assert "limit_L2" in refusal.detail
    assert "dischargeLimit" in refusal.detail


def test_charging_only_takes_limits_not_setpoints() -> None:
    current = period(limit=16.0)
    assert check_update(current, update(limit=8.0), watts=False) is None
    refusal = check_update(current, update(setpoint=8.0), watts=False)
    assert refusal is not None
    assert "setpoint" in refusal.detail


def test_Q10_FR_02_Q08_FR_04_idle_and_local_frequency_take_no_values() -> None:
    idle = period(operation_mode="Idle")
    assert check_update(idle, update(setpoint=1.0), watts=True) is not None


def test_V2X_05_the_updated_setpoint_within_the_period_limits() -> None:
    current = period(operation_mode="ExternalSetpoint", limit=5000.0, discharge_limit=-5000.0)
    assert check_update(current, update(setpoint=4000.0), watts=True) is None
    refusal = check_update(current, update(setpoint=-6000.0), watts=True)
    assert refusal is not None
    assert refusal.reason == "InvalidSchedule"
