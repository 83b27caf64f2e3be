"""The security profile upgrade workflow of each station (A05): its latest one, step by step."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

security_upgrades = sa.Table(
    "security_upgrades",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),  # casefolded identity; the latest workflow
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("target_profile", sa.Integer, nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("configuration_slot", sa.Integer),  # chosen by the workflow when not given
    sa.Column("reset_type", sa.String(16), nullable=False),  # Immediate | OnIdle
    sa.Column("status", sa.String(16), nullable=False),  # running | completed | failed
    sa.Column("steps", sa.Text, nullable=False),  # JSON list of {name, status, detail, at}
    sa.Column("connected_profile", sa.Integer),  # the profile the station came back with
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("finished_at"),
)
