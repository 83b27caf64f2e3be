"""V2X site planning: a site's grid service window, a V2X EV's battery and discharge per transaction.

Revision ID: 0033_v2xsite
Revises: 0032_transaction_limits
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033_v2xsite"
down_revision = "0032_transaction_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("grid_service", sa.Text(), nullable=True))
    with op.batch_alter_table("site_ev_needs") as batch:
        batch.add_column(sa.Column("v2x", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("site_ev_needs") as batch:
        batch.drop_column("v2x")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("grid_service")
