"""Remote control: the command log of CSMS-initiated commands.

Revision ID: 0006_remote_control
Revises: 0005_transactions
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_remote_control"
down_revision = "0005_transactions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "command_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_description", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_log")),
    )
    op.create_index("ix_command_log_action_created", "command_log", ["action", "created_at"], unique=False)
    op.create_index("ix_command_log_created_at", "command_log", ["created_at"], unique=False)
    op.create_index(
        "ix_command_log_station_created", "command_log", ["station_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_command_log_station_created", table_name="command_log")
    op.drop_index("ix_command_log_created_at", table_name="command_log")
    op.drop_index("ix_command_log_action_created", table_name="command_log")
    op.drop_table("command_log")
