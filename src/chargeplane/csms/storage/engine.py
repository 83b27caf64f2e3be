"""The async engine: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) in production, one code path.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns, which the durability
rule needs (an accepted transaction event is committed before its CALLRESULT goes out). Foreign keys are
switched on, which SQLite does not do by default. SQLite has one writer at a time: a writer waits up to
``busy_timeout`` for the lock (30 s, so that a burst of boots queues instead of failing with "database is
locked"); the group committer's batches keep the number of transactions low.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **options)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **options)


def create_sync_sqlite_engine(url: sa.URL) -> sa.Engine:
    """A synchronous engine (stdlib ``sqlite3``) on the same SQLite file and with the same pragmas, for code
    that runs a whole batch of statements in one worker thread (the group committer)."""
    engine = sa.create_engine(url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def sqlite_file_thread(engine: AsyncEngine, name: str) -> tuple[sa.Engine, ThreadPoolExecutor] | None:
    """For an SQLite file: a synchronous engine on it and one thread to use it from (the group committer's
    batches, the batch reader's reads: a whole batch in one hop instead of aiosqlite's per statement), else
    ``None`` (PostgreSQL; an in-memory database only the async engine reaches)."""
    url = engine.url
    if engine.dialect.name != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return create_sync_sqlite_engine(url), ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
