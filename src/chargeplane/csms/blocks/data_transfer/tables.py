"""A log of every DataTransfer, received (P02) or sent (P01)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

data_transfers = sa.Table(
    "data_transfers",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),  # in (station -> CSMS) | out (CSMS -> station)
    sa.Column("vendor_id", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(50)),
    sa.Column("data", sa.Text),  # JSON text of the request's data (1.6: a JSON string)
    # Accepted | Rejected | UnknownMessageId | UnknownVendorId; for a failed outgoing call: CallFailed,
    # CallTimeout, ConnectionLost; InternalError when our handler failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("response_data", sa.Text),  # JSON text
    utc_timestamp("created_at", nullable=False),
    sa.Index("ix_data_transfers_station", "station_key", "id"),
)
