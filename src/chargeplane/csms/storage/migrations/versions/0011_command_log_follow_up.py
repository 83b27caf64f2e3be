"""Remote control: what became of a command (a remote start whose transaction failed right away).

Revision ID: 0011_command_log_follow_up
Revises: 0010_transactions_closed_reason
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_command_log_follow_up"
down_revision = "0010_transactions_closed_reason"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("command_log", sa.Column("correlation", sa.String(length=300), nullable=True))
    op.add_column("command_log", sa.Column("follow_up", sa.String(length=500), nullable=True))
    op.create_index(
        "ix_command_log_station_correlation", "command_log", ["station_id", "correlation"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_command_log_station_correlation", table_name="command_log")
    with op.batch_alter_table("command_log") as batch:
        batch.drop_column("follow_up")
        batch.drop_column("correlation")
