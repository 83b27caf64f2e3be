"""Apply the Alembic migrations (``migrations/``) up to head; run at every start, idempotent.

The revisions form one linear chain, one revision per change, the first ones one per block in block order
(``0001_provisioning`` ... ``0008_api_tokens``). How a block adds one: ``migrations/README``.

Databases created before the chain was split carry the single old revision ``0001``, whose schema is exactly
that of ``0001_provisioning`` through ``0008_api_tokens``: :func:`migrate` restamps them to ``0008_api_tokens``
before upgrading, so they carry on with the revisions after it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"

# Retired revision ids -> the revision of the current chain with the same schema.
LEGACY_REVISIONS = {"0001": "0008_api_tokens"}


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache  # the scripts do not change while the process runs; reading them costs tens of milliseconds
def head_revision() -> str:
    """The revision :func:`migrate` brings a database to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: sa.Connection) -> None:
    if sa.inspect(connection).has_table("alembic_version"):
        for old, new in LEGACY_REVISIONS.items():
            connection.execute(
                sa.text("UPDATE alembic_version SET version_num = :new WHERE version_num = :old"),
                {"new": new, "old": old},
            )
        # Already at head (every start after the first): nothing to run. Alembic would find that out too, but
        # only after loading every revision script again, which is most of the cost of a start on a busy host.
        if MigrationContext.configure(connection).get_current_revision() == head_revision():
            return
    command.upgrade(alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
