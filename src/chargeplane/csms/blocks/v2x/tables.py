"""V2X authorization (which energy transfers a token or a station may use) and each V2X transaction's view."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

# Q01.FR.01: the allowedEnergyTransfer of the Authorize answer, per id token or per station
v2x_allowed = sa.Table(
    "v2x_allowed",
    metadata,
    sa.Column("scope", sa.String(8), primary_key=True),  # token | station
    sa.Column("subject", sa.String(255), primary_key=True),  # the id token or the casefolded station id
    sa.Column(
        "transfers", sa.String(255), nullable=False
    ),  # EnergyTransferModeEnumType values, comma-separated
    utc_timestamp("updated_at", nullable=False),
)

# one row per transaction with V2X facts: what was allowed, what the EV asked for and can do, energy exported
v2x_sessions = sa.Table(
    "v2x_sessions",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("transaction_id", sa.String(36), primary_key=True),
    sa.Column("evse_id", sa.Integer),
    sa.Column("allowed", sa.String(255)),  # comma-separated; None: nothing said (Q01.FR.08)
    sa.Column("requested", sa.String(32)),  # requestedEnergyTransfer of the EV's latest needs
    sa.Column("available", sa.String(255)),  # availableEnergyTransfer, comma-separated
    sa.Column("parameters", sa.JSON),  # v2xChargingParameters in wire form
    sa.Column("export_start_wh", sa.Float),  # the first Energy.Active.Export.Register of the transaction
    sa.Column("export_last_wh", sa.Float),  # the latest
    sa.Column("power_w", sa.Float),  # the latest Power.Active.Import (negative: discharging)
    sa.Column("evse_sleep", sa.Boolean),  # Q10.FR.04: the latest event said evseSleep (None: never)
    utc_timestamp("updated_at", nullable=False),
)
