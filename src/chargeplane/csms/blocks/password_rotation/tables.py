"""The password rotation of each station (A01): the new password's hash while it is pending."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

password_rotations = sa.Table(
    "password_rotations",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),  # casefolded identity; the latest rotation
    sa.Column("station_id", sa.String(48), nullable=False),
    # the new password's salted hash while the station may still connect with either; NULL once settled
    sa.Column("pending_hash", sa.String(200)),
    sa.Column(
        "status", sa.String(16), nullable=False
    ),  # sent | accepted | unanswered | rejected | failed | completed
    sa.Column(
        "station_status", sa.String(32)
    ),  # the station's answer (Accepted, RebootRequired, Rejected, ...)
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("answered_at"),
    utc_timestamp("completed_at"),  # the station connected with the new password; the old one is retired
)
