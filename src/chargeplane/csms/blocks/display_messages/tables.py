"""The display messages each station holds, as far as the CSMS knows, and the requests about them."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# one row per message a station holds: set by the CSMS and accepted, or seen in a NotifyDisplayMessages
display_messages = sa.Table(
    "display_messages",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("message_id", sa.Integer, nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16)),
    sa.Column("start_date_time", sa.String(40)),
    sa.Column("end_date_time", sa.String(40)),
    sa.Column("transaction_id", sa.String(36)),
    sa.Column("info", sa.Text, nullable=False),  # the MessageInfo, JSON in wire form
    sa.Column("status", sa.String(16), nullable=False),  # Accepted (our SetDisplayMessage) | Reported
    sa.Column("request_id", sa.Integer),  # the GetDisplayMessages that reported it last
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "message_id"),
)

# every SetDisplayMessage, GetDisplayMessages and ClearDisplayMessage sent, with the station's answer
display_message_requests = sa.Table(
    "display_message_requests",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),  # SetDisplayMessage | GetDisplayMessages | Clear...
    sa.Column("message_id", sa.Integer),  # Set, Clear
    sa.Column("request_id", sa.Integer),  # Get (also for an unrequested report: action "Unsolicited")
    sa.Column("request", sa.Text, nullable=False),  # JSON in wire form
    # the station's status; for a failed call CallFailed | CallTimeout | ConnectionLost | StationOffline
    sa.Column("status", sa.String(32)),
    sa.Column("parts", sa.Integer, nullable=False),  # NotifyDisplayMessages received
    sa.Column("complete", sa.Boolean, nullable=False),  # the last part came
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("answered_at"),
    sa.Index("ix_display_message_requests_station", "station_key", "id"),
)

# the NotifyDisplayMessages parts of a GetDisplayMessages, in the order received
display_message_parts = sa.Table(
    "display_message_parts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("tbc", sa.Boolean, nullable=False),
    sa.Column("messages", sa.Text, nullable=False),  # JSON list of MessageInfo in wire form
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_display_message_parts_request", "station_key", "request_id", "id"),
)
