"""The batch reader (issue #19): reads by key asked for together share one statement, each caller gets its own
row (or ``None``), a failed read fails only its own callers, and a read sees what was committed before it was
asked for. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.storage.batch_read import BatchReader
from chargeplane.csms.storage.driver import dbapi_cursor, positional
from chargeplane.csms.storage.engine import create_engine

_metadata = sa.MetaData()
notes = sa.Table(
    "br_notes", _metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.Text)
)
ROWS = [{"id": key, "note": f"n{key}"} for key in range(300)]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database holding notes 0-299."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
        await connection.execute(sa.insert(notes), ROWS)
    yield engine
    await engine.dispose()


class Notes:
    """A fetch function that records the keys of each statement it runs."""

    def __init__(self) -> None:
        self.statements: list[list[int]] = []
        self.fail = False

    def __call__(self, connection: sa.Connection, keys: Sequence[int]) -> dict[int, str]:
        self.statements.append(list(keys))
        if self.fail:
            raise RuntimeError("the database is gone")
        marks = ", ".join("?" * len(keys))
        cursor = dbapi_cursor(connection)
        try:
            cursor.execute(
                positional(connection.dialect, f"SELECT id, note FROM br_notes WHERE id IN ({marks})"),
                tuple(keys),
            )
            return {int(key): str(note) for key, note in cursor.fetchall()}
        finally:
            cursor.close()


async def test_keys_asked_for_together_are_read_by_one_statement_each_caller_gets_its_row(
    engine: AsyncEngine,
) -> None:
    fetch = Notes()
    reader = BatchReader(engine, fetch)
    try:
        keys = [*range(0, 300, 3), 7, 7, 1000]  # a key asked for twice, a key without a row
        found = await asyncio.gather(*(reader.get(key) for key in keys))
        assert found == [f"n{key}" if key < 300 else None for key in keys]
        assert len(fetch.statements) == 1
        assert sorted(fetch.statements[0]) == sorted(set(keys))  # each key read once
    finally:
        reader.close()


async def test_many_keys_of_one_caller_share_the_read_of_the_keys_others_ask_for_meanwhile(
    engine: AsyncEngine,
) -> None:
    fetch = Notes()
    reader = BatchReader(engine, fetch)
    try:
        many, one = await asyncio.gather(reader.get_many([4, 5, 1000]), reader.get(6))
        assert many == {4: "n4", 5: "n5", 1000: None}  # a key without a row: None
        assert one == "n6"
        assert [sorted(keys) for keys in fetch.statements] == [[4, 5, 6, 1000]]
        assert await reader.get_many([]) == {}
        assert len(fetch.statements) == 1  # nothing asked, nothing read
        fetch.fail = True
        with pytest.raises(RuntimeError):
            await reader.get_many([1, 2])
    finally:
        reader.close()


async def test_a_batch_is_bounded_and_keys_queued_behind_a_read_go_into_the_next(engine: AsyncEngine) -> None:
    fetch = Notes()
    reader = BatchReader(engine, fetch, max_batch=50)
    try:
        found = await asyncio.gather(*(reader.get(key) for key in range(120)))
        assert found == [f"n{key}" for key in range(120)]
        assert [len(keys) for keys in fetch.statements] == [50, 50, 20]
        assert await reader.get(5) == "n5"  # idle again: a read of its own
        assert fetch.statements[-1] == [5]
    finally:
        reader.close()


async def test_a_failed_read_fails_its_callers_and_the_next_read_works(engine: AsyncEngine) -> None:
    fetch = Notes()
    reader = BatchReader(engine, fetch)
    try:
        fetch.fail = True
        outcomes = await asyncio.gather(reader.get(1), reader.get(2), return_exceptions=True)
        assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
        fetch.fail = False
        assert await reader.get(1) == "n1"
    finally:
        reader.close()


async def test_a_read_sees_what_was_committed_before_it_was_asked_for(engine: AsyncEngine) -> None:
    reader = BatchReader(engine, Notes())
    try:
        assert await reader.get(1) == "n1"
        async with engine.begin() as connection:
            await connection.execute(sa.update(notes).where(notes.c.id == 1).values(note="changed"))
        assert await reader.get(1) == "changed"
    finally:
        reader.close()


async def test_on_sqlite_the_reader_thread_keeps_its_connection_between_reads(engine: AsyncEngine) -> None:
    reader = BatchReader(engine, Notes())
    if reader._sync_engine is None:
        reader.close()
        pytest.skip("the reader's own thread and connection are SQLite's")
    checkouts: list[object] = []
    sa.event.listen(reader._sync_engine, "checkout", lambda *_: checkouts.append(None))
    try:
        assert [await reader.get(key) for key in (1, 2, 3)] == ["n1", "n2", "n3"]
        assert len(checkouts) == 1  # a pool checkout (and reset) per read cost a third of a small read
        reader.close()
        assert await reader.get(4) == "n4"  # released by close, yet usable: it comes back
    finally:
        reader.close()
