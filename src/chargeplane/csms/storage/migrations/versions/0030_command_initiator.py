"""The command log says who asked for each command (api:<token name>, console:<username>).

Revision ID: 0030_command_initiator
Revises: 0029_event_streams
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_command_initiator"
down_revision = "0029_event_streams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("command_log", sa.Column("initiator", sa.String(length=120), nullable=True))


def downgrade() -> None:
    op.drop_column("command_log", "initiator")
