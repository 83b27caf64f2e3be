"""2.1 DER control (R02, R03): the derChargingParameters of AC_BPT_DER EVs, per transaction.

Revision ID: 0040_derev
Revises: 0039_paygaps
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_derev"
down_revision = "0039_paygaps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "der_ev_parameters",
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("energy_transfer", sa.String(length=32), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_key", "transaction_id"),
    )


def downgrade() -> None:
    op.drop_table("der_ev_parameters")
