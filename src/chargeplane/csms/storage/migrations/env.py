"""Alembic environment: always given a live connection by chargeplane.csms.storage.migrate."""

from __future__ import annotations

from alembic import context

from chargeplane.csms.storage.schema import full_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=full_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
