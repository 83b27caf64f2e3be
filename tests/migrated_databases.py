"""Databases already at the head revision for tests, copied from a template migrated once per process.

Migrating a fresh database through every Alembic revision costs far more than starting the CSMS on one that is
already at head (migrate() then finds nothing to do), and most tests build a CSMS on a fresh database. So each
process (one per xdist worker) migrates one template, with the product's own ``migrate()``, on first use:

- SQLite: a file in a private temporary directory, copied into the test's directory;
- PostgreSQL: a database ``chargeplane_tpl_<worker>_<unix time>_<random>``, from which each test's database is
  created with ``CREATE DATABASE ... TEMPLATE`` (a file-level copy; the template must have no open connection,
  hence the engine is disposed after migrating).

PostgreSQL's side runs in a thread of its own while the tests run: it prepares the copy the next test takes and
drops the databases tests are done with (every DROP DATABASE makes PostgreSQL write a checkpoint of the whole
cluster, which on a busy machine took seconds per test when the test's teardown waited for it). At the end of
the session (``tests/conftest.py``) the queued work is waited for and the templates removed; templates and test
databases that a crashed run left behind are dropped once they are a few hours old. Tests of the migrations
themselves keep migrating from empty databases.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import migrate

POSTGRES_ADMIN_DSN = os.environ.get(
    "CHARGEPLANE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# A loaded machine (three test workers on two cores) can take seconds to accept a connection: a reachable
# server must not fail a test by its speed.
ADMIN_CONNECT_TIMEOUT = 30.0
TEMPLATE_PREFIX = "chargeplane_tpl_"
TEST_PREFIX = "chargeplane_test_"
# Databases of these prefixes whose name says they were created longer ago than this belong to a dead run.
LEFTOVER_AGE = 6 * 3600.0
_STAMPED = re.compile(rf"^(?:{TEMPLATE_PREFIX}\w+_|{TEST_PREFIX})(\d{{10}})_[0-9a-f]+$")

_lock = threading.Lock()
_sqlite_template: Path | None = None
_postgres: _PostgresDatabases | None = None


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()  # no connection left open: the file is whole, the template copyable


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def sqlite_url(directory: Path, name: str = "csms.db") -> str:
    """The URL of ``directory / name``, a copy of this process's migrated SQLite template."""
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            path = Path(tempfile.mkdtemp(prefix=f"chargeplane-tpl-{_worker()}-")) / "template.db"
            # a loop of its own in another thread: callable from sync code and from inside a running loop alike
            with ThreadPoolExecutor(max_workers=1) as thread:
                thread.submit(asyncio.run, _migrate_url(f"sqlite+aiosqlite:///{path}")).result()
            _sqlite_template = path
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_sqlite_template, directory / name)
    return f"sqlite+aiosqlite:///{directory / name}"


def _asyncpg_url(name: str) -> str:
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def stamped_name(prefix: str) -> str:
    """A unique database name that carries its creation time, so that a later run can tell a leftover."""
    return f"{prefix}{int(time.time())}_{secrets.token_hex(5)}"


def is_leftover(name: str, now: float) -> bool:
    match = _STAMPED.match(name)
    return match is not None and now - int(match.group(1)) > LEFTOVER_AGE


async def _admin_execute(*statements: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=ADMIN_CONNECT_TIMEOUT)
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


async def _drop_leftovers() -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=ADMIN_CONNECT_TIMEOUT)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'chargeplane\\_tpl\\_%' "
            "OR datname LIKE 'chargeplane\\_test\\_%'"
        )
        now = time.time()
        for row in rows:
            name: str = row["datname"]
            if is_leftover(name, now):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _build_postgres_template() -> str:
    await _drop_leftovers()
    name = stamped_name(f"{TEMPLATE_PREFIX}{_worker()}_")
    await _admin_execute(f'CREATE DATABASE "{name}"')
    await _migrate_url(_asyncpg_url(name))
    return name


def _drop_statement(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'  # FORCE: whatever the test left connected


class _PostgresDatabases:
    """One thread that, in order, migrates the template, prepares the copy the next test will take, and drops
    the databases tests are done with: the tests wait for none of it but the copy they take."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._template: Future[str] = self._executor.submit(asyncio.run, _build_postgres_template())
        self._next: Future[str] = self._executor.submit(self._copy)
        self._drops: list[tuple[str, Future[None]]] = []

    def _copy(self) -> str:
        name = stamped_name(TEST_PREFIX)
        template = self._template.result()
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    async def take(self) -> str:
        """The prepared copy (waited for if need be); the next one is started at once."""
        taken, self._next = self._next, self._executor.submit(self._copy)
        return await asyncio.wrap_future(taken)

    def drop(self, name: str) -> None:
        self._drops.append((name, self._executor.submit(asyncio.run, _admin_execute(_drop_statement(name)))))

    def finish(self) -> list[str]:
        """Once the queued work is done: the copy no test took and the template dropped; what failed."""
        for spare in (self._next, self._template):
            if spare.exception() is None:
                self.drop(spare.result())
        self._executor.shutdown(wait=True)
        return [f"{name}: {done.exception()}" for name, done in self._drops if done.exception() is not None]


async def postgres_database(*, migrated: bool = True) -> str:
    """A new database (a copy of the migrated template, or empty); its SQLAlchemy URL. PostgreSQL must be
    reachable (the caller checks)."""
    global _postgres
    if not migrated:
        name = stamped_name(TEST_PREFIX)
        await _admin_execute(f'CREATE DATABASE "{name}"')
        return _asyncpg_url(name)
    with _lock:
        if _postgres is None:
            _postgres = _PostgresDatabases()
        databases = _postgres
    return _asyncpg_url(await databases.take())


def release_postgres_database(url: str) -> None:
    """A test is done with its database: dropped in the background (a later test's set-up does not wait)."""
    global _postgres
    with _lock:
        if _postgres is None:
            _postgres = _PostgresDatabases()
        _postgres.drop(url.rsplit("/", 1)[1])


def remove_templates() -> None:
    """At session end: this process's SQLite template; its PostgreSQL one and the test databases not dropped."""
    global _sqlite_template, _postgres
    with _lock:
        if _sqlite_template is not None:
            shutil.rmtree(_sqlite_template.parent, ignore_errors=True)
            _sqlite_template = None
        if _postgres is not None:
            failures = _postgres.finish()
            _postgres = None
            if failures:  # left for a later run to drop as leftovers
                warnings.warn("test databases not dropped: " + "; ".join(failures), stacklevel=1)
