"""Reservation: reservations (the id is the OCPP reservation id).

Revision ID: 0004_reservation
Revises: 0003_availability
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_reservation"
down_revision = "0003_availability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("connector_type", sa.String(length=20), nullable=True),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("token_type", sa.String(length=20), nullable=True),
        sa.Column("group_id_token", sa.String(length=255), nullable=True),
        sa.Column("group_token_type", sa.String(length=20), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index("ix_reservations_station_status", "reservations", ["station_key", "status"], unique=False)
    op.create_index("ix_reservations_status_expires", "reservations", ["status", "expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reservations_status_expires", table_name="reservations")
    op.drop_index("ix_reservations_station_status", table_name="reservations")
    op.drop_table("reservations")
