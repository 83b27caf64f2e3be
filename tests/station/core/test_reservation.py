"""Reservation (H01-H04; 1.6 §5.1, §5.13)."""

from __future__ import annotations

from tests.station.core.helpers import M16, D, M, make_rig, rig16, statuses16


def test_h03_fr_01_reservation_blocks_other_tokens_and_h01_fr_15_is_used_by_its_token() -> None:
    rig = make_rig()
    expiry = "2026-01-01T13:00:00Z"
    response = rig.handle(
        M.ReserveNowRequest(
            id=5, expiry_date_time=expiry, id_token=D.IdTokenType(id_token="RES", type="ISO14443"), evse_id=1
        )
    )
    assert response.status == "Accepted"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Reserved"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "OTHER", evse_id=1)
    assert rig.core.transaction(1) is None
    rig.do("token_presented", "RES", evse_id=1)
    started = rig.events()[0]
    assert started.reservation_id == 5  # E01.FR.13


def test_h04_fr_01_reservation_expires_and_h02_fr_01_cancel_of_unknown_rejected() -> None:
    rig = make_rig()
    rig.handle(
        M.ReserveNowRequest(
            id=6,
            expiry_date_time="2026-01-01T12:10:00Z",
            id_token=D.IdTokenType(id_token="RES", type="ISO14443"),
        )
    )
    rig.advance(601)
    (update,) = rig.of(M.ReservationStatusUpdateRequest)
    assert update.reservation_update_status == "Expired"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Available"
    assert rig.handle(M.CancelReservationRequest(reservation_id=6)).status == "Rejected"


def test_ocpp16_reserve_now_and_cancel() -> None:
    rig = rig16()
    reserve = M16.ReserveNowRequest(
        connector_id=1, expiry_date="2026-01-01T13:00:00Z", id_tag="RES", reservation_id=3
    )
    assert rig.handle(reserve).status == "Accepted"
    assert statuses16(rig)[-1] == "Reserved"
    assert rig.handle(M16.CancelReservationRequest(reservation_id=3)).status == "Accepted"
