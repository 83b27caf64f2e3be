"""The databases the CSMS tests get (copies of a template migrated once per worker, tests/migrated_databases.py)
are exactly at head, and migrate() leaves a database at head alone without running Alembic's upgrade."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import head_revision, migrate
from chargeplane.csms.storage.schema import full_metadata
from tests import migrated_databases
from tests.csms.conftest import _create_postgres_database


def _revision_and_differences(connection: sa.Connection) -> tuple[str | None, list[object]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return context.get_current_revision(), list(compare_metadata(context, full_metadata()))


async def test_a_test_database_is_a_copy_at_head_and_a_start_migrates_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            revision, differences = await connection.run_sync(_revision_and_differences)
        assert (revision, differences) == (head_revision(), [])

        def no_upgrade(*_: object) -> None:
            raise AssertionError("migrate() ran Alembic's upgrade on a database at head")

        monkeypatch.setattr(command, "upgrade", no_upgrade)
        await migrate(engine)
    finally:
        await engine.dispose()


def test_two_sqlite_copies_are_separate_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    first = migrated_databases.sqlite_url(tmp_path_factory.mktemp("one"))
    second = migrated_databases.sqlite_url(tmp_path_factory.mktemp("two"))
    assert first != second
    with sa.create_engine(first.replace("+aiosqlite", "")).begin() as connection:
        connection.execute(sa.text("CREATE TABLE only_in_the_first (x INTEGER)"))
    with sa.create_engine(second.replace("+aiosqlite", "")).connect() as connection:
        assert not sa.inspect(connection).has_table("only_in_the_first")


def test_only_stamped_databases_older_than_the_limit_are_leftovers() -> None:
    now = time.time()
    fresh = migrated_databases.stamped_name("chargeplane_tpl_gw1_")
    test_database = migrated_databases.stamped_name("chargeplane_test_")
    assert not migrated_databases.is_leftover(fresh, now)
    assert not migrated_databases.is_leftover(test_database, now)
    later = now + migrated_databases.LEFTOVER_AGE + 60
    assert migrated_databases.is_leftover(fresh, later)
    assert migrated_databases.is_leftover(test_database, later)
    # names without a time (older runs, other tools) are never taken for leftovers
    assert not migrated_databases.is_leftover("chargeplane_test_3bf53f599fed", later)
    assert not migrated_databases.is_leftover("chargeplane", later)


async def test_released_postgres_databases_are_dropped_and_the_rest_at_the_end() -> None:
    """A copy is prepared ahead for the next test; released databases, that copy and the template are dropped
    by the session's end (here: a private set, finished at once)."""
    probe = await _create_postgres_database(migrated=False)  # an empty one: PostgreSQL is there
    if probe is None:
        pytest.skip("PostgreSQL not reachable (required in CI)")
    databases = migrated_databases._PostgresDatabases()
    first = await databases.take()
    databases.drop(first)
    second = await databases.take()  # not released: the test's own clean-up drops it
    spare = await asyncio.wrap_future(databases._next)  # prepared for a test that never comes
    template = databases._template.result()
    admin = await asyncpg.connect(
        migrated_databases.POSTGRES_ADMIN_DSN, timeout=migrated_databases.ADMIN_CONNECT_TIMEOUT
    )
    try:
        assert second not in (first, spare)
        assert await _existing(admin, first, second, spare, template) == {second, spare, template}
        assert databases.finish() == []
        assert await _existing(admin, first, second, spare, template) == {second}
    finally:
        for name in (second, probe.rsplit("/", 1)[1]):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _existing(admin: asyncpg.Connection, *names: str) -> set[str]:
    rows = await admin.fetch("SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", list(names))
    return {row["datname"] for row in rows}
