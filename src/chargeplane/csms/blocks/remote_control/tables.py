"""The command log: one row per CSMS-initiated command sent (or refused) through the CommandService."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere a 64-bit id.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

command_log = sa.Table(
    "command_log",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("version", sa.String(8)),  # the negotiated OCPP version; NULL when the station was offline
    sa.Column("request", sa.Text, nullable=False),  # wire JSON as sent (or as given, when refused)
    sa.Column("response", sa.Text),  # wire JSON of the CALLRESULT
    sa.Column("error_code", sa.String(64)),  # CALLERROR code, or why the CSMS refused / gave up
    sa.Column("error_description", sa.String(500)),
    # ok | callerror | timeout | offline | invalid | connection_lost
    sa.Column("outcome", sa.String(16), nullable=False),
    utc_timestamp("created_at", nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    # What the command is about, to find it again from what follows (a remote start: its remoteStartId, in
    # 1.6 its idTag), and what became of it (a remote start whose transaction failed right away).
    sa.Column("correlation", sa.String(300)),
    sa.Column("follow_up", sa.String(500)),
    # Who asked for it: api:<token name>, console:<username>; NULL for the CSMS's own commands.
    sa.Column("initiator", sa.String(120)),
    sa.Index("ix_command_log_created_at", "created_at"),
    sa.Index("ix_command_log_station_created", "station_id", "created_at"),
    sa.Index("ix_command_log_action_created", "action", "created_at"),
    sa.Index("ix_command_log_station_correlation", "station_id", "correlation"),
)
