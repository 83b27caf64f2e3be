"""Security events (A04): what the station reports after it boots."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.diagnostics import Diagnostics
from chargeplane.station.core.model import Reconnect
from chargeplane.station.core.registration import Registrar
from chargeplane.station.core.security import CRITICAL, QUEUE_MAX, Security
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import M16, T0, M, Rig, make_rig, rig16, set_var


def test_A04_FR_01_startup_of_the_device_after_the_boot_is_accepted() -> None:
    rig = make_rig()
    kinds = [type(m).__name__ for m in rig.sent]
    assert kinds.index("BootNotificationRequest") < kinds.index("SecurityEventNotificationRequest")
    [event] = rig.of(M.SecurityEventNotificationRequest)
    assert event.type == "StartupOfTheDevice"
    assert event.timestamp == to_wire(T0)


def test_A04_FR_01_nothing_before_accepted() -> None:
    def pending(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.BootNotificationRequest):
            return M.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Pending")
        return None

    rig = make_rig(answer=pending)
    assert rig.of(M.SecurityEventNotificationRequest) == []
    rig.answer = None
    rig.advance(61)  # the boot again, now accepted
    assert [e.type for e in rig.of(M.SecurityEventNotificationRequest)] == ["StartupOfTheDevice"]


def test_A04_FR_01_once_per_boot_not_per_connection_or_triggered_boot() -> None:
    rig = make_rig()
    rig.do("connection_closed")
    rig.do("connection_opened")
    rig.handle(M.TriggerMessageRequest(requested_message="BootNotification"))
    rig.advance(5)
    assert len(rig.of(M.SecurityEventNotificationRequest)) == 1


def test_A04_FR_01_reset_or_reboot_after_a_reset() -> None:
    storage = MemoryStorage()
    first = make_rig(storage=storage)
    assert first.handle(M.ResetRequest(type="Immediate")).status == "Accepted"
    rebooted = make_rig(storage=storage)  # the same storage after the reboot
    assert [e.type for e in rebooted.of(M.SecurityEventNotificationRequest)] == ["ResetOrReboot"]


def test_A04_2_1_station_reports_too() -> None:
    def accept21(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, v21.messages.BootNotificationRequest):
            return v21.messages.BootNotificationResponse(
                current_time=to_wire(now), interval=60, status="Accepted"
            )
        return None

    rig = make_rig(version=Version.V21, online=False, answer=accept21)
    rig.do("connection_opened")
    [event] = rig.of(v21.messages.SecurityEventNotificationRequest)
    assert event.type == "StartupOfTheDevice"


def test_A04_FR_01_ocpp16_security_extension_reports_the_boot() -> None:
    rig = rig16()
    [event] = rig.of(M16.SecurityEventNotificationRequest)
    assert event.type == "StartupOfTheDevice"
    assert event.timestamp == to_wire(T0)


# ---------------------------------------------------------------------- A04.FR.02 / FR.04: queue and log


def _security(rig: Rig) -> Security:
    return rig.core.ctx.get(Security)


def test_A04_critical_flags_follow_the_appendix() -> None:
    assert {"StartupOfTheDevice", "FirmwareUpdated", "InvalidCsmsCertificate"} <= CRITICAL
    assert (
        not {"ReconfigurationOfSecurityParameters", "FailedToAuthenticateAtCsms", "InvalidMessages"}
        & CRITICAL
    )


def test_A04_FR_02_critical_event_offline_sent_after_reconnect_with_its_time() -> None:
    rig = make_rig()
    rig.do("connection_closed")
    rig.clear()
    happened = rig.now
    assert _security(rig).report("TamperDetectionActivated", rig.now, "lid opened") is False
    assert rig.of(M.SecurityEventNotificationRequest) == []
    rig.advance(30)
    rig.do("connection_opened")  # the boot again, accepted: the queue goes out
    [event] = rig.of(M.SecurityEventNotificationRequest)
    assert (event.type, event.timestamp, event.tech_info) == (
        "TamperDetectionActivated",
        to_wire(happened),
        "lid opened",
    )
    assert not _security(rig).queued
    rig.do("connection_closed")
    rig.do("connection_opened")
    assert len(rig.of(M.SecurityEventNotificationRequest)) == 1  # sent once


def test_A04_FR_02_critical_events_before_the_first_acceptance_go_first_in_order() -> None:
    rig = make_rig(online=False)
    _security(rig).report("InvalidCsmsCertificate", rig.now)
    _security(rig).report("InvalidTLSVersion", rig.now)
    rig.do("connection_opened")
    types = [e.type for e in rig.of(M.SecurityEventNotificationRequest)]
    assert types == ["InvalidCsmsCertificate", "InvalidTLSVersion", "StartupOfTheDevice"]


def test_A04_FR_02_non_critical_event_offline_only_logged_A04_FR_04() -> None:
    rig = make_rig()
    rig.do("connection_closed")
    rig.clear()
    assert set_var(rig, "SecurityCtrlr", "BasicAuthPassword", "Rotated-Password_0123456789") == "Accepted"
    rig.advance(0)  # ReconfigurationOfSecurityParameters: not critical
    assert not _security(rig).queued
    rig.do("connection_opened")
    assert rig.of(M.SecurityEventNotificationRequest) == []
    logged = [r.type for r in rig.core.ctx.get(Diagnostics).security_log]
    assert logged == ["StartupOfTheDevice", "ReconfigurationOfSecurityParameters"]


def test_A04_FR_02_queue_is_bounded_oldest_dropped() -> None:
    rig = make_rig(online=False)
    for n in range(QUEUE_MAX + 5):
        _security(rig).report("TamperDetectionActivated", rig.now, str(n))
    assert len(_security(rig).queued) == QUEUE_MAX
    assert _security(rig).queued[0].tech_info == "5"


def test_A04_tech_info_cut_to_255_characters() -> None:
    rig = make_rig()
    rig.clear()
    _security(rig).report("InvalidMessages", rig.now, "x" * 400)
    rig.pump()
    [event] = rig.of(M.SecurityEventNotificationRequest)
    assert event.tech_info == "x" * 255


def test_A04_ocpp16_critical_event_queued_while_offline() -> None:
    rig = rig16()
    rig.do("connection_closed")
    rig.clear()
    _security(rig).report("SecurityLogWasCleared", rig.now)
    _security(rig).report("InvalidMessages", rig.now)  # not critical: dropped
    rig.do("connection_opened")
    assert [e.type for e in rig.of(M16.SecurityEventNotificationRequest)] == ["SecurityLogWasCleared"]


# ---------------------------------------------------------------------- A01: BasicAuthPassword


def _reconnects(rig: object) -> list[Reconnect]:
    return [a for a in rig.actions if isinstance(a, Reconnect)]  # type: ignore[attr-defined]


def test_TC_A_09_A01_FR_01_11_password_accepted_logged_then_reconnect() -> None:
    rig = make_rig()
    rig.clear()
    password = "Rotated-Password_0123456789"
    assert set_var(rig, "SecurityCtrlr", "BasicAuthPassword", password) == "Accepted"
    assert _reconnects(rig) == []  # not before the answer is out
    rig.advance(0)
    [event] = rig.of(M.SecurityEventNotificationRequest)
    assert event.type == "ReconfigurationOfSecurityParameters"
    assert password not in str(event.tech_info)  # A01.FR.12
    assert len(_reconnects(rig)) == 1
    assert rig.core.basic_auth_password("factory-password-0000") == password
    rig.advance(60)
    assert len(_reconnects(rig)) == 1  # once


def test_A01_FR_01_factory_password_until_one_is_set_and_kept_across_restarts() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    assert rig.core.basic_auth_password("factory-password-0000") == "factory-password-0000"
    set_var(rig, "SecurityCtrlr", "BasicAuthPassword", "A" * 40)
    again = make_rig(storage=storage)
    assert again.core.basic_auth_password("factory-password-0000") == "A" * 40


def test_TC_A_10_A00_FR_205_invalid_passwords_rejected() -> None:
    rig = make_rig()
    for bad in ("Short-Pass12", "x" * 41, "has spaces in it 1234", "ümlaut-password-123456"):
        assert set_var(rig, "SecurityCtrlr", "BasicAuthPassword", bad) == "Rejected"
    rig.advance(0)
    assert _reconnects(rig) == []
    assert rig.core.basic_auth_password("factory-password-0000") == "factory-password-0000"


def test_A00_FR_205_2_1_allows_up_to_64_characters() -> None:
    rig = make_rig(version=Version.V21)
    request = v21.messages.SetVariablesRequest(
        set_variable_data=[
            v21.datatypes.SetVariableDataType(
                attribute_value="ü" * 64,
                component=v21.datatypes.ComponentType(name="SecurityCtrlr"),
                variable=v21.datatypes.VariableType(name="BasicAuthPassword"),
            )
        ]
    )
    assert rig.handle(request).set_variable_result[0].attribute_status == "Accepted"


def test_1_6_authorization_key_change_configuration() -> None:
    rig = rig16()
    rig.clear()
    change = M16.ChangeConfigurationRequest
    assert rig.handle(change(key="AuthorizationKey", value="short")).status == "Rejected"
    assert rig.handle(change(key="AuthorizationKey", value="zz" * 20)).status == "Rejected"  # not hex
    key = "0123456789abcdef0123456789abcdef01234567"
    assert rig.handle(change(key="AuthorizationKey", value=key)).status == "Accepted"
    rig.advance(0)
    assert len(_reconnects(rig)) == 1
    assert rig.core.basic_auth_password(None) == key
    [event] = rig.of(M16.SecurityEventNotificationRequest)  # the security extension reports it too
    assert event.type == "ReconfigurationOfSecurityParameters"
    shown = rig.handle(M16.GetConfigurationRequest(key=["AuthorizationKey"]))
    assert key not in str(shown.configuration_key)  # write-only


# ---------------------------------------------------------------------- A04: SettingSystemTime


def _clock_jump(seconds: float) -> Any:
    def answer(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.HeartbeatRequest):
            return M.HeartbeatResponse(current_time=to_wire(now + timedelta(seconds=seconds)))
        return None

    return answer


def test_A04_setting_system_time_beyond_the_threshold_reported() -> None:
    rig = make_rig(answer=_clock_jump(120))
    assert set_var(rig, "ClockCtrlr", "TimeAdjustmentReportingThreshold", "60") == "Accepted"
    rig.clear()
    rig.core.ctx.get(Registrar).heartbeat(rig.now)
    rig.pump()
    [event] = rig.of(M.SecurityEventNotificationRequest)
    assert event.type == "SettingSystemTime"
    rig.clear()
    rig.core.ctx.get(Registrar).heartbeat(rig.now)  # the same offset again: no new jump
    rig.pump()
    assert rig.of(M.SecurityEventNotificationRequest) == []


def test_A04_setting_system_time_small_or_unconfigured_not_reported() -> None:
    rig = make_rig(answer=_clock_jump(30))
    rig.clear()
    rig.core.ctx.get(Registrar).heartbeat(rig.now)  # threshold 0 (default): not reported
    rig.pump()
    set_var(rig, "ClockCtrlr", "TimeAdjustmentReportingThreshold", "60")
    rig.answer = _clock_jump(80)  # a 50 s step
    rig.core.ctx.get(Registrar).heartbeat(rig.now)
    rig.pump()
    assert rig.of(M.SecurityEventNotificationRequest) == []
