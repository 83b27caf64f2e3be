"""V2X: whether a transaction's EVSE sleeps (2.1 Q10.FR.04, evseSleep in its TransactionEvents).

Revision ID: 0041_v2xsleep
Revises: 0040_derev
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0041_v2xsleep"
down_revision = "0040_derev"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("v2x_sessions") as batch:
        batch.add_column(sa.Column("evse_sleep", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("v2x_sessions") as batch:
        batch.drop_column("evse_sleep")
