"""2.1 periodic event streams (N11-N15) of the monitoring block.

Revision ID: 0029_event_streams
Revises: 0028_webhooks
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_event_streams"
down_revision = "0028_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_event_streams",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=True),
        sa.Column("values", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "stream_id"),
    )


def downgrade() -> None:
    op.drop_table("monitoring_event_streams")
