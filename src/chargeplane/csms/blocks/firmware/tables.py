"""What the CSMS keeps of firmware management (L01-L04): the image repository, the updates sent to stations
with every status notification, the per-request download tokens, publications (L03/L04) and rollout
campaigns with the per-station progress."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.storage.metadata import metadata, utc_timestamp

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

firmware_images = sa.Table(
    "firmware_images",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.String(50), nullable=False),  # as stations report it (BootNotification)
    sa.Column("file_name", sa.String(255)),  # the name the upload gave
    sa.Column("file_path", sa.String(255), nullable=False),  # relative to the images directory
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),  # PublishFirmware's checksum
    sa.Column("signature", sa.String(800), nullable=False),  # base64
    sa.Column("signature_algorithm", sa.String(32), nullable=False),
    sa.Column("signing_certificate", sa.Text, nullable=False),  # PEM
    utc_timestamp("uploaded_at", nullable=False),
    sa.UniqueConstraint("name", "version"),
)

firmware_updates = sa.Table(
    "firmware_updates",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),  # on the wire (1.6 UpdateFirmware: the CSMS's own)
    sa.Column("method", sa.String(24), nullable=False),  # UpdateFirmware | SignedUpdateFirmware
    sa.Column("firmware_id", _ID),  # None: an image not from the repository
    sa.Column("campaign_id", _ID),
    sa.Column("location", sa.String(2000), nullable=False),
    sa.Column("retrieve_at", sa.String(40), nullable=False),  # wire form
    sa.Column("install_at", sa.String(40)),
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval", sa.Integer),
    # requested -> accepted -> installed; rejected, failed (a failure status), no_answer, canceled
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),  # the answer: Accepted | AcceptedCanceled | Rejected | ...
    sa.Column("firmware_status", sa.String(32)),  # the last FirmwareStatusNotification's status
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "request_id"),
    sa.Index("ix_firmware_updates_station", "station_key", "id"),
)

firmware_status_events = sa.Table(
    "firmware_status_events",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("update_id", _ID),  # the update it concerns (None: e.g. Idle, an update of another CSMS)
    sa.Column("publication_id", _ID),  # PublishFirmwareStatusNotification
    sa.Column("request_id", sa.Integer),  # as the station sent it
    sa.Column("message", sa.String(40), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text),  # statusInfo, published locations (JSON)
    utc_timestamp("received_at", nullable=False),
    sa.Index("ix_firmware_status_events_station", "station_key", "id"),
)

firmware_downloads = sa.Table(
    "firmware_downloads",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the URL's token
    sa.Column("firmware_id", _ID, nullable=False),
    sa.Column("station_key", sa.String(48), nullable=False),
    utc_timestamp("expires_at", nullable=False),
    sa.Column("downloads", sa.Integer, nullable=False),
    utc_timestamp("last_download_at"),
)

firmware_publications = sa.Table(
    "firmware_publications",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("station_key", sa.String(48), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("firmware_id", _ID, nullable=False),
    sa.Column("checksum", sa.String(32), nullable=False),  # MD5 of the image
    # requested -> accepted -> published; rejected, failed, unpublished
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("station_status", sa.String(32)),
    sa.Column("publish_status", sa.String(32)),  # the last PublishFirmwareStatusNotification's status
    sa.Column("locations", sa.Text),  # JSON list: where the local controller publishes it
    sa.Column("unpublish_status", sa.String(32)),
    utc_timestamp("requested_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    sa.UniqueConstraint("station_key", "request_id"),
)

firmware_campaigns = sa.Table(
    "firmware_campaigns",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("firmware_id", _ID, nullable=False),
    # running -> completed; paused (by the operator), aborted (the operator or the failure threshold)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("batch_size", sa.Integer),  # stations per batch, or
    sa.Column("batch_percent", sa.Float),  # a share of the campaign's stations per batch
    sa.Column("failure_threshold", sa.Float, nullable=False),  # percent of finished stations
    sa.Column("min_finished", sa.Integer, nullable=False),  # before the threshold applies
    sa.Column("station_timeout", sa.Float, nullable=False),  # seconds from a station's turn to its outcome
    sa.Column("windows", sa.Text, nullable=False),  # JSON [[start minute, end minute], ...] UTC; [] any time
    sa.Column("retries", sa.Integer),
    sa.Column("retry_interval", sa.Integer),
    sa.Column("v16_signed", sa.Boolean, nullable=False),  # 1.6 stations get SignedUpdateFirmware
    sa.Column("batches_started", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(255)),  # why it was aborted
    utc_timestamp("created_at", nullable=False),
    utc_timestamp("updated_at", nullable=False),
    utc_timestamp("finished_at"),
)

firmware_campaign_stations = sa.Table(
    "firmware_campaign_stations",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", _ID, nullable=False),
    sa.Column("station_id", sa.String(48), nullable=False),  # as the station table spells it
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("batch", sa.Integer),  # the batch it went in (None: its turn has not come)
    # pending -> waiting (its turn came; offline or not yet sent) -> updating -> installed | failed; skipped
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("update_id", _ID),
    sa.Column("detail", sa.String(255)),  # why it failed
    utc_timestamp("turn_at"),
    utc_timestamp("finished_at"),
    sa.UniqueConstraint("campaign_id", "station_id"),
    sa.Index("ix_firmware_campaign_stations_campaign", "campaign_id", "position"),
)
