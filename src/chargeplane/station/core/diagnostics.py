"""Log retrieval (N01; 1.6 GetDiagnostics, and GetLog of the 1.6 security extension): the station writes the
log the CSMS asks for and uploads it to the location given.

The core decides, the runtime transfers: the controller writes the file and puts out an :class:`UploadLog`
action; the runtime uploads it (HTTP(S) POST, multipart form data with the file name, N01.FR.19) and reports
the outcome with :meth:`StationCore.upload_finished`. A failed attempt is retried ``retries`` times,
``retryInterval`` seconds apart, with an Uploading status at every attempt and the failure reported once all
attempts failed (N01.FR.10's recommendation). A new request while one is in progress cancels it
(N01.FR.12, N01.FR.20: AcceptedCanceled for the old one).

What the logs hold: the diagnostics log is a snapshot of the station (identity, device model values, EVSEs,
queued messages); the security log lists the security events this boot reported, within the requested time
window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from msgspec import UnsetType

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.model import CancelUpload, UploadLog
from chargeplane.station.core.offline_queue import OfflineQueue

DIAGNOSTICS_LOG, SECURITY_LOG = "DiagnosticsLog", "SecurityLog"
UPLOADING, UPLOADED, UPLOAD_FAILURE, CANCELED, IDLE = (
    "Uploading",
    "Uploaded",
    "UploadFailure",
    "AcceptedCanceled",
    "Idle",
)
SCHEMES = frozenset({"http", "https"})  # N01.FR.14: HTTP(S); FTP is refused


@dataclass(slots=True)
class Upload:
    upload_id: int
    request_id: int | None  # None for a 1.6 GetDiagnostics (its notifications carry no id)
    flavour: str  # "2x", "log16" (security extension), "diag16" (GetDiagnostics)
    location: str
    filename: str
    content: bytes
    retries_left: int
    retry_interval: int
    retry_at: datetime | None = None  # waiting for the next attempt
    in_flight: bool = False


@dataclass(frozen=True, slots=True)
class SecurityRecord:
    type: str
    timestamp: datetime
    tech_info: str | None


class Diagnostics(Controller):
    __slots__ = ("_next_id", "security_log", "upload")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.upload: Upload | None = None
        self._next_id = 1
        self.security_log: list[SecurityRecord] = []  # what the station reported this boot (bounded)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        flavour: str,
        request_id: int | None,
        log_type: str,
        location: str,
        window: tuple[datetime | None, datetime | None],
        retries: int,
        retry_interval: int,
        now: datetime,
    ) -> tuple[str, str | None]:
        """Start an upload; (Accepted | AcceptedCanceled | Rejected, file name)."""
        if urlsplit(location).scheme.lower() not in SCHEMES:
            return "Rejected", None
        canceled = self.upload
        if canceled is not None:
            self._cancel(canceled, now)
        upload_id, self._next_id = self._next_id, self._next_id + 1
        stamp = self.ctx.station_time(now).strftime("%Y%m%dT%H%M%SZ")
        filename = f"{self.ctx.layout.serial_number}-{log_type}-{stamp}.log"
        content = self._security_log(window) if log_type == SECURITY_LOG else self._diagnostics_log(now)
        self.upload = Upload(
            upload_id,
            request_id,
            flavour,
            location,
            filename,
            content,
            max(0, retries),
            max(0, retry_interval),
        )
        self._attempt(now)
        return ("AcceptedCanceled" if canceled is not None else "Accepted"), filename

    def upload_finished(self, upload_id: int, ok: bool, now: datetime) -> None:
        """The runtime's report of one attempt."""
        upload = self.upload
        if upload is None or upload.upload_id != upload_id:
            return  # a canceled upload's late outcome
        upload.in_flight = False
        if ok:
            self.upload = None
            self._notify(upload, UPLOADED, now)
        elif upload.retries_left > 0:
            upload.retries_left -= 1
            upload.retry_at = now + timedelta(seconds=upload.retry_interval)
        else:
            self.upload = None
            self._notify(upload, UPLOAD_FAILURE, now)

    def send_status(self, now: datetime, *, force: bool = False, legacy: bool = False) -> None:
        """The triggered status (F06): Uploading with the request's id while an upload runs, else Idle without
        one (N01.FR.13); ``legacy``: 1.6 DiagnosticsStatusNotification."""
        upload = self.upload
        ctx = self.ctx
        if ctx.version is Version.V16:
            flavour = "diag16" if legacy else "log16"
            running = upload if upload is not None and (upload.flavour == "diag16") == legacy else None
            ctx.send(self._request16(flavour, UPLOADING if running else IDLE, running), now, force=force)
            return
        status = UPLOADING if upload is not None else IDLE
        request_id = upload.request_id if upload is not None else None

        def build(ns: v2x.Dialect) -> v2x.LogStatusNotificationRequest:
            kind = ns.UploadLogStatusEnumType(status)
            if request_id is None:
                return ns.LogStatusNotificationRequest(status=kind)
            return ns.LogStatusNotificationRequest(status=kind, request_id=request_id)

        ctx.send(v2x.with_dialect(ctx.version, build), now, force=force)

    def record_security_event(self, event_type: str, timestamp: datetime, tech_info: str | None) -> None:
        self.security_log.append(SecurityRecord(event_type, timestamp, tech_info))
        del self.security_log[:-1000]

    # ------------------------------------------------------------------ timer
    def next_deadline(self) -> datetime | None:
        upload = self.upload
        return upload.retry_at if upload is not None else None

    def handle_timer(self, now: datetime) -> None:
        upload = self.upload
        if upload is not None and upload.retry_at is not None and upload.retry_at <= now:
            upload.retry_at = None
            self._attempt(now)

    # ------------------------------------------------------------------ internals
    def _attempt(self, now: datetime) -> None:
        upload = self.upload
        assert upload is not None
        upload.in_flight = True
        self._notify(upload, UPLOADING, now)  # N01.FR.08, and at every retry (allowed by N01.FR.10)
        self.ctx.act(UploadLog(upload.upload_id, upload.location, upload.filename, upload.content))

    def _cancel(self, upload: Upload, now: datetime) -> None:
        self.upload = None
        if upload.in_flight:
            self.ctx.act(CancelUpload(upload.upload_id))
        if upload.flavour != "diag16":  # GetDiagnostics has no such status
            self._notify(upload, CANCELED, now)

    def _notify(self, upload: Upload, status: str, now: datetime) -> None:
        ctx = self.ctx
        if upload.flavour != "2x":
            ctx.send(self._request16(upload.flavour, status, upload), now)
            return
        assert upload.request_id is not None  # a 2.x GetLog always has one
        request_id: int = upload.request_id

        def build(ns: v2x.Dialect) -> v2x.LogStatusNotificationRequest:
            return ns.LogStatusNotificationRequest(
                status=ns.UploadLogStatusEnumType(status), request_id=request_id
            )

        ctx.send(v2x.with_dialect(ctx.version, build), now)

    @staticmethod
    def _request16(
        flavour: str, status: str, upload: Upload | None
    ) -> v16.messages.DiagnosticsStatusNotificationRequest | v16.messages.LogStatusNotificationRequest:
        if flavour == "diag16":
            legacy = {UPLOAD_FAILURE: "UploadFailed"}.get(status, status)
            return v16.messages.DiagnosticsStatusNotificationRequest(
                status=v16.enums.DiagnosticsStatus(legacy)
            )
        kind = v16.enums.UploadLogStatusEnumType(status)
        if upload is None or upload.request_id is None:
            return v16.messages.LogStatusNotificationRequest(status=kind)
        return v16.messages.LogStatusNotificationRequest(status=kind, request_id=upload.request_id)

    def _diagnostics_log(self, now: datetime) -> bytes:
        ctx = self.ctx
        lines: list[dict[str, object]] = [
            {
                "station": ctx.layout.serial_number,
                "vendor": ctx.layout.vendor,
                "model": ctx.layout.model,
                "ocppVersion": ctx.version.value,
                "generatedAt": ctx.ts(now),
                "online": ctx.online,
                "registration": ctx.registration.value,
                "queuedTransactionMessages": len(ctx.get(OfflineQueue).items),
            }
        ]
        for evse in ctx.evses.values():
            lines.append(
                {
                    "evse": evse.id,
                    "operative": evse.operative,
                    "faulted": evse.faulted,
                    "connectorStatus": {str(k): v for k, v in evse.last_status.items()},
                    "transaction": evse.tx.id if evse.tx is not None else None,
                }
            )
        for definition in ctx.model:
            if definition.mutability == "WriteOnly":
                continue  # secrets (passwords) stay out of a log
            result = ctx.model.get(definition.key, None)
            key = definition.key
            lines.append(
                {
                    "component": key.component,
                    "variable": key.variable,
                    "evse": key.evse,
                    "value": result.value,
                }
            )
        return "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode()

    def _security_log(self, window: tuple[datetime | None, datetime | None]) -> bytes:
        oldest, latest = window
        lines = [
            {"type": r.type, "timestamp": to_wire(r.timestamp), "techInfo": r.tech_info}
            for r in self.security_log
            if (oldest is None or r.timestamp >= oldest) and (latest is None or r.timestamp <= latest)
        ]
        return "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode()


def _window(oldest: str | None, latest: str | None) -> tuple[datetime | None, datetime | None]:
    return (
        from_wire(oldest) if oldest is not None else None,
        from_wire(latest) if latest is not None else None,
    )


class _LogParameters(Protocol):
    @property
    def remote_location(self) -> str: ...
    @property
    def oldest_timestamp(self) -> str | UnsetType: ...
    @property
    def latest_timestamp(self) -> str | UnsetType: ...


class _GetLog(Protocol):
    """What GetLog of 2.0.1, 2.1 and the 1.6 security extension have in common."""

    @property
    def log(self) -> _LogParameters: ...
    @property
    def log_type(self) -> str: ...
    @property
    def request_id(self) -> int: ...
    @property
    def retries(self) -> int | UnsetType: ...
    @property
    def retry_interval(self) -> int | UnsetType: ...


def _start(ctl: Diagnostics, flavour: str, request: _GetLog, now: datetime) -> tuple[str, str | None]:
    log = request.log
    return ctl.request(
        flavour,
        request.request_id,
        str(request.log_type),
        log.remote_location,
        _window(present(log.oldest_timestamp), present(log.latest_timestamp)),
        present(request.retries) or 0,
        present(request.retry_interval) or 0,
        now,
    )


def get_log(ctl: Diagnostics, request: v2x.GetLogRequestT, now: datetime) -> v2x.GetLogResponse:
    """N01: Accepted with the file name and the upload started; AcceptedCanceled when it replaced one;
    Rejected for a location this station cannot upload to (N01.FR.05)."""
    ns = v2x.dialect_of(request)
    status, filename = _start(ctl, "2x", request, now)
    if filename is None:
        return ns.GetLogResponse(status=ns.LogStatusEnumType(status))
    return ns.GetLogResponse(status=ns.LogStatusEnumType(status), filename=filename)


def get_log16(
    ctl: Diagnostics, request: v16.messages.GetLogRequest, now: datetime
) -> v16.messages.GetLogResponse:
    """GetLog of the 1.6 security extension, as N01."""
    status, filename = _start(ctl, "log16", request, now)
    answer = v16.enums.LogStatusEnumType(status)
    if filename is None:
        return v16.messages.GetLogResponse(status=answer)
    return v16.messages.GetLogResponse(status=answer, filename=filename)


def get_diagnostics16(
    ctl: Diagnostics, request: v16.messages.GetDiagnosticsRequest, now: datetime
) -> v16.messages.GetDiagnosticsResponse:
    """1.6 §5.9: the file name when diagnostics will be uploaded, none when not (an unusable location)."""
    _, filename = ctl.request(
        "diag16",
        None,
        DIAGNOSTICS_LOG,
        request.location,
        (None, None),
        present(request.retries) or 0,
        present(request.retry_interval) or 0,
        now,
    )
    if filename is None:
        return v16.messages.GetDiagnosticsResponse()
    return v16.messages.GetDiagnosticsResponse(file_name=filename)


Diagnostics.on_2x = (route("GetLog", get_log),)
Diagnostics.on_16 = (route("GetLog", get_log16), route("GetDiagnostics", get_diagnostics16))
