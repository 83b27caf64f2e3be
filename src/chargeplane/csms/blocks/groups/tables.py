"""Named groups of stations and their members (a station may be in several groups)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

station_groups = sa.Table(
    "station_groups",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),  # as given; unique casefolded (name_key)
    sa.Column("name_key", sa.String(64), nullable=False),
    sa.Column("description", sa.String(500)),
    # settles conflicts between the groups of one station (desired configuration): the higher wins
    sa.Column("priority", sa.Integer, nullable=False),
    utc_timestamp("created_at", nullable=False),
    sa.UniqueConstraint("name_key"),
)

station_group_members = sa.Table(
    "station_group_members",
    metadata,
    sa.Column("group_id", _ID, sa.ForeignKey("station_groups.id", ondelete="CASCADE"), nullable=False),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),  # as registered
    utc_timestamp("added_at", nullable=False),
    sa.PrimaryKeyConstraint("group_id", "station_key"),
    sa.Index("ix_station_group_members_station", "station_key"),
)
