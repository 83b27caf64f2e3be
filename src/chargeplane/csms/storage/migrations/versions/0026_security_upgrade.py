"""Security profile upgrade (A05): the workflow of each station's latest upgrade.

Revision ID: 0026_security_upgrade
Revises: 0025_smart_charging
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_security_upgrade"
down_revision = "0025_smart_charging"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_upgrades",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("target_profile", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("configuration_slot", sa.Integer(), nullable=True),
        sa.Column("reset_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("connected_profile", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("station_key"),
    )


def downgrade() -> None:
    op.drop_table("security_upgrades")
