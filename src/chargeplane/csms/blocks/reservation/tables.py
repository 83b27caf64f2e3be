"""Reservations: the id is assigned by the CSMS and is the OCPP reservation id (H01 ``id``, 1.6
``reservationId``)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("evse_id", sa.Integer),  # 2.x evseId; for 1.6 the connectorId (a 1.6 connector is an EVSE)
    sa.Column("connector_id", sa.Integer),  # 1.6 connectorId (0: the charge point as a whole)
    sa.Column("connector_type", sa.String(20)),  # 2.x connectorType
    sa.Column("id_token", sa.String(255), nullable=False),
    sa.Column("token_type", sa.String(20)),  # 2.x IdTokenType.type; NULL for 1.6 idTag
    sa.Column("group_id_token", sa.String(255)),  # 2.x groupIdToken / 1.6 parentIdTag
    sa.Column("group_token_type", sa.String(20)),
    utc_timestamp("expires_at", nullable=False),
    # Requested (sent, no answer yet) | Accepted | Rejected | Occupied | Faulted | Unavailable (the station's
    # answer) | Failed (CALLERROR) | Cancelled | Used | Expired | Removed | NoTransaction (2.1)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.String(512)),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.Index("ix_reservations_station_status", "station_key", "status"),
    sa.Index("ix_reservations_status_expires", "status", "expires_at"),
)
