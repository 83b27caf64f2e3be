"""What the CSMS keeps of site energy management: each site's tree of circuits (grid connection, feeders,
the EVSEs of stations at the leaves), its dynamic grid limit, its price curve and forecasts, and the EV needs set per transaction (with a V2X EV's battery), the grid service asked of the site."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("tree", sa.Text, nullable=False),  # the root circuit as JSON (see api.CircuitIn)
    sa.Column("grid_limit", sa.Text),  # JSON [l1, l2, l3] amperes: the grid operator's limit, or NULL
    sa.Column("tariff", sa.Text),  # JSON price curve and forecasts (service.Tariff), or NULL: allocator only
    sa.Column("grid_service", sa.Text),  # JSON export window (v2x.GridServiceWindow), or NULL: none
    utc_timestamp("updated_at", nullable=False),
)

site_ev_needs = sa.Table(
    "site_ev_needs",
    metadata,
    sa.Column("transaction_id", sa.String(36), primary_key=True),
    sa.Column("maximum", sa.Float),  # amperes per phase the EV takes, NULL: the EVSE's limit
    sa.Column("minimum", sa.Float, nullable=False),  # minChargingRate, amperes per phase
    sa.Column("priority", sa.Integer, nullable=False),
    utc_timestamp("departure"),
    sa.Column(
        "energy", sa.Float
    ),  # kWh the EV needs in this transaction, NULL: unknown (as much as it takes)
    sa.Column("v2x", sa.Text),  # JSON V2X battery and discharge (v2x.V2xNeeds), NULL: charge only
    utc_timestamp("updated_at", nullable=False),
)
