"""The batch writer of TransactionEvents (E01-E15, J02): the hot path of a CSMS.

Every 2.x TransactionEvent of a group-commit batch (see ``storage/group_commit.py``) is written by one
:meth:`TransactionEventWriter.write_batch` call, inside the batch's database transaction, committed before any
of them is answered. Per batch, whatever its size:

1. the batch's transactions are upserted (created if unknown) and their rows returned and locked: one
   ``unnest`` statement on PostgreSQL (one round trip), in a fixed order so that parallel writers cannot
   deadlock; on SQLite (one writer) the known ones are read with a statement per 64 and only the unknown
   ones inserted (a read costs less than an upsert, which wrote each row once more);
2. each event is checked against the seqNo bookkeeping (a repeated event changes nothing, E01.FR.07 / E13)
   and folded into its transaction in memory (``fold.merge_event``), in queue order, so two events of one
   transaction in one batch see each other;
3. the new events, their sampled values and the changed transaction rows are written with one
   ``executemany`` each (per changed-column set for the rows);
4. tokens that start a transaction are checked against their limit of transactions at once (ConcurrentTx),
   after the writes, token by token in a fixed order and each start in queue order (``concurrency.py``).

Statements are plain SQL on the DBAPI cursor with the columns' own type conversions (``storage/driver.py``):
the same rows as the Core statements of ``repository.py`` would write.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from chargeplane.csms.blocks.transactions.concurrency import REFUSED, Start, admit, needs_check
from chargeplane.csms.blocks.transactions.fold import (
    STARTED,
    EventFacts,
    merge_event,
    merge_readings,
    seq_seen,
)
from chargeplane.csms.blocks.transactions.repository import (
    Sample,
    Stale,
    TransactionRecord,
    close_stale,
)
from chargeplane.csms.blocks.transactions.tables import meter_values, transaction_events, transactions
from chargeplane.csms.storage.driver import PerDialect, RowCodec, Updates, dbapi_cursor, positional

log = logging.getLogger(__name__)

# Read in the order of the record's fields, which then takes the converted row as it is.
_ROW = tuple(field.name for field in dataclasses.fields(TransactionRecord))
_GAPS = _ROW.index("seq_gaps")
# SQLite reads the batch's transactions with statements of these sizes (padded with keys that match nothing):
# one statement per size, so that the driver's statement cache keeps them prepared.
_FIND_SIZES = (1, 4, 16, 64)
_KEY = ("station_id", "transaction_id", "ocpp_version", "started_at", "created_at", "updated_at")
_EVENT = (  # the order of the rows _fold appends
    "transaction_key",
    "seq_no",
    "event_type",
    "trigger_reason",
    "timestamp",
    "offline",
    "charging_state",
    "id_token",
    "stopped_reason",
    "meter_value_count",
    "received_at",
)
_SAMPLE = (
    "station_id",
    "transaction_key",
    "evse_id",
    "connector_id",
    "timestamp",
    "measurand",
    "phase",
    "location",
    "context",
    "unit",
    "multiplier",
    "value",
    "signed_data",
)


@dataclass(frozen=True, slots=True)
class EventWrite:
    """One TransactionEvent to store."""

    station_id: str
    version: str
    facts: EventFacts
    group_id_token: str | None  # the token's group, kept with the authorizing token
    now: datetime
    limit: int | None = None  # a token that starts a transaction: its limit of transactions at once
    refuse: bool = False  # a token that starts a transaction and is not Accepted: the transaction is refused


@dataclass(frozen=True, slots=True)
class EventWritten:
    record: TransactionRecord  # the transaction as it was before this event
    changes: dict[str, Any] | None  # the columns this event changed; None: a repeated event, nothing stored
    busy: bool  # the start is over its token's limit (answered ConcurrentTx)
    closed: tuple[TransactionRecord, ...] = ()  # stale transactions a start closed (ReplacedOnEvse)


class _Statements:
    """The SQL and type conversions of one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self.postgresql = dialect.name == "postgresql"
        self.row = RowCodec(transactions, _ROW, dialect)
        self.key = RowCodec(transactions, _KEY, dialect)
        self.event = RowCodec(transaction_events, _EVENT, dialect)
        self.sample = RowCodec(meter_values, _SAMPLE, dialect)
        returning = ", ".join(_ROW)
        conflict = (
            "ON CONFLICT (station_id, transaction_id) DO UPDATE SET updated_at = excluded.updated_at "
            f"RETURNING {returning}"
        )
        insert = (
            "INSERT INTO transactions (station_id, transaction_id, ocpp_version, status, started_at, "
            "seq_gaps, created_at, updated_at) "
        )
        if self.postgresql:
            self.upsert = positional(
                dialect,
                insert + "SELECT u.s, u.t, u.v, 'active', u.st, '[]', u.c, u.u FROM unnest(?::varchar[], "
                "?::varchar[], ?::varchar[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[]) "
                "AS u(s, t, v, st, c, u) " + conflict,
            )
        else:
            self.upsert = positional(
                dialect, insert + "VALUES (?, ?, ?, 'active', ?, '[]', ?, ?) " + conflict
            )
        self.insert_event = positional(
            dialect,
            f"INSERT INTO transaction_events ({', '.join(_EVENT)}) VALUES ({', '.join('?' * len(_EVENT))}) "
            "ON CONFLICT (transaction_key, seq_no) DO NOTHING",
        )
        self.insert_sample = positional(
            dialect,
            f"INSERT INTO meter_values ({', '.join(_SAMPLE)}) VALUES ({', '.join('?' * len(_SAMPLE))})",
        )
        # PostgreSQL: lock the row; SQLite has one writer, the group committer, so nothing to lock.
        lock = " FOR UPDATE" if self.postgresql else ""
        self.find = positional(
            dialect, f"SELECT {returning} FROM transactions WHERE station_id = ? AND transaction_id = ?{lock}"
        )
        self.find_many = {
            size: f"SELECT {', '.join(f't.{name}' for name in _ROW)} FROM (VALUES {', '.join(['(?, ?)'] * size)}) "
            "AS k CROSS JOIN transactions AS t ON t.station_id = k.column1 AND t.transaction_id = k.column2"
            for size in _FIND_SIZES
        }  # SQLite only (VALUES column names); CROSS JOIN: the keys first, each looked up by the unique index
        # ``UPDATE transactions SET <columns> WHERE id = ?`` and the conversions of its parameters
        self.update = Updates(transactions, "id", dialect)


_statements = PerDialect(_Statements)


class TransactionEventWriter:
    """A :class:`~chargeplane.csms.storage.group_commit.BatchWriter` of :class:`EventWrite` items."""

    def write_batch(self, connection: sa.Connection, items: Sequence[EventWrite]) -> list[EventWritten]:
        sql = _statements(connection.dialect)
        cursor = dbapi_cursor(connection)
        try:
            records = self._upsert(cursor, sql, items)
            counts = collections.Counter((item.station_id, item.facts.transaction_id) for item in items)
            repeated = {key for key, count in counts.items() if count > 1}
            results: list[EventWritten] = []
            events: list[tuple[Any, ...]] = []
            samples: list[tuple[Any, ...]] = []
            updates: dict[int, dict[str, Any]] = {}
            for item in items:
                key = (item.station_id, item.facts.transaction_id)
                record = records[key]
                changes = self._fold(record, item, events, samples)
                if changes is not None:
                    changed = changes | {"updated_at": item.now}
                    updates[record.id] = updates.get(record.id, {}) | changed
                    if key in repeated:  # the next event of this transaction in the batch builds on this one
                        records[key] = dataclasses.replace(record, **changed)
                else:  # a repeated event stores nothing, but the transaction was heard of
                    updates[record.id] = updates.get(record.id, {}) | {"updated_at": item.now}
                results.append(EventWritten(record, changes, False))
            self._insert_events(cursor, sql, events)
            _insert_samples(cursor, sql, samples)
            _update_rows(cursor, sql, updates)
        finally:
            cursor.close()
        _close_replaced(connection, items, results)
        _admit(connection, items, results)
        return results

    @staticmethod
    def _upsert(
        cursor: Any, sql: _Statements, items: Sequence[EventWrite]
    ) -> dict[tuple[str, str], TransactionRecord]:
        """Every transaction of the batch, created if unknown, as stored before the batch.

        PostgreSQL: one upsert of them all (it locks the rows). SQLite: the known ones are read (a read costs
        less than a write, and their rows are updated anyway), only the unknown ones are inserted; the read
        stays true until the batch writes, as SQLite serves one process, whose committer is the only writer
        of these rows (pysqlite opens the transaction only at the first write)."""
        first: dict[tuple[str, str], EventWrite] = {}
        for item in items:
            first.setdefault((item.station_id, item.facts.transaction_id), item)
        keys = sorted(first)  # one lock order for every writer
        records: dict[tuple[str, str], TransactionRecord] = {}
        if not sql.postgresql:
            for record in _find(cursor, sql, keys):
                assert record.transaction_id is not None
                records[(record.station_id, record.transaction_id)] = record
            keys = [key for key in keys if key not in records]
        parameters = []
        for station, transaction in keys:
            item = first[(station, transaction)]
            values = (station, transaction, item.version, item.facts.timestamp, item.now, item.now)
            parameters.append(sql.key.bind(values))
        if sql.postgresql:
            cursor.execute(sql.upsert, tuple(list(column) for column in zip(*parameters, strict=True)))
            rows = cursor.fetchall()
        else:
            rows = []
            for parameter in parameters:
                cursor.execute(sql.upsert, parameter)
                rows.append(cursor.fetchone())
        for row in rows:
            record = _record(sql.row.values(row, cursor.description))
            assert record.transaction_id is not None
            records[(record.station_id, record.transaction_id)] = record
        return records

    @staticmethod
    def _fold(
        record: TransactionRecord,
        item: EventWrite,
        events: list[tuple[Any, ...]],
        samples: list[tuple[Any, ...]],
    ) -> dict[str, Any] | None:
        """The changes the event makes (its rows appended to ``events`` / ``samples``); None if repeated."""
        facts = item.facts
        if seq_seen(record.first_seq_no, record.last_seq_no, record.seq_gaps, facts.seq_no):
            log.info("%s: repeated event %s of %s", item.station_id, facts.seq_no, facts.transaction_id)
            return None
        events.append(
            (
                record.id,
                facts.seq_no,
                facts.event_type,
                facts.trigger_reason,
                facts.timestamp,
                facts.offline,
                facts.charging_state,
                facts.id_token,
                facts.stopped_reason,
                len(facts.samples),
                item.now,
            )
        )
        evse_id = facts.evse_id if facts.evse_id is not None else record.evse_id
        connector_id = facts.connector_id if facts.connector_id is not None else record.connector_id
        samples.extend(_sample_rows(item.station_id, record.id, evse_id, connector_id, facts.samples))
        return merge_event(record, facts, item.group_id_token)

    @staticmethod
    def _insert_events(cursor: Any, sql: _Statements, events: list[tuple[Any, ...]]) -> None:
        if events:
            cursor.executemany(sql.insert_event, [sql.event.bind(row) for row in events])
            # The bookkeeping said new: a conflict means it is wrong, and the batch must not be committed.
            if sql.dialect.supports_sane_multi_rowcount and cursor.rowcount != len(events):
                raise RuntimeError(
                    f"{len(events) - cursor.rowcount} of {len(events)} events were stored already"
                )


@dataclass(frozen=True, slots=True)
class MeterValuesWrite:
    """The sampled values of one MeterValues message (J01; 1.6 with or without a transactionId)."""

    station_id: str
    transaction_id: str | None
    samples: list[Sample]
    evse_id: int | None
    connector_id: int | None
    now: datetime


class MeterValuesWriter:
    """A :class:`~chargeplane.csms.storage.group_commit.BatchWriter` of :class:`MeterValuesWrite` items: the
    samples of a batch with one ``executemany``; a named transaction is read (locked on PostgreSQL), its
    energy readings folded in (``fold.merge_readings``) and its row updated. The result per item is the
    transaction as it is after the item, or None (none named, or unknown)."""

    def write_batch(
        self, connection: sa.Connection, items: Sequence[MeterValuesWrite]
    ) -> list[TransactionRecord | None]:
        sql = _statements(connection.dialect)
        cursor = dbapi_cursor(connection)
        try:
            records: dict[tuple[str, str], TransactionRecord | None] = {}
            results: list[TransactionRecord | None] = []
            samples: list[tuple[Any, ...]] = []
            updates: dict[int, dict[str, Any]] = {}
            for item in items:
                record = None
                if item.transaction_id is not None:
                    key = (item.station_id, item.transaction_id)
                    if key not in records:
                        cursor.execute(sql.find, key)
                        row = cursor.fetchone()
                        records[key] = _record(sql.row.values(row, cursor.description)) if row else None
                    record = records[key]
                    if record is not None:
                        changed = merge_readings(record, item.samples) | {"updated_at": item.now}
                        updates[record.id] = updates.get(record.id, {}) | changed
                        record = records[key] = dataclasses.replace(record, **changed)
                key_id = record.id if record is not None else None
                samples.extend(
                    _sample_rows(item.station_id, key_id, item.evse_id, item.connector_id, item.samples)
                )
                results.append(record)
            _insert_samples(cursor, sql, samples)
            _update_rows(cursor, sql, updates)
            return results
        finally:
            cursor.close()


def _close_replaced(
    connection: sa.Connection, items: Sequence[EventWrite], results: list[EventWritten]
) -> None:
    """A new transaction on an EVSE shows that older ones still active there are over (before the
    ConcurrentTx check, so that a stale transaction of the same card does not count)."""
    for index, item in enumerate(items):
        facts, written = item.facts, results[index]
        if facts.event_type == STARTED and facts.evse_id is not None and written.changes is not None:
            stale = Stale.replaced(item.station_id, facts.evse_id, facts.timestamp, written.record.id)
            closed = close_stale(connection, stale, item.now)
            if closed:
                results[index] = dataclasses.replace(written, closed=tuple(closed))


def _admit(connection: sa.Connection, items: Sequence[EventWrite], results: list[EventWritten]) -> None:
    """ConcurrentTx and refused starts (``concurrency.py``), token by token in one order for every writer."""
    by_token: dict[str, list[int]] = {}
    checked: set[str] = set()
    for index, item in enumerate(items):
        token = item.facts.id_token
        if token and item.facts.event_type == STARTED:  # the unlimited ones too: later starts must see them
            by_token.setdefault(token, []).append(index)
            if needs_check(item.limit, item.refuse):
                checked.add(token)
    for token in sorted(checked):
        indexes = by_token[token]
        starts = [
            Start(
                key=results[i].record.id,
                status=results[i].record.status,
                repeated=results[i].changes is None,
                limit=items[i].limit,
                refuse=items[i].refuse,
            )
            for i in indexes
        ]
        busy, refused = admit(connection, token, starts)
        for i, over in zip(indexes, busy, strict=True):
            written = results[i]
            changes = written.changes
            if changes is not None and written.record.id in refused:
                changes = changes | {"status": REFUSED}
            results[i] = dataclasses.replace(written, changes=changes, busy=over)


def _record(values: list[Any]) -> TransactionRecord:
    gaps = values[_GAPS]
    values[_GAPS] = [list(gap) for gap in gaps] if gaps else []
    return TransactionRecord(*values)


def _find(cursor: Any, sql: _Statements, keys: list[tuple[str, str]]) -> list[TransactionRecord]:
    """SQLite: the stored transactions among ``keys`` (station id, transaction id)."""
    found: list[TransactionRecord] = []
    start = 0
    while start < len(keys):
        size = next((size for size in _FIND_SIZES if size >= len(keys) - start), _FIND_SIZES[-1])
        chunk = keys[start : start + size]
        parameters = [value for key in chunk for value in key] + [None, None] * (size - len(chunk))
        cursor.execute(sql.find_many[size], parameters)
        found.extend(_record(sql.row.values(row, cursor.description)) for row in cursor.fetchall())
        start += size
    return found


def _sample_rows(
    station_id: str, key: int | None, evse_id: int | None, connector_id: int | None, samples: list[Sample]
) -> list[tuple[Any, ...]]:
    return [
        (
            station_id,
            key,
            evse_id,
            connector_id,
            sample.timestamp,
            sample.measurand,
            sample.phase,
            sample.location,
            sample.context,
            sample.unit,
            sample.multiplier,
            sample.value,
            sample.signed_data,
        )
        for sample in samples
    ]


def _insert_samples(cursor: Any, sql: _Statements, samples: list[tuple[Any, ...]]) -> None:
    if samples:
        cursor.executemany(sql.insert_sample, [sql.sample.bind(row) for row in samples])


def _update_rows(cursor: Any, sql: _Statements, updates: dict[int, dict[str, Any]]) -> None:
    """Each transaction row's changed columns, one ``executemany`` per set of changed columns."""
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for record_id, changed in updates.items():
        columns = tuple(sorted(changed))
        by_columns.setdefault(columns, []).append((*(changed[name] for name in columns), record_id))
    for columns, rows in by_columns.items():
        statement, codec = sql.update(columns)
        cursor.executemany(statement, [codec.bind(row) for row in rows])
