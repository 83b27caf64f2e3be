"""2.1 transaction limits (E16, F07): the station's reported limits and the API's pending ones.

Revision ID: 0032_transaction_limits
Revises: 0031_site_tariffs
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032_transaction_limits"
down_revision = "0031_site_tariffs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transactions", sa.Column("transaction_limit", sa.JSON(), nullable=True))
    op.add_column("transactions", sa.Column("limit_request", sa.JSON(), nullable=True))
    op.add_column("transactions", sa.Column("limit_request_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "remote_start_limits",
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("remote_start_id", sa.Integer(), nullable=False),
        sa.Column("transaction_limit", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "remote_start_id"),
    )


def downgrade() -> None:
    op.drop_table("remote_start_limits")
    op.drop_column("transactions", "limit_request_at")
    op.drop_column("transactions", "limit_request")
    op.drop_column("transactions", "transaction_limit")
