"""2.1 dynamic charging profiles (K28, K29), local generation (K27) and priority charging (K21, K22) on the
station core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import SetPowerLimit, ShowMessage
from chargeplane.station.core.priority_charging import PriorityCharging
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import T0, Rig, make_rig, set_var

M21 = v21.messages
D21 = v21.datatypes
PULLED_LIMIT = 5000.0


def answer21(request: Any, now: datetime) -> Any:
    if isinstance(request, M21.BootNotificationRequest):
        return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    if isinstance(request, M21.AuthorizeRequest):
        return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status="Accepted"))
    if isinstance(request, M21.PullDynamicScheduleUpdateRequest):
        return M21.PullDynamicScheduleUpdateResponse(
            status="Accepted", schedule_update=D21.ChargingScheduleUpdateType(limit=PULLED_LIMIT)
        )
    name = type(request).__name__.removesuffix("Request")
    response = getattr(M21, f"{name}Response", None)
    try:
        return response() if response is not None else None
    except TypeError:
        return None


def rig21(storage: MemoryStorage | None = None) -> Rig:
    return make_rig(storage, version=Version.V21, answer=answer21, connectors=(1, 1))


def running21() -> tuple[Rig, str]:
    rig = rig21()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    return rig, tx.id


def profile21(
    id: int = 1,
    purpose: str = "TxDefaultProfile",
    kind: str = "Dynamic",
    limit: float = 11000.0,
    *,
    periods: int = 1,
    tx: str | None = None,
    mode: str | None = None,
    duration: int | None = None,
    **extra: Any,
) -> D21.ChargingProfileType:
    schedule = D21.ChargingScheduleType(
        id=1,
        charging_rate_unit="W",
        charging_schedule_period=[
            D21.ChargingSchedulePeriodType(
                start_period=600 * n, limit=limit, **({"operation_mode": mode} if mode else {})
            )
            for n in range(periods)
        ],
        **({"start_schedule": to_wire(T0)} if kind == "Absolute" else {}),
        **({"duration": duration} if duration is not None else {}),
    )
    return D21.ChargingProfileType(
        id=id,
        stack_level=0,
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        charging_schedule=[schedule],
        **({"transaction_id": tx} if tx else {}),
        **extra,
    )


def set21(rig: Rig, evse_id: int, profile: D21.ChargingProfileType) -> Any:
    return rig.handle(M21.SetChargingProfileRequest(evse_id=evse_id, charging_profile=profile))


def limit_now(rig: Rig, evse_id: int = 1) -> float | None:
    told = [a for a in rig.actions if isinstance(a, SetPowerLimit) and a.evse_id == evse_id]
    return told[-1].limit_w if told else None


def stored(rig: Rig, profile_id: int) -> D21.ChargingProfileType:
    rig.handle(
        M21.GetChargingProfilesRequest(request_id=9, charging_profile=D21.ChargingProfileCriterionType())
    )
    found = [
        p for r in rig.of(M21.ReportChargingProfilesRequest) for p in r.charging_profile if p.id == profile_id
    ]
    rig.sent.clear()
    return found[-1]


# ---------------------------------------------------------------------- K28 / K01 checks
def test_K28_FR_01_03_dynamic_with_two_periods_rejected_InvalidSchedule() -> None:
    answer = set21(rig21(), 0, profile21(periods=2))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidSchedule")


def test_K28_FR_04_K01_FR_122_dyn_update_interval_on_absolute_rejected_InvalidProfile() -> None:
    answer = set21(rig21(), 0, profile21(kind="Absolute", dyn_update_interval=60))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidProfile")


def test_K01_FR_121_dynamic_unsupported_and_K01_FR_120_purpose_unsupported() -> None:
    rig = rig21()
    model = rig.core.ctx.model
    model.put(VariableKey("SmartChargingCtrlr", "SupportsDynamicProfiles"), "false")
    model.put(VariableKey("SmartChargingCtrlr", "SupportedAdditionalPurposes"), "")
    answer = set21(rig, 0, profile21())
    assert answer.status_info.reason_code == "UnsupportedKind"
    answer = set21(rig, 0, profile21(purpose="PriorityCharging", kind="Absolute"))
    assert answer.status_info.reason_code == "UnsupportedPurpose"


def test_K01_FR_70_71_priority_profile_with_duration_or_discharging_rejected() -> None:
    rig = rig21()
    answer = set21(rig, 0, profile21(purpose="PriorityCharging", kind="Absolute", duration=600))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidSchedule")
    answer = set21(rig, 0, profile21(purpose="PriorityCharging", kind="Absolute", mode="ChargingOnly"))
    assert answer.status == "Accepted"
    answer = set21(rig, 0, profile21(2, purpose="PriorityCharging", kind="Absolute", mode="CentralSetpoint"))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidSchedule")


def test_K28_FR_05_dyn_update_time_set_on_receipt_and_limit_applied() -> None:
    rig, _ = running21()
    assert set21(rig, 0, profile21(limit=9000.0)).status == "Accepted"
    assert limit_now(rig) == 9000.0
    assert from_wire(str(stored(rig, 1).dyn_update_time)) == rig.now


# ---------------------------------------------------------------------- K28 UpdateDynamicSchedule
def test_K28_FR_06_09_update_applied_at_once_and_K28_FR_11_not_dynamic_rejected() -> None:
    rig, _ = running21()
    set21(rig, 0, profile21(1, limit=9000.0))
    set21(rig, 0, profile21(2, kind="Absolute", limit=20000.0, purpose="ChargingStationMaxProfile"))
    rig.advance(30)
    answer = rig.handle(
        M21.UpdateDynamicScheduleRequest(
            charging_profile_id=1,
            schedule_update=D21.ChargingScheduleUpdateType(limit=4000.0, setpoint=3000.0),
        )
    )
    assert answer.status == "Accepted"
    assert limit_now(rig) == 4000.0
    kept = stored(rig, 1)
    period = kept.charging_schedule[0].charging_schedule_period[0]
    assert (period.limit, period.setpoint) == (4000.0, 3000.0)
    assert from_wire(str(kept.dyn_update_time)) == rig.now  # K28.FR.09
    for profile_id in (2, 77):
        refused = rig.handle(
            M21.UpdateDynamicScheduleRequest(
                charging_profile_id=profile_id, schedule_update=D21.ChargingScheduleUpdateType(limit=1.0)
            )
        )
        assert (refused.status, refused.status_info.reason_code) == ("Rejected", "InvalidProfile")


def test_K28_dynamic_values_survive_a_restart() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage, version=Version.V21, answer=answer21)
    set21(rig, 0, profile21(limit=9000.0))
    rig.handle(
        M21.UpdateDynamicScheduleRequest(
            charging_profile_id=1, schedule_update=D21.ChargingScheduleUpdateType(limit=4000.0)
        )
    )
    again = make_rig(storage, version=Version.V21, answer=answer21)
    assert stored(again, 1).charging_schedule[0].charging_schedule_period[0].limit == 4000.0


# ---------------------------------------------------------------------- K28 PullDynamicScheduleUpdate
def test_K28_FR_10_pull_every_interval_and_K28_FR_08_answer_applied() -> None:
    rig, _ = running21()
    set21(rig, 0, profile21(limit=9000.0, dyn_update_interval=60))
    rig.advance(59)
    assert rig.of(M21.PullDynamicScheduleUpdateRequest) == []
    rig.advance(1)
    [pull] = rig.of(M21.PullDynamicScheduleUpdateRequest)
    assert pull.charging_profile_id == 1
    assert limit_now(rig) == PULLED_LIMIT  # K28.FR.08
    rig.advance(60)
    assert len(rig.of(M21.PullDynamicScheduleUpdateRequest)) == 2


def test_K28_pull_refused_is_tried_again_an_interval_later() -> None:
    rig, _ = running21()
    rig.answer = lambda request, now: (
        M21.PullDynamicScheduleUpdateResponse(status="Rejected")
        if isinstance(request, M21.PullDynamicScheduleUpdateRequest)
        else answer21(request, now)
    )
    set21(rig, 0, profile21(limit=9000.0, dyn_update_interval=30))
    rig.advance(95)
    assert len(rig.of(M21.PullDynamicScheduleUpdateRequest)) == 3
    assert limit_now(rig) == 9000.0


# ---------------------------------------------------------------------- K29 external dynamic values
def test_K29_FR_03_05_06_external_value_lands_in_the_csms_dynamic_profile_with_external_limits() -> None:
    rig, _ = running21()
    set21(rig, 1, profile21(limit=9000.0, mode="ExternalLimits"))
    rig.sent.clear()
    rig.advance(10)
    rig.do("external_limit", 1, 3000.0, "W")
    assert limit_now(rig) == 3000.0
    kept = stored(rig, 1)
    assert kept.charging_schedule[0].charging_schedule_period[0].limit == 3000.0
    assert from_wire(str(kept.dyn_update_time)) == rig.now  # K29.FR.06
    rig.do("external_limit", 1, 10.0, "A")  # in amperes: into the profile's watts (3 phases, 230 V)
    assert limit_now(rig) == 6900.0


def test_K29_FR_04_external_value_becomes_a_dynamic_external_constraints_profile_and_is_notified() -> None:
    rig, _ = running21()
    rig.do("external_limit", 0, 6000.0, "W")
    [notify] = rig.of(M21.NotifyChargingLimitRequest)
    assert notify.charging_limit.charging_limit_source == "EMS"
    assert limit_now(rig) == 6000.0
    rig.handle(
        M21.GetChargingProfilesRequest(request_id=4, charging_profile=D21.ChargingProfileCriterionType())
    )
    [report] = rig.of(M21.ReportChargingProfilesRequest)
    [external] = report.charging_profile
    assert (external.charging_profile_purpose, external.charging_profile_kind) == (
        "ChargingStationExternalConstraints",
        "Dynamic",
    )
    [period] = external.charging_schedule[0].charging_schedule_period  # K29.FR.01/02, scenario 1
    assert (period.start_period, period.limit, period.operation_mode) == (0, 6000.0, "ExternalLimits")
    assert external.dyn_update_time is not UNSET


def test_K29_external_constraints_disallowed_value_ignored() -> None:
    rig, _ = running21()
    rig.core.ctx.model.put(VariableKey("SmartChargingCtrlr", "ExternalConstraintsProfileDisallowed"), "true")
    rig.do("external_limit", 0, 6000.0, "W")
    assert rig.of(M21.NotifyChargingLimitRequest) == []
    answer = rig.handle(
        M21.GetChargingProfilesRequest(request_id=4, charging_profile=D21.ChargingProfileCriterionType())
    )
    assert answer.status == "NoProfiles"


# ---------------------------------------------------------------------- K27 local generation
def test_K27_FR_01_02_03_local_generation_added_on_top_reported_and_notified() -> None:
    rig, _ = running21()
    set21(rig, 0, profile21(kind="Relative", limit=5000.0))
    assert limit_now(rig) == 5000.0
    rig.sent.clear()
    rig.do("local_generation", 0, 2000.0, "W")
    assert limit_now(rig) == 7000.0  # SC.01: 5 kW TxDefault plus 2 kW generation
    [notify] = rig.of(M21.NotifyChargingLimitRequest)
    assert notify.charging_limit.is_local_generation is True  # K27.FR.03
    rig.do("local_generation", 0, 1000.0, "W")
    assert limit_now(rig) == 6000.0
    criteria = D21.ChargingProfileCriterionType(charging_profile_purpose="LocalGeneration")
    rig.handle(M21.GetChargingProfilesRequest(request_id=5, charging_profile=criteria))
    assert rig.of(M21.ReportChargingProfilesRequest)  # K27.FR.02
    rig.do("local_generation", 0, None, "W")
    assert limit_now(rig) == 5000.0


# ---------------------------------------------------------------------- K21 / K22 priority charging
def use(rig: Rig, tx: str, activate: bool = True) -> Any:
    return rig.handle(M21.UsePriorityChargingRequest(transaction_id=tx, activate=activate))


def test_K21_FR_02_unknown_transaction_rejected_and_K21_FR_01_no_profile() -> None:
    rig, tx = running21()
    answer = use(rig, "nope")
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "TxNotFound")
    answer = use(rig, tx)
    assert (answer.status, answer.status_info.reason_code) == ("NoProfile", "NotFound")
    assert rig.of(M21.NotifyPriorityChargingRequest) == []


def test_K21_FR_03_08_priority_replaces_tx_default_under_the_station_max_and_back() -> None:
    rig, tx = running21()
    set21(rig, 0, profile21(1, kind="Relative", limit=5000.0))
    set21(rig, 0, profile21(2, purpose="PriorityCharging", kind="Relative", limit=22000.0))
    set21(rig, 0, profile21(3, purpose="ChargingStationMaxProfile", kind="Absolute", limit=16000.0))
    assert limit_now(rig) == 5000.0
    rig.sent.clear()
    assert use(rig, tx).status == "Accepted"  # K21.FR.03
    assert limit_now(rig) == 16000.0  # K21.FR.04: priority, capped by the station maximum
    [notify] = rig.of(M21.NotifyPriorityChargingRequest)
    assert (notify.transaction_id, notify.activated) == (tx, True)  # K21.FR.05
    composite = rig.handle(M21.GetCompositeScheduleRequest(duration=60, evse_id=1, charging_rate_unit="W"))
    assert composite.schedule.charging_schedule_period[0].limit == 16000.0
    rig.sent.clear()
    assert use(rig, tx, activate=False).status == "Accepted"  # K21.FR.06
    assert limit_now(rig) == 5000.0  # K21.FR.07
    [notify] = rig.of(M21.NotifyPriorityChargingRequest)
    assert notify.activated is False  # K21.FR.08
    rig.sent.clear()
    assert use(rig, tx, activate=False).status == "Accepted"  # no effect when not active
    assert rig.of(M21.NotifyPriorityChargingRequest) == []


def test_K22_FR_01_button_without_profile_tells_the_driver() -> None:
    rig, _ = running21()
    assert rig.core.priority_button(1, rig.now) is False
    rig.pump()
    assert any(isinstance(a, ShowMessage) for a in rig.actions)
    assert rig.of(M21.NotifyPriorityChargingRequest) == []


def test_K22_FR_02_05_button_toggles_priority_and_notifies_and_ends_with_the_transaction() -> None:
    rig, tx = running21()
    set21(rig, 1, profile21(2, purpose="PriorityCharging", kind="Relative", limit=22000.0))
    set21(rig, 0, profile21(1, kind="Relative", limit=5000.0))
    rig.sent.clear()
    rig.do("priority_button", 1)
    assert limit_now(rig) == 22000.0  # K22.FR.02
    rig.do("priority_button", 1)
    assert limit_now(rig) == 5000.0  # K22.FR.04
    assert [(n.transaction_id, n.activated) for n in rig.of(M21.NotifyPriorityChargingRequest)] == [
        (tx, True),
        (tx, False),
    ]  # K22.FR.03, K22.FR.05


def test_K22_offline_notice_queued_until_accepted_again() -> None:
    rig, tx = running21()
    set21(rig, 0, profile21(2, purpose="PriorityCharging", kind="Relative", limit=22000.0))
    rig.do("connection_closed")
    rig.sent.clear()
    rig.do("priority_button", 1)
    assert limit_now(rig) == 22000.0
    assert rig.of(M21.NotifyPriorityChargingRequest) == []
    rig.do("connection_opened")
    [notify] = rig.of(M21.NotifyPriorityChargingRequest)
    assert (notify.transaction_id, notify.activated) == (tx, True)


# ---------------------------------------------------------------------- maxOfflineDuration (K01.FR.101/102)
def test_K21_remark_K01_FR_101_offline_priority_falls_back_to_the_lower_priority_profile() -> None:
    rig, tx = running21()
    set21(rig, 0, profile21(1, kind="Relative", limit=3000.0))
    set21(rig, 0, profile21(2, purpose="PriorityCharging", kind="Relative", limit=6000.0))
    online_only = profile21(
        3, purpose="PriorityCharging", kind="Relative", limit=9000.0, max_offline_duration=60
    )
    set21(rig, 0, msgspec.structs.replace(online_only, stack_level=1))
    assert use(rig, tx).status == "Accepted"
    assert limit_now(rig) == 9000.0
    rig.do("connection_closed")
    rig.advance(59)
    assert limit_now(rig) == 9000.0  # not yet offline for maxOfflineDuration
    rig.advance(2)
    assert limit_now(rig) == 6000.0  # K01.FR.101: the safer PriorityCharging profile without one
    assert rig.core.ctx.get(PriorityCharging).active == {1: tx}  # still charging with priority
    rig.do("connection_opened")
    assert limit_now(rig) == 9000.0  # K01.FR.102: valid again once online


def test_K01_FR_101_offline_dynamic_profile_sits_out_and_is_pulled_again_online() -> None:
    rig, _ = running21()
    set21(rig, 0, profile21(1, kind="Relative", limit=3000.0))
    dynamic = profile21(2, limit=9000.0, dyn_update_interval=30, max_offline_duration=60)
    set21(rig, 0, msgspec.structs.replace(dynamic, stack_level=1))
    assert limit_now(rig) == 9000.0
    rig.do("connection_closed")
    rig.advance(61)
    assert limit_now(rig) == 3000.0  # its values are stale: the lower profile applies
    pulls = len(rig.of(M21.PullDynamicScheduleUpdateRequest))
    rig.do("connection_opened")
    rig.advance(1)
    assert len(rig.of(M21.PullDynamicScheduleUpdateRequest)) > pulls  # an overdue pull goes out
    assert limit_now(rig) == PULLED_LIMIT  # K01.FR.102 / K28.FR.08: back, with fresh values


# ---------------------------------------------------------------------- K24-K26 EMS as Local Controller
def test_K24_K26_max_profile_from_a_local_controller_is_charging_rate_changed() -> None:
    rig, tx = running21()
    rig.sent.clear()
    set21(rig, 0, profile21(1, purpose="ChargingStationMaxProfile", kind="Absolute", limit=8000.0))
    [event] = [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "ChargingRateChanged"]
    assert event.transaction_info.transaction_id == tx
    rig.sent.clear()
    set21(rig, 0, profile21(1, purpose="ChargingStationMaxProfile", kind="Absolute", limit=8040.0))
    assert rig.of(M21.TransactionEventRequest) == []  # 0.5 %: within LimitChangeSignificance (1 %)
    set21(rig, 0, profile21(1, purpose="ChargingStationMaxProfile", kind="Absolute", limit=4000.0))
    assert [e.trigger_reason for e in rig.of(M21.TransactionEventRequest)] == ["ChargingRateChanged"]
    assert rig.of(M21.NotifyChargingLimitRequest) == []  # the Local Controller notifies, not the station


def test_K23_K27_external_control_signals_disabled_ignores_the_EMS_but_lets_it_lift_its_limit() -> None:
    rig, _ = running21()
    rig.do("external_limit", 0, 6000.0, "W")
    assert limit_now(rig) == 6000.0
    assert set_var(rig, "SmartChargingCtrlr", "ExternalControlSignalsEnabled", "false") == "Accepted"
    rig.sent.clear()
    rig.do("external_limit", 0, 2000.0, "W")
    rig.do("local_generation", 0, 3000.0, "W")
    assert rig.core.external_setpoint(-4000.0, rig.now, evse_id=1) is False
    assert rig.core.external_limits(1, 3000.0, -2000.0, rig.now) is False  # Q06: EMS limits too
    assert rig.core.external_limits(1, None, None, rig.now) is True  # lifting them passes
    assert limit_now(rig) == 6000.0  # the new values are ignored
    assert rig.of(M21.NotifyChargingLimitRequest) == []
    rig.do("external_limit", 0, None, "W")  # lifting passes
    assert limit_now(rig) != 6000.0
    assert len(rig.of(M21.ClearedChargingLimitRequest)) == 1
