"""Group commit: the writes of many concurrent OCPP messages share one database transaction.

Each handler hands its writes to :meth:`GroupCommitter.run` as a *unit of work* (a synchronous function of a
:class:`sqlalchemy.Connection`) and awaits the result. A writer task takes every unit queued at that moment
(up to ``max_batch``), runs them one after the other on one connection inside one database transaction,
commits, and only then completes the callers' awaits: the durability rule (committed before acknowledged)
holds for every message, but a burst of N messages costs one commit (one fsync) instead of N.

Units are synchronous so that a whole batch is one hop to the database: on an SQLite file the batch runs in
the committer's own database thread on a plain ``sqlite3`` connection (aiosqlite would hop between the event
loop and its thread three or four times per statement, which under load costs more than the SQL itself); on
PostgreSQL it runs through ``AsyncConnection.run_sync`` (each statement still awaits asyncpg, but without the
per-statement async layers).

Batches form by themselves: while one batch runs and commits, new units queue up behind it, so the batch
size follows the load (one unit when idle, hundreds under a burst) without any added delay.

Failure isolation: if any unit of a batch raises (or the commit fails), the whole batch is rolled back and
every unit of it runs again in a transaction of its own, so one station's bad message fails only its own
call. Units must therefore touch nothing but the database (their effects are undone by the rollback) and
may run more than once; they see the uncommitted writes of the units before them in the batch, exactly as if
the units had run one after the other.

Ordering: units run in the order they were queued (per writer), except that *urgent* ones go first: a unit
or item queued with ``urgent=True`` joins the next batch ahead of everything else waiting. The transaction
block marks its TransactionEvents and meter values urgent: in a reconnection storm thousands of boots,
presence and status writes queue up, and a live charging session's event must not wait behind them. A station
has at most one outstanding CALL, so two units of one station are never queued at the same time and the
reordering never swaps two writes of one station's messages.

Batch writers: a hot message type may instead hand a plain value to a :class:`BatchWriter`
(:meth:`GroupCommitter.run_batched`). All the items of one writer in a batch are written by one call, after the
units of work of that batch, so that their rows go in with a few multi-row statements instead of a few
statements each. Any serial order of the units and items of one batch is a valid one: they come from
different stations' outstanding CALLs, none waits for another.

Write paths: the CSMS process has ONE committer (``BlockContext.committer``, built by the app) and every write
on the OCPP side goes through it; no repository opens a transaction of its own for them. Everything written
because of OCPP traffic counts: a station's CALL, the answer (or failure) of a CALL the CSMS sent, the
connection hooks, and the background jobs that serve the stations. Repositories take the committer as a
required argument. The paths:

- batch writers: 2.x TransactionEvent and MeterValues (``transactions.event_writer``), StatusNotification
  and NotifyEvent AvailabilityState (``availability.repository.StatusWriter``);
- units of work: BootNotification and presence (connect, disconnect, the last-seen flush) and stations
  registered on first contact (provisioning); the authorization decision log, tokens recorded by the
  unknown-token policy, the local-list state a station accepted (authorization); NotifyEvent device events
  (availability); reservation status from the station or its answers, and the expiry job (reservation); 1.6
  Start/StopTransaction and stale transactions closed on boot or EVSE Available (transactions ``write``); the command log (remote_control); the DataTransfer log,
  both directions (data_transfer).

Only the operator's side writes directly on the engine, and its repositories say so: the HTTP API's changes
to stations (update, delete) and id tokens (update, delete, import), the reservations it requests (stored
before ReserveNow is sent), and the API's bearer tokens (``csms.api.tokens``). Station and token creation is
a unit even from the API: the OCPP side registers unknown stations and tokens with the same method. Reads use
the engine, outside any batch. ``tests/csms/storage/test_write_path.py`` fails if a write on the OCPP side bypasses the
committer.

Writer tasks are started on demand and end when the queue is empty, so nothing lingers after a shutdown.
SQLite takes one writer (it has one write lock anyway); PostgreSQL may run a few in parallel, each with its
own pooled connection.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargeplane.csms.storage.engine import sqlite_file_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
I_contra = TypeVar("I_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)

Work = Callable[[sa.Connection], T]


def execute(statement: sa.Executable, rows: Sequence[dict[str, Any]] | None = None) -> Work[int]:
    """A unit of work that runs one statement (over ``rows``, if given); its result is the statement's
    rowcount (meaningful for one statement without ``rows``)."""

    def work(connection: sa.Connection) -> int:
        return connection.execute(statement, rows).rowcount

    return work


def insert_absent(table: sa.Table, values: dict[str, Any], *key: sa.ColumnElement[bool]) -> Work[bool]:
    """A unit of work that inserts a row unless one matching ``key`` exists (then False). Checked rather than
    caught: a unique violation would fail, and re-run one by one, every unit of the batch."""

    def work(connection: sa.Connection) -> bool:
        if connection.execute(sa.select(sa.literal(1)).select_from(table).where(*key)).first() is not None:
            return False
        connection.execute(sa.insert(table).values(values))
        return True

    return work


class BatchWriter(Protocol[I_contra, R_co]):
    """Writes many items of one kind in one go, inside the batch's database transaction."""

    def write_batch(self, connection: sa.Connection, items: Sequence[I_contra]) -> Sequence[R_co]:
        """One result per item, in order; raise to fail them all (each is then retried alone)."""
        ...


class _Item(Generic[T]):
    __slots__ = ("future", "value", "work", "writer")

    def __init__(
        self,
        future: asyncio.Future[T],
        work: Work[T] | None = None,
        writer: BatchWriter[Any, T] | None = None,
        value: Any = None,
    ) -> None:
        self.future = future
        self.work = work
        self.writer = writer
        self.value = value


class _Lease:
    """A writer task's pooled connection (PostgreSQL), kept from one batch to the next while the queue has
    work: checking one out per batch cost a pre-ping and a reset round trip each time."""

    __slots__ = ("_connection",)

    def __init__(self) -> None:
        self._connection: AsyncConnection | None = None

    async def connection(self, engine: AsyncEngine) -> AsyncConnection:
        if self._connection is None:
            self._connection = await engine.connect()
        return self._connection

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class GroupCommitter:
    """Batches units of database work into shared transactions, each caller resumed after the commit."""

    def __init__(self, engine: AsyncEngine, *, writers: int | None = None, max_batch: int = 256) -> None:
        self.engine = engine
        self.writers = writers if writers is not None else (1 if engine.dialect.name == "sqlite" else 4)
        self.max_batch = max_batch
        self._queue: collections.deque[_Item[Any]] = collections.deque()
        self._urgent: collections.deque[_Item[Any]] = collections.deque()  # taken before _queue
        self._running = 0  # writer tasks that will still look at the queue
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run
        # An SQLite file: a synchronous engine on the same file, used only by the committer's thread.
        self._sync_engine: sa.Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        thread = sqlite_file_thread(engine, "group-commit")
        if thread is not None:
            self._sync_engine, self._executor = thread
        # Counters for tests, benchmarks and /metrics.
        self.batches = 0
        self.units = 0
        self.fallbacks = 0
        # Told (units in the batch, seconds from its start to its COMMIT) after every committed batch.
        self.observer: Callable[[int, float], None] | None = None

    @property
    def backlog(self) -> int:
        """Units of work and batch items queued, not yet taken by a writer."""
        return len(self._queue) + len(self._urgent)

    async def run(self, work: Work[T], *, urgent: bool = False) -> T:
        """Run ``work`` in a database transaction; return its result once that transaction is committed.

        Raises what ``work`` raised (then nothing of it was committed), or the commit's error. ``urgent``:
        into the next batch ahead of the units queued without it (see Ordering above).
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return await self._submit(_Item(future, work=work), urgent)

    async def run_batched(
        self, writer: BatchWriter[I_contra, T], item: I_contra, *, urgent: bool = False
    ) -> T:
        """Have ``writer`` write ``item`` together with the other items of its batch; return the item's
        result once the batch's transaction is committed (raises as :meth:`run` does)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return await self._submit(_Item(future, writer=writer, value=item), urgent)

    async def _submit(self, item: _Item[T], urgent: bool) -> T:
        (self._urgent if urgent else self._queue).append(item)
        if self._running < self.writers:
            self._running += 1
            task = asyncio.create_task(self._writer(), name="group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await item.future

    async def _writer(self) -> None:
        try:
            await self._drain()
        finally:
            self._running -= 1  # no await between the empty queue and here: a new unit starts a new writer

    async def _drain(self) -> None:
        lease = _Lease()
        try:
            await self._drain_batches(lease)
        finally:
            await lease.release()

    async def _drain_batches(self, lease: _Lease) -> None:
        urgent, queue = self._urgent, self._queue
        await asyncio.sleep(0)  # let the units that are ready in this loop iteration join the first batch
        while urgent or queue:
            batch: list[_Item[Any]] = []
            while (urgent or queue) and len(batch) < self.max_batch:
                item = (urgent or queue).popleft()
                if not item.future.done():  # a caller that went away (cancelled) needs no write
                    batch.append(item)
            if batch:
                try:
                    await self._write(batch, lease)
                except BaseException as error:  # cancelled (shutdown): fail the callers, not silently
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(error)
                    raise

    async def _write(self, batch: list[_Item[Any]], lease: _Lease) -> None:
        started = time.perf_counter()
        try:
            results = await self._transaction(batch, lease)
        except Exception as error:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(error)
                return
            self.fallbacks += 1
            log.info("group commit of %d units failed (%r); running them one by one", len(batch), error)
            for item in batch:
                await self._write([item], lease)
            return
        self.batches += 1
        self.units += len(batch)
        if self.observer is not None:
            self.observer(len(batch), time.perf_counter() - started)
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _transaction(self, batch: list[_Item[Any]], lease: _Lease) -> list[Any]:
        """Run the batch in one transaction; returns after the COMMIT (raises if anything failed)."""
        if self._executor is not None:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run_sync, batch)
        connection = await lease.connection(self.engine)
        try:
            async with connection.begin():
                return await connection.run_sync(_run_all, batch)
        except BaseException:
            await lease.release()  # it may be broken: the next batch takes a fresh one
            raise

    def _run_sync(self, batch: list[_Item[Any]]) -> list[Any]:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as connection:
            return _run_all(connection, batch)

    def close(self) -> None:
        """Release the SQLite thread and its connection (the committer stays usable: they come back)."""
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def _run_all(connection: sa.Connection, batch: list[_Item[Any]]) -> list[Any]:
    """The units of work in queue order, then each batch writer's items in one call."""
    results: list[Any] = [None] * len(batch)
    batched: dict[BatchWriter[Any, Any], list[int]] = {}
    for index, item in enumerate(batch):
        if item.work is not None:
            results[index] = item.work(connection)
        else:
            assert item.writer is not None
            batched.setdefault(item.writer, []).append(index)
    for writer, indexes in batched.items():
        written = writer.write_batch(connection, [batch[index].value for index in indexes])
        if len(written) != len(indexes):
            raise RuntimeError(f"{writer!r} returned {len(written)} results for {len(indexes)} items")
        for index, result in zip(indexes, written, strict=True):
            results[index] = result
    return results
