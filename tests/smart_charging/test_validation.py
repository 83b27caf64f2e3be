"""SetChargingProfile checks (2.0.1 K01.FR.*, 1.6 §3.13 / §5.16), version-neutral, one rule per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chargeplane.smart_charging.model import Kind, Period, Profile, Purpose, RateUnit, Recurrency, Schedule
from chargeplane.smart_charging.validation import Capabilities, check_set, replaced

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
CAPS = Capabilities(
    evse_ids=frozenset({1, 2}),
    rate_units=frozenset({RateUnit.AMPERE, RateUnit.WATT}),
    max_stack_level=5,
    max_periods=3,
    max_profiles=4,
)


def make(
    id: int = 1,
    purpose: Purpose = Purpose.TX_DEFAULT,
    *,
    evse: int = 0,
    level: int = 0,
    kind: Kind = Kind.ABSOLUTE,
    periods: tuple[Period, ...] = (Period(0, 16.0),),
    start: datetime | None = T0,
    unit: RateUnit = RateUnit.AMPERE,
    tx: str | None = None,
    **extra: object,
) -> Profile:
    return Profile(
        id=id,
        stack_level=level,
        purpose=purpose,
        kind=kind,
        schedule=Schedule(unit, periods, None, start),
        evse_id=evse,
        transaction_id=tx,
        **extra,  # type: ignore[arg-type]
    )


def reason(
    profile: Profile, *, installed: tuple[Profile, ...] = (), legacy: bool = False, **kw: object
) -> str:
    running = {1: "T1"}
    caps = replace(CAPS, **kw)  # type: ignore[arg-type]
    verdict = check_set(profile, installed=installed, running=running, caps=caps, legacy=legacy)
    assert verdict.status == ("Accepted" if verdict.accepted else "Rejected")
    return "Accepted" if verdict.accepted else str(verdict.reason)


def test_a_valid_tx_default_is_accepted() -> None:
    assert reason(make()) == "Accepted"


def test_K01_FR_22_external_constraints_refused_from_the_csms() -> None:
    assert reason(make(purpose=Purpose.EXTERNAL_CONSTRAINTS)) == "InvalidPurpose"


def test_K01_FR_28_unknown_evse() -> None:
    assert reason(make(evse=3)) == "UnknownEVSE"


def test_charging_station_max_on_evse_0_only_and_K01_FR_38_not_relative() -> None:
    assert reason(make(purpose=Purpose.CHARGING_STATION_MAX, evse=1)) == "InvalidEVSE"
    relative = make(purpose=Purpose.CHARGING_STATION_MAX, kind=Kind.RELATIVE, start=None)
    assert reason(relative) == "InvalidKind"


def test_K01_FR_03_09_16_33_tx_profile_needs_its_running_transaction() -> None:
    tx = Purpose.TX
    assert reason(make(purpose=tx, evse=0, tx="T1")) == "InvalidEVSE"  # K01.FR.16
    assert reason(make(purpose=tx, evse=1)) == "MissingTransaction"  # K01.FR.03
    assert reason(make(purpose=tx, evse=2, tx="T1")) == "NoTransaction"  # K01.FR.09
    assert reason(make(purpose=tx, evse=1, tx="T9")) == "UnknownTransaction"  # K01.FR.33
    assert reason(make(purpose=tx, evse=1, tx="T1")) == "Accepted"
    assert reason(make(purpose=tx, evse=1), legacy=True) == "Accepted"  # 1.6: the connector's transaction


def test_K01_FR_26_unsupported_rate_unit() -> None:
    assert reason(make(unit=RateUnit.WATT), rate_units=frozenset({RateUnit.AMPERE})) == "UnsupportedRateUnit"


def test_stack_level_above_the_maximum() -> None:
    assert reason(make(level=6)) == "InvalidStackLevel"
    assert reason(make(level=5)) == "Accepted"


def test_K01_FR_31_35_first_period_0_and_ascending_and_too_many_periods() -> None:
    assert reason(make(periods=(Period(5, 1.0),))) == "InvalidSchedule"
    assert reason(make(periods=(Period(0, 1.0), Period(60, 1.0), Period(60, 2.0)))) == "InvalidSchedule"
    four = tuple(Period(i * 60, 1.0) for i in range(4))
    assert reason(make(periods=four)) == "TooManyPeriods"


def test_K01_FR_19_48_phase_to_use_only_with_one_phase_and_phase_switching() -> None:
    three = (Period(0, 10.0, 3, 1),)
    one = (Period(0, 10.0, 1, 2),)
    assert reason(make(periods=three), phase_switching=True) == "InvalidValue"
    assert reason(make(periods=one)) == "NoPhaseSwitching"
    assert reason(make(periods=one), phase_switching=True) == "Accepted"


def test_K01_FR_40_41_start_schedule_and_recurrency() -> None:
    assert reason(make(start=None)) == "MissingStartSchedule"
    assert (
        reason(make(kind=Kind.RECURRING, start=None, recurrency=Recurrency.DAILY)) == "MissingStartSchedule"
    )
    assert reason(make(kind=Kind.RECURRING)) == "MissingRecurrency"
    assert reason(make(kind=Kind.RECURRING, recurrency=Recurrency.WEEKLY)) == "Accepted"
    assert reason(make(kind=Kind.RELATIVE)) == "InvalidSchedule"  # K01.FR.41
    assert reason(make(kind=Kind.RELATIVE), legacy=True) == "Accepted"


def test_K01_FR_52_53_tx_default_stack_level_on_evse_0_and_an_evse() -> None:
    on_evse = make(1, evse=1, level=2)
    on_station = make(2, evse=0, level=2)
    assert reason(make(3, evse=0, level=2), installed=(on_evse,)) == "DuplicateProfile"  # K01.FR.52
    assert reason(make(3, evse=2, level=2), installed=(on_station,)) == "DuplicateProfile"  # K01.FR.53
    assert reason(make(1, evse=0, level=2), installed=(on_evse,)) == "Accepted"  # the same id: replaced
    assert reason(make(3, evse=0, level=2), installed=(on_evse,), legacy=True) == "Accepted"  # not in 1.6


def test_K01_FR_06_overlapping_duplicates_refused_in_2x_replaced_in_16() -> None:
    old = make(1, level=1, valid_from=T0, valid_to=T0 + timedelta(hours=1))
    later = make(2, level=1, valid_from=T0 + timedelta(hours=1))
    overlapping = make(2, level=1, valid_from=T0 + timedelta(minutes=30))
    assert reason(later, installed=(old,)) == "Accepted"
    assert reason(overlapping, installed=(old,)) == "DuplicateProfile"
    assert reason(overlapping, installed=(old,), legacy=True) == "Accepted"
    assert replaced(overlapping, [old], legacy=True) == [old]  # 1.6 §3.13.1
    assert replaced(overlapping, [old], legacy=False) == []


def test_K01_FR_39_tx_profiles_of_one_transaction_on_one_stack_level() -> None:
    old = make(1, Purpose.TX, evse=1, tx="T1", kind=Kind.RELATIVE, start=None)
    assert reason(make(2, Purpose.TX, evse=1, tx="T1", kind=Kind.RELATIVE, start=None), installed=(old,)) == (
        "DuplicateProfile"
    )


def test_K01_FR_05_external_constraints_profile_not_replaced() -> None:
    external = make(1, Purpose.EXTERNAL_CONSTRAINTS)
    assert reason(make(1), installed=(external,)) == "InvalidProfileId"


def test_the_maximum_number_of_installed_profiles() -> None:
    installed = tuple(make(i, evse=1, level=i) for i in range(1, 5))
    assert reason(make(9, evse=2), installed=installed) == "TooManyProfiles"
    assert reason(make(1, evse=1, level=1), installed=installed) == "Accepted"  # a replacement fits


@pytest.mark.parametrize("bad", [Period(0, -1.0), Period(0, 1.0, 4)])
def test_invalid_period_values(bad: Period) -> None:
    assert reason(make(periods=(bad,))) == "InvalidValue"


def test_valid_to_after_valid_from() -> None:
    assert reason(make(valid_from=T0, valid_to=T0)) == "InvalidValue"
