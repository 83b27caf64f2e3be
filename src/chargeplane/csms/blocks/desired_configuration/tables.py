"""Desired configuration: what each group asks of its stations, what the stations answered, and the 1.6 keys'
last known values (the 2.x values live in the device model's inventory)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

desired_settings = sa.Table(
    "desired_settings",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("group_key", sa.String(64), nullable=False),  # the group's casefolded name
    sa.Column("kind", sa.String(8), nullable=False),  # variable (2.0.1, 2.1) | key16 (1.6)
    # canonical: the device model's variable key (Component[inst]@evse.conn/Variable[inst]:Type) or the 1.6 key
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("component", sa.String(50)),
    sa.Column("component_instance", sa.String(50)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("variable", sa.String(50)),
    sa.Column("variable_instance", sa.String(50)),
    sa.Column("attribute_type", sa.String(8)),
    sa.Column("value", sa.String(1000), nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("group_key", "kind", "target"),
)

desired_results = sa.Table(
    "desired_results",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("value", sa.String(1000), nullable=False),  # the value sent
    sa.Column("group_name", sa.String(64), nullable=False),  # the group whose value it was
    # the station's answer (Accepted, RebootRequired, Rejected, UnknownComponent, UnknownVariable,
    # NotSupportedAttributeType; 1.6 NotSupported) or Failed (no answer: offline, timeout, CALLERROR)
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(255)),
    utc_timestamp("applied_at", nullable=False),
    sa.UniqueConstraint("station_key", "kind", "target"),
)

desired_known16 = sa.Table(
    "desired_known16",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("key", sa.String(50), nullable=False),
    sa.Column("value", sa.String(500)),  # None: the station does not know the key
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "key"),
)
