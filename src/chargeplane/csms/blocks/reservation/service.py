"""Reservations (H01-H04): ReserveNow and CancelReservation through the command router, the station's
ReservationStatusUpdate, use by a transaction, and the expiry sweep."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast, overload

from msgspec import UNSET

from chargeplane.csms.blocks.availability.calls import InvalidRequest, checked, status_reason
from chargeplane.csms.blocks.reservation.repository import (
    NewReservation,
    ReservationRecord,
    ReservationRepository,
)
from chargeplane.csms.blocks.reservation.settings import ReservationSettings
from chargeplane.csms.bus.commands import CommandRouter, StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, NotFound
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload, unset_if_none
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

REQUESTED, ACCEPTED, FAILED = "Requested", "Accepted", "Failed"
CANCELLED, USED, EXPIRED = "Cancelled", "Used", "Expired"
ACTIVE = frozenset({REQUESTED, ACCEPTED})  # may still hold an EVSE at the station
# The station's word (ReservationStatusUpdate) and a transaction's use win over the CSMS's own expiry guess.
_STATION_MAY_CLOSE = ACTIVE | {EXPIRED}
STATUSES = frozenset(
    {
        REQUESTED,
        ACCEPTED,
        "Rejected",
        "Occupied",
        "Faulted",
        "Unavailable",
        FAILED,
        CANCELLED,
        USED,
        EXPIRED,
        "Removed",
        "NoTransaction",
    }
)


class ReservationNotFound(NotFound):
    def __init__(self, reservation_id: int) -> None:
        super().__init__(f"no reservation {reservation_id}")


class ReservationClosed(Conflict):
    """The reservation is no longer active: there is nothing to cancel."""


@dataclass(frozen=True, slots=True)
class StationAnswer:
    status: str
    reason_code: str | None = None
    additional_info: str | None = None


class ReservationService:
    def __init__(
        self,
        repository: ReservationRepository,
        events: EventBus,
        commands: CommandRouter,
        settings: ReservationSettings,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.events = events
        self.commands = commands
        self.settings = settings
        self.clock = clock

    # -- reads ------------------------------------------------------------------------------------------

    async def find(
        self, *, station_id: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[ReservationRecord], int]:
        """Reservations, newest first, and how many match."""
        if status is not None and status not in STATUSES:
            raise Invalid(f"unknown status {status!r}; one of {', '.join(sorted(STATUSES))}")
        return await self.repository.find(station_id=station_id, status=status, offset=offset, limit=limit)

    async def get(self, reservation_id: int) -> ReservationRecord:
        record = await self.repository.get(reservation_id)
        if record is None:
            raise ReservationNotFound(reservation_id)
        return record

    # -- operator actions -------------------------------------------------------------------------------

    async def reserve(self, new: NewReservation) -> tuple[ReservationRecord, StationAnswer]:
        """H01: store the reservation (its id is the OCPP id), send ReserveNow, store the station's answer.

        1.6: the ``connectorId`` is ``connector_id``, else ``evse_id``, else 0 (the whole charge point).
        2.x: an EVSE (``evse_id``) and/or a ``connector_type``, or neither (any EVSE, H01 S1); the token type
        is required.
        """
        version = self.commands.version_of(new.station_id)
        if version is None:
            raise StationOffline(new.station_id)
        if new.expires_at <= self.clock.now():
            raise InvalidRequest("expiresAt must be in the future")
        if version is Version.V16:
            if new.connector_type is not None:
                raise InvalidRequest("connectorType is not part of a 1.6 reservation")
            target = (
                new.connector_id
                if new.connector_id is not None
                else new.evse_id
                if new.evse_id is not None
                else 0
            )
            new = replace(new, connector_id=target, evse_id=target, token_type=None, group_token_type=None)
        else:
            if new.connector_id is not None:
                raise InvalidRequest(
                    "a 2.x reservation names an evseId and/or a connectorType, not a connectorId"
                )
            if new.token_type is None:
                raise InvalidRequest("tokenType is required for a 2.x station")
            if new.group_id_token is not None and new.group_token_type is None:
                new = replace(new, group_token_type=new.token_type)
        checked(_reserve_now(version, 0, new))  # refuse what the station could not decode before storing it
        reservation_id = await self.repository.create(new, REQUESTED, self.clock.now())
        try:
            response = await self.commands.call(new.station_id, _reserve_now(version, reservation_id, new))
        except CallFailed as error:
            await self._set(reservation_id, FAILED, f"{error.error.code} {error.error.description}".strip())
            raise
        except (CallTimeout, ConnectionLost) as error:  # unknown outcome: stays Requested until it expires
            await self._set(reservation_id, REQUESTED, f"no answer: {type(error).__name__}")
            raise
        answer = _answer(response)
        record = await self._set(reservation_id, answer.status, answer.reason_code)
        return record, answer

    async def cancel(self, reservation_id: int) -> tuple[ReservationRecord, StationAnswer]:
        """H02: send CancelReservation; Accepted closes the reservation. Rejected (H02.FR.01: the station
        does not know it) leaves the record as it is."""
        record = await self.repository.get(reservation_id)
        if record is None:
            raise ReservationNotFound(reservation_id)
        if record.status not in ACTIVE:
            raise ReservationClosed(f"reservation {reservation_id} is {record.status}")
        version = self.commands.version_of(record.station_id)
        if version is None:
            raise StationOffline(record.station_id)

        def request(ns: v2x.Dialect) -> v2x.CancelReservationRequest:
            return ns.CancelReservationRequest(reservation_id=reservation_id)

        response = await self.commands.call(
            record.station_id,
            v16.messages.CancelReservationRequest(reservation_id=reservation_id)
            if version is Version.V16
            else v2x.with_dialect(version, request),
        )
        answer = _answer(response)
        if answer.status == "Accepted":
            record = await self._set(reservation_id, CANCELLED)
        return record, answer

    # -- from the station and the other blocks --------------------------------------------------------

    async def status_update(self, station_id: str, reservation_id: int, status: str) -> bool:
        """H04 / H01.FR.16-17: the station ended a reservation (Expired, Removed; 2.1 NoTransaction)."""
        now = self.clock.now()
        changed = await self.repository.set_status(
            reservation_id, status, now, station_id=station_id, only_from=_STATION_MAY_CLOSE
        )
        if changed:
            self._publish(station_id, reservation_id, status)
        else:
            log.info(
                "%s: ReservationStatusUpdate %s for unknown or closed reservation %s",
                station_id,
                status,
                reservation_id,
            )
        return changed

    async def mark_used(self, station_id: str, reservation_id: int) -> bool:
        """H03.FR.09 / H01.FR.15: a transaction of ``station_id`` referenced the reservation. For the
        transactions block; False when the station has no such open reservation."""
        changed = await self.repository.set_status(
            reservation_id, USED, self.clock.now(), station_id=station_id, only_from=_STATION_MAY_CLOSE
        )
        if changed:
            self._publish(station_id, reservation_id, USED)
        return changed

    async def expire_due(self, now: datetime) -> list[ReservationRecord]:
        """Close active reservations past their expiry at ``now`` (the station may be offline and never
        tell)."""
        expired = await self.repository.expire(now, ACTIVE)
        for record in expired:
            self._publish(record.station_id, record.id, EXPIRED)
        return expired

    async def tick(self, now: datetime) -> None:
        """One pass of the expiry job (every ``check_interval`` seconds)."""
        await self.expire_due(now)

    # -- internals ---------------------------------------------------------------------------------------

    async def _set(self, reservation_id: int, status: str, reason: str | None = None) -> ReservationRecord:
        await self.repository.set_status(reservation_id, status, self.clock.now(), reason=reason)
        record = await self.repository.get(reservation_id)
        assert record is not None
        self._publish(record.station_id, reservation_id, status)
        return record

    def _publish(self, station_id: str, reservation_id: int, status: str) -> None:
        self.events.publish(StationEvent("reservation", station_id, {"id": reservation_id, "status": status}))


def _reserve_now(version: Version, reservation_id: int, new: NewReservation) -> Payload:
    if version is Version.V16:
        return v16.messages.ReserveNowRequest(
            connector_id=new.connector_id or 0,
            expiry_date=to_wire(new.expires_at),
            id_tag=new.id_token,
            reservation_id=reservation_id,
            parent_id_tag=unset_if_none(new.group_id_token),
        )

    def request(ns: v2x.Dialect) -> v2x.ReserveNowRequest:
        if issubclass(ns, v201.Messages):  # an enumeration in 2.0.1 only: see _id_token
            connector_type = cast("v201.enums.ConnectorEnumType | None", new.connector_type)
        else:
            connector_type = new.connector_type
        return ns.ReserveNowRequest(
            id=reservation_id,
            expiry_date_time=to_wire(new.expires_at),
            id_token=_id_token(ns, new.id_token, new.token_type),
            evse_id=unset_if_none(new.evse_id),
            connector_type=unset_if_none(connector_type),
            group_id_token=_id_token(ns, new.group_id_token, new.group_token_type)
            if new.group_id_token is not None
            else UNSET,
        )

    return v2x.with_dialect(version, request)


@overload
def _id_token(ns: type[v201.Messages], id_token: str, kind: str | None) -> v201.datatypes.IdTokenType: ...
@overload
def _id_token(ns: type[v21.Messages], id_token: str, kind: str | None) -> v21.datatypes.IdTokenType: ...
def _id_token(
    ns: v2x.Dialect, id_token: str, kind: str | None
) -> v201.datatypes.IdTokenType | v21.datatypes.IdTokenType:
    # The operator's type goes as given: checked() refuses a value the schema does not allow (HTTP 400).
    if issubclass(ns, v201.Messages):
        return ns.IdTokenType(id_token=id_token, type=cast(v201.enums.IdTokenEnumType, kind))
    return ns.IdTokenType(id_token=id_token, type=cast(str, kind))


def _answer(response: Payload) -> StationAnswer:
    if isinstance(response, v16.messages.ReserveNowResponse | v16.messages.CancelReservationResponse):
        return StationAnswer(str(response.status))
    assert isinstance(response, v2x.ReserveNowResponse | v2x.CancelReservationResponse)
    return StationAnswer(str(response.status), *status_reason(response.status_info))
