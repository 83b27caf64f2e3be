"""PKI: the certificates the CSMS's CA issued, the stations' signing requests, the certificates stations
reported installed and the certificate operations sent to them.

Revision ID: 0021_pki
Revises: 0020_password_rotation
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_pki"
down_revision = "0020_password_rotation"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=True),
        sa.Column("certificate_type", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("not_before", _TS, nullable=False),
        sa.Column("not_after", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("pem", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("delivery_status", sa.String(length=32), nullable=True),
        sa.Column("renewal_requested_at", _TS, nullable=True),
        sa.Column("issued_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "serial"),
    )
    op.create_index("ix_pki_certificates_station", "pki_certificates", ["station_key", "id"])
    op.create_index("ix_pki_certificates_expiry", "pki_certificates", ["status", "not_after"])
    op.create_table(
        "pki_sign_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("certificate_type", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("certificate_id", _ID, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("csr", sa.Text(), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pki_sign_requests_station", "pki_sign_requests", ["station_key", "id"])
    op.create_table(
        "pki_installed",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("certificate_type", sa.String(length=40), nullable=True),
        sa.Column("hash_algorithm", sa.String(length=8), nullable=False),
        sa.Column("issuer_name_hash", sa.String(length=128), nullable=False),
        sa.Column("issuer_key_hash", sa.String(length=128), nullable=False),
        sa.Column("serial_number", sa.String(length=40), nullable=False),
        sa.Column("child_of", sa.String(length=40), nullable=True),
        sa.Column("reported_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pki_installed_station", "pki_installed", ["station_key", "certificate_type"])
    op.create_table(
        "pki_operations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("sent_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pki_operations_station", "pki_operations", ["station_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_pki_operations_station", table_name="pki_operations")
    op.drop_table("pki_operations")
    op.drop_index("ix_pki_installed_station", table_name="pki_installed")
    op.drop_table("pki_installed")
    op.drop_index("ix_pki_sign_requests_station", table_name="pki_sign_requests")
    op.drop_table("pki_sign_requests")
    op.drop_index("ix_pki_certificates_expiry", table_name="pki_certificates")
    op.drop_index("ix_pki_certificates_station", table_name="pki_certificates")
    op.drop_table("pki_certificates")
