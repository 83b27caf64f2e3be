"""All SQL of the availability block.

Status writes (StatusNotification, NotifyEvent AvailabilityState) go through the CSMS's shared
:class:`~chargeplane.csms.storage.group_commit.GroupCommitter`: the reports of many stations that arrive
together share one database transaction, each handler answering after the commit of its own reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.availability.tables import (
    connector_status_history,
    connectors,
    station_device_events,
)
from chargeplane.csms.storage.group_commit import GroupCommitter


def station_key(station_id: str) -> str:
    return station_id.casefold()


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One reported status of the station, an EVSE or a connector."""

    station_id: str
    evse_id: int
    connector_id: int
    status: str
    source: str  # StatusNotification | NotifyEvent
    status_at: datetime
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorRecord:
    station_id: str
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


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    id: int
    station_id: str
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


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    station_id: str
    event_id: int
    trigger: str
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    actual_value: str
    cleared: bool | None
    tech_code: str | None
    tech_info: str | None
    transaction_id: str | None
    event_at: datetime


_CONNECTOR_COLUMNS = [c for c in connectors.c if c.name != "station_key"]
_HISTORY_COLUMNS = [c for c in connector_status_history.c if c.name != "station_key"]


_UPSERTS: dict[str, Any] = {}


def _upsert(connection: sa.Connection) -> Any:
    """The connector upsert, built once per dialect (building ``on_conflict_do_update`` with its ``excluded``
    alias per report cost more than running it): each report becomes the current status of its
    EVSE/connector unless the stored one has a later timestamp."""
    name = connection.dialect.name
    statement = _UPSERTS.get(name)
    if statement is None:
        insert = (postgresql.insert if name == "postgresql" else sqlite.insert)(connectors)
        changed = {
            column.name: insert.excluded[column.name]
            for column in connectors.c
            if column.name not in ("station_key", "evse_id", "connector_id")
        }
        statement = _UPSERTS[name] = insert.on_conflict_do_update(
            index_elements=[connectors.c.station_key, connectors.c.evse_id, connectors.c.connector_id],
            set_=changed,
            where=connectors.c.status_at <= insert.excluded.status_at,
        )
    return statement


def _record(history: list[dict[str, Any]], rows: list[dict[str, Any]], connection: sa.Connection) -> None:
    """The unit of work of :meth:`AvailabilityRepository.record` (synchronous, run by the group committer)."""
    connection.execute(sa.insert(connector_status_history), history)
    upsert = _upsert(connection)
    for row in rows:  # one by one: a message may report the same connector twice
        connection.execute(upsert, row)


class AvailabilityRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter | None = None) -> None:
        self.engine = engine
        self.committer = committer if committer is not None else GroupCommitter(engine)

    async def record(self, reports: list[StatusReport], received_at: datetime) -> None:
        """Append every report to the history and make each the current status of its EVSE/connector,
        unless the current one was reported with a later timestamp (a late, queued message must not
        overwrite a newer status). Returns once committed."""
        if not reports:
            return
        rows = [
            asdict(report) | {"station_key": station_key(report.station_id), "updated_at": received_at}
            for report in reports
        ]
        history = [
            {k: v for k, v in row.items() if k != "updated_at"} | {"received_at": received_at} for row in rows
        ]
        await self.committer.run(partial(_record, history, rows))

    async def current(self, station_id: str) -> list[ConnectorRecord]:
        query = (
            sa.select(*_CONNECTOR_COLUMNS)
            .where(connectors.c.station_key == station_key(station_id))
            .order_by(connectors.c.evse_id, connectors.c.connector_id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [ConnectorRecord(**row._mapping) for row in rows]

    async def history(self, station_id: str, offset: int, limit: int) -> tuple[list[HistoryRecord], int]:
        """Newest first."""
        key = station_key(station_id)
        query = (
            sa.select(*_HISTORY_COLUMNS)
            .where(connector_status_history.c.station_key == key)
            .order_by(connector_status_history.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = (
            sa.select(sa.func.count())
            .select_from(connector_status_history)
            .where(connector_status_history.c.station_key == key)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [HistoryRecord(**row._mapping) for row in rows], total

    async def log_events(self, events: list[DeviceEvent], received_at: datetime) -> None:
        if not events:
            return
        rows = [
            asdict(event) | {"station_key": station_key(event.station_id), "received_at": received_at}
            for event in events
        ]
        async with self.engine.begin() as connection:
            await connection.execute(sa.insert(station_device_events), rows)

    async def events(self, station_id: str, offset: int, limit: int) -> list[DeviceEvent]:
        columns = [c for c in station_device_events.c if c.name not in ("id", "station_key", "received_at")]
        query = (
            sa.select(*columns)
            .where(station_device_events.c.station_key == station_key(station_id))
            .order_by(station_device_events.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [DeviceEvent(**row._mapping) for row in rows]
