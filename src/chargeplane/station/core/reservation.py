"""Reservation (H01-H04): an EVSE kept for one token (or its group) until an expiry time.

Owns the persisted reservations, ReserveNow (a given EVSE, or any with NonEvseSpecific) and
CancelReservation, the expiry timer with its ReservationStatusUpdate (2.x; 1.6 has none), which EVSE a token
may use while reservations exist, and the ReservationCtrlr variables. The transaction that starts with the
reserving token takes the reservation's id (E01.FR.13 / H01.FR.15, see the transactions controller).
"""

from __future__ import annotations

import json
from datetime import datetime

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import availability
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse, Reservation, Token

CTRLR = "ReservationCtrlr"
ID_TAG = "idTag"


def matches(reservation: Reservation, token: Token) -> bool:
    """H03.FR.01 / H03.FR.04: the reserving token itself, or one of its group."""
    if reservation.token.value == token.value:
        return True
    return reservation.group is not None and reservation.group == token.group


class Reservations(Controller):
    __slots__ = ("items",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.items: dict[int, Reservation] = {}
        for raw in json.loads(ctx.storage.get_state("reservations") or "[]"):
            token = Token(*raw.pop("token"))
            self.items[raw["id"]] = Reservation(token=token, **raw)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "Available", "boolean", "true", "ReadOnly"),
            var(CTRLR, "NonEvseSpecific", "boolean", "true"),
        ]

    def on(self, evse_id: int) -> Reservation | None:
        return next((r for r in self.items.values() if r.evse_id == evse_id), None)

    def available_for(self, evse: Evse, token: Token | None) -> bool:
        """Free for ``token`` (None: for anyone): in service, idle, and not reserved for somebody else."""
        if evse.faulted or not evse.operative or evse.resetting or not self.ctx.station_operative:
            return False
        if evse.tx is not None or evse.authorized is not None:
            return False
        reservation = self.on(evse.id)
        return reservation is None or (token is not None and matches(reservation, token))

    def reserve(
        self,
        reservation_id: int,
        evse_id: int | None,
        expiry: str,
        token: Token,
        group: str | None,
        now: datetime,
    ) -> str:
        """Reserve an EVSE (or any, with NonEvseSpecific) until ``expiry``; H01.FR.* statuses."""
        ctx = self.ctx
        if not ctx.model.flag(CTRLR, "Enabled"):
            return "Rejected"
        if evse_id is None:
            if not ctx.model.flag(CTRLR, "NonEvseSpecific"):
                return "Rejected"
            candidates = [e for e in ctx.evses.values() if self.available_for(e, None) and e.plugged is None]
            if not candidates:
                return _none_free(ctx)
            evse = candidates[0]
        else:
            found = ctx.evses.get(evse_id)
            if found is None:
                return "Rejected"
            evse = found
        existing = self.items.get(reservation_id)
        if (
            existing is None or existing.evse_id != evse.id
        ):  # H01.FR.02: the same id on the same EVSE replaces it
            if evse.faulted:
                return "Faulted"
            if not evse.operative or evse.resetting or not ctx.station_operative:
                return "Unavailable"
            if evse.tx is not None or evse.plugged is not None or evse.authorized is not None:
                return "Occupied"
            if self.on(evse.id) is not None:
                return "Occupied"
        self.items[reservation_id] = Reservation(reservation_id, evse.id, expiry, token, group)
        self._save()
        ctx.get(availability.Availability).update_status(evse, now)
        return "Accepted"

    def cancel(self, reservation_id: int, now: datetime) -> bool:
        """H02."""
        if reservation_id not in self.items:
            return False
        self.remove(reservation_id, now, None)
        return True

    def use(self, reservation_id: int) -> None:
        """The reservation became a transaction: it is gone, without a status update."""
        self.items.pop(reservation_id, None)
        self._save()

    def remove(self, reservation_id: int, now: datetime, update: str | None) -> None:
        ctx = self.ctx
        reservation = self.items.pop(reservation_id, None)
        if reservation is None:
            return
        self._save()
        if update is not None and ctx.version is not Version.V16:  # H04.FR.01 (1.6 has no such message)
            ctx.send(_status_update(ctx.version, reservation_id, update), now)
        ctx.get(availability.Availability).update_status(ctx.evses[reservation.evse_id], now)

    def _save(self) -> None:
        data = [
            {
                "id": r.id,
                "evse_id": r.evse_id,
                "expiry": r.expiry,
                "group": r.group,
                "token": [r.token.value, r.token.type, r.token.group],
            }
            for r in self.items.values()
        ]
        self.ctx.storage.set_state("reservations", json.dumps(data))

    def next_deadline(self) -> datetime | None:
        offset = self.ctx.clock_offset
        return min((from_wire(r.expiry) - offset for r in self.items.values()), default=None)

    def handle_timer(self, now: datetime) -> None:
        station_now = self.ctx.station_time(now)
        for reservation in list(self.items.values()):
            if from_wire(reservation.expiry) <= station_now:  # H04.FR.01: the reservation expired
                self.remove(reservation.id, now, "Expired")


def _none_free(ctx: Context) -> str:
    """H01.FR.11 / FR.12 / FR.14: why no EVSE can take a reservation without evseId."""
    evses = list(ctx.evses.values())
    if evses and all(e.faulted for e in evses):
        return "Faulted"
    if not ctx.station_operative or all(e.faulted or not e.operative for e in evses):
        return "Unavailable"
    return "Occupied"


def _status_update(version: Version, reservation_id: int, update: str) -> v2x.ReservationStatusUpdateRequest:
    def build(ns: v2x.Dialect) -> v2x.ReservationStatusUpdateRequest:
        status = ns.ReservationUpdateStatusEnumType(update)
        return ns.ReservationStatusUpdateRequest(
            reservation_id=reservation_id, reservation_update_status=status
        )

    return v2x.with_dialect(version, build)


# ---------------------------------------------------------------------- handlers
def reserve_now(ctl: Reservations, request: v2x.ReserveNowRequestT, now: datetime) -> v2x.ReserveNowResponse:
    """H01."""
    ns = v2x.dialect_of(request)
    group = present(request.group_id_token)
    token = Token(request.id_token.id_token, str(request.id_token.type))
    status = ctl.reserve(
        request.id,
        present(request.evse_id),
        request.expiry_date_time,
        token,
        group.id_token if group is not None else None,
        now,
    )
    return ns.ReserveNowResponse(status=ns.ReserveNowStatusEnumType(status))


def cancel_reservation(
    ctl: Reservations,
    request: v2x.CancelReservationRequestT,
    now: datetime,
) -> v2x.CancelReservationResponse:
    """H02."""
    ns = v2x.dialect_of(request)
    status = "Accepted" if ctl.cancel(request.reservation_id, now) else "Rejected"
    return ns.CancelReservationResponse(status=ns.CancelReservationStatusEnumType(status))


def reserve_now16(
    ctl: Reservations, request: v16.messages.ReserveNowRequest, now: datetime
) -> v16.messages.ReserveNowResponse:
    """1.6 §5.13 (connector 0 = any connector is not supported)."""
    if request.connector_id == 0:
        return v16.messages.ReserveNowResponse(status=v16.enums.ReservationStatus.REJECTED)
    status = ctl.reserve(
        request.reservation_id,
        request.connector_id,
        request.expiry_date,
        Token(request.id_tag, ID_TAG),
        present(request.parent_id_tag),
        now,
    )
    return v16.messages.ReserveNowResponse(status=v16.enums.ReservationStatus(status))


def cancel_reservation16(
    ctl: Reservations, request: v16.messages.CancelReservationRequest, now: datetime
) -> v16.messages.CancelReservationResponse:
    """1.6 §5.1."""
    status = "Accepted" if ctl.cancel(request.reservation_id, now) else "Rejected"
    return v16.messages.CancelReservationResponse(status=v16.enums.CancelReservationStatus(status))


Reservations.on_2x = (route("ReserveNow", reserve_now), route("CancelReservation", cancel_reservation))
Reservations.on_16 = (route("ReserveNow", reserve_now16), route("CancelReservation", cancel_reservation16))
