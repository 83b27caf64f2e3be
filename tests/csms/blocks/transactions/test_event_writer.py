"""The TransactionEvent batch writer (issue #6): many events per statement, and the same stored rows as the
SQLAlchemy Core paths write. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.transactions.event_writer import (
    EventWrite,
    EventWritten,
    MeterValuesWrite,
    MeterValuesWriter,
    TransactionEventWriter,
)
from chargeplane.csms.blocks.transactions.fold import EventFacts
from chargeplane.csms.blocks.transactions.repository import Sample, TransactionRepository
from chargeplane.csms.blocks.transactions.tables import meter_values, transaction_events, transactions
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.csms.storage.migrate import migrate

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 13, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


def event(
    station: str,
    transaction: str,
    seq_no: int,
    *,
    event_type: str = "Updated",
    wh: float | None = None,
    id_token: str | None = None,
    limit: int | None = None,
) -> EventWrite:
    at = T0 + timedelta(seconds=seq_no)
    samples = (
        [] if wh is None else [Sample(at, "Energy.Active.Import.Register", wh, location="Outlet", unit="Wh")]
    )
    facts = EventFacts(
        transaction_id=transaction,
        event_type=event_type,
        timestamp=at,
        seq_no=seq_no,
        trigger_reason="MeterValuePeriodic",
        evse_id=1,
        connector_id=1,
        id_token=id_token,
        token_type="ISO14443" if id_token else None,
        charging_state="Charging",
        samples=samples,
    )
    return EventWrite(station, "2.0.1", facts, group_id_token=None, now=NOW, limit=limit)


async def write_together(engine: AsyncEngine, writes: list[EventWrite]) -> list[EventWritten]:
    committer = GroupCommitter(engine, writers=1)
    writer = TransactionEventWriter()
    results = await asyncio.gather(*(committer.run_batched(writer, write) for write in writes))
    assert (committer.batches, committer.fallbacks) == (1, 0)  # all in one write_batch call
    return results


async def test_E01_events_of_one_transaction_in_one_batch_fold_in_order(engine: AsyncEngine) -> None:
    results = await write_together(
        engine,
        [
            event("CS1", "TX1", 0, event_type="Started", wh=1000.0, id_token="TOKEN"),
            event("CS2", "TX9", 0, event_type="Started", wh=50.0),
            event("CS1", "TX1", 1, wh=1500.0),
            event("CS1", "TX1", 2, event_type="Ended", wh=2500.0),
        ],
    )
    assert [r.changes is not None for r in results] == [True, True, True, True]
    assert results[2].record.event_count == 1  # the second event saw the first one's fold
    assert results[3].record.event_count == 2
    repository = TransactionRepository(engine, GroupCommitter(engine))
    record = await repository.get(results[0].record.id)
    assert record is not None
    assert (record.status, record.event_count, record.first_seq_no, record.last_seq_no) == ("ended", 3, 0, 2)
    assert (record.meter_start_wh, record.last_register_wh, record.energy_wh) == (1000.0, 2500.0, 1500.0)
    assert record.id_token == "TOKEN"
    assert record.started_at == T0
    assert record.ended_at == T0 + timedelta(seconds=2)
    assert record.updated_at == NOW
    assert record.started_at.tzinfo is not None
    events = await repository.events(record.id)
    assert [(e.seq_no, e.event_type, e.meter_value_count) for e in events] == [
        (0, "Started", 1),
        (1, "Updated", 1),
        (2, "Ended", 1),
    ]
    samples = await repository.transaction_meter_values(record.id, 10)
    assert [(s.value, s.evse_id, s.timestamp) for s in samples] == [
        (1000.0, 1, T0),
        (1500.0, 1, T0 + timedelta(seconds=1)),
        (2500.0, 1, T0 + timedelta(seconds=2)),
    ]


async def test_E13_a_repeated_event_in_the_same_or_a_later_batch_changes_nothing(engine: AsyncEngine) -> None:
    first = await write_together(
        engine, [event("CS1", "TX1", 0, event_type="Started"), event("CS1", "TX1", 0)]
    )
    assert first[0].changes is not None
    assert first[1].changes is None
    again = await write_together(engine, [event("CS1", "TX1", 0), event("CS1", "TX1", 3)])
    assert again[0].changes is None  # stored in the earlier batch
    assert again[1].changes is not None
    assert again[1].changes["seq_gaps"] == [[1, 2]]
    async with engine.connect() as connection:
        count = (
            await connection.execute(sa.select(sa.func.count()).select_from(transaction_events))
        ).scalar()
    assert count == 2


async def test_E01_a_gap_filled_later_is_not_taken_for_a_repeat(engine: AsyncEngine) -> None:
    await write_together(engine, [event("CS1", "TX1", 0), event("CS1", "TX1", 3)])
    results = await write_together(
        engine, [event("CS1", "TX1", 2), event("CS1", "TX1", 1), event("CS1", "TX1", 2)]
    )
    assert [r.changes is not None for r in results] == [True, True, False]
    assert results[1].changes is not None
    assert results[1].changes["seq_gaps"] == []


async def test_a_batch_of_many_known_and_new_transactions_gives_each_event_its_own(
    engine: AsyncEngine,
) -> None:
    """More transactions than one statement reads on SQLite (the reads are padded to a few sizes), known and
    unknown ones interleaved; a repeated event still marks its transaction updated."""
    await write_together(
        engine, [event(f"CS{i}", f"TX{i}", 0, event_type="Started") for i in range(0, 150, 2)]
    )
    later = NOW + timedelta(minutes=1)
    writes = [dataclasses.replace(event(f"CS{i}", f"TX{i}", 1, wh=float(i)), now=later) for i in range(150)]
    results = await write_together(engine, writes)
    assert [(r.record.station_id, r.record.transaction_id) for r in results] == [
        (f"CS{i}", f"TX{i}") for i in range(150)
    ]
    assert [r.record.event_count for r in results] == [1 - i % 2 for i in range(150)]  # the odd ones are new
    assert all(r.changes is not None for r in results)
    repeated = await write_together(
        engine, [dataclasses.replace(writes[7], now=later + timedelta(minutes=1))]
    )
    assert repeated[0].changes is None
    repository = TransactionRepository(engine, GroupCommitter(engine))
    record = await repository.get(results[7].record.id)
    assert record is not None
    assert (record.event_count, record.last_register_wh) == (1, 7.0)
    assert record.updated_at == later + timedelta(minutes=1)


async def test_E05_busy_token_is_reported_only_over_its_limit(engine: AsyncEngine) -> None:
    await write_together(engine, [event("CS1", "TX1", 0, event_type="Started", id_token="TOKEN")])
    results = await write_together(
        engine,
        [
            event("CS2", "TX2", 0, event_type="Started", id_token="TOKEN", limit=1),
            event("CS3", "TX3", 0, event_type="Started", id_token="OTHER", limit=1),
            event("CS4", "TX4", 0, event_type="Started", id_token="TOKEN", limit=2),
            event("CS5", "TX5", 0, event_type="Started", id_token="OTHER"),
        ],
    )
    assert [r.busy for r in results] == [True, False, False, False]
    assert [(r.changes or {}).get("status") for r in results] == ["refused", None, None, None]


async def test_rows_are_stored_as_the_core_statements_store_them(engine: AsyncEngine) -> None:
    """Timestamps in other zones are stored as UTC, in the text SQLAlchemy itself writes on SQLite; a sample
    without signed data stores JSON null as Core does."""
    at = datetime(2025, 3, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    write = event("CS1", "TX1", 0, wh=1.0)
    facts = _facts_at(write, at)
    await write_together(engine, [EventWrite("CS1", "2.0.1", facts, None, NOW)])
    async with engine.begin() as connection:
        key = (await connection.execute(sa.select(transactions.c.id))).scalar_one()
        await connection.execute(
            sa.insert(meter_values).values(
                station_id="CS1",
                transaction_key=key,
                timestamp=at,
                measurand="Energy.Active.Import.Register",
                value=2.0,
                signed_data=None,
            )
        )
        rows = (
            await connection.execute(
                sa.select(
                    sa.cast(meter_values.c.timestamp, sa.String),
                    sa.cast(meter_values.c.signed_data, sa.String),
                    meter_values.c.timestamp,
                ).order_by(meter_values.c.id)
            )
        ).all()
    (writer_text, writer_json, writer_at), (core_text, core_json, core_at) = rows
    assert writer_text == core_text
    assert writer_json == core_json
    assert writer_at == core_at == at


def _facts_at(write: EventWrite, at: datetime) -> EventFacts:
    facts = write.facts
    sample = facts.samples[0]
    return EventFacts(
        transaction_id=facts.transaction_id,
        event_type=facts.event_type,
        timestamp=at,
        seq_no=facts.seq_no,
        samples=[Sample(at, sample.measurand, sample.value, location=sample.location, unit=sample.unit)],
    )


ELSEWHERE = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))


def _timestamp_processors(dialect: sa.Dialect) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The bind and result conversions of a UTC timestamp column; both must take None as NULL."""
    from chargeplane.csms.storage.metadata import UtcDateTime

    bind = UtcDateTime().bind_processor(dialect)
    result = UtcDateTime().result_processor(dialect, None)
    assert bind is not None
    assert result is not None
    assert (bind(None), result(None)) == (None, None)
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2025, 3, 1))
    return bind, result


def test_sqlite_timestamps_use_sqlalchemys_text_and_refuse_naive_values() -> None:
    from sqlalchemy.dialects import sqlite

    bind, result = _timestamp_processors(sqlite.dialect())
    core = sa.DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert core is not None
    for value in (T0, NOW, ELSEWHERE):
        assert bind(value) == core(value.astimezone(UTC).replace(tzinfo=None))
        assert result(bind(value)) == value
        assert result(bind(value)).tzinfo is UTC
    assert result("2025-03-01 12:00:00") == T0  # text without microseconds, as older rows may hold


def test_postgresql_timestamps_are_aware_utc_and_naive_values_refused() -> None:
    bind, result = _timestamp_processors(sa.make_url("postgresql+asyncpg://").get_dialect()())
    for value in (T0, NOW, ELSEWHERE):
        assert bind(value) == result(value) == value
        assert bind(value).tzinfo is result(value).tzinfo is UTC
    assert result(datetime(2025, 3, 1, 12)) == T0  # a naive value read back is taken as UTC


async def test_J01_meter_values_batched_together_fold_into_their_transaction(engine: AsyncEngine) -> None:
    await write_together(engine, [event("CS1", "TX1", 0, event_type="Started", wh=1000.0)])
    committer = GroupCommitter(engine, writers=1)
    writer = MeterValuesWriter()

    def values(station: str, transaction: str | None, wh: float, seconds: int) -> MeterValuesWrite:
        at = T0 + timedelta(seconds=seconds)
        sample = Sample(at, "Energy.Active.Import.Register", wh, location="Outlet", unit="Wh")
        return MeterValuesWrite(station, transaction, [sample], evse_id=None, connector_id=1, now=NOW)

    results = await asyncio.gather(
        committer.run_batched(writer, values("CS1", "TX1", 1800.0, 60)),
        committer.run_batched(writer, values("CS1", "TX1", 1200.0, 30)),  # older reading: not the latest
        committer.run_batched(writer, values("CS1", "TX-UNKNOWN", 5.0, 30)),
        committer.run_batched(writer, values("CS2", None, 7.0, 30)),
    )
    assert (committer.batches, committer.fallbacks) == (1, 0)
    first, second, unknown, unnamed = results
    assert first is not None
    assert second is not None
    assert (unknown, unnamed) == (None, None)
    assert (first.last_register_wh, second.last_register_wh, second.energy_wh) == (1800.0, 1800.0, 800.0)
    repository = TransactionRepository(engine, GroupCommitter(engine))
    record = await repository.get(first.id)
    assert record is not None
    assert (record.last_register_wh, record.energy_wh, record.updated_at) == (1800.0, 800.0, NOW)
    linked = await repository.transaction_meter_values(first.id, 10)
    assert [s.value for s in linked] == [1000.0, 1200.0, 1800.0]  # by timestamp
    loose = await repository.station_meter_values(
        "CS2", start=None, end=None, measurand=None, offset=0, limit=10
    )
    assert [(s.value, s.transaction_key, s.connector_id) for s in loose] == [(7.0, None, 1)]
