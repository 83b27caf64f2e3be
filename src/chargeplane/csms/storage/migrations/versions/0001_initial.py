"""Initial schema: stations, API tokens, id tokens and local lists, connectors, transactions and meter values,
reservations, command log, data transfers.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_tokens_digest")),
    )
    op.create_table(
        "authorization_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("token_type", sa.String(length=20), nullable=True),
        sa.Column("context", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_log")),
    )
    op.create_index("ix_authorization_log_at", "authorization_log", ["at"], unique=False)
    op.create_index("ix_authorization_log_id_token_at", "authorization_log", ["id_token", "at"], unique=False)
    op.create_index(
        "ix_authorization_log_station_id_at", "authorization_log", ["station_id", "at"], unique=False
    )
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
    op.create_table(
        "connector_status_history",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("info", sa.String(length=50), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=50), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_status_history")),
    )
    op.create_index(
        "ix_connector_status_history_station", "connector_status_history", ["station_key", "id"], unique=False
    )
    op.create_table(
        "connectors",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("info", sa.String(length=50), nullable=True),
        sa.Column("vendor_id", sa.String(length=255), nullable=True),
        sa.Column("vendor_error_code", sa.String(length=50), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "evse_id", "connector_id", name=op.f("pk_connectors")),
    )
    op.create_table(
        "data_transfers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("vendor_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=50), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("response_data", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_transfers")),
    )
    op.create_index("ix_data_transfers_station", "data_transfers", ["station_key", "id"], unique=False)
    op.create_table(
        "id_tokens",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("token_key", sa.String(length=255), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("group_id_token", sa.String(length=255), nullable=True),
        sa.Column("group_id_token_type", sa.String(length=20), nullable=True),
        sa.Column("language1", sa.String(length=8), nullable=True),
        sa.Column("language2", sa.String(length=8), nullable=True),
        sa.Column("personal_message_format", sa.String(length=8), nullable=True),
        sa.Column("personal_message_language", sa.String(length=8), nullable=True),
        sa.Column("personal_message_content", sa.String(length=1024), nullable=True),
        sa.Column("charging_priority", sa.Integer(), nullable=True),
        sa.Column("local_list", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_tokens")),
        sa.UniqueConstraint("token_key", "type", name="uq_id_tokens_token_key_type"),
    )
    op.create_index("ix_id_tokens_group_id_token", "id_tokens", ["group_id_token"], unique=False)
    op.create_index("ix_id_tokens_status", "id_tokens", ["status"], unique=False)
    op.create_table(
        "local_list_entries",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("token_key", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "token_key", "type", name=op.f("pk_local_list_entries")),
    )
    op.create_table(
        "local_lists",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", name=op.f("pk_local_lists")),
    )
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
    op.create_table(
        "station_device_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("component_instance", sa.String(length=50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("variable_instance", sa.String(length=50), nullable=True),
        sa.Column("actual_value", sa.Text(), nullable=False),
        sa.Column("cleared", sa.Boolean(), nullable=True),
        sa.Column("tech_code", sa.String(length=50), nullable=True),
        sa.Column("tech_info", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_device_events")),
    )
    op.create_index(
        "ix_station_device_events_station", "station_device_events", ["station_key", "id"], unique=False
    )
    op.create_table(
        "stations",
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("registration_status", sa.String(length=16), nullable=False),
        sa.Column("security_profile", sa.Integer(), server_default="1", nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("v16_key_encoding", sa.String(length=8), server_default="hex", nullable=False),
        sa.Column("heartbeat_interval", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("vendor", sa.String(length=50), nullable=True),
        sa.Column("model", sa.String(length=20), nullable=True),
        sa.Column("serial_number", sa.String(length=25), nullable=True),
        sa.Column("firmware_version", sa.String(length=50), nullable=True),
        sa.Column("iccid", sa.String(length=20), nullable=True),
        sa.Column("imsi", sa.String(length=20), nullable=True),
        sa.Column("meter_type", sa.String(length=25), nullable=True),
        sa.Column("meter_serial_number", sa.String(length=25), nullable=True),
        sa.Column("boot_reason", sa.String(length=32), nullable=True),
        sa.Column("last_boot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ocpp_version", sa.String(length=8), nullable=True),
        sa.Column("connected_security_profile", sa.Integer(), nullable=True),
        sa.Column("remote_address", sa.String(length=64), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_stations")),
    )
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
    op.drop_table("stations")
    op.drop_index("ix_station_device_events_station", table_name="station_device_events")
    op.drop_table("station_device_events")
    op.drop_index("ix_reservations_status_expires", table_name="reservations")
    op.drop_index("ix_reservations_station_status", table_name="reservations")
    op.drop_table("reservations")
    op.drop_table("local_lists")
    op.drop_table("local_list_entries")
    op.drop_index("ix_id_tokens_status", table_name="id_tokens")
    op.drop_index("ix_id_tokens_group_id_token", table_name="id_tokens")
    op.drop_table("id_tokens")
    op.drop_index("ix_data_transfers_station", table_name="data_transfers")
    op.drop_table("data_transfers")
    op.drop_table("connectors")
    op.drop_index("ix_connector_status_history_station", table_name="connector_status_history")
    op.drop_table("connector_status_history")
    op.drop_index("ix_command_log_station_created", table_name="command_log")
    op.drop_index("ix_command_log_created_at", table_name="command_log")
    op.drop_index("ix_command_log_action_created", table_name="command_log")
    op.drop_table("command_log")
    op.drop_index("ix_authorization_log_station_id_at", table_name="authorization_log")
    op.drop_index("ix_authorization_log_id_token_at", table_name="authorization_log")
    op.drop_index("ix_authorization_log_at", table_name="authorization_log")
    op.drop_table("authorization_log")
    op.drop_table("api_tokens")
