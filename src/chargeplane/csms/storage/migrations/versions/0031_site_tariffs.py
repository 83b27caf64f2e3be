"""Site planning: a site's price curve and forecasts, the energy an EV needs per transaction.

Revision ID: 0031_site_tariffs
Revises: 0030_command_initiator
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_site_tariffs"
down_revision = "0030_command_initiator"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("tariff", sa.Text(), nullable=True))
    with op.batch_alter_table("site_ev_needs") as batch:
        batch.add_column(sa.Column("energy", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("site_ev_needs") as batch:
        batch.drop_column("energy")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("tariff")
