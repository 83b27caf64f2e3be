"""The console's tables: operator accounts and their server-side sessions (on the shared metadata)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

USERNAME_LENGTH = 64

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(USERNAME_LENGTH), nullable=False, unique=True),  # stored casefolded
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("password_changed_at", nullable=False),
)

# A session is a random cookie value stored only as its SHA-256 digest, with its own CSRF token.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("console_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("expires_at", nullable=False),
)
