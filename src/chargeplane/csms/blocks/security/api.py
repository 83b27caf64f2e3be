"""HTTP routes of security events: the log of both sources, and one station's."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import delete, get
from litestar.params import PathParameter, QueryParameter
from litestar.status_codes import HTTP_404_NOT_FOUND

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.security.catalog import is_critical
from chargeplane.csms.blocks.security.repository import SecurityEventFilter, SecurityEventRecord
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import NotFound
from chargeplane.transport.guard import AttackGuard, Lockout

SOURCE = r"\A(station|csms)\Z"


class SecurityEventOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    source: str  # station: SecurityEventNotification; csms: the CSMS transport (failed handshake)
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime
    critical: bool  # per the spec's security events list (ours for the CSMS's own event types)


class SecurityEventCountOut(msgspec.Struct, rename="camel"):
    type: str
    source: str
    count: int
    critical: bool


class LockoutOut(msgspec.Struct, rename="camel"):
    kind: str  # station (key: the identity, casefolded) or source (key: the address)
    key: str
    failures: int
    locked_until: datetime
    seconds_left: float


class GuardOut(msgspec.Struct, rename="camel"):
    lockouts: list[LockoutOut]
    failures: int  # failed authentications since the start (unknown identities, TLS refusals included)
    lockouts_started: int
    refused_locked: int  # attempts answered without a password check because the identity was locked
    refused_source: int  # attempts refused (429 / dropped) because the address was locked or over budget


def _event_out(record: SecurityEventRecord) -> SecurityEventOut:
    return SecurityEventOut(**dataclasses.asdict(record), critical=is_critical(record.type))


def routes(service: SecurityService) -> list[Any]:
    async def page(where: SecurityEventFilter, offset: int, limit: int) -> Page[SecurityEventOut]:
        return paged(_event_out, await service.find(where, offset, limit), offset, limit)

    @get("/security-events", summary="Security events of stations and of the CSMS, newest first")
    async def list_security_events(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        event_type: Annotated[str | None, QueryParameter(name="type", max_length=50)] = None,
        source: Annotated[str | None, QueryParameter(pattern=SOURCE)] = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        critical: Annotated[bool | None, QueryParameter()] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[SecurityEventOut]:
        """What stations reported with SecurityEventNotification (A04, ``source=station``) and what the CSMS
        saw (``source=csms``: failed Basic authentication, unknown identities, refused TLS handshakes with
        the peer's address, lockouts, refused API tokens); ``from``/``to`` bound the event's timestamp
        (``to`` excluded); ``critical`` keeps the critical ones (or the others)."""
        where = SecurityEventFilter(station_id, event_type, source, since, until, critical)
        return await page(where, offset, limit)

    @get("/security-events/counts", summary="How many security events of each type")
    async def count_security_events(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        source: Annotated[str | None, QueryParameter(pattern=SOURCE)] = None,
        since: Annotated[datetime | None, QueryParameter(name="from")] = None,
        until: Annotated[datetime | None, QueryParameter(name="to")] = None,
        critical: Annotated[bool | None, QueryParameter()] = None,
    ) -> list[SecurityEventCountOut]:
        """The number of events per type and source matching the filters (as for ``/security-events``),
        most frequent first, each with its critical flag."""
        where = SecurityEventFilter(station_id, None, source, since, until, critical)
        return [
            SecurityEventCountOut(c.type, c.source, c.count, is_critical(c.type))
            for c in await service.counts(where)
        ]

    @get_or_404(
        "/stations/{station_id:str}/security-events", summary="One station's security events, newest first"
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

    return [list_security_events, count_security_events, station_security_events]


def guard_routes(guard: AttackGuard, clock: Clock) -> list[Any]:
    """The OCPP server's lockouts: who is locked out now, the counters, and an operator's unlock."""

    def lockout_out(lockout: Lockout, now: float) -> LockoutOut:
        left = max(0.0, lockout.until - now)
        return LockoutOut(
            lockout.kind, lockout.key, lockout.failures, clock.now() + timedelta(seconds=left), left
        )

    @get("/security/lockouts", summary="Station identities and addresses locked out now, and the counters")
    async def list_lockouts() -> GuardOut:
        """Lockouts in force after repeated failed authentications (per identity, per source address), with
        how many attempts were refused without a password check since the CSMS started."""
        now = asyncio.get_running_loop().time()
        counters = guard.counters
        return GuardOut(
            [lockout_out(lockout, now) for lockout in guard.lockouts(now)],
            counters.failures,
            counters.lockouts,
            counters.refused_locked,
            counters.refused_source,
        )

    @delete(
        "/security/lockouts/{kind:str}/{key:str}",
        summary="Lift a lockout",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def unlock(
        kind: Annotated[str, PathParameter(pattern=r"\A(station|source)\Z")],
        key: Annotated[str, PathParameter(max_length=64)],
    ) -> None:
        """Lift the lockout of a station identity or a source address and forget its failures."""
        if not guard.unlock(kind, key):
            raise NotFound(f"no failures recorded for {kind} {key}")

    return [list_lockouts, unlock]
