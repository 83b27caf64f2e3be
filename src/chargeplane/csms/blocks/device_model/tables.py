"""What the CSMS knows of each station's device model (B05-B08): the report requests, the variables (one row
per component, variable and attribute type) and the history of their values."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

device_model_reports = sa.Table(
    "device_model_reports",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("request_id", sa.Integer, nullable=False),  # the requestId of GetBaseReport / GetReport
    sa.Column("kind", sa.String(16), nullable=False),  # base | custom | unsolicited
    sa.Column("report_base", sa.String(32)),  # ConfigurationInventory | FullInventory | SummaryInventory
    sa.Column("criteria", sa.Text),  # GetReport's componentCriteria / componentVariable, as wire JSON
    # requested -> receiving -> complete; refused (the station's status), failed (no answer, offline)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),  # Accepted | Rejected | NotSupported | EmptyResultSet
    sa.Column("parts", sa.Integer, nullable=False),  # NotifyReport messages received
    sa.Column(
        "item_count", sa.Integer, nullable=False
    ),  # attributes received (reportData x variableAttribute)
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("completed_at"),
    sa.UniqueConstraint("station_key", "request_id"),
)

device_model_variables = sa.Table(
    "device_model_variables",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),  # canonical: see repository.variable_key
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50)),
    sa.Column("attribute_type", sa.String(8), nullable=False),  # Actual | Target | MinSet | MaxSet
    sa.Column("value", sa.String(2500)),  # None: the station did not report one (e.g. WriteOnly)
    sa.Column("mutability", sa.String(16)),  # ReadOnly | WriteOnly | ReadWrite
    sa.Column("persistent", sa.Boolean),
    sa.Column("constant", sa.Boolean),
    sa.Column("data_type", sa.String(16)),
    sa.Column("unit", sa.String(16)),
    sa.Column("min_limit", sa.Float),
    sa.Column("max_limit", sa.Float),
    sa.Column("values_list", sa.String(1000)),
    sa.Column("supports_monitoring", sa.Boolean),
    sa.Column("source", sa.String(8), nullable=False),  # report | get | set: what last set the value
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "key"),
    sa.Index("ix_device_model_variables_name", "station_key", "component", "variable"),
)

device_model_changes = sa.Table(
    "device_model_changes",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("old_value", sa.String(2500)),  # None: first seen
    sa.Column("new_value", sa.String(2500)),
    sa.Column("source", sa.String(8), nullable=False),
    utc_timestamp("changed_at", nullable=False),
    sa.Index("ix_device_model_changes_station", "station_key", "id"),
)
