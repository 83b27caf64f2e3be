"""Coalesced point reads: the reads by key that many connections ask for at once share one statement.

A station coming online is read once by its key (its password check); through SQLAlchemy's async bridge each
such read cost 0.3-0.5 ms of the event loop's time (statement building, greenlet switches, aiosqlite's thread
hops), a third of a station's bring-up. A :class:`BatchReader` queues the keys asked for and one task reads
every key queued at that moment with one statement (``WHERE key IN (...)``) at the driver level (the fetch
function runs on a DBAPI cursor, see ``storage/driver.py``), then resumes each caller with its row.

As the group committer, the batch size follows the load without any added delay: one key when idle, hundreds
while a storm comes in (the keys queued behind a running read go into the next one). On an SQLite file the
read runs in the reader's own thread on a plain ``sqlite3`` connection (WAL: it does not wait for the
committer's writes); elsewhere through ``AsyncConnection.run_sync``. A read sees what was committed before it
started, which is at or after the moment it was asked for: never older than a read of its own would have been.

The background jobs after accepted boots (a station's groups, whether it holds charging profiles) read a
batch of stations with :meth:`BatchReader.get_many`: their Core query runs in the reader's thread on the
synchronous connection, without the async bridge's hops per statement (issue #19).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.storage.engine import sqlite_file_thread

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Reads the rows of the given keys on a connection (a key without a row is left out).
Fetch = Callable[[sa.Connection, Sequence[K]], Mapping[K, V]]


class BatchReader(Generic[K, V]):
    """Reads by key, the keys asked for meanwhile read together by one statement."""

    def __init__(self, engine: AsyncEngine, fetch: Fetch[K, V], *, max_batch: int = 500) -> None:
        self.engine = engine
        self.fetch = fetch
        self.max_batch = max_batch  # bound parameters per statement stay well under every driver's limit
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._sync_engine: sa.Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sa.Connection | None = None  # the thread's, kept between reads (only it uses it)
        thread = sqlite_file_thread(engine, "batch-read")
        if thread is not None:
            self._sync_engine, self._executor = thread
        self.reads = 0  # statements run (tests, benchmarks)

    async def get(self, key: K) -> V | None:
        """The row of ``key`` as ``fetch`` makes it, or ``None``; raises what the read raised."""
        future = self._ask(key)
        self._start()
        return await future

    async def get_many(self, keys: Iterable[K]) -> dict[K, V | None]:
        """The row of each key (``None``: none), read with the keys others ask for meanwhile; raises what a
        read raised."""
        futures = {key: self._ask(key) for key in keys}
        if not futures:
            return {}
        self._start()
        rows = await asyncio.gather(*futures.values())
        return dict(zip(futures, rows, strict=True))

    def _ask(self, key: K) -> asyncio.Future[V | None]:
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        return future

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="batch-read")

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # the keys asked for in this loop iteration join the first read
            while self._waiting:
                keys = list(self._waiting)[: self.max_batch]
                waiters = {key: self._waiting.pop(key) for key in keys}
                try:
                    rows = await self._read(keys)
                except BaseException as error:  # each caller gets the failure (cancelled: shutdown)
                    for futures in waiters.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for key, futures in waiters.items():
                    row = rows.get(key)
                    for future in futures:
                        if not future.done():
                            future.set_result(row)
        finally:
            self._task = None  # no await between the empty queue and here: a new key starts a new task

    async def _read(self, keys: Sequence[K]) -> Mapping[K, V]:
        self.reads += 1
        if self._executor is not None:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._read_sync, keys)
        async with self.engine.connect() as connection:
            return await connection.run_sync(self.fetch, keys)

    def _read_sync(self, keys: Sequence[K]) -> Mapping[K, V]:
        """In the reader's thread, on the connection it keeps: taking one from the pool and giving it back
        (with its reset) cost a third of a read of a few keys (#19)."""
        assert self._sync_engine is not None
        if self._connection is None:
            self._connection = self._sync_engine.connect()
        try:
            return self.fetch(self._connection, keys)
        except BaseException:
            self._drop()  # whatever state the failure left it in: the next read starts afresh
            raise
        finally:
            if self._connection is not None:
                self._connection.rollback()  # the read ends: the next one sees what was committed since

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Release the SQLite thread's connection (the reader stays usable: it comes back); in the thread,
        after the read it may be running."""
        if self._executor is not None and self._sync_engine is not None:
            self._executor.submit(self._drop).result()
            self._sync_engine.dispose()
