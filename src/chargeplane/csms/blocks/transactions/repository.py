"""The Core SQL of the transactions block: the HTTP API's reads and the 1.6 Start/StopTransaction writes.

A 1.6 write is a :class:`TransactionUnit`: the writes of one OCPP message, committed before the CALLRESULT is
sent (the durability rule), run through the CSMS's :class:`~chargeplane.csms.storage.group_commit.GroupCommitter`
(:meth:`TransactionRepository.write`) so that it shares a transaction with the other messages that arrive at
the same time, and is retried alone if its batch fails. The hot paths (2.x TransactionEvent, MeterValues)
are batch writers at driver level instead (``event_writer.py``). A unit reads first (on PostgreSQL with
``FOR UPDATE`` or an upsert that locks the row), which is safe because OCPP allows one outstanding CALL per
station, so two messages of one station's transaction are never processed at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.transactions.tables import (
    meter_values,
    remote_start_limits,
    transaction_events,
    transactions,
)
from chargeplane.csms.storage.driver import PerDialect, dbapi_cursor, positional
from chargeplane.csms.storage.group_commit import GroupCommitter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    id: int
    station_id: str
    transaction_id: str | None
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    token_type: str | None
    group_id_token: str | None
    id_token_at: datetime | None
    status: str
    started_seen: bool
    started_at: datetime
    ended_at: datetime | None
    meter_start_wh: float | None
    meter_start_at: datetime | None
    meter_stop_wh: float | None
    last_register_wh: float | None
    last_register_at: datetime | None
    energy_wh: float | None
    charging_state: str | None
    charging_state_at: datetime | None
    stop_reason: str | None
    closed_reason: str | None
    remote_start_id: int | None
    reservation_id: int | None
    first_seq_no: int | None
    last_seq_no: int | None
    seq_gaps: list[list[int]]
    offline: bool
    event_count: int
    created_at: datetime
    updated_at: datetime
    transaction_limit: dict[str, float] | None = None  # 2.1 E16: as the station last reported it
    limit_request: dict[str, float] | None = None  # 2.1 E16.FR.02: set by the API, not answered yet
    limit_request_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq_no: int
    event_type: str
    trigger_reason: str | None
    timestamp: datetime
    offline: bool
    charging_state: str | None
    id_token: str | None
    stopped_reason: str | None
    meter_value_count: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled value, version-neutral (J02)."""

    timestamp: datetime
    measurand: str
    value: float | None
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    unit: str | None = None
    multiplier: int | None = None
    signed_data: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MeterValueRecord:
    transaction_key: int | None
    evse_id: int | None
    connector_id: int | None
    timestamp: datetime
    measurand: str
    phase: str | None
    location: str | None
    context: str | None
    unit: str | None
    multiplier: int | None
    value: float | None
    signed_data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    station_id: str | None = None
    status: str | None = None
    id_token: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    id_token_digest: str | None = None  # the token's KeyCode digest: a PIN is stored only so (C04.FR.04)


_EVENT_COLUMNS = [c for c in transaction_events.c if c.name not in ("id", "transaction_key")]
_METER_COLUMNS = [c for c in meter_values.c if c.name not in ("id", "station_id")]


def _transaction(row: sa.Row[Any]) -> TransactionRecord:
    values = dict(row._mapping)
    values["seq_gaps"] = [list(gap) for gap in values["seq_gaps"] or []]
    return TransactionRecord(**values)


def _insert(connection: sa.Connection, table: sa.Table) -> Any:
    """An INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL share the syntax)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class _Statements:
    """The hot path's statements, built once per dialect: building ``on_conflict_do_update`` (its
    ``excluded`` alias of the whole table) per event took about a quarter of a TransactionEvent's CPU."""

    upsert_transaction: Any
    insert_event: Any


_STATEMENTS: dict[str, _Statements] = {}


def _statements(connection: sa.Connection) -> _Statements:
    name = connection.dialect.name
    statements = _STATEMENTS.get(name)
    if statements is None:
        upsert = _insert(connection, transactions)
        statements = _STATEMENTS[name] = _Statements(
            upsert_transaction=upsert.on_conflict_do_update(
                index_elements=[transactions.c.station_id, transactions.c.transaction_id],
                set_={"updated_at": upsert.excluded.updated_at},
            ).returning(*transactions.c),
            insert_event=_insert(connection, transaction_events).on_conflict_do_nothing(
                index_elements=[transaction_events.c.transaction_key, transaction_events.c.seq_no]
            ),
        )
    return statements


class TransactionUnit:
    """The writes of one OCPP message, inside one database transaction (synchronous: a whole batch of units
    runs in one hop to the database thread, see :mod:`chargeplane.csms.storage.group_commit`)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def get_or_create(
        self, station_id: str, transaction_id: str, *, version: str, started_at: datetime, now: datetime
    ) -> TransactionRecord:
        """The transaction, created (active, no events yet) if unknown, and locked for this unit."""
        parameters = {
            "station_id": station_id,
            "transaction_id": transaction_id,
            "ocpp_version": version,
            "status": "active",
            "started_at": started_at,
            "seq_gaps": [],
            "created_at": now,
            "updated_at": now,
        }
        statement = _statements(self.connection).upsert_transaction
        return _transaction(self.connection.execute(statement, parameters).one())

    def create_v16(self, station_id: str, values: dict[str, Any], now: datetime) -> TransactionRecord:
        """A new 1.6 transaction: the key the database assigns is its transactionId."""
        result = self.connection.execute(
            sa.insert(transactions).values(
                station_id=station_id,
                ocpp_version="1.6",
                seq_gaps=[],
                created_at=now,
                updated_at=now,
                **values,
            )
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        key = int(inserted[0])
        row = (
            self.connection.execute(
                sa.update(transactions)
                .where(transactions.c.id == key)
                .values(transaction_id=str(key))
                .returning(*transactions.c)
            )
        ).one()
        return _transaction(row)

    def find_v16_start(
        self, station_id: str, connector_id: int, started_at: datetime, id_token: str
    ) -> TransactionRecord | None:
        """The transaction a repeated 1.6 StartTransaction (same connector, time and idTag) already created."""
        row = (
            self.connection.execute(
                sa.select(*transactions.c).where(
                    transactions.c.station_id == station_id,
                    transactions.c.ocpp_version == "1.6",
                    transactions.c.connector_id == connector_id,
                    transactions.c.started_at == started_at,
                    transactions.c.id_token == id_token,
                )
            )
        ).first()
        return _transaction(row) if row is not None else None

    def add_event(
        self,
        key: int,
        *,
        seq_no: int,
        event_type: str,
        trigger_reason: str | None,
        timestamp: datetime,
        offline: bool,
        charging_state: str | None,
        id_token: str | None,
        stopped_reason: str | None,
        meter_value_count: int,
        now: datetime,
    ) -> bool:
        """Store one event; False if this (transaction, seqNo) is stored already (a repeated message)."""
        parameters = {
            "transaction_key": key,
            "seq_no": seq_no,
            "event_type": event_type,
            "trigger_reason": trigger_reason,
            "timestamp": timestamp,
            "offline": offline,
            "charging_state": charging_state,
            "id_token": id_token,
            "stopped_reason": stopped_reason,
            "meter_value_count": meter_value_count,
            "received_at": now,
        }
        result = self.connection.execute(_statements(self.connection).insert_event, parameters)
        return bool(result.rowcount == 1)

    def update(self, key: int, values: dict[str, Any]) -> None:
        if values:
            self.connection.execute(sa.update(transactions).where(transactions.c.id == key).values(values))

    def add_samples(
        self,
        station_id: str,
        key: int | None,
        samples: Sequence[Sample],
        *,
        evse_id: int | None = None,
        connector_id: int | None = None,
    ) -> None:
        if not samples:
            return
        self.connection.execute(
            sa.insert(meter_values),
            [
                {
                    "station_id": station_id,
                    "transaction_key": key,
                    "evse_id": evse_id,
                    "connector_id": connector_id,
                    "timestamp": sample.timestamp,
                    "measurand": sample.measurand,
                    "phase": sample.phase,
                    "location": sample.location,
                    "context": sample.context,
                    "unit": sample.unit,
                    "multiplier": sample.multiplier,
                    "value": sample.value,
                    "signed_data": sample.signed_data,
                }
                for sample in samples
            ],
        )


# Why the CSMS closed a transaction the station never ended (``closed_reason`` and ``stop_reason``).
STATION_REBOOTED, EVSE_AVAILABLE, REPLACED_ON_EVSE = "StationRebooted", "EvseAvailable", "ReplacedOnEvse"


@dataclass(frozen=True, slots=True)
class Stale:
    """Which of a station's active transactions the station showed to be over, and why."""

    station_id: str
    reason: str  # StationRebooted | EvseAvailable | ReplacedOnEvse
    at: datetime  # when the station showed it (the end the CSMS records)
    evse_id: int | None = None  # only those on this EVSE (1.6: this connector)
    connector_id: int | None = None  # 2.x: and this connector of it (or none known)
    started_before: datetime | None = None  # only those started before this moment
    inclusive: bool = False  # ... or at it
    keep: int | None = None  # never this one (the new transaction)

    @classmethod
    def replaced(cls, station_id: str, evse_id: int, started_at: datetime, key: int) -> Stale:
        """The transactions a new one (``key``, 1.6: on connector ``evse_id``) replaces on its EVSE."""
        return cls(station_id, REPLACED_ON_EVSE, started_at, evse_id, started_before=started_at, keep=key)


_ANY_ACTIVE = PerDialect(
    lambda dialect: positional(
        dialect, "SELECT 1 FROM transactions WHERE station_id = ? AND status = 'active' LIMIT 1"
    )
)


def _any_active(connection: sa.Connection, station_id: str) -> bool:
    """Whether the station has an active transaction (driver level: a few microseconds, where the Core
    UPDATE ... RETURNING below costs about a millisecond of CPU to build and run)."""
    cursor = dbapi_cursor(connection)
    try:
        cursor.execute(_ANY_ACTIVE(connection.dialect), (station_id,))
        return cursor.fetchone() is not None
    finally:
        cursor.close()


def close_stale(connection: sa.Connection, stale: Stale, now: datetime) -> list[TransactionRecord]:
    """Close the matching active transactions (one statement: parallel writers close each at most once)."""
    # Every boot and every EVSE reported Available asks, and a station has seldom anything left open: most
    # asks end at the check (#19). A new transaction replacing others (``keep``) is itself active: no check.
    if stale.keep is None and not _any_active(connection, stale.station_id):
        return []
    c = transactions.c
    conditions = [c.station_id == stale.station_id, c.status == "active"]
    if stale.evse_id is not None:
        v16 = c.ocpp_version == "1.6"
        on_evse = sa.and_(~v16, c.evse_id == stale.evse_id)
        if stale.connector_id is not None:
            on_evse = sa.and_(on_evse, sa.or_(c.connector_id.is_(None), c.connector_id == stale.connector_id))
        conditions.append(sa.or_(sa.and_(v16, c.connector_id == stale.evse_id), on_evse))
    if stale.started_before is not None:
        before = stale.started_before
        conditions.append(c.started_at <= before if stale.inclusive else c.started_at < before)
    if stale.keep is not None:
        conditions.append(c.id != stale.keep)
    statement = (
        sa.update(transactions)
        .where(*conditions)
        .values(
            status="ended",
            ended_at=sa.case((c.started_at > stale.at, c.started_at), else_=stale.at),  # clocks differ
            stop_reason=stale.reason,
            closed_reason=stale.reason,
            updated_at=now,
        )
        .returning(*transactions.c)
    )
    return [_transaction(row) for row in connection.execute(statement)]


class TransactionRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def write(self, work: Callable[[TransactionUnit], T]) -> T:
        """Run the writes of one message (group-committed); returns their result once they are committed.

        ``work`` may run twice (a failed batch is retried unit by unit) and must only touch the database."""

        def unit_of_work(connection: sa.Connection) -> T:
            return work(TransactionUnit(connection))

        return await self.committer.run(unit_of_work)

    # -- 2.1 transaction limits (E16, F07) ----------------------------------------------------------------

    async def request_limit(self, key: int, limit: dict[str, float], now: datetime) -> None:
        """E16.FR.02: ``limit`` goes into the next TransactionEventResponse of transaction ``key`` (merged
        over a request not answered yet)."""

        def work(unit: TransactionUnit) -> None:
            table = transactions
            row = unit.connection.execute(sa.select(table.c.limit_request).where(table.c.id == key)).first()
            merged = (dict(row[0]) if row is not None and row[0] else {}) | limit
            unit.update(key, {"limit_request": merged, "limit_request_at": now})

        await self.write(work)

    async def limit_answered(self, key: int, requested_at: datetime) -> None:
        """The request of ``requested_at`` went out; a newer one (set meanwhile) stays for the next event."""

        def work(unit: TransactionUnit) -> None:
            unit.connection.execute(
                sa.update(transactions)
                .where(transactions.c.id == key, transactions.c.limit_request_at == requested_at)
                .values(limit_request=None, limit_request_at=None)
            )

        await self.write(work)

    async def request_remote_start_limit(
        self, station_id: str, remote_start_id: int, limit: dict[str, float], now: datetime
    ) -> int | None:
        """F07.FR.02: the limit of a remote start: on its transaction when that is active already (its key is
        returned), else kept for the first event with the remoteStartId."""

        def work(unit: TransactionUnit) -> int | None:
            found = unit.connection.execute(
                sa.select(transactions.c.id).where(
                    transactions.c.station_id == station_id,
                    transactions.c.remote_start_id == remote_start_id,
                    transactions.c.status == "active",
                )
            ).first()
            if found is not None:
                return int(found[0])
            table = remote_start_limits
            where = (table.c.station_id == station_id, table.c.remote_start_id == remote_start_id)
            row = unit.connection.execute(sa.select(table.c.transaction_limit).where(*where)).first()
            unit.connection.execute(sa.delete(table).where(*where))
            merged = (dict(row[0]) if row is not None else {}) | limit
            unit.connection.execute(
                sa.insert(table).values(
                    station_id=station_id,
                    remote_start_id=remote_start_id,
                    transaction_limit=merged,
                    created_at=now,
                )
            )
            return None

        key = await self.write(work)
        if key is not None:
            await self.request_limit(key, limit, now)
        return key

    async def take_remote_start_limit(self, station_id: str, remote_start_id: int) -> dict[str, float] | None:
        """The limit kept for a remote start, removed (it is answered now)."""

        def work(unit: TransactionUnit) -> dict[str, float] | None:
            table = remote_start_limits
            where = (table.c.station_id == station_id, table.c.remote_start_id == remote_start_id)
            row = unit.connection.execute(sa.select(table.c.transaction_limit).where(*where)).first()
            if row is None:
                return None
            unit.connection.execute(sa.delete(table).where(*where))
            return dict(row[0])

        return await self.write(work)

    # -- reads (the HTTP API) ---------------------------------------------------------------------------

    async def get(self, key: int) -> TransactionRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*transactions.c).where(transactions.c.id == key))
            ).first()
        return _transaction(row) if row is not None else None

    @staticmethod
    def _where(where: TransactionFilter) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if where.station_id is not None:
            conditions.append(transactions.c.station_id == where.station_id)
        if where.status is not None:
            conditions.append(transactions.c.status == where.status)
        if where.id_token is not None:
            values = [where.id_token] + ([where.id_token_digest] if where.id_token_digest else [])
            conditions.append(transactions.c.id_token.in_(values))
        if where.started_from is not None:
            conditions.append(transactions.c.started_at >= where.started_from)
        if where.started_to is not None:
            conditions.append(transactions.c.started_at < where.started_to)
        return conditions

    async def page(
        self, where: TransactionFilter, offset: int, limit: int
    ) -> tuple[list[TransactionRecord], int]:
        """A page, newest first, and the number of all matching transactions."""
        conditions = self._where(where)
        query = (
            sa.select(*transactions.c)
            .where(*conditions)
            .order_by(transactions.c.started_at.desc(), transactions.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(transactions).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_transaction(row) for row in rows], total

    async def events(self, key: int) -> list[EventRecord]:
        query = (
            sa.select(*_EVENT_COLUMNS)
            .where(transaction_events.c.transaction_key == key)
            .order_by(transaction_events.c.timestamp, transaction_events.c.seq_no)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [EventRecord(**row._mapping) for row in rows]

    async def transaction_meter_values(self, key: int, limit: int) -> list[MeterValueRecord]:
        query = (
            sa.select(*_METER_COLUMNS)
            .where(meter_values.c.transaction_key == key)
            .order_by(meter_values.c.timestamp, meter_values.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [MeterValueRecord(**row._mapping) for row in rows]

    async def recent_meter_values(
        self, keys: list[int], since: datetime, measurand: str, limit: int
    ) -> list[MeterValueRecord]:
        """The ``measurand`` samples of these transactions since ``since``, oldest first."""
        if not keys:
            return []
        query = (
            sa.select(*_METER_COLUMNS)
            .where(
                meter_values.c.transaction_key.in_(keys),
                meter_values.c.timestamp >= since,
                meter_values.c.measurand == measurand,
            )
            .order_by(meter_values.c.timestamp, meter_values.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [MeterValueRecord(**row._mapping) for row in rows]

    async def station_meter_values(
        self,
        station_id: str,
        *,
        start: datetime | None,
        end: datetime | None,
        measurand: str | None,
        offset: int,
        limit: int,
    ) -> list[MeterValueRecord]:
        conditions = [meter_values.c.station_id == station_id]
        if start is not None:
            conditions.append(meter_values.c.timestamp >= start)
        if end is not None:
            conditions.append(meter_values.c.timestamp < end)
        if measurand is not None:
            conditions.append(meter_values.c.measurand == measurand)
        query = (
            sa.select(*_METER_COLUMNS)
            .where(*conditions)
            .order_by(meter_values.c.timestamp, meter_values.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [MeterValueRecord(**row._mapping) for row in rows]
