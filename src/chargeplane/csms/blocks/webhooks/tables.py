"""What the CSMS keeps of webhooks: the operator's registrations and one delivery per (webhook, event)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("events", sa.Text, nullable=False),  # JSON list of kinds: "*", "transaction.*", "status"...
    sa.Column("secret", sa.String(128), nullable=False),  # the HMAC-SHA256 key
    utc_timestamp("created_at", nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),  # X-Chargeplane-Delivery
    sa.Column("webhook_id", _ID, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_key", sa.String(64), nullable=False),  # sha256 of the event: once per webhook
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JSON POSTed, signed as is
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(500)),
    utc_timestamp("next_attempt_at", nullable=False),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("finished_at"),
    sa.UniqueConstraint("webhook_id", "event_key"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)
