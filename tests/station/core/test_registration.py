"""Registration (B01-B04), heartbeat and clock (G02); the registration transition table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chargeplane.ocpp.errors import SecurityError
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.station.core.model import Registration
from chargeplane.station.core.registration import RegistrationError, RegistrationEvent, transition
from tests.station.core.helpers import M16, T0, D, M, make_rig, rig16


def test_b01_fr_01_boot_first_then_b01_fr_05_status_for_every_connector() -> None:
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


def test_b01_fr_08_b02_fr_02_nothing_but_boot_while_pending() -> None:
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


def test_b02_fr_01_pending_answers_get_variables_and_b02_fr_05_rejects_remote_start() -> None:
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


def test_f06_a_triggered_boot_while_pending_has_reason_triggered() -> None:
    rig = make_rig(
        answer=lambda r, now: (
            M.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Pending")
            if isinstance(r, M.BootNotificationRequest)
            else None
        )
    )
    assert rig.handle(M.TriggerMessageRequest(requested_message="BootNotification")).status == "Accepted"
    boots = rig.of(M.BootNotificationRequest)
    assert [b.reason for b in boots] == ["PowerUp", "Triggered"]


def test_b03_fr_02_rejected_stays_silent_until_interval_and_b03_fr_08_answers_security_error() -> None:
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


def test_b01_fr_04_heartbeat_interval_from_csms_and_g02_fr_02_heartbeat_when_idle() -> None:
    rig = make_rig()
    rig.clear()
    rig.advance(299)
    assert rig.of(M.HeartbeatRequest) == []
    rig.advance(1)
    assert len(rig.of(M.HeartbeatRequest)) == 1
    rig.advance(300)
    assert len(rig.of(M.HeartbeatRequest)) == 2


def test_b01_fr_06_clock_offset_from_boot_current_time() -> None:
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


def test_b04_fr_02_short_offline_reports_only_changed_connectors() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.do("connection_closed")
    rig.do("ev_plugged", 2, 1)
    rig.clear()
    rig.advance(10)
    rig.do("connection_opened")
    statuses = rig.of(M.StatusNotificationRequest)
    assert [(s.evse_id, s.connector_status) for s in statuses] == [(2, "Occupied")]


def test_b04_fr_01_long_offline_reports_every_connector() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.do("connection_closed")
    rig.clear()
    rig.advance(301)
    rig.do("connection_opened")
    assert len(rig.of(M.StatusNotificationRequest)) == 2


def test_ocpp16_boot_then_status_per_connector() -> None:
    rig = rig16(connectors=(1, 1))
    assert isinstance(rig.sent[0], M16.BootNotificationRequest)
    assert rig.sent[0].charge_point_vendor == "Chargeplane"
    assert [(s.connector_id, s.status, s.error_code) for s in rig.of(M16.StatusNotificationRequest)] == [
        (1, "Available", "NoError"),
        (2, "Available", "NoError"),
    ]


def test_registration_table_answers_are_legal_in_every_status() -> None:
    for state in Registration:
        assert transition(state, RegistrationEvent.ACCEPTED) is Registration.ACCEPTED
        assert transition(state, RegistrationEvent.PENDING) is Registration.PENDING
        assert transition(state, RegistrationEvent.REJECTED) is Registration.REJECTED
        assert transition(state, RegistrationEvent.BOOT_TRIGGERED) is state  # F06: the CSMS asked


def test_b01_fr_01_registration_table_refuses_an_unprompted_boot_once_accepted() -> None:
    for state in (Registration.UNKNOWN, Registration.PENDING, Registration.REJECTED):
        assert transition(state, RegistrationEvent.BOOT_SENT) is state
    with pytest.raises(RegistrationError, match="Accepted: BootSent"):
        transition(Registration.ACCEPTED, RegistrationEvent.BOOT_SENT)


def test_ocpp16_trigger_boot_while_accepted_boots_again() -> None:
    rig = rig16()
    rig.clear()
    assert rig.handle(M16.TriggerMessageRequest(requested_message="BootNotification")).status == "Accepted"
    assert isinstance(rig.sent[0], M16.BootNotificationRequest)
    assert [type(m) for m in rig.sent[1:]] == [M16.StatusNotificationRequest]  # B01.FR.05 again
    assert rig.core.registration is Registration.ACCEPTED
