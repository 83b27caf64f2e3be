"""2.1 battery swapping (S01-S04): swap events, RequestBatterySwap requests, the battery inventory per slot;
the key of the KeyCode token digests (C04.FR.04).

Revision ID: 0035_swap
Revises: 0034_der
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035_swap"
down_revision = "0034_der"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "battery_swap_events",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("station_key", sa.String(48), nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("token_type", sa.String(20), nullable=False),
        sa.Column("token_status", sa.String(24), nullable=False),
        sa.Column("battery_data", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_battery_swap_events_station_request", "battery_swap_events", ["station_key", "request_id"]
    )
    op.create_index("ix_battery_swap_events_at", "battery_swap_events", ["at"])
    op.create_table(
        "battery_swap_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("station_key", sa.String(48), nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("token_type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(512)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_battery_swap_requests_station", "battery_swap_requests", ["station_key"])
    op.create_table(
        "battery_slots",
        sa.Column("station_key", sa.String(48), primary_key=True),
        sa.Column("evse_id", sa.Integer(), primary_key=True),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("serial_number", sa.String(50), nullable=False),
        sa.Column("soc", sa.Float(), nullable=False),
        sa.Column("soh", sa.Float(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "token_digest_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("token_digest_keys")
    op.drop_table("battery_slots")
    op.drop_index("ix_battery_swap_requests_station", table_name="battery_swap_requests")
    op.drop_table("battery_swap_requests")
    op.drop_index("ix_battery_swap_events_at", table_name="battery_swap_events")
    op.drop_index("ix_battery_swap_events_station_request", table_name="battery_swap_events")
    op.drop_table("battery_swap_events")
