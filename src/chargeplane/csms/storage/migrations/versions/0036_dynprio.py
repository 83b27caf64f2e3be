"""2.1 dynamic charging profiles (K28: the values a station pulls) and priority charging notices (K21/K22);
the answer to NotifyEVChargingNeeds may be NoChargingProfile (K18.FR.04, 17 characters).

Revision ID: 0036_dynprio
Revises: 0035_swap
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036_dynprio"
down_revision = "0035_swap"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("charging_limit_events") as batch:
        batch.alter_column("answer", existing_type=sa.String(length=16), type_=sa.String(length=20))
    op.create_table(
        "dynamic_schedules",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("schedule_update", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pulls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "profile_id"),
    )
    op.create_table(
        "priority_charging_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("activated", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_priority_charging_events_tx",
        "priority_charging_events",
        ["station_key", "transaction_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_priority_charging_events_tx", table_name="priority_charging_events")
    op.drop_table("priority_charging_events")
    op.drop_table("dynamic_schedules")
    with op.batch_alter_table("charging_limit_events") as batch:
        batch.alter_column("answer", existing_type=sa.String(length=20), type_=sa.String(length=16))
