"""Diagnostics: log requests with their upload notifications and files, customer-information requests with the
parts of their reports.

Revision ID: 0014_diagnostics
Revises: 0013_device_model
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_diagnostics"
down_revision = "0013_device_model"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "diagnostics_logs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("log_type", sa.String(length=16), nullable=False),
        sa.Column("oldest_timestamp", sa.String(length=40), nullable=True),
        sa.Column("latest_timestamp", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("upload_status", sa.String(length=32), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostics_logs")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_diagnostics_logs_station_key")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_diagnostics_logs_token_hash")),
    )
    op.create_index("ix_diagnostics_logs_station", "diagnostics_logs", ["station_key", "id"], unique=False)
    op.create_table(
        "diagnostics_log_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("log_id", _ID, nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostics_log_events")),
    )
    op.create_index("ix_diagnostics_log_events_log", "diagnostics_log_events", ["log_id", "id"], unique=False)
    op.create_table(
        "customer_information",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report", sa.Boolean(), nullable=False),
        sa.Column("clear", sa.Boolean(), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("id_token_type", sa.String(length=20), nullable=True),
        sa.Column("customer_identifier", sa.String(length=64), nullable=True),
        sa.Column("customer_certificate", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("local_list", sa.String(length=255), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_information")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_customer_information_station_key")),
    )
    op.create_table(
        "customer_information_parts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("tbc", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("generated_at", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_information_parts")),
    )
    op.create_index(
        "ix_customer_information_parts_request",
        "customer_information_parts",
        ["station_key", "request_id", "seq_no"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_customer_information_parts_request", table_name="customer_information_parts")
    op.drop_table("customer_information_parts")
    op.drop_table("customer_information")
    op.drop_index("ix_diagnostics_log_events_log", table_name="diagnostics_log_events")
    op.drop_table("diagnostics_log_events")
    op.drop_index("ix_diagnostics_logs_station", table_name="diagnostics_logs")
    op.drop_table("diagnostics_logs")
