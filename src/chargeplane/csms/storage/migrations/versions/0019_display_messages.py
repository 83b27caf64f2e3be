"""Display messages: the messages each station holds, the requests about them and the parts of their reports.

Revision ID: 0019_display_messages
Revises: 0018_firmware
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_display_messages"
down_revision = "0018_firmware"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "display_messages",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("start_date_time", sa.String(length=40), nullable=True),
        sa.Column("end_date_time", sa.String(length=40), nullable=True),
        sa.Column("transaction_id", sa.String(length=36), nullable=True),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_display_messages")),
        sa.UniqueConstraint("station_key", "message_id", name=op.f("uq_display_messages_station_key")),
    )
    op.create_table(
        "display_message_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_display_message_requests")),
    )
    op.create_index(
        "ix_display_message_requests_station",
        "display_message_requests",
        ["station_key", "id"],
        unique=False,
    )
    op.create_table(
        "display_message_parts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("tbc", sa.Boolean(), nullable=False),
        sa.Column("messages", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_display_message_parts")),
    )
    op.create_index(
        "ix_display_message_parts_request",
        "display_message_parts",
        ["station_key", "request_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_display_message_parts_request", table_name="display_message_parts")
    op.drop_table("display_message_parts")
    op.drop_index("ix_display_message_requests_station", table_name="display_message_requests")
    op.drop_table("display_message_requests")
    op.drop_table("display_messages")
