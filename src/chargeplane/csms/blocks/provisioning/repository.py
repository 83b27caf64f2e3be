"""All SQL of the provisioning block.

The OCPP-path writes (BootNotification, presence on connect/disconnect, the periodic last-seen flush, and
:meth:`StationRepository.create`, which also registers unknown stations on first contact) are units of work
of the CSMS's shared :class:`~chargeplane.csms.storage.group_commit.GroupCommitter`, so that the boots of a
reconnection storm share transactions. The operator's changes through the HTTP API
(:meth:`~StationRepository.update`, :meth:`~StationRepository.delete`) write directly on the engine; reads
use the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.provisioning.tables import stations
from chargeplane.csms.storage.batch_read import BatchReader
from chargeplane.csms.storage.driver import PerDialect, RowCodec, Updates, dbapi_cursor, positional
from chargeplane.csms.storage.group_commit import GroupCommitter, Work, execute, insert_absent


@dataclass(frozen=True, slots=True)
class StationRecord:
    station_id: str
    registration_status: str
    security_profile: int
    password_hash: str | None
    v16_key_encoding: str
    heartbeat_interval: int | None
    description: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    boot_reason: str | None
    last_boot_at: datetime | None
    connected: bool
    ocpp_version: str | None
    connected_security_profile: int | None
    remote_address: str | None
    connected_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BootData:
    vendor: str
    model: str
    reason: str
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


_COLUMNS = [column for column in stations.c if column.name != "key"]


def station_key(station_id: str) -> str:
    return station_id.casefold()


def _update(station_id: str, values: dict[str, Any]) -> sa.Update:
    return sa.update(stations).where(stations.c.key == station_key(station_id)).values(values)


_NAMES = tuple(column.name for column in _COLUMNS)


class _Statements:
    """The driver-level SQL of the connection path (a station's record read, its boot and presence writes),
    per dialect: SQLAlchemy Core built and compiled each statement anew, a few hundred microseconds of the
    event loop's time per station coming online (``storage/driver.py``)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self.record = RowCodec(stations, _NAMES, dialect)
        # ``UPDATE stations SET <columns> WHERE key = ?`` and the conversions of its parameters
        self.update = Updates(stations, "key", dialect)

    def select(self, count: int) -> str:
        marks = ", ".join("?" * count)
        return positional(
            self.dialect, f"SELECT key, {', '.join(_NAMES)} FROM stations WHERE key IN ({marks})"
        )


_statements = PerDialect(_Statements)


def _fetch(connection: sa.Connection, keys: Sequence[str]) -> dict[str, StationRecord]:
    """The records of the stations with these keys (one statement): the :class:`BatchReader`'s read."""
    sql = _statements(connection.dialect)
    cursor = dbapi_cursor(connection)
    try:
        cursor.execute(sql.select(len(keys)), tuple(keys))
        rows, description = cursor.fetchall(), cursor.description
    finally:
        cursor.close()
    return {row[0]: StationRecord(**sql.record.result(row[1:], description[1:])) for row in rows}


def _set(station_id: str, values: dict[str, Any]) -> Work[int]:
    """A unit of work that sets these columns of the station (driver level); its result is the rowcount."""
    columns = tuple(values)
    parameters = (*values.values(), station_key(station_id))

    def work(connection: sa.Connection) -> int:
        sql, codec = _statements(connection.dialect).update(columns)
        cursor = dbapi_cursor(connection)
        try:
            cursor.execute(sql, codec.bind(parameters))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    return work


class StationRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer
        self._reader: BatchReader[str, StationRecord] = BatchReader(engine, _fetch)

    async def get(self, station_id: str) -> StationRecord | None:
        """The station's record; the reads of many connections coming in at once share one statement."""
        return await self._reader.get(station_key(station_id))

    def close(self) -> None:
        self._reader.close()

    async def list(self, offset: int, limit: int) -> list[StationRecord]:
        query = sa.select(*_COLUMNS).order_by(stations.c.key).offset(offset).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [StationRecord(**row._mapping) for row in rows]

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int(
                (await connection.execute(sa.select(sa.func.count()).select_from(stations))).scalar_one()
            )

    async def create(
        self,
        station_id: str,
        *,
        registration_status: str,
        security_profile: int,
        password_hash: str | None,
        v16_key_encoding: str,
        heartbeat_interval: int | None,
        description: str | None,
        now: datetime,
    ) -> bool:
        """Insert a station; False if the identity exists already. A unit of work: the operator's API and the
        registration of unknown stations on first contact (OCPP side) share it."""
        values: dict[str, Any] = {
            "key": station_key(station_id),
            "station_id": station_id,
            "registration_status": registration_status,
            "security_profile": security_profile,
            "password_hash": password_hash,
            "v16_key_encoding": v16_key_encoding,
            "heartbeat_interval": heartbeat_interval,
            "description": description,
            "created_at": now,
            "updated_at": now,
        }
        try:
            return await self.committer.run(insert_absent(stations, values, stations.c.key == values["key"]))
        except sa.exc.IntegrityError:  # PostgreSQL: inserted by a parallel writer since the check
            return False

    async def update(self, station_id: str, now: datetime, **values: Any) -> bool:
        """Change the given columns; False if the station does not exist."""
        async with self.engine.begin() as connection:
            result = await connection.execute(_update(station_id, values | {"updated_at": now}))
        return result.rowcount > 0

    async def delete(self, station_id: str) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.delete(stations).where(stations.c.key == station_key(station_id))
            )
        return result.rowcount > 0

    async def record_boot(self, station_id: str, boot: BootData, now: datetime) -> None:
        """Store a BootNotification's data; returns once committed."""
        values: dict[str, Any] = dict(
            updated_at=now,
            vendor=boot.vendor,
            model=boot.model,
            serial_number=boot.serial_number,
            firmware_version=boot.firmware_version,
            iccid=boot.iccid,
            imsi=boot.imsi,
            meter_type=boot.meter_type,
            meter_serial_number=boot.meter_serial_number,
            boot_reason=boot.reason,
            last_boot_at=now,
            last_seen_at=now,
        )
        await self.committer.run(_set(station_id, values))

    async def set_presence(
        self,
        station_id: str,
        now: datetime,
        *,
        connected: bool,
        version: str | None = None,
        security_profile: int | None = None,
        remote_address: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"connected": connected, "last_seen_at": now}
        if connected:
            values |= {
                "ocpp_version": version,
                "connected_security_profile": security_profile,
                "remote_address": remote_address,
                "connected_at": now,
            }
        await self.committer.run(_set(station_id, values | {"updated_at": now}))

    async def touch(self, last_seen: dict[str, datetime]) -> None:
        """Write last-seen times in one unit of work (called periodically, not per message)."""
        if not last_seen:
            return
        statement = (
            sa.update(stations)
            .where(stations.c.key == sa.bindparam("k"))
            .values(last_seen_at=sa.bindparam("seen"))
            .execution_options(synchronize_session=False)
        )
        rows = [{"k": station_key(station_id), "seen": seen} for station_id, seen in last_seen.items()]
        await self.committer.run(execute(statement, rows))
