"""2.1 DER control (R04, R05): controls per station, reports, alarms and start/stop notices, site settings.

Revision ID: 0034_der
Revises: 0033_v2xsite
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034_der"
down_revision = "0033_v2xsite"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "der_controls",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("control_id", sa.String(length=36), nullable=False),
        sa.Column("control_type", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("setting", sa.Text(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("superseded_ids", sa.Text(), nullable=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("is_superseded", sa.Boolean(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("station_key", "control_id"),
    )
    op.create_table(
        "der_reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("controls", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_der_reports_station", "der_reports", ["station_key", "request_id"])
    op.create_table(
        "der_notices",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("control_type", sa.String(length=32), nullable=True),
        sa.Column("grid_event_fault", sa.String(length=32), nullable=True),
        sa.Column("alarm_ended", sa.Boolean(), nullable=True),
        sa.Column("control_id", sa.String(length=36), nullable=True),
        sa.Column("started", sa.Boolean(), nullable=True),
        sa.Column("superseded_ids", sa.Text(), nullable=True),
        sa.Column("extra_info", sa.String(length=200), nullable=True),
        sa.Column("timestamp", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ix_der_notices_station", "der_notices", ["station_key", "kind", "id"])
    op.create_table(
        "site_der_controls",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("control_id", sa.String(length=36), nullable=False),
        sa.Column("control_type", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("setting", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "control_id"),
    )


def downgrade() -> None:
    op.drop_table("site_der_controls")
    op.drop_index("ix_der_notices_station", table_name="der_notices")
    op.drop_table("der_notices")
    op.drop_index("ix_der_reports_station", table_name="der_reports")
    op.drop_table("der_reports")
    op.drop_table("der_controls")
