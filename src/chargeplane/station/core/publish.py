"""Publish / unpublish firmware (L03, L04, 2.x): the station acting as a Local Controller downloads a firmware
file, checks its MD5 checksum and publishes it for the charging stations behind it.

The core decides, the runtime transfers and serves: a :class:`~.model.DownloadFirmware` action (purpose
``publish``) reported with :meth:`StationCore.download_finished`, then a :class:`~.model.PublishFile` action;
the runtime serves the file on its loopback HTTP server and reports the URIs (or the failure) with
:meth:`StationCore.publish_finished`. Every step is a PublishFirmwareStatusNotification with the request's
requestId (L03.FR.01): Downloading (at every attempt), Downloaded, ChecksumVerified or InvalidChecksum
(L03.FR.02 / L03.FR.07: MD5 over the whole file), then Published with the URIs (L03.FR.04 / L03.FR.09) or
PublishFailed (L03.FR.08); DownloadFailed once every attempt failed (L03.FR.06). One download at a time: a
new PublishFirmware while one downloads is Rejected. UnpublishFirmware by checksum (L04): Unpublished,
NoFirmware, or DownloadOngoing while that file is still being downloaded (L04.FR.04).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.model import DownloadFirmware, PublishFile, UnpublishFile

SCHEMES = frozenset({"http", "https"})
PURPOSE = "publish"


@dataclass(slots=True)
class Publication:
    request_id: int
    location: str
    checksum: str  # MD5, lower-case hex
    retries_left: int
    retry_interval: int
    download_id: int = 0
    downloading: bool = False
    next_at: datetime | None = None  # the next download attempt
    publishing: bool = False  # the runtime is publishing the file
    urls: list[str] = field(default_factory=list)


class FirmwarePublisher(Controller):
    __slots__ = ("_next_id", "current", "last_status", "published")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.current: Publication | None = None  # downloading, verifying or publishing
        self.published: dict[str, Publication] = {}  # by checksum
        self.last_status: tuple[str, int | None, list[str]] | None = None  # for the trigger (L03.FR.10/11)
        self._next_id = 1

    def publish(
        self, request_id: int, location: str, checksum: str, retries: int, retry_interval: int, now: datetime
    ) -> str:
        """L03.FR.05: Accepted (the download starts) or Rejected."""
        checksum = checksum.lower()
        if (
            urlsplit(location).scheme.lower() not in SCHEMES
            or len(checksum) != 32
            or self.current is not None
        ):
            return "Rejected"
        self.current = Publication(request_id, location, checksum, max(0, retries), max(0, retry_interval))
        self._attempt(now)
        return "Accepted"

    def unpublish(self, checksum: str, now: datetime) -> str:
        """L04: Unpublished, NoFirmware, or DownloadOngoing (L04.FR.04)."""
        checksum = checksum.lower()
        current = self.current
        if current is not None and current.checksum == checksum:
            return "DownloadOngoing"
        publication = self.published.pop(checksum, None)
        if publication is None:
            return "NoFirmware"  # L04.FR.03
        self.ctx.act(UnpublishFile(checksum))  # L04.FR.01
        return "Unpublished"

    # ------------------------------------------------------------------ the runtime's reports
    def download_finished(self, download_id: int, image: bytes | None, now: datetime) -> None:
        current = self.current
        if current is None or not current.downloading or current.download_id != download_id:
            return
        current.downloading = False
        if image is None:
            if current.retries_left > 0:
                current.retries_left -= 1
                current.next_at = now + timedelta(seconds=current.retry_interval)
            else:
                self.current = None
                self._notify(current, "DownloadFailed", now)  # L03.FR.06
            return
        self._notify(current, "Downloaded", now)
        if hashlib.md5(image, usedforsecurity=False).hexdigest() != current.checksum:
            self.current = None
            self._notify(current, "InvalidChecksum", now)  # L03.FR.07
            return
        self._notify(current, "ChecksumVerified", now)
        current.publishing = True
        self.ctx.act(PublishFile(current.checksum, f"{current.checksum}.bin", image))

    def publish_finished(self, checksum: str, urls: list[str] | None, now: datetime) -> None:
        current = self.current
        if current is None or not current.publishing or current.checksum != checksum:
            return
        self.current = None
        if not urls:
            self._notify(current, "PublishFailed", now)  # L03.FR.08
            return
        current.publishing = False
        current.urls = list(urls)
        self.published[checksum] = current
        self._notify(current, "Published", now)  # L03.FR.04 / L03.FR.09

    def send_status(self, now: datetime, *, force: bool = False) -> None:
        """The triggered status: Idle after Published or before anything (L03.FR.10), else the last one
        (L03.FR.11)."""
        last = self.last_status
        if last is None or last[0] == "Published":
            self._send("Idle", None, [], now, force=force)
        else:
            self._send(*last, now, force=force)

    # ------------------------------------------------------------------ timer
    def next_deadline(self) -> datetime | None:
        current = self.current
        return current.next_at if current is not None else None

    def handle_timer(self, now: datetime) -> None:
        current = self.current
        if current is not None and current.next_at is not None and current.next_at <= now:
            current.next_at = None
            self._attempt(now)

    def _attempt(self, now: datetime) -> None:
        current = self.current
        assert current is not None
        current.download_id, self._next_id = self._next_id, self._next_id + 1
        current.downloading = True
        self._notify(current, "Downloading", now)
        self.ctx.act(DownloadFirmware(current.download_id, current.location, PURPOSE))

    # ------------------------------------------------------------------ messages
    def _notify(self, publication: Publication, status: str, now: datetime) -> None:
        urls = publication.urls if status == "Published" else []
        self.last_status = (status, publication.request_id, urls)
        self._send(status, publication.request_id, urls, now)

    def _send(
        self, status: str, request_id: int | None, urls: list[str], now: datetime, *, force: bool = False
    ) -> None:
        ctx = self.ctx
        if ctx.version is Version.V16:
            return

        def build(ns: v2x.Dialect) -> v2x.PublishFirmwareStatusNotificationRequest:
            kind = ns.PublishFirmwareStatusEnumType(status)
            if request_id is None:
                return ns.PublishFirmwareStatusNotificationRequest(status=kind)
            if urls:
                return ns.PublishFirmwareStatusNotificationRequest(
                    status=kind, request_id=request_id, location=urls
                )
            return ns.PublishFirmwareStatusNotificationRequest(status=kind, request_id=request_id)

        ctx.send(v2x.with_dialect(ctx.version, build), now, force=force)


def publish_firmware(
    ctl: FirmwarePublisher, request: v2x.PublishFirmwareRequestT, now: datetime
) -> v2x.PublishFirmwareResponse:
    """L03."""
    ns = v2x.dialect_of(request)
    status = ctl.publish(
        request.request_id,
        request.location,
        request.checksum,
        present(request.retries) or 0,
        present(request.retry_interval) or 0,
        now,
    )
    return ns.PublishFirmwareResponse(status=ns.GenericStatusEnumType(status))


def unpublish_firmware(
    ctl: FirmwarePublisher, request: v2x.UnpublishFirmwareRequestT, now: datetime
) -> v2x.UnpublishFirmwareResponse:
    """L04."""
    ns = v2x.dialect_of(request)
    status = ctl.unpublish(request.checksum, now)
    return ns.UnpublishFirmwareResponse(status=ns.UnpublishFirmwareStatusEnumType(status))


FirmwarePublisher.on_2x = (
    route("PublishFirmware", publish_firmware),
    route("UnpublishFirmware", unpublish_firmware),
)
