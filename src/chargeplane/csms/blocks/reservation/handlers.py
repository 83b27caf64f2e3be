"""OCPP side of reservations: ReservationStatusUpdate (2.0.1, 2.1; 1.6 has no such message: a 1.6
reservation ends at the station silently, and the CSMS's expiry sweep or a StartTransaction closes it)."""

from __future__ import annotations

from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: ReservationService) -> None:
    async def reservation_status_update(
        request: v2x.ReservationStatusUpdateRequestT, conn: OcppConnection
    ) -> v2x.ReservationStatusUpdateResponse:
        # H04.FR.01 (Expired), H01.FR.16-17 (Removed). An unknown id still gets its (empty) response: the
        # request is valid, and there is nothing the station could do about a CALLERROR.
        await service.status_update(
            conn.station_id, request.reservation_id, str(request.reservation_update_status)
        )
        return v2x.dialect_of(request).ReservationStatusUpdateResponse()

    register_2x(
        routers,
        (v201.messages.ReservationStatusUpdateRequest, v21.messages.ReservationStatusUpdateRequest),
        reservation_status_update,
    )
