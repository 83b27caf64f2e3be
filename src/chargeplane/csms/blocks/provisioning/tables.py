"""Stations: registration, security configuration, boot data and presence."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

stations = sa.Table(
    "stations",
    metadata,
    # The identity as the station uses it in its URL; lookups go through ``key`` (identities are
    # case-insensitive, 2.0.1 Part 4 §3.1.1).
    sa.Column("key", sa.String(48), primary_key=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("registration_status", sa.String(16), nullable=False),  # Accepted | Pending | Rejected
    sa.Column("security_profile", sa.Integer, nullable=False, server_default="1"),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("v16_key_encoding", sa.String(8), nullable=False, server_default="hex"),
    sa.Column("heartbeat_interval", sa.Integer),  # seconds; NULL: the CSMS default
    sa.Column("description", sa.String(200)),
    # From the last BootNotification.
    sa.Column("vendor", sa.String(50)),
    sa.Column("model", sa.String(20)),
    sa.Column("serial_number", sa.String(25)),
    sa.Column("firmware_version", sa.String(50)),
    sa.Column("iccid", sa.String(20)),
    sa.Column("imsi", sa.String(20)),
    sa.Column("meter_type", sa.String(25)),
    sa.Column("meter_serial_number", sa.String(25)),
    sa.Column("boot_reason", sa.String(32)),
    utc_timestamp("last_boot_at"),
    # Presence: kept current by the CSMS node that holds the station's socket.
    sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("ocpp_version", sa.String(8)),
    sa.Column("connected_security_profile", sa.Integer),
    sa.Column("remote_address", sa.String(64)),
    utc_timestamp("connected_at"),
    utc_timestamp("last_seen_at"),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
)
