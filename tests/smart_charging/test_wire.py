"""Wire conversions: 1.6, 2.0.1 and 2.1 charging profiles into the model, the composite back."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec
import pytest

from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.smart_charging.model import Composite, Interval, Kind, Period, Purpose, RateUnit, Recurrency
from chargeplane.smart_charging.wire import Unconvertible, composite_16, composite_periods, from_2x, from_16

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_from_16_charge_point_max_profile_with_recurrency_and_transaction() -> None:
    profile = v16.datatypes.ChargingProfile(
        charging_profile_id=4,
        transaction_id=77,
        stack_level=2,
        charging_profile_purpose=v16.enums.ChargingProfilePurposeType("ChargePointMaxProfile"),
        charging_profile_kind=v16.enums.ChargingProfileKindType("Recurring"),
        recurrency_kind=v16.enums.RecurrencyKindType("Daily"),
        valid_to="2027-01-01T00:00:00Z",
        charging_schedule=v16.datatypes.ChargingSchedule(
            duration=3600,
            start_schedule="2026-12-07T08:00:00Z",
            charging_rate_unit=v16.enums.ChargingRateUnitType("W"),
            charging_schedule_period=[
                v16.datatypes.ChargingSchedulePeriod(start_period=0, limit=7000.0, number_phases=1)
            ],
        ),
    )
    model = from_16(profile, 0)
    assert (model.id, model.stack_level, model.purpose, model.kind) == (
        4,
        2,
        Purpose.CHARGING_STATION_MAX,
        Kind.RECURRING,
    )
    assert (model.recurrency, model.transaction_id, model.evse_id) == (Recurrency.DAILY, "77", 0)
    assert model.valid_to == datetime(2027, 1, 1, tzinfo=UTC)
    assert model.schedule.start == T0
    assert model.schedule.unit is RateUnit.WATT
    assert model.schedule.periods == (Period(0, 7000.0, 1),)


def profile_2x(ns: type[v201.Messages] | type[v21.Messages], purpose: str, kind: str = "Absolute") -> object:
    schedule = ns.ChargingScheduleType(  # type: ignore[call-arg]
        id=1,
        start_schedule="2026-12-07T08:00:00.000Z",
        charging_rate_unit="A",
        charging_schedule_period=[
            ns.ChargingSchedulePeriodType(start_period=0, limit=10.0, number_phases=1, phase_to_use=2)  # type: ignore[call-arg]
        ],
    )
    return ns.ChargingProfileType(  # type: ignore[call-arg]
        id=3,
        stack_level=1,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=[schedule],
        transaction_id="TX",
    )


@pytest.mark.parametrize("ns", [v201.Messages, v21.Messages])
def test_from_2x_both_dialects(ns: type[v201.Messages] | type[v21.Messages]) -> None:
    model = from_2x(profile_2x(ns, "TxProfile"), 2)  # type: ignore[arg-type]
    assert (model.purpose, model.evse_id, model.transaction_id) == (Purpose.TX, 2, "TX")
    assert model.schedule.periods == (Period(0, 10.0, 1, 2),)
    assert model.schedule.start == T0


def test_from_21_priority_purpose_dynamic_kind_and_unsupported_period_without_limit() -> None:
    priority = from_2x(profile_2x(v21.Messages, "PriorityCharging"), 0)  # type: ignore[arg-type]
    assert priority.purpose is Purpose.PRIORITY_CHARGING
    dynamic = from_2x(profile_2x(v21.Messages, "TxDefaultProfile", "Dynamic"), 0)  # type: ignore[arg-type]
    assert dynamic.kind is Kind.DYNAMIC
    n = v21.datatypes
    setpoint_only = n.ChargingProfileType(
        id=1,
        stack_level=0,
        charging_profile_purpose="TxDefaultProfile",
        charging_profile_kind="Absolute",
        charging_schedule=[
            n.ChargingScheduleType(
                id=1,
                start_schedule="2026-12-07T08:00:00Z",
                charging_rate_unit="W",
                charging_schedule_period=[n.ChargingSchedulePeriodType(start_period=0, setpoint=-1000.0)],
            )
        ],
    )
    # a V2X period (block Q) caps no charging of its own: its setpoint is the V2X rules' business
    assert from_2x(setpoint_only, 0).schedule.periods[0].limit == math.inf
    schedule = setpoint_only.charging_schedule[0]
    empty = msgspec.structs.replace(
        schedule, charging_schedule_period=[n.ChargingSchedulePeriodType(start_period=0)]
    )
    with pytest.raises(Unconvertible) as period:
        from_2x(msgspec.structs.replace(setpoint_only, charging_schedule=[empty]), 0)
    assert period.value.reason == "UnsupportedPeriod"


def test_composite_back_to_16_and_2x_periods() -> None:
    composite = Composite(T0, 600, RateUnit.AMPERE, (Interval(0, 16.04, 3), Interval(300, 6.0, 1)))
    schedule = composite_16(composite)
    assert (schedule.duration, schedule.start_schedule, schedule.charging_rate_unit) == (
        600,
        "2026-12-07T08:00:00Z",
        "A",
    )
    assert [(p.start_period, p.limit, p.number_phases) for p in schedule.charging_schedule_period] == [
        (0, 16.0, 3),
        (300, 6.0, 1),
    ]
    assert composite_periods(composite) == [(0, 16.0, 3), (300, 6.0, 1)]
