"""Transactions: why the CSMS closed a stale transaction (StationRebooted, EvseAvailable, ReplacedOnEvse).

Revision ID: 0010_transactions_closed_reason
Revises: 0009_api_token_scopes
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_transactions_closed_reason"
down_revision = "0009_api_token_scopes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("closed_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("closed_reason")
