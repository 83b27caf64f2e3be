"""Password rotation (A01): the pending password's hash of each station's latest rotation.

Revision ID: 0020_password_rotation
Revises: 0019_display_messages
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_password_rotation"
down_revision = "0019_display_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_rotations",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("pending_hash", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("station_key"),
    )


def downgrade() -> None:
    op.drop_table("password_rotations")
