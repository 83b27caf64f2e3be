"""Authorization: id tokens, the authorization decision log, the local lists sent to stations.

Revision ID: 0002_authorization
Revises: 0001_provisioning
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_authorization"
down_revision = "0001_provisioning"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
        "local_lists",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", name=op.f("pk_local_lists")),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("token_key", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "token_key", "type", name=op.f("pk_local_list_entries")),
    )


def downgrade() -> None:
    op.drop_table("local_list_entries")
    op.drop_table("local_lists")
    op.drop_index("ix_authorization_log_station_id_at", table_name="authorization_log")
    op.drop_index("ix_authorization_log_id_token_at", table_name="authorization_log")
    op.drop_index("ix_authorization_log_at", table_name="authorization_log")
    op.drop_table("authorization_log")
    op.drop_index("ix_id_tokens_status", table_name="id_tokens")
    op.drop_index("ix_id_tokens_group_id_token", table_name="id_tokens")
    op.drop_table("id_tokens")
