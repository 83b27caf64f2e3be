"""V2X (2.1 block Q): allowed energy transfers per token / station, and each V2X transaction's view.

Revision ID: 0038_v2x
Revises: 0037_payments
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038_v2x"
down_revision = "0037_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "v2x_allowed",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("transfers", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject"),
    )
    op.create_table(
        "v2x_sessions",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("allowed", sa.String(length=255), nullable=True),
        sa.Column("requested", sa.String(length=32), nullable=True),
        sa.Column("available", sa.String(length=255), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("export_start_wh", sa.Float(), nullable=True),
        sa.Column("export_last_wh", sa.Float(), nullable=True),
        sa.Column("power_w", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "transaction_id"),
    )


def downgrade() -> None:
    op.drop_table("v2x_sessions")
    op.drop_table("v2x_allowed")
