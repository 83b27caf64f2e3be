"""What the CSMS keeps of diagnostics (N01, N09, N10): log requests with the station's upload notifications and
the uploaded file, and customer-information requests with the parts of the station's report."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

diagnostics_logs = sa.Table(
    "diagnostics_logs",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),  # the CSMS's log id (GET /logs/{id}/file)
    sa.Column("station_key", sa.String(48), nullable=False),  # casefolded identity
    sa.Column(
        "request_id", sa.Integer, nullable=False
    ),  # GetLog's requestId (GetDiagnostics: the CSMS's own)
    sa.Column("method", sa.String(16), nullable=False),  # GetLog | GetDiagnostics
    sa.Column("log_type", sa.String(16), nullable=False),  # DiagnosticsLog | SecurityLog
    sa.Column("oldest_timestamp", sa.String(40)),  # as sent (wire form)
    sa.Column("latest_timestamp", sa.String(40)),
    # requested -> accepted -> uploading -> uploaded; rejected, failed (no answer), upload_failed, canceled
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),  # the answer: Accepted | Rejected | AcceptedCanceled
    sa.Column("upload_status", sa.String(32)),  # the last Log/DiagnosticsStatusNotification's status
    sa.Column("filename", sa.String(255)),  # the file name the station announced in its answer
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the upload token
    utc_timestamp("token_expires_at", nullable=False),
    utc_timestamp("token_used_at"),  # set while an upload runs and once it succeeded
    sa.Column("file_path", sa.String(500)),  # relative to the uploads directory
    sa.Column("file_name", sa.String(255)),  # the name the upload gave (multipart), else ``filename``
    sa.Column("file_size", sa.BigInteger),
    sa.Column("file_sha256", sa.String(64)),
    utc_timestamp("uploaded_at"),
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "request_id"),
    sa.Index("ix_diagnostics_logs_station", "station_key", "id"),
)

diagnostics_log_events = sa.Table(
    "diagnostics_log_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("log_id", _ID),  # None: no request of this CSMS matches (e.g. a triggered Idle)
    sa.Column("request_id", sa.Integer),  # as the station sent it
    sa.Column(
        "message", sa.String(40), nullable=False
    ),  # LogStatusNotification | DiagnosticsStatusNotification
    sa.Column("status", sa.String(32), nullable=False),
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_diagnostics_log_events_log", "log_id", "id"),
)

customer_information = sa.Table(
    "customer_information",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # requested | unsolicited
    sa.Column("report", sa.Boolean, nullable=False),
    sa.Column("clear", sa.Boolean, nullable=False),
    sa.Column("id_token", sa.String(255)),
    sa.Column("id_token_type", sa.String(20)),
    sa.Column("customer_identifier", sa.String(64)),
    sa.Column("customer_certificate", sa.Text),  # CertificateHashData as wire JSON
    # requested -> receiving -> complete; refused (the station's status), failed (no answer, offline)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),  # Accepted | Rejected | Invalid
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("local_list", sa.String(255)),  # N10.FR.02: what came of removing the id token from the list
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("completed_at"),
    sa.UniqueConstraint("station_key", "request_id"),
)

customer_information_parts = sa.Table(
    "customer_information_parts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("seq_no", sa.Integer, nullable=False),
    sa.Column("tbc", sa.Boolean, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("generated_at", sa.String(40), nullable=False),  # as sent
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_customer_information_parts_request", "station_key", "request_id", "seq_no"),
)
