"""The security event log: what stations report (A04) and what the CSMS transport saw (failed handshakes)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

security_events = sa.Table(
    "security_events",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),  # as the station (or the handshake) gave it
    sa.Column(
        "source", sa.String(8), nullable=False
    ),  # station (SecurityEventNotification) | csms (transport)
    sa.Column("type", sa.String(50), nullable=False),  # e.g. StartupOfTheDevice, AuthenticationFailed
    utc_timestamp("timestamp", nullable=False),  # when it happened (the station's clock for station events)
    sa.Column("tech_info", sa.String(255)),  # the station's techInfo, or the transport's reason
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_security_events_station", "station_key", "id"),
    sa.Index("ix_security_events_timestamp", "timestamp"),
)
