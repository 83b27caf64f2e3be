"""Security events (A04): what the station reports after it boots."""

from __future__ import annotations

from datetime import datetime

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import M16, T0, M, make_rig, rig16


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


def test_ocpp16_station_sends_no_security_event() -> None:
    rig = rig16()
    assert not rig.of(M16.SecurityEventNotificationRequest)
