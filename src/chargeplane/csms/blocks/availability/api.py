"""HTTP routes of availability: current connector status, status history, ChangeAvailability."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from chargeplane.csms.blocks.availability.calls import UnknownStation, station_call_errors
from chargeplane.csms.blocks.availability.repository import ConnectorRecord, HistoryRecord
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService

Id = Annotated[int, msgspec.Meta(ge=0)]


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


class HistoryPage(msgspec.Struct, rename="camel"):
    items: list[HistoryOut]
    total: int
    offset: int
    limit: int


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


def routes(service: AvailabilityService, stations: ProvisioningService) -> list[Any]:
    async def known(station_id: str) -> str:
        record = await stations.repository.get(station_id)
        if record is None:
            raise NotFoundException(f"no station {station_id}")
        return record.station_id

    @get(
        "/stations/{station_id:str}/connectors",
        summary="Current status of the station, its EVSEs and connectors",
    )
    async def list_connectors(station_id: FromPath[str]) -> ConnectorList:
        station_id = await known(station_id)
        records = await service.repository.current(station_id)
        return ConnectorList(station_id, [_connector_out(r) for r in records])

    @get("/stations/{station_id:str}/status-history", summary="Every reported status, newest first")
    async def status_history(
        station_id: FromPath[str],
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> HistoryPage:
        station_id = await known(station_id)
        records, total = await service.repository.history(station_id, offset, limit)
        return HistoryPage([_history_out(r) for r in records], total, offset, limit)

    @post(
        "/stations/{station_id:str}/availability",
        status_code=HTTP_200_OK,
        summary="ChangeAvailability: make the station, an EVSE or a connector (in)operative",
    )
    async def change_availability(
        station_id: FromPath[str], data: JSONBody[AvailabilityIn]
    ) -> AvailabilityOut:
        with station_call_errors():
            if await stations.repository.get(station_id) is None:
                raise UnknownStation(station_id)
            result = await service.change_availability(
                station_id, data.evse_id, data.connector_id, data.operational
            )
        return AvailabilityOut(result.status, result.reason_code, result.additional_info)

    return [list_connectors, status_history, change_availability]
