"""Firmware: the image repository, updates and their status notifications, download tokens, publications and
rollout campaigns with their stations.

Revision ID: 0018_firmware
Revises: 0017_desired_configuration
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_firmware"
down_revision = "0017_desired_configuration"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "firmware_campaign_stations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("update_id", _ID, nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("turn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_campaign_stations")),
        sa.UniqueConstraint(
            "campaign_id", "station_id", name=op.f("uq_firmware_campaign_stations_campaign_id")
        ),
    )
    op.create_index(
        "ix_firmware_campaign_stations_campaign",
        "firmware_campaign_stations",
        ["campaign_id", "position"],
        unique=False,
    )
    op.create_table(
        "firmware_campaigns",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("firmware_id", _ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("batch_percent", sa.Float(), nullable=True),
        sa.Column("failure_threshold", sa.Float(), nullable=False),
        sa.Column("min_finished", sa.Integer(), nullable=False),
        sa.Column("station_timeout", sa.Float(), nullable=False),
        sa.Column("windows", sa.Text(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("v16_signed", sa.Boolean(), nullable=False),
        sa.Column("batches_started", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_campaigns")),
    )
    op.create_table(
        "firmware_downloads",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("firmware_id", _ID, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("last_download_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_downloads")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_firmware_downloads_token_hash")),
    )
    op.create_table(
        "firmware_images",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_path", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=800), nullable=False),
        sa.Column("signature_algorithm", sa.String(length=32), nullable=False),
        sa.Column("signing_certificate", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_images")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_firmware_images_name")),
    )
    op.create_table(
        "firmware_publications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("firmware_id", _ID, nullable=False),
        sa.Column("checksum", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("publish_status", sa.String(length=32), nullable=True),
        sa.Column("locations", sa.Text(), nullable=True),
        sa.Column("unpublish_status", sa.String(length=32), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_publications")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_firmware_publications_station_key")),
    )
    op.create_table(
        "firmware_status_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("update_id", _ID, nullable=True),
        sa.Column("publication_id", _ID, nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_status_events")),
    )
    op.create_index(
        "ix_firmware_status_events_station", "firmware_status_events", ["station_key", "id"], unique=False
    )
    op.create_table(
        "firmware_updates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_key", sa.String(length=48), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("firmware_id", _ID, nullable=True),
        sa.Column("campaign_id", _ID, nullable=True),
        sa.Column("location", sa.String(length=2000), nullable=False),
        sa.Column("retrieve_at", sa.String(length=40), nullable=False),
        sa.Column("install_at", sa.String(length=40), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("firmware_status", sa.String(length=32), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_updates")),
        sa.UniqueConstraint("station_key", "request_id", name=op.f("uq_firmware_updates_station_key")),
    )
    op.create_index("ix_firmware_updates_station", "firmware_updates", ["station_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_firmware_updates_station", table_name="firmware_updates")
    op.drop_table("firmware_updates")
    op.drop_index("ix_firmware_status_events_station", table_name="firmware_status_events")
    op.drop_table("firmware_status_events")
    op.drop_table("firmware_publications")
    op.drop_table("firmware_images")
    op.drop_table("firmware_downloads")
    op.drop_table("firmware_campaigns")
    op.drop_index("ix_firmware_campaign_stations_campaign", table_name="firmware_campaign_stations")
    op.drop_table("firmware_campaign_stations")
