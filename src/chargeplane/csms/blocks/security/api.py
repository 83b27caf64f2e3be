"""HTTP routes of security events: the log of both sources, and one station's."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_404_NOT_FOUND

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.security.repository import SecurityEventFilter, SecurityEventRecord
from chargeplane.csms.blocks.security.service import SecurityService

SOURCE = r"\A(station|csms)\Z"


class SecurityEventOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    source: str  # station: SecurityEventNotification; csms: the CSMS transport (failed handshake)
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime


def _event_out(record: SecurityEventRecord) -> SecurityEventOut:
    return SecurityEventOut(**dataclasses.asdict(record))


def routes(service: SecurityService) -> list[Any]:
    async def page(where: SecurityEventFilter, offset: int, limit: int) -> Page[SecurityEventOut]:
        records, total = await service.find(where, offset, limit)
        return Page([_event_out(r) for r in records], total, offset, limit)

    @get("/security-events", summary="Security events of stations and of the CSMS, newest first")
    async def list_security_events(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        event_type: Annotated[str | None, QueryParameter(name="type", max_length=50)] = None,
        source: Annotated[str | None, QueryParameter(pattern=SOURCE)] = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[SecurityEventOut]:
        """What stations reported with SecurityEventNotification (A04, ``source=station``) and what the CSMS
        transport refused (failed Basic authentication or TLS handshake, ``source=csms``); ``from``/``to``
        bound the event's timestamp (``to`` excluded)."""
        where = SecurityEventFilter(station_id, event_type, source, since, until)
        return await page(where, offset, limit)

    @get(
        "/stations/{station_id:str}/security-events",
        summary="One station's security events, newest first",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def station_security_events(
        known_station: KnownStation,
        event_type: Annotated[str | None, QueryParameter(name="type", max_length=50)] = None,
        source: Annotated[str | None, QueryParameter(pattern=SOURCE)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[SecurityEventOut]:
        """The security events of a known station, of both sources."""
        where = SecurityEventFilter(known_station.station_id, event_type, source)
        return await page(where, offset, limit)

    return [list_security_events, station_security_events]
