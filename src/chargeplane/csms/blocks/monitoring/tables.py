"""What the CSMS knows of each station's monitoring (N02-N08): the monitors a station holds (from its answers to
SetVariableMonitoring and from its NotifyMonitoringReport parts), the monitoring report requests, the station's
monitoring level and base, every NotifyEvent it sent, and the operator's alert rules with the alerts they
opened."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

monitoring_monitors = sa.Table(
    "monitoring_monitors",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column("monitor_id", sa.Integer, nullable=False),  # the station's VariableMonitoring id
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50)),
    sa.Column("type", sa.String(24), nullable=False),  # MonitorEnumType
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("transaction", sa.Boolean, nullable=False),
    # HardWiredMonitor | PreconfiguredMonitor | CustomMonitor (2.1 reports it; 2.0.1: CustomMonitor when set
    # by this CSMS, else unknown)
    sa.Column("kind", sa.String(24)),
    sa.Column("status", sa.String(24), nullable=False),  # the station's SetMonitoringResult, or Reported
    sa.Column("source", sa.String(8), nullable=False),  # set | report: what last wrote the row
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "monitor_id"),
    sa.Index("ix_monitoring_monitors_name", "station_key", "component", "variable"),
)

monitoring_reports = sa.Table(
    "monitoring_reports",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("criteria", sa.Text),  # monitoringCriteria / componentVariable as wire JSON; None: everything
    # requested -> receiving -> complete; refused (the station's status), failed (no answer); unsolicited parts
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),  # Accepted | Rejected | NotSupported | EmptyResultSet
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("monitor_count", sa.Integer, nullable=False),
    sa.Column("solicited", sa.Boolean, nullable=False),
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("completed_at"),
    sa.UniqueConstraint("station_key", "request_id"),
)

monitoring_stations = sa.Table(
    "monitoring_stations",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("level", sa.Integer),  # the last SetMonitoringLevel the station accepted
    sa.Column("base", sa.String(16)),  # the last SetMonitoringBase the station accepted
    utc_timestamp("updated_at", nullable=False),
)

monitoring_events = sa.Table(
    "monitoring_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    sa.Column("event_id", sa.Integer, nullable=False),
    utc_timestamp("timestamp", nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # Alerting | Delta | Periodic
    sa.Column("cause", sa.Integer),
    sa.Column("actual_value", sa.String(2500), nullable=False),
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("component_instance", sa.String(50)),
    sa.Column("evse_id", sa.Integer),
    sa.Column("connector_id", sa.Integer),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("variable_instance", sa.String(50)),
    sa.Column("monitor_id", sa.Integer),  # variableMonitoringId
    sa.Column("notification_type", sa.String(24)),  # eventNotificationType
    # 2.1's eventData.severity; else the severity of the stored monitor that fired, if known
    sa.Column("severity", sa.Integer),
    sa.Column("cleared", sa.Boolean, nullable=False),
    sa.Column("tech_code", sa.String(50)),
    sa.Column("tech_info", sa.String(500)),
    sa.Column("transaction_id", sa.String(36)),
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_monitoring_events_station", "station_key", "id"),
)

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("station_id", sa.String(48)),  # None: every station; else this one (casefolded match)
    sa.Column("max_severity", sa.Integer, nullable=False),  # events with severity <= this (0 most severe)
    sa.Column("component", sa.String(50)),  # fnmatch-style patterns, case-sensitive; None: any
    sa.Column("variable", sa.String(50)),
    sa.Column("enabled", sa.Boolean, nullable=False),
    utc_timestamp("created_at", nullable=False),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("rule_id", _ID, nullable=False),  # no foreign key: a deleted rule leaves its alerts
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),
    # what the alert is about: one component/variable (with its instances and EVSE) of one station
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("component", sa.String(50), nullable=False),
    sa.Column("variable", sa.String(50), nullable=False),
    sa.Column("evse_id", sa.Integer),
    sa.Column("severity", sa.Integer),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("actual_value", sa.String(2500), nullable=False),
    sa.Column("monitor_id", sa.Integer),
    sa.Column("tech_code", sa.String(50)),
    sa.Column("event_id", sa.Integer, nullable=False),  # the event that raised it
    sa.Column("state", sa.String(8), nullable=False),  # open | closed
    sa.Column("closed_by", sa.String(16)),  # cleared (the station's cleared event) | acknowledged (operator)
    sa.Column("note", sa.String(500)),  # the operator's, with the acknowledgement
    sa.Column("raised_event", _ID, nullable=False),  # monitoring_events.id
    utc_timestamp("raised_at", nullable=False),
    utc_timestamp("closed_at"),
    sa.Index("ix_alerts_open", "station_key", "subject", "state"),
    sa.Index("ix_alerts_state", "state", "id"),
)

# 2.1 periodic event streams (N11-N15): opened and closed by the station, adjusted from the API
monitoring_event_streams = sa.Table(
    "monitoring_event_streams",
    metadata,
    sa.Column("station_key", sa.String(48), primary_key=True),
    sa.Column("stream_id", sa.Integer, primary_key=True),  # the station's id of the stream
    sa.Column("monitor_id", sa.Integer, nullable=False),  # variableMonitoringId (N11.FR.04)
    sa.Column("interval", sa.Integer),  # params.interval (s), None: not given
    sa.Column("values", sa.Integer),  # params.values, None: not given
    sa.Column("status", sa.String(8), nullable=False),  # Open | Closed
    sa.Column("pending", sa.Integer, nullable=False),  # the last NotifyPeriodicEventStream's pending
    sa.Column("received", sa.Integer, nullable=False),  # values received on the stream
    utc_timestamp("updated_at", nullable=False),
)
