"""Diagnostics on the CSMS side: log retrieval (N01; 1.6 GetDiagnostics and the security extension's GetLog)
and customer information (N09, N10).

Log requests
    The operator asks for a log; the CSMS makes a one-time upload URL on its own HTTP API (see
    :mod:`~chargeplane.csms.blocks.diagnostics.uploads`) and sends GetLog (2.0.1, 2.1; 1.6 with the security
    extension for the SecurityLog) or GetDiagnostics (1.6, the DiagnosticsLog) with it. The station's answer,
    each Log/DiagnosticsStatusNotification and the uploaded file are recorded. A station that answers
    AcceptedCanceled cancelled the upload in progress for the new one (N01.FR.12): the earlier request is
    marked canceled.

Customer information
    CustomerInformation names the customer by exactly one of idToken, customerCertificate and
    customerIdentifier (N09.FR.04, N10.FR.08); the NotifyCustomerInformation parts are stored per requestId and
    read back in seqNo order. A clear about an id token the station accepted, when the station's local list
    (as last accepted) holds that token, also takes it off the list (N10.FR.02: only the CSMS changes a local
    list): the token's ``localList`` flag is cleared in the token store (the token stays valid online; the
    other stations lose it at their next synchronisation) and the station gets a Differential SendLocalList
    through the authorization block's :class:`LocalListService`. This runs in the background, after the answer, because the local-list
    synchronisation asks the station questions of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from chargeplane.csms.blocks.authorization.local_list import LocalListService, StationOffline
from chargeplane.csms.blocks.authorization.service import AuthorizationService, UnknownToken
from chargeplane.csms.blocks.diagnostics import uploads
from chargeplane.csms.blocks.diagnostics.repository import (
    CustomerPart,
    CustomerRecord,
    CustomerRequest,
    DiagnosticsRepository,
    LogRecord,
    NewLog,
    StoredFile,
    UploadSlot,
)
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/v1/uploads"


@dataclass(frozen=True, slots=True)
class LogRequest:
    log_type: str  # DiagnosticsLog | SecurityLog
    oldest: datetime | None = None
    latest: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """A CustomerInformation: exactly one of ``id_token``, ``customer_identifier``, ``certificate``."""

    report: bool
    clear: bool
    id_token: str | None = None
    id_token_type: str | None = None
    customer_identifier: str | None = None
    certificate: dict[str, str] | None = None  # CertificateHashData, wire form


class _StatusAnswer(msgspec.Struct):
    status: str
    filename: str | None = None


class _DiagnosticsAnswer(msgspec.Struct, rename="camel"):
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Removal:
    station_id: str
    request_id: int
    id_token: str
    id_token_type: str


class DiagnosticsService:
    def __init__(
        self,
        repository: DiagnosticsRepository,
        commands: CommandService,
        authorization: AuthorizationService,
        local_lists: LocalListService,
        settings: DiagnosticsSettings,
        base_url: Callable[[], str],
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.authorization = authorization
        self.local_lists = local_lists
        self.settings = settings
        self.base_url = base_url
        self.events = events
        self.clock = clock
        self.files_dir = settings.uploads_dir()
        self._removals: asyncio.Queue[_Removal] = asyncio.Queue()

    # -- log requests (N01) ---------------------------------------------------------------------------------

    async def request_log(self, station_id: str, request: LogRequest) -> LogRecord:
        """Send GetLog or GetDiagnostics with a new upload URL; the record tells what came of it."""
        station_id, version = await self._station(station_id)
        method = (
            "GetDiagnostics" if version is Version.V16 and request.log_type == "DiagnosticsLog" else "GetLog"
        )
        request_id = await self._new_id(await self.repository.used_log_request_ids(station_id))
        token = uploads.new_token()
        now = self.clock.now()
        oldest = None if request.oldest is None else to_wire(request.oldest)
        latest = None if request.latest is None else to_wire(request.latest)
        expires = now + timedelta(seconds=self.settings.upload_url_lifetime)
        new = NewLog(
            station_id,
            request_id,
            method,
            request.log_type,
            oldest,
            latest,
            uploads.token_hash(token),
            expires,
        )
        log_id = await self.repository.add_log(new, now)
        location = f"{self.base_url().rstrip('/')}{UPLOAD_PATH}/{token}"
        payload: dict[str, object]
        if method == "GetLog":
            parameters: dict[str, object] = {"remoteLocation": location}
            if oldest is not None:
                parameters["oldestTimestamp"] = oldest
            if latest is not None:
                parameters["latestTimestamp"] = latest
            payload = {"logType": request.log_type, "requestId": request_id, "log": parameters}
        else:
            payload = {"location": location}
            if oldest is not None:
                payload["startTime"] = oldest
            if latest is not None:
                payload["stopTime"] = latest
        if request.retries is not None:
            payload["retries"] = request.retries
        if request.retry_interval is not None:
            payload["retryInterval"] = request.retry_interval
        try:
            sent = await self.commands.send_action(station_id, method, msgspec.json.encode(payload))
        except Exception:
            await self.repository.log_answered(log_id, None, None, self.clock.now())
            raise
        answer = msgspec.to_builtins(sent.response)
        if method == "GetLog":
            status_answer = msgspec.convert(answer, _StatusAnswer)
            station_status, filename = status_answer.status, status_answer.filename
        else:
            # 1.6: no fileName means there is no diagnostics file to send, so no upload follows.
            filename = msgspec.convert(answer, _DiagnosticsAnswer).file_name
            station_status = "Accepted" if filename else "NoFile"
        await self.repository.log_answered(log_id, station_status, filename, self.clock.now())
        record = await self.repository.log(log_id)
        assert record is not None
        return record

    async def log_status(self, station_id: str, message: str, status: str, request_id: int | None) -> None:
        """A LogStatusNotification or DiagnosticsStatusNotification: stored before it is answered."""
        record = await self.repository.log_status(station_id, message, status, request_id, self.clock.now())
        data: dict[str, object] = {"status": status, "requestId": request_id}
        if record is not None:
            data |= {"logId": record.id, "logStatus": record.status}
        self.events.publish(StationEvent("diagnostics.log_status", station_id, data))

    async def logs(self, station_id: str, offset: int, limit: int) -> tuple[list[LogRecord], int]:
        return await self.repository.logs(station_id, offset, limit)

    async def log(self, log_id: int) -> LogRecord | None:
        return await self.repository.log(log_id)

    def file_path(self, record: LogRecord) -> Path | None:
        """Where the log's uploaded file is, if it was uploaded and is still there."""
        if record.file is None:
            return None
        path = self.files_dir / record.file.path
        return path if path.is_file() else None

    # -- uploads --------------------------------------------------------------------------------------------

    async def claim_upload(self, token: str) -> UploadSlot | str:
        """What the token opens, or why it opens nothing (``unknown``, ``used``, ``expired``)."""
        return await self.repository.claim_upload(uploads.token_hash(token), self.clock.now())

    async def release_upload(self, slot: UploadSlot) -> None:
        """Give back a claimed slot whose upload was refused before it was read."""
        await self.repository.release_upload(slot.log_id)

    async def receive_upload(
        self, slot: UploadSlot, content_type: str, chunks: AsyncIterator[bytes], name: str | None = None
    ) -> LogRecord:
        """Store the upload of a claimed slot (``name``: the file's name the request gave, if any); an upload
        that fails gives the token back."""
        try:
            boundary = uploads.boundary_of(content_type)
            target = f"log-{slot.log_id}"  # the station's names stay in the record, never in a path
            received = await uploads.receive(
                chunks, self.files_dir, target, boundary, self.settings.max_upload_bytes
            )
        except BaseException:
            await self.repository.release_upload(slot.log_id)
            raise
        now = self.clock.now()
        stored = StoredFile(
            received.path.name, received.name or name or slot.filename, received.size, received.sha256, now
        )
        await self.repository.file_stored(slot.log_id, stored, now)
        record = await self.repository.log(slot.log_id)
        assert record is not None
        self.events.publish(
            StationEvent(
                "diagnostics.log_uploaded",
                record.station_key,
                {"logId": record.id, "requestId": record.request_id, "size": received.size},
            )
        )
        return record

    # -- customer information (N09, N10) --------------------------------------------------------------------

    async def request_customer_information(self, station_id: str, query: CustomerQuery) -> CustomerRecord:
        station_id, version = await self._station(station_id)
        if version is Version.V16:
            raise InvalidCommand(
                "NotSupportedByVersion", f"{station_id} speaks OCPP 1.6: no CustomerInformation"
            )
        request_id = await self._new_id(await self.repository.used_customer_request_ids(station_id))
        payload: dict[str, object] = {"requestId": request_id, "report": query.report, "clear": query.clear}
        certificate = None
        if query.id_token is not None:
            payload["idToken"] = {"idToken": query.id_token, "type": query.id_token_type}
        if query.customer_identifier is not None:
            payload["customerIdentifier"] = query.customer_identifier
        if query.certificate is not None:
            payload["customerCertificate"] = query.certificate
            certificate = msgspec.json.encode(query.certificate).decode()
        request = CustomerRequest(
            station_id,
            request_id,
            query.report,
            query.clear,
            query.id_token,
            query.id_token_type,
            query.customer_identifier,
            certificate,
        )
        await self.repository.add_customer_request(request, self.clock.now())
        try:
            sent = await self.commands.send_action(
                station_id, "CustomerInformation", msgspec.json.encode(payload)
            )
        except Exception:
            await self.repository.customer_answered(station_id, request_id, None, self.clock.now())
            raise
        status = msgspec.convert(msgspec.to_builtins(sent.response), _StatusAnswer).status
        await self.repository.customer_answered(station_id, request_id, status, self.clock.now())
        if query.clear and status == "Accepted" and query.id_token is not None:
            assert query.id_token_type is not None
            if await self.local_lists.holds(station_id, query.id_token, query.id_token_type):
                await self.repository.note_local_list(station_id, request_id, "queued")
                removal = _Removal(station_id, request_id, query.id_token, query.id_token_type)
                self._removals.put_nowait(removal)
            else:
                await self.repository.note_local_list(
                    station_id, request_id, "not on the station's local list"
                )
        record = await self.repository.customer_record(station_id, request_id)
        assert record is not None
        return record

    async def customer_part(
        self, station_id: str, request_id: int, seq_no: int, tbc: bool, data: str, generated_at: str
    ) -> None:
        """One NotifyCustomerInformation (N09.FR.05/06, N10.FR.03/04/06): stored before it is answered."""
        part = CustomerPart(seq_no, tbc, data, generated_at, self.clock.now())
        record = await self.repository.customer_part(station_id, request_id, part)
        if not tbc:
            self.events.publish(
                StationEvent(
                    "diagnostics.customer_information_complete",
                    station_id,
                    {"requestId": request_id, "parts": record.parts},
                )
            )

    async def customer_records(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[CustomerRecord], int]:
        return await self.repository.customer_records(station_id, offset, limit)

    async def customer_record(self, station_id: str, request_id: int) -> CustomerRecord | None:
        return await self.repository.customer_record(station_id, request_id)

    # -- N10.FR.02: the cleared id token leaves the local list ----------------------------------------------

    async def remove_from_local_lists(self) -> None:
        """The background job: one removal at a time, as clears are accepted."""
        while True:
            removal = await self._removals.get()
            try:
                outcome = await self._remove(removal)
            except Exception as error:
                log.exception(
                    "%s: removing a cleared id token from the local list failed", removal.station_id
                )
                outcome = f"failed: {type(error).__name__}: {error}"
            await self.repository.note_local_list(removal.station_id, removal.request_id, outcome)

    async def _remove(self, removal: _Removal) -> str:
        try:
            token = await self.authorization.get_token(removal.id_token, removal.id_token_type)
        except UnknownToken:
            return "not on record: no local list holds it"
        if token.local_list:
            await self.authorization.update_token(token.id_token, token.type, {"local_list": False})
        try:
            result = await self.local_lists.sync_local_list(removal.station_id, full=False)
        except StationOffline:
            return "station offline: taken off the list at the next synchronisation"
        if not result.completed:
            last = result.messages[-1].status if result.messages else "nothing sent"
            return f"synchronisation incomplete: {last}"
        return f"removed: local list version {result.version}"

    # -- helpers --------------------------------------------------------------------------------------------

    async def _station(self, station_id: str) -> tuple[str, Version | None]:
        record = await self.commands.stations.get_station(station_id)
        if record is None:
            return station_id, None
        return record.station_id, self.commands.version_of(record.station_id)

    @staticmethod
    async def _new_id(used: set[int]) -> int:
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate
