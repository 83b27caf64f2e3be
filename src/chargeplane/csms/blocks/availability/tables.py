"""Connector and EVSE status (G01, G05 alternative via NotifyEvent AvailabilityState), with its history.

Addressing, for every version: ``(evse_id, connector_id)``; ``(0, 0)`` is the whole station, ``(e, 0)`` EVSE
``e`` as a whole (2.x NotifyEvent on component EVSE), ``(e, c)`` a connector. A 1.6 ``connectorId`` N > 0
is stored as EVSE N, connector 1 (a 1.6 connector is what 2.x calls an EVSE); 1.6 ``connectorId`` 0 is
``(0, 0)``.
"""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

# Auto-increment 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),  # casefolded identity (Part 4 §3.1.1)
    sa.Column("evse_id", sa.Integer, primary_key=True),
    sa.Column("connector_id", sa.Integer, primary_key=True),
    sa.Column("station_id", sa.String(48), nullable=False),  # the identity as the station spelled it
    sa.Column("status", sa.String(20), nullable=False),  # 1.6 ChargePointStatus / 2.x ConnectorStatusEnumType
    sa.Column("error_code", sa.String(32)),  # 1.6 ChargePointErrorCode
    sa.Column("info", sa.String(50)),  # 1.6
    sa.Column("vendor_id", sa.String(255)),  # 1.6
    sa.Column("vendor_error_code", sa.String(50)),  # 1.6
    sa.Column("source", sa.String(20), nullable=False),  # StatusNotification | NotifyEvent
    utc_timestamp("status_at", nullable=False),  # the station's timestamp of the status
    utc_timestamp("updated_at", nullable=False),  # when the CSMS received it
)

connector_status_history = sa.Table(
    "connector_status_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False),
    sa.Column("connector_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("info", sa.String(50)),
    sa.Column("vendor_id", sa.String(255)),
    sa.Column("vendor_error_code", sa.String(50)),
    sa.Column("source", sa.String(20), nullable=False),
    utc_timestamp("status_at", nullable=False),
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_connector_status_history_station", "station_key", "id"),
)

# NotifyEvent data that is not an AvailabilityState (G05 lock failures, monitoring events...), kept as a log.
station_device_events = sa.Table(
    "station_device_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("event_id", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # Alerting | Delta | Periodic
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50)),
    sa.Column("actual_value", sa.Text, nullable=False),
    sa.Column("cleared", sa.Boolean),
    sa.Column("tech_code", sa.String(50)),
    sa.Column("tech_info", sa.String(500)),
    sa.Column("transaction_id", sa.String(36)),
    utc_timestamp("event_at", nullable=False),
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_station_device_events_station", "station_key", "id"),
)
