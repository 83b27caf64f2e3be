"""Boot, registration and heartbeat of the sans-I/O core (B01-B04, G02, F06)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chargeplane.ocpp.errors import SecurityError
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.station.core.model import Registration
from tests.station.core.helpers import T0, D, M, make_rig


def test_B01_FR_01_boot_first_then_B01_FR_05_status_for_every_connector() -> None:
    rig = make_rig(connectors=(2, 1))
    assert isinstance(rig.sent[0], M.BootNotificationRequest)
    assert rig.sent[0].reason == "PowerUp"
    statuses = rig.of(M.StatusNotificationRequest)
    assert [(s.evse_id, s.connector_id, s.connector_status) for s in statuses] == [
        (1, 1, "Available"),
        (1, 2, "Available"),
        (2, 1, "Available"),
    ]
    assert rig.core.registration is Registration.ACCEPTED


def test_B01_FR_08_B02_FR_02_nothing_but_boot_while_pending() -> None:
    rig = make_rig(
        answer=lambda r, now: (
            M.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Pending")
            if isinstance(r, M.BootNotificationRequest)
            else None
        )
    )
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABB")
    assert [type(m) for m in rig.sent] == [M.BootNotificationRequest]
    rig.advance(59)
    assert len(rig.sent) == 1
    rig.advance(1)  # B02.FR.07: the next boot after the interval
    assert [type(m) for m in rig.sent] == [M.BootNotificationRequest] * 2


def test_B02_FR_01_pending_answers_get_variables_and_B02_FR_05_rejects_remote_start() -> None:
    rig = make_rig(
        answer=lambda r, now: (
            M.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Pending")
            if isinstance(r, M.BootNotificationRequest)
            else None
        )
    )
    response = rig.handle(
        M.GetVariablesRequest(
            get_variable_data=[
                D.GetVariableDataType(
                    component=D.ComponentType(name="OCPPCommCtrlr"),
                    variable=D.VariableType(name="OfflineThreshold"),
                )
            ]
        )
    )
    assert response.get_variable_result[0].attribute_status == "Accepted"
    start = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="X", type="Central"), remote_start_id=1
        )
    )
    assert start.status == "Rejected"


def test_B03_FR_02_rejected_stays_silent_until_interval_and_B03_FR_08_answers_security_error() -> None:
    statuses = iter(["Rejected", "Accepted"])
    rig = make_rig(
        answer=lambda r, now: (
            M.BootNotificationResponse(current_time=to_wire(now), interval=120, status=next(statuses))
            if isinstance(r, M.BootNotificationRequest)
            else None
        )
    )
    with pytest.raises(SecurityError):
        rig.core.handle(M.GetLocalListVersionRequest(), rig.now)
    rig.advance(119)
    assert len(rig.sent) == 1
    rig.advance(1)
    assert rig.core.registration is Registration.ACCEPTED
    assert len(rig.of(M.StatusNotificationRequest)) == 1


def test_B01_heartbeat_interval_from_csms_and_G02_FR_01_heartbeat_when_idle() -> None:
    rig = make_rig()
    rig.clear()
    rig.advance(299)
    assert rig.of(M.HeartbeatRequest) == []
    rig.advance(1)
    assert len(rig.of(M.HeartbeatRequest)) == 1
    rig.advance(300)
    assert len(rig.of(M.HeartbeatRequest)) == 2


def test_B01_clock_offset_from_boot_current_time() -> None:
    ahead = T0 + timedelta(hours=1)
    rig = make_rig(
        answer=lambda r, now: (
            M.BootNotificationResponse(current_time=to_wire(ahead), interval=300, status="Accepted")
            if isinstance(r, M.BootNotificationRequest)
            else None
        )
    )
    status = rig.of(M.StatusNotificationRequest)[0]
    assert from_wire(status.timestamp) == ahead


def test_F06_FR_17_trigger_boot_when_accepted_is_rejected() -> None:
    rig = make_rig()
    response = rig.handle(M.TriggerMessageRequest(requested_message="BootNotification"))
    assert response.status == "Rejected"
    response = rig.handle(M.TriggerMessageRequest(requested_message="Heartbeat"))
    assert response.status == "Accepted"
    assert isinstance(rig.sent[-1], M.HeartbeatRequest)


def test_B04_FR_02_short_offline_reports_only_changed_connectors() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.do("connection_closed")
    rig.do("ev_plugged", 2, 1)
    rig.clear()
    rig.advance(10)
    rig.do("connection_opened")
    statuses = rig.of(M.StatusNotificationRequest)
    assert [(s.evse_id, s.connector_status) for s in statuses] == [(2, "Occupied")]


def test_B04_FR_01_long_offline_reports_every_connector() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.do("connection_closed")
    rig.clear()
    rig.advance(301)
    rig.do("connection_opened")
    assert len(rig.of(M.StatusNotificationRequest)) == 2
