"""Security: the log of security events, reported by stations (A04) or seen by the CSMS transport.

Revision ID: 0012_security
Revises: 0011_command_log_follow_up
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_security"
down_revision = "0011_command_log_follow_up"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tech_info", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_index("ix_security_events_station", "security_events", ["station_key", "id"], unique=False)
    op.create_index("ix_security_events_timestamp", "security_events", ["timestamp"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_security_events_timestamp", table_name="security_events")
    op.drop_index("ix_security_events_station", table_name="security_events")
    op.drop_table("security_events")
