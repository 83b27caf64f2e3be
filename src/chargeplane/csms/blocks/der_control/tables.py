"""What the CSMS keeps of DER control (2.1 R04, R05): the controls per station (as we set them, as the station
last reported them), the GetDERControl reports, the alarms and start/stop notices, and the controls an
operator states per site, and the DER parameters of EVs with an inverter of their own (R02/R03)."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# one row per control a station holds as far as we know: set by us (status = its answer) and/or reported
der_controls = sa.Table(
    "der_controls",
    metadata,
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("control_type", sa.String(32), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("setting", sa.Text, nullable=False),  # the control's setting (curve, fixedPF, ...), wire JSON
    sa.Column("site_id", sa.String(64)),  # set for a site's DER settings, NULL: set for this station
    sa.Column("status", sa.String(32)),  # the answer to our SetDERControl, or the failure of the call
    sa.Column("superseded_ids", sa.Text),  # JSON list from the answer
    sa.Column("reported", sa.Boolean, nullable=False),  # named in the station's last report
    sa.Column("is_superseded", sa.Boolean),  # as reported
    utc_timestamp("updated_at", nullable=False),
    sa.PrimaryKeyConstraint("station_key", "control_id"),
)

# every GetDERControl sent, with the answer and the ReportDERControl parts received
der_reports = sa.Table(
    "der_reports",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # JSON in wire form
    sa.Column("status", sa.String(32)),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("controls", sa.Text, nullable=False),  # JSON list of the reported controls, in order
    utc_timestamp("created_at", nullable=False),
    sa.Index("ix_der_reports_station", "station_key", "request_id"),
)

# NotifyDERAlarm and NotifyDERStartStop, as received
der_notices = sa.Table(
    "der_notices",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # alarm | startStop
    sa.Column("control_type", sa.String(32)),  # alarm
    sa.Column("grid_event_fault", sa.String(32)),  # alarm
    sa.Column("alarm_ended", sa.Boolean),  # alarm
    sa.Column("control_id", sa.String(36)),  # startStop
    sa.Column("started", sa.Boolean),  # startStop
    sa.Column("superseded_ids", sa.Text),  # startStop, JSON list
    sa.Column("extra_info", sa.String(200)),
    utc_timestamp("timestamp", nullable=False),  # the station's
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_der_notices_station", "station_key", "kind", "id"),
)

# the DER controls an operator states for a site: applied to every 2.1 station of the site
site_der_controls = sa.Table(
    "site_der_controls",
    metadata,
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("control_id", sa.String(36), nullable=False),
    sa.Column("control_type", sa.String(32), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("setting", sa.Text, nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.PrimaryKeyConstraint("site_id", "control_id"),
)

# R02.FR.01 / R03.FR.01: an AC_BPT_DER EV's derChargingParameters from its NotifyEVChargingNeeds, the latest
# per transaction (its inverter's nameplate and the DER controls it supports)
der_ev_parameters = sa.Table(
    "der_ev_parameters",
    metadata,
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("transaction_id", sa.String(36), nullable=False),
    sa.Column("evse_id", sa.Integer, nullable=False),
    sa.Column("energy_transfer", sa.String(32)),  # requestedEnergyTransfer of those needs
    sa.Column("parameters", sa.Text, nullable=False),  # derChargingParameters, wire JSON
    utc_timestamp("received_at", nullable=False),
    sa.PrimaryKeyConstraint("station_key", "transaction_id"),
)
