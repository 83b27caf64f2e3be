"""Monitoring: the monitors of each station, monitoring reports, monitoring level and base, NotifyEvent events,
alert rules and alerts.

Revision ID: 0015_monitoring
Revises: 0014_diagnostics
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_monitoring"
down_revision = "0014_diagnostics"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _component_variable() -> list[sa.Column[object]]:
    return [
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("component_instance", sa.String(length=50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("variable_instance", sa.String(length=50), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "monitoring_monitors",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        *_component_variable(),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("transaction", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        _at("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_monitors")),
        sa.UniqueConstraint("station_key", "monitor_id", name=op.f("uq_monitoring_monitors_station_key")),
    )
    op.create_index(
        "ix_monitoring_monitors_name",
        "monitoring_monitors",
        ["station_key", "component", "variable"],
        unique=False,
    )
    op.create_table(
        "monitoring_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("monitor_count", sa.Integer(), nullable=False),
        sa.Column("solicited", sa.Boolean(), nullable=False),
        _at("requested_at", nullable=False),
        _at("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_reports")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_monitoring_reports_station_key")),
    )
    op.create_table(
        "monitoring_stations",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("base", sa.String(length=16), nullable=True),
        _at("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("station_key", name=op.f("pk_monitoring_stations")),
    )
    op.create_table(
        "monitoring_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        _at("timestamp", nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("actual_value", sa.String(length=2500), nullable=False),
        *_component_variable(),
        sa.Column("monitor_id", sa.Integer(), nullable=True),
        sa.Column("notification_type", sa.String(length=24), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("cleared", sa.Boolean(), nullable=False),
        sa.Column("tech_code", sa.String(length=50), nullable=True),
        sa.Column("tech_info", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        _at("received_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_events")),
    )
    op.create_index("ix_monitoring_events_station", "monitoring_events", ["station_key", "id"], unique=False)
    op.create_table(
        "alert_rules",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=True),
        sa.Column("max_severity", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=True),
        sa.Column("variable", sa.String(length=50), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _at("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("rule_id", _ID, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("component", sa.String(length=50), nullable=False),
        sa.Column("variable", sa.String(length=50), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("actual_value", sa.String(length=2500), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=True),
        sa.Column("tech_code", sa.String(length=50), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("closed_by", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("raised_event", _ID, nullable=False),
        _at("raised_at", nullable=False),
        _at("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_open", "alerts", ["station_key", "subject", "state"], unique=False)
    op.create_index("ix_alerts_state", "alerts", ["state", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_index("ix_alerts_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    op.drop_index("ix_monitoring_events_station", table_name="monitoring_events")
    op.drop_table("monitoring_events")
    op.drop_table("monitoring_stations")
    op.drop_table("monitoring_reports")
    op.drop_index("ix_monitoring_monitors_name", table_name="monitoring_monitors")
    op.drop_table("monitoring_monitors")
