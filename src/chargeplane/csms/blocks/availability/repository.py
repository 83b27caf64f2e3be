"""All SQL of the availability block.

Status writes (StatusNotification, NotifyEvent AvailabilityState) go through the CSMS's shared
:class:`~chargeplane.csms.storage.group_commit.GroupCommitter` and its :class:`StatusWriter`: the reports of
many stations that arrive together are written with two statements and one commit, each handler answering
after the commit of its own reports. NotifyEvent's other events are a unit of work of the same committer.
Reads use the engine; nothing here writes outside the committer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.availability.tables import (
    connector_status_history,
    connectors,
    station_device_events,
)
from chargeplane.csms.storage.driver import PerDialect, RowCodec, dbapi_cursor, positional
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


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
    # What the event log does not keep, for the listeners (the monitoring block): N07.FR.06, 2.1's severity
    cause: int | None = None
    variable_monitoring_id: int | None = None
    event_notification_type: str | None = None
    severity: int | None = None


_LOGGED = frozenset(c.name for c in station_device_events.c)
_CONNECTOR_COLUMNS = [c for c in connectors.c if c.name != "station_key"]
_HISTORY_COLUMNS = [c for c in connector_status_history.c if c.name != "station_key"]


_STATUS = (
    "station_key",
    "evse_id",
    "connector_id",
    "station_id",
    "status",
    "error_code",
    "info",
    "vendor_id",
    "vendor_error_code",
    "source",
    "status_at",
)
_HISTORY = (*_STATUS, "received_at")
_CURRENT = (*_STATUS, "updated_at")


@dataclass(frozen=True, slots=True)
class StatusWrite:
    """The status reports of one message, received together."""

    reports: list[StatusReport]
    received_at: datetime


class _StatusStatements:
    def __init__(self, dialect: sa.Dialect) -> None:
        self.history = RowCodec(connector_status_history, _HISTORY, dialect)
        self.current = RowCodec(connectors, _CURRENT, dialect)
        placeholders = ", ".join("?" * len(_CURRENT))
        changed = ", ".join(f"{name} = excluded.{name}" for name in _CURRENT[3:])
        self.insert_history = positional(
            dialect,
            f"INSERT INTO connector_status_history ({', '.join(_HISTORY)}) "
            f"VALUES ({', '.join('?' * len(_HISTORY))})",
        )
        # Each report becomes the current status of its EVSE/connector unless the stored one has a later
        # timestamp (a late, queued message must not overwrite a newer status).
        self.upsert_current = positional(
            dialect,
            f"INSERT INTO connectors ({', '.join(_CURRENT)}) VALUES ({placeholders}) "
            f"ON CONFLICT (station_key, evse_id, connector_id) DO UPDATE SET {changed} "
            "WHERE connectors.status_at <= excluded.status_at",
        )


class StatusWriter:
    """The :class:`~chargeplane.csms.storage.group_commit.BatchWriter` of status reports: the reports of every
    message of a batch with two ``executemany`` statements (driver level, see ``storage/driver.py``), in queue
    order, so a connector reported twice ends with the later report."""

    _statements = PerDialect(_StatusStatements)

    def write_batch(self, connection: sa.Connection, items: Sequence[StatusWrite]) -> list[None]:
        sql = self._statements(connection.dialect)
        history: list[tuple[Any, ...]] = []
        current: list[tuple[Any, ...]] = []
        for item in items:
            for report in item.reports:
                values = (
                    station_key(report.station_id),
                    report.evse_id,
                    report.connector_id,
                    report.station_id,
                    report.status,
                    report.error_code,
                    report.info,
                    report.vendor_id,
                    report.vendor_error_code,
                    report.source,
                    report.status_at,
                )
                history.append(sql.history.bind((*values, item.received_at)))
                current.append(sql.current.bind((*values, item.received_at)))
        cursor = dbapi_cursor(connection)
        try:
            if history:
                cursor.executemany(sql.insert_history, history)
                cursor.executemany(sql.upsert_current, current)
        finally:
            cursor.close()
        return [None] * len(items)


class AvailabilityRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer
        self._writer = StatusWriter()

    async def record(self, reports: list[StatusReport], received_at: datetime) -> None:
        """Append every report to the history and make each the current status of its EVSE/connector,
        unless the current one was reported with a later timestamp (a late, queued message must not
        overwrite a newer status). Returns once committed."""
        if reports:
            await self.committer.run_batched(self._writer, StatusWrite(reports, received_at))

    async def current(self, station_id: str) -> list[ConnectorRecord]:
        query = (
            sa.select(*_CONNECTOR_COLUMNS)
            .where(connectors.c.station_key == station_key(station_id))
            .order_by(connectors.c.evse_id, connectors.c.connector_id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [ConnectorRecord(**row._mapping) for row in rows]

    async def faulted_station_count(self) -> int:
        """How many stations have the station, an EVSE or a connector Faulted now."""
        query = sa.select(sa.func.count(sa.distinct(connectors.c.station_key))).where(
            connectors.c.status == "Faulted"
        )
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

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
            {k: v for k, v in asdict(event).items() if k in _LOGGED}
            | {"station_key": station_key(event.station_id), "received_at": received_at}
            for event in events
        ]
        await self.committer.run(execute(sa.insert(station_device_events), rows))

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
