"""What the CSMS keeps of smart charging (K01-K17; 1.6 Smart Charging): the charging profiles each station
holds as far as the CSMS knows, the parts of the stations' profile reports, and the limits and EV needs the
stations notified."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

charging_profiles = sa.Table(
    "charging_profiles",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("profile_id", sa.Integer, nullable=False),  # the chargingProfile's id
    sa.Column("evse_id", sa.Integer, nullable=False),  # 1.6: connectorId; 0 the station
    sa.Column("purpose", sa.String(40), nullable=False),
    sa.Column("stack_level", sa.Integer, nullable=False),
    sa.Column("transaction_id", sa.String(36)),
    utc_timestamp("valid_from"),
    utc_timestamp("valid_to"),
    sa.Column("version", sa.String(8), nullable=False),  # the dialect of ``profile``: 1.6 | 2.0.1 | 2.1
    sa.Column("profile", sa.Text, nullable=False),  # the chargingProfile as wire JSON
    # installed: set by this CSMS and accepted (or confirmed by a report); drift: the store and the
    # station disagree (``drift`` says how); reported: on the station, not set by this CSMS
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("drift", sa.String(255)),
    sa.Column("source", sa.String(16), nullable=False),  # chargingLimitSource (CSO when set by this CSMS)
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "profile_id"),
)

charging_profile_reports = sa.Table(
    "charging_profile_reports",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),  # GetChargingProfiles' requestId
    # requested -> receiving -> complete; empty (NoProfiles), failed (no answer)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reconcile", sa.Boolean, nullable=False),  # compare the complete report with the store
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("profiles", sa.Text, nullable=False),  # JSON list of {evseId, source, profile}
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("completed_at"),
    sa.UniqueConstraint("station_key", "request_id"),
)

charging_limit_events = sa.Table(
    "charging_limit_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    # NotifyChargingLimit | ClearedChargingLimit | NotifyEVChargingNeeds | NotifyEVChargingSchedule
    sa.Column("message", sa.String(32), nullable=False),
    sa.Column("evse_id", sa.Integer),
    sa.Column("source", sa.String(20)),  # chargingLimitSource
    sa.Column("transaction_id", sa.String(36)),  # the EVSE's running transaction, when the CSMS knows it
    sa.Column(
        "answer", sa.String(20)
    ),  # the status this CSMS answered with (NotifyEV*; 2.1 NoChargingProfile)
    sa.Column("data", sa.Text, nullable=False),  # the request as wire JSON
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_charging_limit_events_station", "station_key", "id"),
)

# 2.1 K28: the values the operator set for a station's Dynamic profile, what PullDynamicScheduleUpdate answers
dynamic_schedules = sa.Table(
    "dynamic_schedules",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("profile_id", sa.Integer, primary_key=True),  # the Dynamic chargingProfile's id
    sa.Column("schedule_update", sa.Text, nullable=False),  # ChargingScheduleUpdateType as wire JSON
    utc_timestamp("updated_at", nullable=False),  # when the operator set it
    utc_timestamp("pulled_at"),  # the station's last PullDynamicScheduleUpdate
    sa.Column("pulls", sa.Integer, nullable=False),
)

# 2.1 K21/K22: NotifyPriorityCharging, per transaction
priority_charging_events = sa.Table(
    "priority_charging_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("transaction_id", sa.String(36), nullable=False),
    sa.Column("activated", sa.Boolean, nullable=False),
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_priority_charging_events_tx", "station_key", "transaction_id", "id"),
)
