"""Site energy management: the sites' trees and grid limits, the EV needs per transaction.

Revision ID: 0027_sites
Revises: 0026_security_upgrade
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_sites"
down_revision = "0026_security_upgrade"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("tree", sa.Text(), nullable=False),
        sa.Column("grid_limit", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id"),
    )
    op.create_table(
        "site_ev_needs",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=True),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("departure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id"),
    )


def downgrade() -> None:
    op.drop_table("site_ev_needs")
    op.drop_table("sites")
