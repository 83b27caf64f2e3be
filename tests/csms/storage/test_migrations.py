"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and are idempotent.

They are one linear chain of revisions (one per change; the first ones one per block), each with a working
downgrade; a database stamped with the retired single revision ``0001`` carries on with the chain.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import alembic_config, head_revision, migrate
from chargeplane.csms.storage.schema import full_metadata

BLOCK_ORDER = [
    "0001_provisioning",
    "0002_authorization",
    "0003_availability",
    "0004_reservation",
    "0005_transactions",
    "0006_remote_control",
    "0007_data_transfer",
    "0008_api_tokens",
]


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """These tests migrate from nothing: an empty database, not the migrated copy the other tests get."""
    return empty_database_url


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, full_metadata()))


async def _state(engine: AsyncEngine) -> tuple[list[Any], str | None, set[str]]:
    """The differences from the metadata, the stored revision and the tables."""
    async with engine.connect() as connection:
        diff = await connection.run_sync(_differences)
        tables = set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        version = None
        if "alembic_version" in tables:
            version = (await connection.execute(sa.text("select version_num from alembic_version"))).scalar()
    return diff, version, tables - {"alembic_version"}


async def _migrate_to_head(engine: AsyncEngine) -> None:
    """Migrate (as every start does) and check: exactly the metadata, stamped with the script's head."""
    await migrate(engine)
    diff, version, _ = await _state(engine)
    assert diff == []
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_revisions_are_one_linear_chain_with_readable_ids() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    chain = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert script.get_heads() == [script.get_current_head()]  # no branches
    assert chain[: len(BLOCK_ORDER)] == BLOCK_ORDER
    previous = None
    for revision_id in chain:
        revision = script.get_revision(revision_id)
        assert revision is not None
        assert revision.down_revision == previous
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+", revision_id)
        assert len(revision_id) <= 32  # alembic_version.version_num is a VARCHAR(32)
        assert revision.path.endswith(f"/{revision_id}.py")  # one file per revision, named after its id
        previous = revision_id
    assert head_revision() == chain[-1]


async def test_migrations_match_the_metadata_and_rerun_cleanly(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await _migrate_to_head(engine)
        await _migrate_to_head(engine)  # every start migrates: a second run changes nothing
    finally:
        await engine.dispose()


async def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = create_engine(database_url)

    async def run(step: str, target: str) -> None:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: getattr(command, step)(alembic_config(sync), target))

    try:
        await migrate(engine)
        _, _, tables = await _state(engine)
        script = ScriptDirectory.from_config(alembic_config())
        for revision in script.walk_revisions():  # head first
            await run("downgrade", "-1")
            _, version, fewer = await _state(engine)
            assert version == revision.down_revision
            if revision.revision in BLOCK_ORDER:  # a block's first revision: its tables go
                assert fewer < tables, f"the downgrade of {revision.revision} removed no table"
            tables = fewer
        assert tables == set()
        await _migrate_to_head(engine)
    finally:
        await engine.dispose()


async def test_a_database_stamped_with_the_retired_single_revision_carries_on(database_url: str) -> None:
    """Before the chain was split, one revision ``0001`` created the whole schema of ``0008_api_tokens``."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0008_api_tokens"))
            await connection.execute(sa.text("update alembic_version set version_num = '0001'"))
        await _migrate_to_head(engine)
    finally:
        await engine.dispose()
