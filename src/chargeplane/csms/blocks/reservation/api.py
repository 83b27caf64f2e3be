"""HTTP routes of reservations: list, create (ReserveNow), cancel (CancelReservation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from chargeplane.csms.api.pages import Count, Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.reservation.repository import NewReservation, ReservationRecord
from chargeplane.csms.blocks.reservation.service import ReservationService, StationAnswer

Id = Count
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
TokenType = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class ReservationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: Token
    expires_at: datetime
    token_type: TokenType | None = None  # required for 2.x stations (IdTokenType.type)
    evse_id: Id | None = None
    connector_id: Id | None = None  # 1.6 only
    connector_type: Annotated[str, msgspec.Meta(max_length=20)] | None = None  # 2.x only
    group_id_token: Token | None = None  # 2.x groupIdToken / 1.6 parentIdTag
    group_token_type: TokenType | None = None


class ReservationOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    evse_id: int | None
    connector_id: int | None
    connector_type: str | None
    id_token: str
    token_type: str | None
    group_id_token: str | None
    expires_at: datetime
    status: str
    status_reason: str | None
    created_at: datetime
    updated_at: datetime


class StationAnswerOut(msgspec.Struct, rename="camel"):
    status: str
    reason_code: str | None = None
    additional_info: str | None = None


class ReservationResult(msgspec.Struct, rename="camel"):
    reservation: ReservationOut
    station_answer: StationAnswerOut


def reservation_out(record: ReservationRecord) -> ReservationOut:
    return msgspec.convert(record, ReservationOut, from_attributes=True)


def _result(record: ReservationRecord, answer: StationAnswer) -> ReservationResult:
    return ReservationResult(
        reservation_out(record),
        StationAnswerOut(answer.status, answer.reason_code, answer.additional_info),
    )


def routes(service: ReservationService) -> list[Any]:
    @get("/reservations", summary="Reservations, newest first")
    async def list_reservations(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        status: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[ReservationOut]:
        """Reservations of every station, or of one (``stationId``), optionally by status."""
        found = await service.find(station_id=station_id, status=status, offset=offset, limit=limit)
        return paged(reservation_out, found, offset, limit)

    @get_or_404("/reservations/{reservation_id:int}", summary="One reservation")
    async def get_reservation(reservation_id: PathId) -> ReservationOut:
        """The reservation with this id (the OCPP reservation id)."""
        return reservation_out(await service.get(reservation_id))

    @station_call(
        "/stations/{station_id:str}/reservations",
        summary="Reserve (ReserveNow): the stored reservation and the station's answer",
        status_code=HTTP_201_CREATED,
    )
    async def create_reservation(
        known_station: KnownStation, data: JSONBody[ReservationIn]
    ) -> ReservationResult:
        """Stores the reservation and sends ReserveNow (H01); ``expiresAt`` needs a time zone."""
        if data.expires_at.tzinfo is None:
            raise ValidationException("expiresAt needs a time zone offset")
        record, answer = await service.reserve(
            NewReservation(
                station_id=known_station.station_id,
                id_token=data.id_token,
                expires_at=data.expires_at,
                token_type=data.token_type,
                evse_id=data.evse_id,
                connector_id=data.connector_id,
                connector_type=data.connector_type,
                group_id_token=data.group_id_token,
                group_token_type=data.group_token_type,
            )
        )
        return _result(record, answer)

    @station_call(
        "/reservations/{reservation_id:int}",
        summary="Cancel a reservation (CancelReservation): the reservation and the station's answer",
        method="DELETE",
    )
    async def cancel_reservation(reservation_id: PathId) -> ReservationResult:
        """Sends CancelReservation (H02); 409 when the reservation is no longer active."""
        record, answer = await service.cancel(reservation_id)
        return _result(record, answer)

    return [list_reservations, get_reservation, create_reservation, cancel_reservation]
