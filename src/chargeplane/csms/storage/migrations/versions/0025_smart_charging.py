"""Smart charging: the charging profiles the stations hold, profile reports, notified limits and EV needs.

Revision ID: 0025_smart_charging
Revises: 0024_tariffs
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_smart_charging"
down_revision = "0024_tariffs"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charging_profiles",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drift", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profiles")),
        sa.UniqueConstraint("station_key", "profile_id", name=op.f("uq_charging_profiles_station_key")),
    )
    op.create_table(
        "charging_profile_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reconcile", sa.Boolean(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("profiles", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profile_reports")),
        sa.UniqueConstraint(
            "station_key", "request_id", name=op.f("uq_charging_profile_reports_station_key")
        ),
    )
    op.create_table(
        "charging_limit_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("message", sa.String(length=32), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_limit_events")),
    )
    op.create_index(
        "ix_charging_limit_events_station", "charging_limit_events", ["station_key", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_charging_limit_events_station", table_name="charging_limit_events")
    op.drop_table("charging_limit_events")
    op.drop_table("charging_profile_reports")
    op.drop_table("charging_profiles")
