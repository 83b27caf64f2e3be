"""The group-commit writer (issue #6): concurrent units share transactions, every caller resumes only after
its own writes are committed, and one failing unit fails only its own caller. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.group_commit import GroupCommitter

_metadata = sa.MetaData()
items = sa.Table(
    "gc_items",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("note", sa.String(32), nullable=False),
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


def insert(key: int, note: str = "x") -> Callable[[sa.Connection], int]:
    def work(connection: sa.Connection) -> int:
        connection.execute(sa.insert(items).values(id=key, note=note))
        return key

    return work


async def stored(engine: AsyncEngine) -> dict[int, str]:
    """What a separate connection sees: only committed rows."""
    async with engine.connect() as connection:
        return {row.id: row.note for row in await connection.execute(sa.select(items))}


async def test_concurrent_units_share_commits_and_all_are_stored(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine)
    results = await asyncio.gather(*(committer.run(insert(key)) for key in range(200)))
    assert results == list(range(200))
    assert set(await stored(engine)) == set(range(200))
    assert committer.units == 200
    assert committer.batches < 200 / 4  # batched: far fewer commits than units
    assert committer.fallbacks == 0


async def test_a_lone_unit_is_committed_at_once(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine)
    assert await committer.run(insert(1)) == 1
    assert await stored(engine) == {1: "x"}
    assert (committer.batches, committer.units) == (1, 1)


async def test_a_failing_unit_fails_only_its_caller(engine: AsyncEngine) -> None:
    await GroupCommitter(engine).run(insert(7, "first"))
    committer = GroupCommitter(engine, writers=1)

    def broken(connection: sa.Connection) -> None:
        raise ValueError("bad message")

    calls: list[Any] = [committer.run(insert(key)) for key in range(100, 120)]
    calls.insert(5, committer.run(insert(7, "duplicate")))  # IntegrityError
    calls.insert(12, committer.run(broken))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    assert isinstance(outcomes[5], IntegrityError)
    assert isinstance(outcomes[12], ValueError)
    good = [outcome for index, outcome in enumerate(outcomes) if index not in (5, 12)]
    assert good == list(range(100, 120))
    rows = await stored(engine)
    assert rows == {7: "first"} | {key: "x" for key in range(100, 120)}  # the duplicate changed nothing
    assert committer.fallbacks >= 1


async def test_callers_resume_only_after_the_shared_commit(engine: AsyncEngine) -> None:
    """Every caller resumes after the COMMIT of its batch, never after just running its own unit."""
    events: list[str] = []

    class Recording(GroupCommitter):
        async def _transaction(self, batch: list[Any], lease: Any) -> list[Any]:
            results = await super()._transaction(batch, lease)
            events.append(f"commit {len(batch)}")
            return results

    committer = Recording(engine, writers=1)

    async def call(key: int) -> None:
        assert await committer.run(insert(key)) == key
        events.append(f"resumed {key}")
        assert key in await stored(engine)  # visible to another connection: committed

    await asyncio.gather(*(call(key) for key in range(30)))
    assert set(await stored(engine)) == set(range(30))
    # Walk the log: a caller may only resume once the batch that held it has committed.
    committed = 0
    for event in events:
        if event.startswith("commit"):
            committed += int(event.split()[1])
        else:
            assert committed > 0
    resumed = [event for event in events if event.startswith("resumed")]
    assert len(resumed) == 30


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """SQLite only: its committer runs units in its own thread, where a unit can be made to block."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_unit_blocked_in_its_batch_holds_back_every_ack_of_the_batch(
    sqlite_engine: AsyncEngine,
) -> None:
    engine = sqlite_engine
    committer = GroupCommitter(engine, writers=1)
    release = threading.Event()

    def slow(connection: sa.Connection) -> int:
        connection.execute(sa.insert(items).values(id=2, note="slow"))
        release.wait(10)
        return 2

    gate = asyncio.ensure_future(committer.run(slow))  # the first batch: just this unit
    await asyncio.sleep(0.05)
    first = asyncio.ensure_future(committer.run(insert(1)))
    await asyncio.sleep(0.1)
    assert not gate.done()
    assert not first.done(), "acknowledged before its batch was committed"
    assert await stored(engine) == {}  # nothing committed while the callers wait
    release.set()
    assert await gate == 2
    assert await first == 1
    assert await stored(engine) == {1: "x", 2: "slow"}


async def test_units_run_in_queue_order_and_see_earlier_writes(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, writers=1)
    order: list[int] = []

    def step(key: int) -> Callable[[sa.Connection], int]:
        def work(connection: sa.Connection) -> int:
            order.append(key)
            count = connection.execute(sa.select(sa.func.count()).select_from(items)).scalar_one()
            connection.execute(sa.insert(items).values(id=key, note=str(count)))
            return int(count)

        return work

    counts = await asyncio.gather(*(committer.run(step(key)) for key in range(10)))
    assert order == list(range(10))
    assert counts == list(range(10))


async def test_urgent_units_join_the_next_batch_ahead_of_the_queue(sqlite_engine: AsyncEngine) -> None:
    """A live session's TransactionEvent is queued urgent: with a storm's writes waiting (more than a batch
    holds), it goes into the very next batch, before them."""
    committer = GroupCommitter(sqlite_engine, writers=1, max_batch=4)
    release = threading.Event()
    order: list[int] = []

    def step(key: int) -> Callable[[sa.Connection], int]:
        def work(connection: sa.Connection) -> int:
            if key == 0:
                release.wait(10)  # the batch in progress while the others queue up
            order.append(key)
            return key

        return work

    gate = asyncio.ensure_future(committer.run(step(0)))
    await asyncio.sleep(0.05)
    queued = [asyncio.ensure_future(committer.run(step(key))) for key in range(1, 9)]
    urgent = asyncio.ensure_future(committer.run(step(100), urgent=True))
    await asyncio.sleep(0.05)
    assert committer.backlog == 9
    release.set()
    await asyncio.gather(gate, urgent, *queued)
    assert order == [0, 100, 1, 2, 3, 4, 5, 6, 7, 8]
    assert committer.batches == 4  # [0], [100, 1, 2, 3], [4..7], [8]


async def test_a_cancelled_caller_is_not_written(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, writers=1)
    gone = asyncio.ensure_future(committer.run(insert(3)))
    gone.cancel()  # before the writer ran: the station's connection went away
    assert await committer.run(insert(4)) == 4
    assert gone.cancelled()
    assert await stored(engine) == {4: "x"}


class NoteWriter:
    """A batch writer: one executemany per batch; a note "bad" fails the whole call."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def write_batch(self, connection: sa.Connection, batch: Sequence[tuple[int, str]]) -> list[int]:
        self.calls.append([key for key, _ in batch])
        if any(note == "bad" for _, note in batch):
            raise ValueError("bad item")
        connection.execute(sa.insert(items), [{"id": key, "note": note} for key, note in batch])
        return [key * 10 for key, _ in batch]


async def test_batched_items_are_written_in_one_call_after_the_units(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, writers=1)
    writer = NoteWriter()
    order: list[str] = []

    def unit(connection: sa.Connection) -> int:
        order.append(f"unit, writer calls so far: {len(writer.calls)}")
        connection.execute(sa.insert(items).values(id=1000, note="unit"))
        return -1

    calls: list[Any] = [committer.run_batched(writer, (key, "x")) for key in range(50)]
    calls.insert(20, committer.run(unit))
    results = await asyncio.gather(*calls)
    assert results[:20] + results[21:] == [key * 10 for key in range(50)]
    assert results[20] == -1
    assert order == ["unit, writer calls so far: 0"]
    assert writer.calls == [list(range(50))]  # one call for the whole batch
    assert len(await stored(engine)) == 51


async def test_a_failing_batch_call_is_retried_item_by_item(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, writers=1)
    writer = NoteWriter()
    calls: list[Any] = [committer.run_batched(writer, (key, "x")) for key in range(10)]
    calls.insert(4, committer.run_batched(writer, (99, "bad")))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[4], ValueError)
    assert results[:4] + results[5:] == [key * 10 for key in range(10)]
    assert set(await stored(engine)) == set(range(10))  # nothing of the failed shared call survived twice
    assert committer.fallbacks == 1
    assert len(writer.calls) == 1 + 11  # the shared call, then one call per item


async def test_a_batch_writer_returning_the_wrong_number_of_results_fails_its_items(
    engine: AsyncEngine,
) -> None:
    class Short(NoteWriter):
        def write_batch(self, connection: sa.Connection, batch: Sequence[tuple[int, str]]) -> list[int]:
            return super().write_batch(connection, batch)[1:]

    committer = GroupCommitter(engine, writers=1)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await committer.run_batched(Short(), (1, "x"))
    assert await stored(engine) == {}


def test_writer_count_comes_from_the_settings_or_the_database(tmp_path: Path) -> None:
    from chargeplane.csms.app import Csms
    from chargeplane.csms.settings import from_environment

    settings = from_environment(
        {
            "CHARGEPLANE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
            "CHARGEPLANE_DATABASE_WRITERS": "3",
        }
    )
    assert settings.database_writers == 3
    assert Csms(settings).committer.writers == 3
    automatic = from_environment({"CHARGEPLANE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"})
    assert Csms(automatic).committer.writers == 1  # SQLite: one write lock
    postgres = from_environment({"CHARGEPLANE_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/none"})
    assert Csms(postgres).committer.writers == 4


async def test_a_writer_keeps_its_connection_across_batches_and_replaces_a_broken_one(
    engine: AsyncEngine,
) -> None:
    """PostgreSQL writers lease one pooled connection while their queue has work; after a failed batch the
    next one starts on a fresh connection (the failed one may be broken). SQLite has its own thread."""
    committer = GroupCommitter(engine, writers=1)
    checkouts: list[int] = []
    sa.event.listen(engine.sync_engine, "checkout", lambda *_: checkouts.append(1))

    def boom(connection: sa.Connection) -> None:
        raise ValueError("bad")

    calls: list[Any] = [committer.run(insert(key)) for key in range(20)]
    calls.insert(3, committer.run(boom))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[3], ValueError)
    assert set(await stored(engine)) == set(range(20))
    if engine.dialect.name == "postgresql":
        # The units ran one by one after the failed batch: 20 commits on a handful of leases (a new one after
        # each failure); -1 for the checkout of stored().
        assert committer.fallbacks == 1
        assert committer.batches >= 20
        assert len(checkouts) - 1 <= 4


async def test_the_observer_is_told_each_committed_batch_its_size_and_time(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, writers=1)
    told: list[tuple[int, float]] = []
    committer.observer = lambda units, seconds: told.append((units, seconds))
    await asyncio.gather(*(committer.run(insert(key)) for key in range(50)))
    assert sum(units for units, _ in told) == 50 == committer.units
    assert len(told) == committer.batches
    assert all(seconds > 0 for _, seconds in told)
    with pytest.raises(IntegrityError):  # a failed batch (here: of one unit) is not reported
        await committer.run(insert(1))
    assert sum(units for units, _ in told) == 50
