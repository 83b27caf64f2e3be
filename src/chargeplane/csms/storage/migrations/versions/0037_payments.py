"""Payments (2.1 C17, C19-C25): payments by PSP reference, prepaid balances.

Revision ID: 0037_payments
Revises: 0036_dynprio
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037_payments"
down_revision = "0036_dynprio"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("psp_ref", sa.String(255), nullable=False),
        sa.Column("station_key", sa.String(48), nullable=False),
        sa.Column("station_id", sa.String(48), nullable=False),
        sa.Column("evse_id", sa.Integer()),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("authorized_amount", sa.String(24)),
        sa.Column("settlement_amount", sa.String(24)),
        sa.Column("refunded_amount", sa.String(24)),
        sa.Column("transaction_id", sa.String(36)),
        sa.Column("transaction_key", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("limit_sent", sa.Boolean(), nullable=False),
        sa.Column("settled_by", sa.String(8)),
        sa.Column("status_info", sa.String(500)),
        sa.Column("receipt_id", sa.String(50)),
        sa.Column("receipt_url", sa.String(2000)),
        sa.Column("vat_number", sa.String(20)),
        sa.Column("vat_company", sa.JSON()),
        sa.Column("card_bin", sa.String(8)),
        sa.Column("card_last4", sa.String(4)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("settlement_time", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("psp_ref", name=op.f("uq_payments_psp_ref")),
    )
    op.create_index("ix_payments_transaction", "payments", ["station_key", "transaction_id"])
    op.create_table(
        "prepaid_accounts",
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("balance", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_token", name=op.f("pk_prepaid_accounts")),
    )


def downgrade() -> None:
    op.drop_table("prepaid_accounts")
    op.drop_index("ix_payments_transaction", table_name="payments")
    op.drop_table("payments")
