"""Smart charging on the station (K01, K05, K08, K09, K10; 1.6 Smart Charging profile): the profiles the CSMS
sets, reports and clears, the composite schedule, and the limit the hardware is told to obey."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import MeterReading, SetPowerLimit
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import D16, M16, T0, D, M, Rig, make_rig, rig16, set_var

A, W = "A", "W"


def profile(
    id: int = 1,
    purpose: str = "TxDefaultProfile",
    periods: list[tuple[int, float]] | None = None,
    *,
    level: int = 0,
    kind: str = "Absolute",
    unit: str = A,
    start: str | None = to_wire(T0),
    tx: str | None = None,
    phases: int | None = None,
    phase_to_use: int | None = None,
    **extra: Any,
) -> D.ChargingProfileType:
    period_list = [
        D.ChargingSchedulePeriodType(
            start_period=s,
            limit=limit,
            **({"number_phases": phases} if phases is not None else {}),
            **({"phase_to_use": phase_to_use} if phase_to_use is not None else {}),
        )
        for s, limit in (periods or [(0, 16.0)])
    ]
    schedule = D.ChargingScheduleType(
        id=id,
        charging_rate_unit=unit,
        charging_schedule_period=period_list,
        **({"start_schedule": start} if start is not None and kind != "Relative" else {}),
    )
    return D.ChargingProfileType(
        id=id,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=[schedule],
        **({"transaction_id": tx} if tx is not None else {}),
        **extra,
    )


def lasting(charging_profile: D.ChargingProfileType, seconds: int) -> D.ChargingProfileType:
    """The profile with its schedule's duration."""
    schedule = msgspec.structs.replace(charging_profile.charging_schedule[0], duration=seconds)
    return msgspec.structs.replace(charging_profile, charging_schedule=[schedule])


def set_profile(rig: Rig, evse_id: int, charging_profile: D.ChargingProfileType) -> Any:
    return rig.handle(M.SetChargingProfileRequest(evse_id=evse_id, charging_profile=charging_profile))


def limits(rig: Rig, evse_id: int = 1) -> list[SetPowerLimit]:
    return [a for a in rig.actions if isinstance(a, SetPowerLimit) and a.evse_id == evse_id]


def running_rig(version: Version = Version.V201) -> tuple[Rig, str]:
    """A station with a transaction charging on EVSE 1."""
    rig = make_rig(version=version, connectors=(1, 1))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    return rig, tx.id


# ---------------------------------------------------------------------- K01 SetChargingProfile
def test_K01_FR_27_accepted_profile_persists_across_a_restart() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage)
    assert set_profile(rig, 0, profile(5, level=2)).status == "Accepted"
    restarted = make_rig(storage)
    report = restarted.handle(
        M.GetChargingProfilesRequest(
            request_id=9, charging_profile=D.ChargingProfileCriterionType(stack_level=2)
        )
    )
    assert report.status == "Accepted"
    [sent] = restarted.of(M.ReportChargingProfilesRequest)
    assert [p.id for p in sent.charging_profile] == [5]
    assert rig.core.model.value("SmartChargingCtrlr", "Entries", "ChargingProfiles") == "1"


@pytest.mark.parametrize(
    ("evse_id", "charging_profile", "reason"),
    [
        (0, profile(purpose="ChargingStationExternalConstraints"), "InvalidPurpose"),  # K01.FR.22
        (7, profile(), "UnknownEVSE"),  # K01.FR.28
        (1, profile(purpose="ChargingStationMaxProfile"), "InvalidEVSE"),
        (0, profile(purpose="ChargingStationMaxProfile", kind="Relative"), "InvalidKind"),  # K01.FR.38
        (0, profile(periods=[(10, 6.0)]), "InvalidSchedule"),  # K01.FR.31
        (0, profile(periods=[(0, 6.0), (300, 8.0), (200, 9.0)]), "InvalidSchedule"),  # K01.FR.35
        (0, profile(level=11), "InvalidStackLevel"),
        (0, profile(periods=[(i * 60, 6.0) for i in range(25)]), "TooManyPeriods"),
        (0, profile(phases=3, phase_to_use=1), "InvalidValue"),  # K01.FR.19
        (0, profile(phases=1, phase_to_use=2), "NoPhaseSwitching"),  # K01.FR.48
        (0, profile(start=None), "MissingStartSchedule"),  # K01.FR.40
        (0, profile(kind="Recurring"), "MissingRecurrency"),
        (1, profile(purpose="TxProfile", kind="Relative"), "MissingTransaction"),  # K01.FR.03
        (1, profile(purpose="TxProfile", kind="Relative", tx="nope"), "NoTransaction"),  # K01.FR.09
    ],
)
def test_K01_rejected_with_reason(evse_id: int, charging_profile: D.ChargingProfileType, reason: str) -> None:
    rig = make_rig()
    answer = set_profile(rig, evse_id, charging_profile)
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", reason)
    assert not limits(rig)


def test_K01_FR_33_tx_profile_of_another_transaction_rejected_and_K01_FR_04_the_right_one_applies() -> None:
    rig, tx_id = running_rig()
    bad = set_profile(rig, 1, profile(2, "TxProfile", kind="Relative", tx="other"))
    assert bad.status == "Rejected"
    rig.clear()
    good = set_profile(rig, 1, profile(2, "TxProfile", [(0, 10.0)], kind="Relative", tx=tx_id))
    assert good.status == "Accepted"
    assert limits(rig) == [SetPowerLimit(1, 10.0 * 230 * 3)]  # K01.FR.07: obeyed at once


def test_K01_FR_52_53_tx_default_stack_level_conflict_between_evse_0_and_an_evse() -> None:
    rig = make_rig(connectors=(1, 1))
    assert set_profile(rig, 1, profile(1, level=3)).status == "Accepted"
    answer = set_profile(rig, 0, profile(2, level=3))  # K01.FR.52
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "DuplicateProfile")
    assert set_profile(rig, 0, profile(3, level=4)).status == "Accepted"
    answer = set_profile(rig, 2, profile(4, level=4))  # K01.FR.53
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "DuplicateProfile")
    assert set_profile(rig, 0, profile(1, level=3)).status == "Accepted"  # the same id replaces (K01.FR.05)


def test_K01_FR_05_the_same_id_replaces_the_profile() -> None:
    rig = make_rig()
    set_profile(rig, 0, profile(1, periods=[(0, 16.0)]))
    set_profile(rig, 0, profile(1, periods=[(0, 8.0)], level=1))
    rig.handle(M.GetChargingProfilesRequest(request_id=1, charging_profile=D.ChargingProfileCriterionType()))
    [report] = rig.of(M.ReportChargingProfilesRequest)
    assert [(p.id, p.stack_level) for p in report.charging_profile] == [(1, 1)]


def test_K01_FR_34_more_than_one_schedule_rejected() -> None:
    rig = make_rig()
    one = profile()
    two = D.ChargingProfileType(
        id=1,
        stack_level=0,
        charging_profile_purpose="TxDefaultProfile",
        charging_profile_kind="Absolute",
        charging_schedule=[one.charging_schedule[0], one.charging_schedule[0]],
    )
    assert set_profile(rig, 0, two).status == "Rejected"


def test_smart_charging_disabled_rejects() -> None:
    rig = make_rig()
    assert set_var(rig, "SmartChargingCtrlr", "Enabled", "false") == "Accepted"
    answer = set_profile(rig, 0, profile())
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "Disabled")


# ---------------------------------------------------------------------- the hardware obeys
def test_K01_FR_07_the_limit_follows_the_schedule_second_by_second() -> None:
    rig, _ = running_rig()
    periods = [(0, 16.0), (60, 6.0)]
    set_profile(rig, 0, profile(1, periods=periods, start=to_wire(rig.now)))
    assert limits(rig)[-1] == SetPowerLimit(1, 16 * 230 * 3)
    rig.now += timedelta(seconds=59)
    rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=11040))
    assert limits(rig)[-1] == SetPowerLimit(1, 16 * 230 * 3)
    rig.now += timedelta(seconds=1)
    rig.do("update_meter", 1, MeterReading(energy_wh=20, power_w=11040))
    assert limits(rig)[-1] == SetPowerLimit(1, 6 * 230 * 3)
    assert rig.handle(M.ClearChargingProfileRequest(charging_profile_id=1)).status == "Accepted"
    assert limits(rig)[-1] == SetPowerLimit(1, None)  # K10.FR.05: back to the EVSE's maximum


# ---------------------------------------------------------------------- K05 remote start with a profile
def test_K05_FR_03_remote_start_profile_bound_to_the_new_transaction_and_removed_at_its_end() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    answer = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="R1", type="Central"),
            remote_start_id=5,
            evse_id=1,
            charging_profile=profile(8, "TxProfile", [(0, 10.0)], kind="Relative"),
        )
    )
    assert answer.status == "Accepted"
    tx = rig.core.transaction(1)
    assert tx is not None
    rig.do("update_meter", 1, MeterReading(energy_wh=1, power_w=1000))
    assert limits(rig)[-1] == SetPowerLimit(1, 10 * 230 * 3)
    rig.clear()
    rig.handle(
        M.GetChargingProfilesRequest(
            request_id=2, evse_id=1, charging_profile=D.ChargingProfileCriterionType()
        )
    )
    [report] = rig.of(M.ReportChargingProfilesRequest)
    assert [(p.id, p.transaction_id) for p in report.charging_profile] == [(8, tx.id)]
    assert rig.handle(M.RequestStopTransactionRequest(transaction_id=tx.id)).status == "Accepted"
    rig.clear()
    answer = rig.handle(
        M.GetChargingProfilesRequest(request_id=3, charging_profile=D.ChargingProfileCriterionType())
    )
    assert answer.status == "NoProfiles"


def test_K05_FR_05_invalid_remote_start_profile_rejected() -> None:
    rig = make_rig()
    answer = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="R1", type="Central"),
            remote_start_id=5,
            evse_id=1,
            charging_profile=profile(8, "TxDefaultProfile", kind="Relative"),  # F01.FR.09: TxProfile only
        )
    )
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidProfile")
    assert rig.events() == []


# ---------------------------------------------------------------------- K08 GetCompositeSchedule
def test_K08_composite_schedule_in_the_unit_asked_and_rejected_for_an_unknown_evse() -> None:
    rig, _ = running_rig()
    set_profile(rig, 0, profile(1, "ChargingStationMaxProfile", [(0, 20.0)], start=to_wire(rig.now)))
    set_profile(rig, 1, profile(2, periods=[(0, 16.0), (600, 32.0)], start=to_wire(rig.now)))
    answer = rig.handle(M.GetCompositeScheduleRequest(duration=1200, evse_id=1, charging_rate_unit=A))
    assert answer.status == "Accepted"
    schedule = answer.schedule
    assert (schedule.evse_id, schedule.duration, schedule.charging_rate_unit) == (1, 1200, "A")
    assert [(p.start_period, p.limit) for p in schedule.charging_schedule_period] == [(0, 16.0), (600, 20.0)]
    watts = rig.handle(M.GetCompositeScheduleRequest(duration=60, evse_id=1, charging_rate_unit=W)).schedule
    assert watts.charging_schedule_period[0].limit == 16 * 230 * 3
    unknown = rig.handle(M.GetCompositeScheduleRequest(duration=60, evse_id=9))
    assert (unknown.status, unknown.status_info.reason_code) == ("Rejected", "UnknownEVSE")


def test_K08_FR_04_a_valid_tx_profile_keeps_the_tx_default_out_after_its_schedule_ends() -> None:
    """Part 2 §3.5 (TC_K_41_CS): while the TxProfile is valid the TxDefaultProfile does not count, so past
    the TxProfile's 260 s the station maximum alone caps the EVSE, in the composite and at the hardware."""
    rig, tx_id = running_rig()
    start, until = to_wire(rig.now), {"valid_to": to_wire(rig.now + timedelta(seconds=406))}
    set_profile(rig, 0, profile(1, "ChargingStationMaxProfile", [(0, 10.0)], start=start))
    default = [(0, 6.0), (60, 10.0), (120, 8.0), (180, 15.0), (260, 8.0)]
    set_profile(rig, 1, lasting(profile(2, periods=default, start=start, **until), 300))
    tx = [(0, 8.0), (50, 11.0), (140, 16.0), (200, 6.0), (240, 12.0)]
    tx_profile = lasting(profile(3, "TxProfile", tx, start=start, tx=tx_id, **until), 260)
    assert set_profile(rig, 1, tx_profile).status == "Accepted"
    answer = rig.handle(M.GetCompositeScheduleRequest(duration=400, evse_id=1, charging_rate_unit=A))
    periods = [(p.start_period, p.limit) for p in answer.schedule.charging_schedule_period]
    assert periods == [(0, 8.0), (50, 10.0), (200, 6.0), (240, 10.0)]
    rig.now += timedelta(seconds=270)  # past the TxProfile's schedule: not the TxDefaultProfile's 8 A
    rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=6900))
    assert limits(rig)[-1] == SetPowerLimit(1, 10 * 230 * 3)


def test_K08_FR_03_evse_0_reports_the_station_total_capped_by_the_station_maximum() -> None:
    rig = make_rig(connectors=(1, 1))
    set_profile(
        rig, 0, profile(1, periods=[(0, 10.0)])
    )  # TxDefault for every EVSE (K08.FR.06: no transaction)
    set_profile(rig, 0, profile(2, "ChargingStationMaxProfile", [(0, 32.0), (300, 16.0)]))
    schedule = rig.handle(
        M.GetCompositeScheduleRequest(duration=600, evse_id=0, charging_rate_unit=A)
    ).schedule
    assert [(p.start_period, p.limit) for p in schedule.charging_schedule_period] == [(0, 20.0), (300, 16.0)]


# ---------------------------------------------------------------------- K09 GetChargingProfiles
def test_K09_FR_01_02_04_05_report_per_evse_with_the_request_id_and_no_profiles() -> None:
    rig = make_rig(connectors=(1, 1))
    set_profile(rig, 0, profile(1, "ChargingStationMaxProfile"))
    set_profile(rig, 0, profile(2, level=1))
    for i in range(10):
        set_profile(
            rig,
            2,
            profile(
                10 + i,
                level=2 + i % 8,
                valid_from=to_wire(T0 + timedelta(days=i)),
                valid_to=to_wire(T0 + timedelta(days=i, hours=1)),
            ),
        )
    rig.clear()
    assert (
        rig.handle(
            M.GetChargingProfilesRequest(
                request_id=4, evse_id=0, charging_profile=D.ChargingProfileCriterionType()
            )
        ).status
        == "Accepted"
    )
    [report] = rig.of(M.ReportChargingProfilesRequest)
    assert (report.request_id, report.evse_id, sorted(p.id for p in report.charging_profile)) == (
        4,
        0,
        [1, 2],
    )
    rig.clear()
    rig.handle(
        M.GetChargingProfilesRequest(
            request_id=5, evse_id=2, charging_profile=D.ChargingProfileCriterionType()
        )
    )
    reports = rig.of(M.ReportChargingProfilesRequest)
    assert [len(r.charging_profile) for r in reports] == [8, 2]
    assert reports[0].tbc is True  # K09.FR.02
    assert reports[-1].tbc is not True
    rig.clear()
    criterion = D.ChargingProfileCriterionType(charging_profile_purpose="TxProfile")
    answer = rig.handle(M.GetChargingProfilesRequest(request_id=6, charging_profile=criterion))
    assert answer.status == "NoProfiles"
    assert rig.of(M.ReportChargingProfilesRequest) == []
    by_id = D.ChargingProfileCriterionType(charging_profile_id=[11, 12])
    rig.handle(M.GetChargingProfilesRequest(request_id=7, charging_profile=by_id))
    assert sorted(p.id for r in rig.of(M.ReportChargingProfilesRequest) for p in r.charging_profile) == [
        11,
        12,
    ]


# ---------------------------------------------------------------------- K10 ClearChargingProfile
def test_K10_FR_01_03_04_clear_by_id_by_criteria_and_unknown() -> None:
    rig = make_rig(connectors=(1, 1))
    set_profile(rig, 0, profile(1, "ChargingStationMaxProfile"))
    set_profile(rig, 1, profile(2, level=1))
    set_profile(rig, 2, profile(3, level=1))
    assert rig.handle(M.ClearChargingProfileRequest(charging_profile_id=99)).status == "Unknown"  # K10.FR.01
    assert rig.handle(M.ClearChargingProfileRequest(charging_profile_id=1)).status == "Accepted"  # K10.FR.03
    criteria = D.ClearChargingProfileType(
        evse_id=1, charging_profile_purpose="TxDefaultProfile", stack_level=1
    )
    assert rig.handle(M.ClearChargingProfileRequest(charging_profile_criteria=criteria)).status == "Accepted"
    assert rig.handle(M.ClearChargingProfileRequest(charging_profile_criteria=criteria)).status == "Unknown"
    rig.clear()
    rig.handle(M.GetChargingProfilesRequest(request_id=1, charging_profile=D.ChargingProfileCriterionType()))
    assert [p.id for r in rig.of(M.ReportChargingProfilesRequest) for p in r.charging_profile] == [3]


# ---------------------------------------------------------------------- 2.1
def test_K01_ocpp21_set_and_composite_and_unsupported_purpose() -> None:
    rig = make_rig(version=Version.V21)
    n = v21.datatypes
    schedule = n.ChargingScheduleType(
        id=1,
        charging_rate_unit="W",
        start_schedule=to_wire(T0),
        charging_schedule_period=[n.ChargingSchedulePeriodType(start_period=0, limit=7000.0)],
    )

    def p21(purpose: str) -> Any:
        return n.ChargingProfileType(
            id=1,
            stack_level=0,
            charging_profile_purpose=purpose,
            charging_profile_kind="Absolute",
            charging_schedule=[schedule],
        )

    ok = rig.handle(
        v21.messages.SetChargingProfileRequest(evse_id=0, charging_profile=p21("TxDefaultProfile"))
    )
    assert ok.status == "Accepted"
    rig.core.ctx.model.put(VariableKey("SmartChargingCtrlr", "SupportedAdditionalPurposes"), "")
    bad = rig.handle(  # K01.FR.120
        v21.messages.SetChargingProfileRequest(evse_id=0, charging_profile=p21("PriorityCharging"))
    )
    assert (bad.status, bad.status_info.reason_code) == ("Rejected", "UnsupportedPurpose")
    answer = rig.handle(
        v21.messages.GetCompositeScheduleRequest(duration=60, evse_id=1, charging_rate_unit="W")
    )
    assert answer.schedule.charging_schedule_period[0].limit == 7000.0


# ---------------------------------------------------------------------- 1.6 Smart Charging profile
def profile16(
    id: int = 1,
    purpose: str = "TxDefaultProfile",
    limit: float = 16.0,
    *,
    level: int = 0,
    kind: str = "Absolute",
    unit: str = "A",
    tx: int | None = None,
) -> D16.ChargingProfile:
    return D16.ChargingProfile(
        charging_profile_id=id,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=D16.ChargingSchedule(
            charging_rate_unit=unit,
            charging_schedule_period=[D16.ChargingSchedulePeriod(start_period=0, limit=limit)],
            **({"start_schedule": to_wire(T0)} if kind != "Relative" else {}),
        ),
        **({"transaction_id": tx} if tx is not None else {}),
    )


def set16(rig: Rig, connector: int, charging_profile: D16.ChargingProfile) -> str:
    answer = rig.handle(
        M16.SetChargingProfileRequest(connector_id=connector, cs_charging_profiles=charging_profile)
    )
    return str(answer.status)


def test_ocpp16_3_13_profile_rules_composite_clear_and_keys() -> None:
    rig = rig16()
    assert set16(rig, 1, profile16(1, "ChargePointMaxProfile")) == "Rejected"  # connector 0 only
    assert set16(rig, 1, profile16(2, "TxProfile", kind="Relative")) == "Rejected"  # no transaction
    assert set16(rig, 0, profile16(3, "ChargePointMaxProfile", 20.0)) == "Accepted"
    assert set16(rig, 0, profile16(4, limit=16.0, level=1)) == "Accepted"
    assert (
        set16(rig, 0, profile16(5, limit=12.0, level=1)) == "Accepted"
    )  # same level and purpose: replaces 4
    composite = rig.handle(
        M16.GetCompositeScheduleRequest(connector_id=1, duration=300, charging_rate_unit="A")
    )
    assert (composite.status, composite.connector_id) == ("Accepted", 1)
    assert [p.limit for p in composite.charging_schedule.charging_schedule_period] == [12.0]
    assert rig.handle(M16.GetCompositeScheduleRequest(connector_id=3, duration=60)).status == "Rejected"
    assert rig.handle(M16.ClearChargingProfileRequest(id=4)).status == "Unknown"  # replaced before
    assert (
        rig.handle(M16.ClearChargingProfileRequest(charging_profile_purpose="TxDefaultProfile")).status
        == "Accepted"
    )
    assert rig.handle(M16.ClearChargingProfileRequest()).status == "Accepted"  # everything left: profile 3
    assert rig.handle(M16.ClearChargingProfileRequest()).status == "Unknown"
    keys = {k.key: k.value for k in rig.handle(M16.GetConfigurationRequest()).configuration_key}
    assert keys["ChargeProfileMaxStackLevel"] == "10"
    assert keys["ChargingScheduleAllowedChargingRateUnit"] == "Current,Power"
    assert keys["ChargingScheduleMaxPeriods"] == "24"
    assert keys["MaxChargingProfilesInstalled"] == "32"
    assert "SmartCharging" in keys["SupportedFeatureProfiles"]


def test_ocpp16_tx_profile_on_the_running_transaction_and_remote_start_with_a_profile() -> None:
    rig = rig16()
    rig.do("ev_plugged", 1, 1)
    answer = rig.handle(
        M16.RemoteStartTransactionRequest(
            id_tag="REM", connector_id=1, charging_profile=profile16(7, "TxProfile", 10.0, kind="Relative")
        )
    )
    assert answer.status == "Accepted"
    rig.do("update_meter", 1, MeterReading(energy_wh=1, power_w=1000))
    assert limits(rig)[-1] == SetPowerLimit(1, 10 * 230 * 3)
    assert set16(rig, 1, profile16(8, "TxProfile", 8.0, kind="Relative", level=1, tx=1000)) == "Accepted"
    assert limits(rig)[-1] == SetPowerLimit(1, 8 * 230 * 3)
    assert set16(rig, 1, profile16(9, "TxProfile", 8.0, kind="Relative", tx=999)) == "Rejected"
    bad = M16.RemoteStartTransactionRequest(
        id_tag="REM", connector_id=1, charging_profile=profile16(7, "TxDefaultProfile", kind="Relative")
    )
    assert rig.handle(bad).status == "Rejected"
    assert rig.handle(M16.RemoteStopTransactionRequest(transaction_id=1000)).status == "Accepted"
    assert limits(rig)[-1] == SetPowerLimit(1, None)  # the TxProfiles ended with the transaction
    assert (
        rig.handle(M16.ClearChargingProfileRequest(charging_profile_purpose="TxProfile")).status == "Unknown"
    )


# ---------------------------------------------------------------------- K11-K13 external limits
def test_K11_FR_01_02_04_06_external_limit_obeyed_notified_and_reported_as_external_constraints() -> None:
    rig, _ = running_rig()
    set_var(rig, "SmartChargingCtrlr", "NotifyChargingLimitWithSchedules", "true")
    rig.clear()
    rig.do("external_limit", 1, 4000.0, "W")
    assert limits(rig)[-1] == SetPowerLimit(1, 4000.0)  # K11.FR.01
    [notify] = rig.of(M.NotifyChargingLimitRequest)  # K11.FR.02, not CSO (K11.FR.05)
    assert (notify.evse_id, notify.charging_limit.charging_limit_source) == (1, "EMS")
    assert notify.charging_schedule[0].charging_schedule_period[0].limit == 4000.0  # K11.FR.03
    [event] = rig.events()
    assert event.trigger_reason == "ChargingRateChanged"  # K11.FR.04
    rig.clear()
    rig.do("external_limit", 1, 4020.0, "W")  # within LimitChangeSignificance (1 %): obeyed, not notified
    assert limits(rig)[-1] == SetPowerLimit(1, 4020.0)
    assert rig.of(M.NotifyChargingLimitRequest) == []
    assert rig.events() == []
    criteria = D.ChargingProfileCriterionType(charging_limit_source=["EMS"])
    rig.handle(M.GetChargingProfilesRequest(request_id=3, charging_profile=criteria))
    [report] = rig.of(M.ReportChargingProfilesRequest)
    assert report.charging_limit_source == "EMS"
    assert (
        report.charging_profile[0].charging_profile_purpose == "ChargingStationExternalConstraints"
    )  # K11.FR.06
    assert rig.handle(
        M.ClearChargingProfileRequest(charging_profile_id=report.charging_profile[0].id)
    ).status == (
        "Unknown"  # K10.FR.09: not the CSMS's to clear
    )


def test_K12_K13_external_limit_without_transaction_then_lifted() -> None:
    rig = make_rig()
    rig.do("external_limit", 0, 10.0, "A")
    assert rig.of(M.NotifyChargingLimitRequest)[0].charging_limit.charging_limit_source == "EMS"  # K12.FR.02
    schedule = rig.handle(
        M.GetCompositeScheduleRequest(duration=60, evse_id=1, charging_rate_unit=A)
    ).schedule
    assert schedule.charging_schedule_period[0].limit == 10.0  # K12.FR.01
    rig.clear()
    rig.do("external_limit", 0, None, "A")
    [cleared] = rig.of(M.ClearedChargingLimitRequest)
    assert (cleared.charging_limit_source, cleared.evse_id) == ("EMS", 0)
    assert limits(rig)[-1] == SetPowerLimit(1, None)


def test_K01_FR_27_profiles_of_another_version_are_not_applied_after_a_restart() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage)
    assert set_profile(rig, 0, profile(5)).status == "Accepted"
    restarted = rig16(storage=storage)  # the same station, now speaking 1.6
    answer = restarted.handle(
        M16.GetCompositeScheduleRequest(connector_id=1, duration=60, charging_rate_unit="A")
    )
    assert answer.charging_schedule.charging_schedule_period[0].limit == 32.0  # the EVSE's own maximum
