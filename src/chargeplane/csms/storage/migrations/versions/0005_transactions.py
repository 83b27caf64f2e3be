"""Transactions: transactions, their events, and sampled meter values.

Revision ID: 0005_transactions
Revises: 0004_reservation
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_transactions"
down_revision = "0004_reservation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("ocpp_version", sa.String(length=8), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("group_id_token", sa.String(length=255), nullable=True),
        sa.Column("id_token_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("started_seen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meter_start_wh", sa.Float(), nullable=True),
        sa.Column("meter_start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meter_stop_wh", sa.Float(), nullable=True),
        sa.Column("last_register_wh", sa.Float(), nullable=True),
        sa.Column("last_register_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("energy_wh", sa.Float(), nullable=True),
        sa.Column("charging_state", sa.String(length=16), nullable=True),
        sa.Column("charging_state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("first_seq_no", sa.Integer(), nullable=True),
        sa.Column("last_seq_no", sa.Integer(), nullable=True),
        sa.Column("seq_gaps", sa.JSON(), nullable=False),
        sa.Column("offline", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("station_id", "transaction_id", name="uq_transactions_station_transaction"),
    )
    op.create_index("ix_transactions_id_token_status", "transactions", ["id_token", "status"], unique=False)
    op.create_index(
        "ix_transactions_station_started", "transactions", ["station_id", "started_at"], unique=False
    )
    op.create_index("ix_transactions_status_started", "transactions", ["status", "started_at"], unique=False)
    op.create_table(
        "meter_values",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("transaction_key", sa.Integer(), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measurand", sa.String(length=48), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=True),
        sa.Column("location", sa.String(length=8), nullable=True),
        sa.Column("context", sa.String(length=24), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=True),
        sa.Column("multiplier", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("signed_data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["transaction_key"],
            ["transactions.id"],
            name="fk_meter_values_transaction_key",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_values")),
    )
    op.create_index(
        "ix_meter_values_station_timestamp", "meter_values", ["station_id", "timestamp"], unique=False
    )
    op.create_index(
        "ix_meter_values_transaction_key_timestamp",
        "meter_values",
        ["transaction_key", "timestamp"],
        unique=False,
    )
    op.create_table(
        "transaction_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("transaction_key", sa.Integer(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=8), nullable=False),
        sa.Column("trigger_reason", sa.String(length=32), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("charging_state", sa.String(length=16), nullable=True),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("stopped_reason", sa.String(length=32), nullable=True),
        sa.Column("meter_value_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_key"],
            ["transactions.id"],
            name="fk_transaction_events_transaction_key",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_events")),
        sa.UniqueConstraint("transaction_key", "seq_no", name="uq_transaction_events_transaction_key_seq_no"),
    )


def downgrade() -> None:
    op.drop_table("transaction_events")
    op.drop_index("ix_meter_values_transaction_key_timestamp", table_name="meter_values")
    op.drop_index("ix_meter_values_station_timestamp", table_name="meter_values")
    op.drop_table("meter_values")
    op.drop_index("ix_transactions_status_started", table_name="transactions")
    op.drop_index("ix_transactions_station_started", table_name="transactions")
    op.drop_index("ix_transactions_id_token_status", table_name="transactions")
    op.drop_table("transactions")
