"""Payments: the driver's maximum energy / time from the QR code's URL (C25.FR.59) and the card details a
station's terminal reports in the transaction's id token (C18.FR.04/06, masked).

Revision ID: 0039_paygaps
Revises: 0038_v2x
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0039_paygaps"
down_revision = "0038_v2x"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("driver_limits", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("card_details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("card_details")
        batch.drop_column("driver_limits")
