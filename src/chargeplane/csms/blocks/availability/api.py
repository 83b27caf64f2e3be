"""HTTP routes of availability: current connector status, status history, ChangeAvailability."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar.params import JSONBody

from chargeplane.csms.api.pages import Count, Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.availability.repository import ConnectorRecord, HistoryRecord
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.provisioning.api import KnownStation

Id = Count


class ConnectorOut(msgspec.Struct, rename="camel"):
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    source: str
    status_at: datetime
    updated_at: datetime


class ConnectorList(msgspec.Struct, rename="camel"):
    station_id: str
    items: list[ConnectorOut]


class HistoryOut(msgspec.Struct, rename="camel"):
    id: int
    evse_id: int
    connector_id: int
    status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    source: str
    status_at: datetime
    received_at: datetime


class AvailabilityIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    operational: bool
    evse_id: Id | None = None  # none: the whole station (G04)
    connector_id: Id | None = None


class AvailabilityOut(msgspec.Struct, rename="camel"):
    status: str  # the station's answer: Accepted | Rejected | Scheduled
    reason_code: str | None = None
    additional_info: str | None = None


def _connector_out(record: ConnectorRecord) -> ConnectorOut:
    return msgspec.convert(record, ConnectorOut, from_attributes=True)


def _history_out(record: HistoryRecord) -> HistoryOut:
    return msgspec.convert(record, HistoryOut, from_attributes=True)


def routes(service: AvailabilityService) -> list[Any]:
    @get_or_404(
        "/stations/{station_id:str}/connectors",
        summary="Current status of the station, its EVSEs and connectors",
    )
    async def list_connectors(known_station: KnownStation) -> ConnectorList:
        """The last reported status of each EVSE and connector (StatusNotification, NotifyEvent)."""
        records = await service.connectors(known_station.station_id)
        return ConnectorList(known_station.station_id, [_connector_out(r) for r in records])

    @get_or_404("/stations/{station_id:str}/status-history", summary="Every reported status, newest first")
    async def status_history(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[HistoryOut]:
        """Each status the station reported, as received."""
        found = await service.status_history(known_station.station_id, offset, limit)
        return paged(_history_out, found, offset, limit)

    @station_call(
        "/stations/{station_id:str}/availability",
        summary="ChangeAvailability: make the station, an EVSE or a connector (in)operative",
    )
    async def change_availability(
        known_station: KnownStation, data: JSONBody[AvailabilityIn]
    ) -> AvailabilityOut:
        """Sends ChangeAvailability (G03, G04) and answers the station's status: Accepted, Rejected or Scheduled."""
        result = await service.change_availability(
            known_station.station_id, data.evse_id, data.connector_id, data.operational
        )
        return AvailabilityOut(result.status, result.reason_code, result.additional_info)

    return [list_connectors, status_history, change_availability]
