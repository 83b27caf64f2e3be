"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and are idempotent."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.migrate import migrate
from chargeplane.csms.storage.schema import full_metadata


async def test_migrations_match_the_metadata_and_rerun_cleanly(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        await migrate(engine)  # every start migrates: a second run changes nothing

        def differences(connection: sa.Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, full_metadata()))

        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
            version = (
                await connection.execute(sa.text("select version_num from alembic_version"))
            ).scalar_one()
        assert diff == []
        assert version == "0001"
    finally:
        await engine.dispose()
