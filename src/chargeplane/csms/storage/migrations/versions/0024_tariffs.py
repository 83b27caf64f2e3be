"""Tariffs: the operator's tariffs, their assignment to tokens and groups, transaction costs and samples.

Revision ID: 0024_tariffs
Revises: 0023_audit_log
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_tariffs"
down_revision = "0023_audit_log"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("tariff_id", sa.String(length=60), nullable=False),
        sa.Column("tariff", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tariff_id", name=op.f("pk_tariffs")),
    )
    op.create_table(
        "tariff_assignments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tariff_id", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.tariff_id"], name="fk_tariff_assignments_tariff_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_assignments")),
        sa.UniqueConstraint("kind", "value", name="uq_tariff_assignments_kind_value"),
    )
    op.create_table(
        "transaction_costs",
        sa.Column("transaction_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("ocpp_version", sa.String(length=8), nullable=False),
        sa.Column("tariff_id", sa.String(length=60), nullable=False),
        sa.Column("tariff", sa.Text(), nullable=False),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("breakdown", sa.Text(), nullable=True),
        sa.Column("total_excl_tax", sa.String(length=24), nullable=True),
        sa.Column("total_incl_tax", sa.String(length=24), nullable=True),
        sa.Column("station_cost", sa.Text(), nullable=True),
        sa.Column("mismatch", sa.Text(), nullable=True),
        sa.Column("last_sent_cost", sa.String(length=24), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transaction_key", name=op.f("pk_transaction_costs")),
    )
    op.create_index("ix_transaction_costs_status", "transaction_costs", ["status"], unique=False)
    op.create_table(
        "tariff_samples",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("transaction_key", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=True),
        sa.Column("charging", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_samples")),
    )
    op.create_index(
        "ix_tariff_samples_transaction", "tariff_samples", ["transaction_key", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tariff_samples_transaction", table_name="tariff_samples")
    op.drop_table("tariff_samples")
    op.drop_index("ix_transaction_costs_status", table_name="transaction_costs")
    op.drop_table("transaction_costs")
    op.drop_table("tariff_assignments")
    op.drop_table("tariffs")
