"""Tariffs, who they apply to, and the cost of every transaction that had one."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# the operator's tariffs, each a 2.1 TariffType in wire form (also used for 2.0.1 stations: the CSMS prices)
tariffs = sa.Table(
    "tariffs",
    metadata,
    sa.Column("tariff_id", sa.String(60), primary_key=True),
    sa.Column("tariff", sa.Text, nullable=False),  # JSON
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),  # at most one: the tariff of everyone else
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
)

# a tariff for an id token or for the tokens of a group (the token's own wins over its group's)
tariff_assignments = sa.Table(
    "tariff_assignments",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "tariff_id",
        sa.String(60),
        sa.ForeignKey("tariffs.tariff_id", ondelete="CASCADE", name="fk_tariff_assignments_tariff_id"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(8), nullable=False),  # token | group
    sa.Column("value", sa.String(255), nullable=False),
    sa.UniqueConstraint("kind", "value", name="uq_tariff_assignments_kind_value"),
)

# the cost of a transaction: the tariff it got (a copy), the running / final cost, the station's own (2.1)
transaction_costs = sa.Table(
    "transaction_costs",
    metadata,
    sa.Column("transaction_key", sa.Integer, primary_key=True),  # the transactions block's key
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("transaction_id", sa.String(36), nullable=False),
    sa.Column("ocpp_version", sa.String(8), nullable=False),
    sa.Column("tariff_id", sa.String(60), nullable=False),
    sa.Column("tariff", sa.Text, nullable=False),  # JSON: the tariff as it was when the transaction got it
    sa.Column("id_token", sa.String(255)),
    sa.Column("status", sa.String(8), nullable=False),  # active | ended
    sa.Column("breakdown", sa.Text),  # JSON receipt of the last calculation
    sa.Column("total_excl_tax", sa.String(24)),
    sa.Column("total_incl_tax", sa.String(24)),
    sa.Column("station_cost", sa.Text),  # JSON: the station's last costDetails (2.1 local cost, I12)
    sa.Column("mismatch", sa.Text),  # why the station's total differs from ours, if it does
    sa.Column("last_sent_cost", sa.String(24)),  # the last CostUpdated totalCost
    utc_timestamp("last_sent_at"),
    utc_timestamp("updated_at", nullable=False),
    sa.Index("ix_transaction_costs_status", "status"),
)

# the meter readings and charging states a transaction's cost is computed from
tariff_samples = sa.Table(
    "tariff_samples",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("transaction_key", sa.Integer, nullable=False),
    utc_timestamp("at", nullable=False),
    sa.Column("energy_wh", sa.Float),  # None: a change of state without a reading
    sa.Column("charging", sa.Boolean),  # None: no charging state known at this point
    sa.Index("ix_tariff_samples_transaction", "transaction_key", "at"),
)
