"""Reservation (H01-H04; 1.6 §5.1, §5.13)."""

from __future__ import annotations

from tests.station.core.helpers import M16, D, M, Rig, make_rig, rig16, statuses16


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


def _reserve(rig: Rig, reservation_id: int, evse_id: int | None = 1) -> str:
    token = D.IdTokenType(id_token="RES", type="ISO14443")
    request = (
        M.ReserveNowRequest(id=reservation_id, expiry_date_time="2026-01-01T13:00:00Z", id_token=token)
        if evse_id is None
        else M.ReserveNowRequest(
            id=reservation_id, expiry_date_time="2026-01-01T13:00:00Z", id_token=token, evse_id=evse_id
        )
    )
    return str(rig.handle(request).status)


def test_h01_fr_17_an_inoperative_evse_loses_its_reservation_after_its_status() -> None:
    rig = make_rig()
    assert _reserve(rig, 7) == "Accepted"
    rig.handle(M.ChangeAvailabilityRequest(operational_status="Inoperative", evse=D.EVSEType(id=1)))
    (update,) = rig.of(M.ReservationStatusUpdateRequest)
    assert (update.reservation_id, update.reservation_update_status) == (7, "Removed")
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Unavailable"
    assert rig.handle(M.CancelReservationRequest(reservation_id=7)).status == "Rejected"


def test_h01_fr_14_unspecified_evse_while_the_station_is_unavailable() -> None:
    rig = make_rig()
    rig.handle(M.ChangeAvailabilityRequest(operational_status="Inoperative"))
    assert _reserve(rig, 8, evse_id=None) == "Unavailable"


def test_h03_fr_10_the_reserving_token_frees_the_connector_and_the_transaction_keeps_the_id() -> None:
    rig = make_rig()
    assert _reserve(rig, 9) == "Accepted"
    rig.do("token_presented", "RES", evse_id=1)
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Available"
    rig.do("ev_plugged", 1, 1)
    started = rig.events()[0]
    assert started.reservation_id == 9  # H01.FR.15, though consumed at the authorization (H03.FR.09)


def test_ocpp16_reservation_ends_with_the_transaction_not_the_authorization() -> None:
    rig = rig16()
    reserve = M16.ReserveNowRequest(
        connector_id=1, expiry_date="2026-01-01T13:00:00Z", id_tag="RES", reservation_id=4
    )
    assert rig.handle(reserve).status == "Accepted"
    rig.do("token_presented", "RES", evse_id=1)
    # 1.6 §5.13: the reservation lasts until the transaction starts
    assert rig.handle(M16.CancelReservationRequest(reservation_id=4)).status == "Accepted"
