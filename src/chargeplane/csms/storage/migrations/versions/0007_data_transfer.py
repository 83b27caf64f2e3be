"""Data transfer: the log of every DataTransfer, received or sent.

Revision ID: 0007_data_transfer
Revises: 0006_remote_control
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_data_transfer"
down_revision = "0006_remote_control"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_transfers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("vendor_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=50), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response_data", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_transfers")),
    )
    op.create_index("ix_data_transfers_station", "data_transfers", ["station_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_transfers_station", table_name="data_transfers")
    op.drop_table("data_transfers")
