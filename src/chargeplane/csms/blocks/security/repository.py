"""All SQL of the security block.

A station's event is written on the OCPP path as a unit of work of the group committer, committed before the
handler answers; the transport's events take the same path. Reads use the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.security.catalog import CRITICAL_TYPES
from chargeplane.csms.blocks.security.tables import security_events
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


@dataclass(frozen=True, slots=True)
class SecurityEventRecord:
    id: int
    station_id: str
    source: str
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SecurityEventFilter:
    station_id: str | None = None
    type: str | None = None
    source: str | None = None
    since: datetime | None = None  # timestamp >= since
    until: datetime | None = None  # timestamp < until
    critical: bool | None = None  # only the critical ones (True) or only the others (False)


@dataclass(frozen=True, slots=True)
class SecurityEventCount:
    type: str
    source: str
    count: int


_COLUMNS = [c for c in security_events.c if c.name != "station_key"]


class SecurityRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def add(
        self,
        *,
        station_id: str,
        source: str,
        type: str,
        timestamp: datetime,
        tech_info: str | None,
        now: datetime,
    ) -> None:
        await self.committer.run(
            execute(
                sa.insert(security_events).values(
                    station_key=station_id.casefold(),
                    station_id=station_id,
                    source=source,
                    type=type,
                    timestamp=timestamp,
                    tech_info=tech_info,
                    received_at=now,
                )
            )
        )

    async def find(
        self, where: SecurityEventFilter, offset: int, limit: int
    ) -> tuple[list[SecurityEventRecord], int]:
        """Newest first (by arrival)."""
        c = security_events.c
        conditions = _conditions(where)
        query = sa.select(*_COLUMNS).where(*conditions).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(security_events).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [SecurityEventRecord(**row._mapping) for row in rows], total

    async def count_by_type(self, where: SecurityEventFilter) -> list[SecurityEventCount]:
        """How many events of each type and source match, most frequent first."""
        c = security_events.c
        number = sa.func.count().label("count")
        query = (
            sa.select(c.type, c.source, number)
            .where(*_conditions(where))
            .group_by(c.type, c.source)
            .order_by(number.desc(), c.type, c.source)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SecurityEventCount(row[0], row[1], int(row[2])) for row in rows]


def _conditions(where: SecurityEventFilter) -> list[sa.ColumnElement[bool]]:
    c = security_events.c
    conditions: list[sa.ColumnElement[bool]] = []
    if where.station_id is not None:
        conditions.append(c.station_key == where.station_id.casefold())
    if where.type is not None:
        conditions.append(c.type == where.type)
    if where.source is not None:
        conditions.append(c.source == where.source)
    if where.since is not None:
        conditions.append(c.timestamp >= where.since)
    if where.until is not None:
        conditions.append(c.timestamp < where.until)
    if where.critical is True:
        conditions.append(c.type.in_(sorted(CRITICAL_TYPES)))
    elif where.critical is False:
        conditions.append(c.type.not_in(sorted(CRITICAL_TYPES)))
    return conditions
