"""Transactions, their events, and sampled meter values (E01-E15, J01-J03; 1.6 Start/Stop/MeterValues)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity for the big tables.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

transactions = sa.Table(
    "transactions",
    metadata,
    # The surrogate key; in 1.6 it is also the transactionId the CSMS assigns (a 32-bit integer on the wire).
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    # 2.x: the station's id (E01.FR.08, at most 36 characters); 1.6: str(id).
    sa.Column("transaction_id", sa.String(36)),  # NULL only inside the 1.6 insert, before the key is known
    sa.Column("ocpp_version", sa.String(8), nullable=False),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("id_token", sa.String(255)),
    sa.Column("token_type", sa.String(32)),
    sa.Column("group_id_token", sa.String(255)),
    utc_timestamp("id_token_at"),  # timestamp of the event that carried the kept token (earliest wins)
    sa.Column("status", sa.String(8), nullable=False),  # active | ended
    sa.Column("started_seen", sa.Boolean, nullable=False, server_default=sa.false()),
    utc_timestamp("started_at", nullable=False),
    utc_timestamp("ended_at"),
    # Energy, all in Wh: start and stop register values, and the register reading with the latest timestamp.
    sa.Column("meter_start_wh", sa.Float),
    utc_timestamp("meter_start_at"),
    sa.Column("meter_stop_wh", sa.Float),
    sa.Column("last_register_wh", sa.Float),
    utc_timestamp("last_register_at"),
    sa.Column("energy_wh", sa.Float),
    sa.Column("charging_state", sa.String(16)),
    utc_timestamp("charging_state_at"),
    sa.Column("stop_reason", sa.String(32)),
    # Set when the CSMS closed the transaction because the station showed it was over without ending it
    # (StationRebooted, EvseAvailable, ReplacedOnEvse); a later event of the station still counts.
    sa.Column("closed_reason", sa.String(32)),
    sa.Column("remote_start_id", sa.Integer),
    sa.Column("reservation_id", sa.Integer),
    # seqNo bookkeeping (E01.FR.07): lowest and highest received, and the missing ranges between them
    # as a JSON list of inclusive [first, last] pairs.
    sa.Column("first_seq_no", sa.Integer),
    sa.Column("last_seq_no", sa.Integer),
    sa.Column("seq_gaps", sa.JSON, nullable=False),
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),  # any event sent offline
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    # 2.1 E16: the limits the station last reported (transactionInfo.transactionLimit, wire names), and the
    # limits the API set that go once into the next TransactionEventResponse (E16.FR.02), with their time.
    sa.Column("transaction_limit", sa.JSON),
    sa.Column("limit_request", sa.JSON),
    utc_timestamp("limit_request_at"),
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_id", "transaction_id", name="uq_transactions_station_transaction"),
    sa.Index("ix_transactions_status_started", "status", "started_at"),
    sa.Index("ix_transactions_station_started", "station_id", "started_at"),
    sa.Index("ix_transactions_id_token_status", "id_token", "status"),
)

transaction_events = sa.Table(
    "transaction_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "transaction_key",
        sa.Integer,
        sa.ForeignKey("transactions.id", ondelete="CASCADE", name="fk_transaction_events_transaction_key"),
        nullable=False,
    ),
    sa.Column("seq_no", sa.Integer, nullable=False),  # 1.6: 0 for Start, 1 for Stop
    sa.Column("event_type", sa.String(8), nullable=False),  # Started | Updated | Ended
    sa.Column("trigger_reason", sa.String(32)),  # None for 1.6
    utc_timestamp("timestamp", nullable=False),
    sa.Column("offline", sa.Boolean, nullable=False),
    sa.Column("charging_state", sa.String(16)),
    sa.Column("id_token", sa.String(255)),
    sa.Column("stopped_reason", sa.String(32)),
    sa.Column("meter_value_count", sa.Integer, nullable=False, server_default="0"),
    utc_timestamp("received_at", nullable=False),
    # Duplicates (retries, E13) are acknowledged without a second row.
    sa.UniqueConstraint("transaction_key", "seq_no", name="uq_transaction_events_transaction_key_seq_no"),
)

# 2.1 F07: limits for a remote start whose transaction is not known yet; answered to the first
# TransactionEvent that carries the remoteStartId (F07.FR.02).
remote_start_limits = sa.Table(
    "remote_start_limits",
    metadata,
    sa.Column("station_id", sa.String(48), primary_key=True),
    sa.Column("remote_start_id", sa.Integer, primary_key=True),
    sa.Column("transaction_limit", sa.JSON, nullable=False),
    utc_timestamp("created_at", nullable=False),
)

meter_values = sa.Table(
    "meter_values",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column(
        "transaction_key",  # None: a meter value outside any transaction (J01, 1.6 without transactionId)
        sa.Integer,
        sa.ForeignKey("transactions.id", ondelete="CASCADE", name="fk_meter_values_transaction_key"),
    ),
    sa.Column("evse_id", sa.Integer),  # 2.x
    sa.Column("connector_id", sa.Integer),  # 1.6 (0: the charge point as a whole)
    utc_timestamp("timestamp", nullable=False),
    sa.Column("measurand", sa.String(48), nullable=False),
    sa.Column("phase", sa.String(8)),
    sa.Column("location", sa.String(8)),
    sa.Column("context", sa.String(24)),
    sa.Column("unit", sa.String(20)),
    sa.Column("multiplier", sa.Integer),
    sa.Column("value", sa.Float),  # as sent (apply unit and multiplier); None for a 1.6 SignedData value
    sa.Column("signed_data", sa.JSON),
    sa.Index("ix_meter_values_transaction_key_timestamp", "transaction_key", "timestamp"),
    sa.Index("ix_meter_values_station_timestamp", "station_id", "timestamp"),
)
