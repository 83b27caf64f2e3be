"""HTTP routes of diagnostics: log requests (N01) and their files, the stations' upload URLs, customer
information (N09, N10). Calls to the station answer with the status codes of every station call
(:mod:`chargeplane.csms.api.errors`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import PurePosixPath
from typing import Annotated, Any

import msgspec
from litestar import Request, get, route
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, JSONBody
from litestar.response import File
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_410_GONE,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)

from chargeplane.csms.api.app import PUBLIC
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.diagnostics.repository import CustomerRecord, LogRecord
from chargeplane.csms.blocks.diagnostics.service import CustomerQuery, DiagnosticsService, LogRequest
from chargeplane.csms.blocks.diagnostics.uploads import BadUpload, UploadTooLarge
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Invalid

LOG_TYPE = r"\A(DiagnosticsLog|SecurityLog)\Z"
TOKEN_TYPE = (
    r"\A(Central|eMAID|ISO14443|ISO15693|KeyCode|Local|MacAddress|NoAuthorization|DirectPayment|VIN)\Z"
)
HASH_ALGORITHM = r"\A(SHA256|SHA384|SHA512)\Z"


class LogRequestIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What log to ask for; the CSMS chooses the requestId and the upload URL."""

    log_type: Annotated[str, msgspec.Meta(pattern=LOG_TYPE)]
    oldest_timestamp: datetime | None = None
    latest_timestamp: datetime | None = None
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    retry_interval: Annotated[int, msgspec.Meta(ge=0, le=86400)] | None = None  # seconds


class LogEventOut(msgspec.Struct, rename="camel"):
    status: (
        str  # Uploading, Uploaded, UploadFailure, BadMessage, NotSupportedOperation, PermissionDenied, ...
    )
    message: str  # LogStatusNotification | DiagnosticsStatusNotification
    received_at: datetime


class LogFileOut(msgspec.Struct, rename="camel"):
    name: str | None
    size: int
    sha256: str
    uploaded_at: datetime


class LogOut(msgspec.Struct, rename="camel"):
    id: int  # the CSMS's log id: GET /logs/{id}/file
    request_id: int
    method: str  # GetLog | GetDiagnostics (1.6 DiagnosticsLog)
    log_type: str
    oldest_timestamp: str | None
    latest_timestamp: str | None
    status: str  # requested | accepted | rejected | failed | uploading | uploaded | upload_failed | canceled
    station_status: (
        str | None
    )  # Accepted | Rejected | AcceptedCanceled; 1.6 GetDiagnostics: Accepted | NoFile
    upload_status: str | None  # the station's last notification
    filename: str | None  # as the station announced it
    file: LogFileOut | None
    notifications: list[LogEventOut]
    requested_at: datetime
    updated_at: datetime


class UploadOut(msgspec.Struct, rename="camel"):
    log_id: int
    size: int
    sha256: str


class CustomerTokenIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    type: Annotated[str, msgspec.Meta(pattern=TOKEN_TYPE)]


class CertificateIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    hash_algorithm: Annotated[str, msgspec.Meta(pattern=HASH_ALGORITHM)]
    issuer_name_hash: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    issuer_key_hash: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    serial_number: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class CustomerInformationIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``report`` and/or ``clear``, about exactly one of ``idToken``, ``customerIdentifier`` and
    ``customerCertificate`` (N09.FR.04, N10.FR.08)."""

    report: bool = False
    clear: bool = False
    id_token: CustomerTokenIn | None = None
    customer_identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    customer_certificate: CertificateIn | None = None


class CustomerPartOut(msgspec.Struct, rename="camel"):
    seq_no: int
    tbc: bool
    data: str
    generated_at: str
    received_at: datetime


class CustomerInformationOut(msgspec.Struct, rename="camel"):
    request_id: int
    kind: str  # requested | unsolicited (a report nobody asked this CSMS for)
    report: bool
    clear: bool
    id_token: CustomerTokenIn | None
    customer_identifier: str | None
    customer_certificate: Any  # as sent
    status: str  # requested | receiving | complete | refused | failed
    station_status: str | None  # Accepted | Rejected | Invalid
    parts: int
    data: str | None  # the parts' data in seqNo order (None in lists)
    items: list[CustomerPartOut] | None  # the parts themselves (None in lists)
    local_list: str | None  # N10.FR.02: what came of taking the cleared id token off the local list
    requested_at: datetime
    completed_at: datetime | None


@dataclass
class UploadOperation(Operation):
    """Documents the upload's body, which the route streams itself: the file as the raw body, or a form."""

    def __post_init__(self) -> None:
        if self.request_body is None:
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            form = Schema(type=OpenAPIType.OBJECT, properties={"file": binary})
            self.request_body = RequestBody(
                content={
                    "application/octet-stream": OpenAPIMediaType(schema=binary),
                    "multipart/form-data": OpenAPIMediaType(schema=form),
                },
                description="the log file: the raw body, or a multipart/form-data form with one file field",
                required=False,
            )


@dataclass
class FileOperation(Operation):
    """Documents the download's 200 as a binary file (its error answers stay JSON, as everywhere)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            ok.content = {"application/octet-stream": OpenAPIMediaType(schema=binary)}


def disposition_filename(header: str) -> str | None:
    """The filename of a Content-Disposition header (RFC 6266, with RFC 2231 ``filename*``), if any."""
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    name = message.get_filename()
    base = PurePosixPath(name.replace("\\", "/")).name if name else ""
    return base[:255] or None


def _log_out(record: LogRecord) -> LogOut:
    stored = record.file
    return LogOut(
        id=record.id,
        request_id=record.request_id,
        method=record.method,
        log_type=record.log_type,
        oldest_timestamp=record.oldest_timestamp,
        latest_timestamp=record.latest_timestamp,
        status=record.status,
        station_status=record.station_status,
        upload_status=record.upload_status,
        filename=record.filename,
        file=None
        if stored is None
        # a station may upload before its GetLog answer (which names the file) is stored: the answer's name then
        else LogFileOut(stored.name or record.filename, stored.size, stored.sha256, stored.uploaded_at),
        notifications=[LogEventOut(e.status, e.message, e.received_at) for e in record.events],
        requested_at=record.requested_at,
        updated_at=record.updated_at,
    )


def _customer_out(record: CustomerRecord, with_data: bool) -> CustomerInformationOut:
    token = (
        None
        if record.id_token is None or record.id_token_type is None
        else CustomerTokenIn(record.id_token, record.id_token_type)
    )
    certificate = (
        None if record.customer_certificate is None else msgspec.json.decode(record.customer_certificate)
    )
    return CustomerInformationOut(
        request_id=record.request_id,
        kind=record.kind,
        report=record.report,
        clear=record.clear,
        id_token=token,
        customer_identifier=record.customer_identifier,
        customer_certificate=certificate,
        status=record.status,
        station_status=record.station_status,
        parts=record.parts,
        data="".join(p.data for p in record.data) if with_data else None,
        items=[CustomerPartOut(p.seq_no, p.tbc, p.data, p.generated_at, p.received_at) for p in record.data]
        if with_data
        else None,
        local_list=record.local_list,
        requested_at=record.requested_at,
        completed_at=record.completed_at,
    )


def routes(service: DiagnosticsService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/logs",
        summary="Ask a station to upload a log (N01 GetLog; 1.6 GetDiagnostics)",
    )
    async def request_log(known_station: KnownStation, data: JSONBody[LogRequestIn]) -> LogOut:
        """Answers once the station answered. The station uploads to a one-time URL of this API; its
        progress (LogStatusNotification) and the file show in the log's record. A 1.6 station gets
        GetDiagnostics for the DiagnosticsLog and the security extension's GetLog for the SecurityLog."""
        if (
            data.oldest_timestamp is not None
            and data.latest_timestamp is not None
            and data.oldest_timestamp > data.latest_timestamp
        ):
            raise Invalid("oldestTimestamp is after latestTimestamp")
        request = LogRequest(
            data.log_type, data.oldest_timestamp, data.latest_timestamp, data.retries, data.retry_interval
        )
        return _log_out(await service.request_log(known_station.station_id, request))

    @get_or_404("/stations/{station_id:str}/logs", summary="A station's log requests, newest first")
    async def list_logs(known_station: KnownStation, offset: Offset = 0, limit: Limit = 100) -> Page[LogOut]:
        """Each request with the station's answer, its notifications and the uploaded file, if any."""
        return paged(_log_out, await service.logs(known_station.station_id, offset, limit), offset, limit)

    @get(
        "/logs/{log_id:int}/file",
        summary="Download an uploaded log",
        operation_class=FileOperation,
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def log_file(log_id: PathId) -> File:
        """The file the station uploaded for the log ``id`` (from the log's record); 404 while there is none."""
        record = await service.log(log_id)
        path = None if record is None else service.file_path(record)
        if record is None or path is None:
            raise NotFoundException(f"no uploaded file for log {log_id}")
        name = (record.file.name if record.file else None) or record.filename or path.name
        return File(path, filename=name, media_type="application/octet-stream")

    async def receive(token: str, request: Request[Any, Any, Any], name_in_path: str | None) -> UploadOut:
        slot = await service.claim_upload(token)
        if slot == "unknown":
            raise NotFoundException("no such upload")
        if isinstance(slot, str):
            raise HTTPException(status_code=HTTP_410_GONE, detail=f"this upload URL is {slot}")
        limit = service.settings.max_upload_bytes
        declared = request.headers.get("content-length", "")
        too_large = f"the upload is larger than {limit} bytes"
        if declared.isdigit() and int(declared) > limit:  # refused before reading: the URL stays usable
            await service.release_upload(slot)
            raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=too_large)
        # N01.FR.19: a POST names the file in Content-Disposition; N01.FR.21: or the path does.
        name = disposition_filename(request.headers.get("content-disposition", "")) or name_in_path
        try:
            record = await service.receive_upload(
                slot, request.headers.get("content-type", ""), request.stream(), name
            )
        except UploadTooLarge:  # counted while streaming (no or a false Content-Length)
            raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=too_large) from None
        except BadUpload as error:
            raise Invalid(str(error)) from None
        assert record.file is not None
        return UploadOut(record.id, record.file.size, record.file.sha256)

    upload_statuses = error_responses(
        HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_410_GONE, HTTP_413_REQUEST_ENTITY_TOO_LARGE
    )

    @route(
        "/uploads/{token:str}",
        http_method=["PUT", "POST"],
        status_code=HTTP_201_CREATED,
        summary="Where a station uploads a log it was asked for (no bearer token: the path's one-time token)",
        responses=upload_statuses,
        operation_class=UploadOperation,
        request_max_body_size=None,  # counted while streaming, against the setting
        opt=PUBLIC,
    )
    async def upload(token: FromPath[str], request: Request[Any, Any, Any]) -> UploadOut:
        """The URL comes in the GetLog / GetDiagnostics the CSMS sent; it takes one upload (HTTP PUT or POST,
        N01.FR.18; the file as the body, named by Content-Disposition, or a multipart/form-data form with one
        file field) before it expires. 404 unknown token, 410 used or expired, 413 larger than the limit."""
        return await receive(token, request, None)

    @route(
        "/uploads/{token:str}/{filename:str}",
        http_method=["PUT", "POST"],
        status_code=HTTP_201_CREATED,
        summary="The upload URL with the file's name appended (as stations do with a location ending in /)",
        responses=upload_statuses,
        operation_class=UploadOperation,
        request_max_body_size=None,
        opt=PUBLIC,
    )
    async def upload_named(
        token: FromPath[str], filename: FromPath[str], request: Request[Any, Any, Any]
    ) -> UploadOut:
        """As the upload URL itself, for stations that append the file name to every location they get."""
        return await receive(token, request, filename)

    @station_call(
        "/stations/{station_id:str}/customer-information",
        summary="Ask a station for a customer's data, or to clear it (N09, N10 CustomerInformation)",
    )
    async def request_customer_information(
        known_station: KnownStation, data: JSONBody[CustomerInformationIn]
    ) -> CustomerInformationOut:
        """Answers once the station answered; its report (NotifyCustomerInformation parts) follows. A clear
        about an id token the station accepts also takes that token off the local lists: the token's
        ``localList`` is cleared and the station gets a Differential SendLocalList (N10.FR.02; ``localList``
        in the record says what came of it)."""
        named = [
            x for x in (data.id_token, data.customer_identifier, data.customer_certificate) if x is not None
        ]
        if len(named) != 1:
            raise Invalid(
                "name the customer by exactly one of idToken, customerIdentifier, customerCertificate"
            )
        if not (data.report or data.clear):
            raise Invalid("ask for report, clear or both")
        certificate = (
            None if data.customer_certificate is None else msgspec.to_builtins(data.customer_certificate)
        )
        query = CustomerQuery(
            report=data.report,
            clear=data.clear,
            id_token=None if data.id_token is None else data.id_token.id_token,
            id_token_type=None if data.id_token is None else data.id_token.type,
            customer_identifier=data.customer_identifier,
            certificate=certificate,
        )
        record = await service.request_customer_information(known_station.station_id, query)
        return _customer_out(record, with_data=True)

    @get_or_404(
        "/stations/{station_id:str}/customer-information",
        summary="A station's customer-information requests, newest first",
    )
    async def list_customer_information(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[CustomerInformationOut]:
        """The requests with their progress, without the reports' data (GET one request for it)."""
        found = await service.customer_records(known_station.station_id, offset, limit)
        return paged(lambda r: _customer_out(r, with_data=False), found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/customer-information/{request_id:int}",
        summary="One customer-information request with the station's report",
    )
    async def one_customer_information(
        known_station: KnownStation, request_id: PathId
    ) -> CustomerInformationOut:
        """The status and the report assembled from its parts in seqNo order; 404 when there is none."""
        record = await service.customer_record(known_station.station_id, request_id)
        if record is None:
            raise NotFoundException(
                f"no customer-information request {request_id} of {known_station.station_id}"
            )
        return _customer_out(record, with_data=True)

    return [
        request_log,
        list_logs,
        log_file,
        upload,
        upload_named,
        request_customer_information,
        list_customer_information,
        one_customer_information,
    ]
