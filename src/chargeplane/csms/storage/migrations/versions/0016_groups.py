"""Groups: named groups of stations and their members.

Revision ID: 0016_groups
Revises: 0015_monitoring
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_groups"
down_revision = "0015_monitoring"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "station_groups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_groups")),
        sa.UniqueConstraint("name_key", name=op.f("uq_station_groups_name_key")),
    )
    op.create_table(
        "station_group_members",
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["station_groups.id"],
            name=op.f("fk_station_group_members_group_id_station_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "station_key", name=op.f("pk_station_group_members")),
    )
    op.create_index(
        "ix_station_group_members_station", "station_group_members", ["station_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_station_group_members_station", table_name="station_group_members")
    op.drop_table("station_group_members")
    op.drop_table("station_groups")
