"""Battery swaps (2.1 S01-S04): the swap events stations report, the swaps the API asked for, and each
station's battery inventory as last reported."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# One BatterySwapRequest: BatteryIn, BatteryOut or BatteryOutTimeout with its batteryData.
battery_swap_events = sa.Table(
    "battery_swap_events",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),  # correlates In / Out and a RequestBatterySwap
    sa.Column("event_type", sa.String(20), nullable=False),
    # KeyCode tokens only as a digest, as in the authorization log (C04.FR.04)
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("token_type", sa.String(20), nullable=False),
    sa.Column("token_status", sa.String(24), nullable=False),  # the CSMS's decision on the token then
    sa.Column("battery_data", sa.JSON, nullable=False),  # [{evseId, serialNumber, soC, soH, ...}]
    utc_timestamp("at", nullable=False),
    sa.Index("ix_battery_swap_events_station_request", "station_key", "request_id"),
    sa.Index("ix_battery_swap_events_at", "at"),
)

# A RequestBatterySwap the CSMS sent (S02): its id is the requestId the station uses in its events.
battery_swap_requests = sa.Table(
    "battery_swap_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("token_type", sa.String(20), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # Requested | Accepted | Rejected | Failed
    sa.Column("status_reason", sa.String(512)),
    utc_timestamp("created_at", nullable=False),
    sa.Index("ix_battery_swap_requests_station", "station_key"),
)

# The battery last reported in each slot (EVSE) of a swap station: put in by BatteryIn, taken by BatteryOut.
battery_slots = sa.Table(
    "battery_slots",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("evse_id", sa.Integer, primary_key=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("serial_number", sa.String(50), nullable=False),
    sa.Column("soc", sa.Float, nullable=False),
    sa.Column("soh", sa.Float, nullable=False),
    sa.Column("present", sa.Boolean, nullable=False),  # False: taken out (the last battery it held)
    utc_timestamp("updated_at", nullable=False),
)
