"""Device model: report requests, the per-station inventory of variables and the history of their values.

Revision ID: 0013_device_model
Revises: 0012_security
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_device_model"
down_revision = "0012_security"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "device_model_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report_base", sa.String(length=32), nullable=True),
        sa.Column("criteria", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model_reports")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_device_model_reports_station_key")),
    )
    op.create_table(
        "device_model_variables",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("component_instance", sa.String(length=50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("variable_instance", sa.String(length=50), nullable=True),
        sa.Column("attribute_type", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=2500), nullable=True),
        sa.Column("mutability", sa.String(length=16), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=True),
        sa.Column("constant", sa.Boolean(), nullable=True),
        sa.Column("data_type", sa.String(length=16), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("min_limit", sa.Float(), nullable=True),
        sa.Column("max_limit", sa.Float(), nullable=True),
        sa.Column("values_list", sa.String(length=1000), nullable=True),
        sa.Column("supports_monitoring", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model_variables")),
        sa.UniqueConstraint("station_key", "key", name=op.f("uq_device_model_variables_station_key")),
    )
    op.create_index(
        "ix_device_model_variables_name",
        "device_model_variables",
        ["station_key", "component", "variable"],
        unique=False,
    )
    op.create_table(
        "device_model_changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("old_value", sa.String(length=2500), nullable=True),
        sa.Column("new_value", sa.String(length=2500), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model_changes")),
    )
    op.create_index(
        "ix_device_model_changes_station", "device_model_changes", ["station_key", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_device_model_changes_station", table_name="device_model_changes")
    op.drop_table("device_model_changes")
    op.drop_index("ix_device_model_variables_name", table_name="device_model_variables")
    op.drop_table("device_model_variables")
    op.drop_table("device_model_reports")
