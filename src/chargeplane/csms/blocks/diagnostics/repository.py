"""All SQL of the diagnostics block.

Every message a station sends (a log status notification, a part of a customer-information report) is one
unit of work of the group committer, committed before the handler answers; the API's writes take the same
path so that one station's rows are written in one order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargeplane.csms.blocks.diagnostics.tables import (
    customer_information,
    customer_information_parts,
    diagnostics_log_events,
    diagnostics_logs,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

# Log requests: requested -> accepted -> uploading -> uploaded; or rejected, failed, upload_failed, canceled.
REQUESTED, ACCEPTED, REJECTED, FAILED = "requested", "accepted", "rejected", "failed"
UPLOADING, UPLOADED, UPLOAD_FAILED, CANCELED = "uploading", "uploaded", "upload_failed", "canceled"
IN_PROGRESS = (REQUESTED, ACCEPTED, UPLOADING)
# Customer information: requested -> receiving -> complete; refused, failed.
RECEIVING, COMPLETE, REFUSED = "receiving", "complete", "refused"


@dataclass(frozen=True, slots=True)
class LogEvent:
    status: str
    message: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str  # relative to the uploads directory
    name: str | None
    size: int
    sha256: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class LogRecord:
    id: int
    station_key: str
    request_id: int
    method: str
    log_type: str
    oldest_timestamp: str | None
    latest_timestamp: str | None
    status: str
    station_status: str | None
    upload_status: str | None
    filename: str | None
    file: StoredFile | None
    requested_at: datetime
    updated_at: datetime
    events: tuple[LogEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class NewLog:
    station_id: str
    request_id: int
    method: str
    log_type: str
    oldest_timestamp: str | None
    latest_timestamp: str | None
    token_hash: str
    token_expires_at: datetime


@dataclass(frozen=True, slots=True)
class UploadSlot:
    """What an upload token opens: the log it belongs to."""

    log_id: int
    station_key: str
    request_id: int
    filename: str | None


@dataclass(frozen=True, slots=True)
class CustomerRequest:
    station_id: str
    request_id: int
    report: bool
    clear: bool
    id_token: str | None = None
    id_token_type: str | None = None
    customer_identifier: str | None = None
    customer_certificate: str | None = None  # wire JSON


@dataclass(frozen=True, slots=True)
class CustomerPart:
    seq_no: int
    tbc: bool
    data: str
    generated_at: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    request_id: int
    kind: str
    report: bool
    clear: bool
    id_token: str | None
    id_token_type: str | None
    customer_identifier: str | None
    customer_certificate: str | None
    status: str
    station_status: str | None
    parts: int
    local_list: str | None
    requested_at: datetime
    completed_at: datetime | None
    data: tuple[CustomerPart, ...] = ()


_LOG_COLUMNS = [
    diagnostics_logs.c[name]
    for name in (
        "id",
        "station_key",
        "request_id",
        "method",
        "log_type",
        "oldest_timestamp",
        "latest_timestamp",
        "status",
        "station_status",
        "upload_status",
        "filename",
        "file_path",
        "file_name",
        "file_size",
        "file_sha256",
        "uploaded_at",
        "requested_at",
        "updated_at",
    )
]
_CUSTOMER_FIELDS = [name for name in CustomerRecord.__dataclass_fields__ if name != "data"]
_CUSTOMER_COLUMNS = [customer_information.c[name] for name in _CUSTOMER_FIELDS]


def _log_record(row: sa.Row[Any], events: tuple[LogEvent, ...] = ()) -> LogRecord:
    m = row._mapping
    stored = (
        None
        if m["file_path"] is None
        else StoredFile(m["file_path"], m["file_name"], m["file_size"], m["file_sha256"], m["uploaded_at"])
    )
    return LogRecord(
        id=m["id"],
        station_key=m["station_key"],
        request_id=m["request_id"],
        method=m["method"],
        log_type=m["log_type"],
        oldest_timestamp=m["oldest_timestamp"],
        latest_timestamp=m["latest_timestamp"],
        status=m["status"],
        station_status=m["station_status"],
        upload_status=m["upload_status"],
        filename=m["filename"],
        file=stored,
        requested_at=m["requested_at"],
        updated_at=m["updated_at"],
        events=events,
    )


def _upload_outcome(status: str) -> str | None:
    """The log's status after a notification with ``status`` (None: unchanged)."""
    if status == "Uploading":
        return UPLOADING
    if status == "Uploaded":
        return UPLOADED
    if status == "AcceptedCanceled":
        return CANCELED
    if status in ("UploadFailure", "UploadFailed", "BadMessage", "NotSupportedOperation", "PermissionDenied"):
        return UPLOAD_FAILED
    return None  # Idle (1.6): nothing in progress


class DiagnosticsRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- log requests ---------------------------------------------------------------------------------------

    async def add_log(self, new: NewLog, now: datetime) -> int:
        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(diagnostics_logs).values(
                    station_key=new.station_id.casefold(),
                    request_id=new.request_id,
                    method=new.method,
                    log_type=new.log_type,
                    oldest_timestamp=new.oldest_timestamp,
                    latest_timestamp=new.latest_timestamp,
                    status=REQUESTED,
                    token_hash=new.token_hash,
                    token_expires_at=new.token_expires_at,
                    requested_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def log_answered(
        self, log_id: int, station_status: str | None, filename: str | None, now: datetime
    ) -> None:
        """The station's answer (``station_status`` None: none came). AcceptedCanceled (N01.FR.12): the
        station cancelled the upload in progress to take this one, so the station's other open requests are
        marked canceled."""
        c = diagnostics_logs.c
        if station_status is None:
            status = FAILED
        elif station_status in ("Accepted", "AcceptedCanceled"):
            status = ACCEPTED
        else:
            status = REJECTED

        def unit(connection: sa.Connection) -> None:
            row = connection.execute(sa.select(c.station_key).where(c.id == log_id)).one()
            connection.execute(
                sa.update(diagnostics_logs)
                .where(c.id == log_id)
                .values(station_status=station_status, filename=filename, updated_at=now)
            )
            # A notification may have overtaken the answer: the status moves only from requested.
            connection.execute(
                sa.update(diagnostics_logs).where(c.id == log_id, c.status == REQUESTED).values(status=status)
            )
            if station_status == "AcceptedCanceled":
                connection.execute(
                    sa.update(diagnostics_logs)
                    .where(
                        c.station_key == row.station_key,
                        c.id != log_id,
                        c.status.in_((ACCEPTED, UPLOADING)),
                    )
                    .values(status=CANCELED, updated_at=now)
                )

        await self.committer.run(unit)

    async def log_status(
        self, station_id: str, message: str, status: str, request_id: int | None, now: datetime
    ) -> LogRecord | None:
        """A Log/DiagnosticsStatusNotification: the event, and the status of the request it concerns (GetLog:
        by requestId; GetDiagnostics, which has none: the station's latest GetDiagnostics)."""
        station_key = station_id.casefold()
        c = diagnostics_logs.c

        def unit(connection: sa.Connection) -> LogRecord | None:
            query = sa.select(*_LOG_COLUMNS).where(c.station_key == station_key)
            if request_id is not None:
                query = query.where(c.request_id == request_id)
            elif message == "DiagnosticsStatusNotification":
                query = query.where(c.method == "GetDiagnostics").order_by(c.id.desc()).limit(1)
            else:
                query = query.where(sa.false())
            row = connection.execute(query).first()
            log_id = None if row is None else row.id
            connection.execute(
                sa.insert(diagnostics_log_events).values(
                    station_key=station_key,
                    log_id=log_id,
                    request_id=request_id,
                    message=message,
                    status=status,
                    received_at=now,
                )
            )
            if row is None:
                return None
            values: dict[str, Any] = {"upload_status": status, "updated_at": now}
            outcome = _upload_outcome(status)
            if outcome is not None:
                values["status"] = outcome
            connection.execute(sa.update(diagnostics_logs).where(c.id == log_id).values(**values))
            return _log_record(connection.execute(sa.select(*_LOG_COLUMNS).where(c.id == log_id)).one())

        return await self.committer.run(unit)

    async def logs(self, station_id: str, offset: int, limit: int) -> tuple[list[LogRecord], int]:
        c = diagnostics_logs.c
        where = c.station_key == station_id.casefold()
        query = sa.select(*_LOG_COLUMNS).where(where).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(diagnostics_logs).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
            events = await self._events(connection, [row.id for row in rows])
        return [_log_record(r, events.get(r.id, ())) for r in rows], total

    async def log(self, log_id: int) -> LogRecord | None:
        query = sa.select(*_LOG_COLUMNS).where(diagnostics_logs.c.id == log_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                return None
            events = await self._events(connection, [log_id])
        return _log_record(row, events.get(log_id, ()))

    async def _events(
        self, connection: AsyncConnection, log_ids: list[int]
    ) -> dict[int, tuple[LogEvent, ...]]:
        if not log_ids:
            return {}
        e = diagnostics_log_events.c
        query = (
            sa.select(e.log_id, e.status, e.message, e.received_at)
            .where(e.log_id.in_(log_ids))
            .order_by(e.id)
        )
        found: dict[int, list[LogEvent]] = {}
        for row in (await connection.execute(query)).all():
            found.setdefault(row.log_id, []).append(LogEvent(row.status, row.message, row.received_at))
        return {key: tuple(value) for key, value in found.items()}

    async def used_log_request_ids(self, station_id: str) -> set[int]:
        c = diagnostics_logs.c
        query = sa.select(c.request_id).where(c.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    # -- uploads --------------------------------------------------------------------------------------------

    async def claim_upload(self, token_hash: str, now: datetime) -> UploadSlot | str:
        """Take the upload token for one upload; what it opens, or why not: ``unknown``, ``used``,
        ``expired``. Claimed atomically, so that two uploads with one token cannot both run."""
        c = diagnostics_logs.c

        def unit(connection: sa.Connection) -> UploadSlot | str:
            row = connection.execute(
                sa.select(
                    c.id, c.station_key, c.request_id, c.filename, c.token_used_at, c.token_expires_at
                ).where(c.token_hash == token_hash)
            ).first()
            if row is None:
                return "unknown"
            if row.token_used_at is not None:
                return "used"
            if row.token_expires_at <= now:
                return "expired"
            claimed = connection.execute(
                sa.update(diagnostics_logs)
                .where(c.id == row.id, c.token_used_at.is_(None))
                .values(token_used_at=now)
            ).rowcount
            if claimed != 1:
                return "used"
            return UploadSlot(row.id, row.station_key, row.request_id, row.filename)

        return await self.committer.run(unit)

    async def release_upload(self, log_id: int) -> None:
        """An upload that did not complete gives its token back (the station may retry, N01 retries)."""
        c = diagnostics_logs.c
        await self.committer.run(
            execute(sa.update(diagnostics_logs).where(c.id == log_id).values(token_used_at=None))
        )

    async def file_stored(self, log_id: int, stored: StoredFile, now: datetime) -> None:
        c = diagnostics_logs.c
        await self.committer.run(
            execute(
                sa.update(diagnostics_logs)
                .where(c.id == log_id)
                .values(
                    file_path=stored.path,
                    file_name=stored.name,
                    file_size=stored.size,
                    file_sha256=stored.sha256,
                    uploaded_at=stored.uploaded_at,
                    updated_at=now,
                )
            )
        )

    # -- customer information -------------------------------------------------------------------------------

    async def add_customer_request(self, request: CustomerRequest, now: datetime) -> None:
        await self.committer.run(
            execute(
                sa.insert(customer_information).values(
                    station_key=request.station_id.casefold(),
                    request_id=request.request_id,
                    kind="requested",
                    report=request.report,
                    clear=request.clear,
                    id_token=request.id_token,
                    id_token_type=request.id_token_type,
                    customer_identifier=request.customer_identifier,
                    customer_certificate=request.customer_certificate,
                    status=REQUESTED,
                    parts=0,
                    requested_at=now,
                )
            )
        )

    async def customer_answered(
        self, station_id: str, request_id: int, station_status: str | None, now: datetime
    ) -> None:
        """The station's answer (None: none came); the status moves only while no part has come."""
        c = customer_information.c
        where = (c.station_key == station_id.casefold(), c.request_id == request_id)
        accepted = station_status == "Accepted"
        status = FAILED if station_status is None else REQUESTED if accepted else REFUSED

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(customer_information).where(*where).values(station_status=station_status)
            )
            if status != REQUESTED:
                connection.execute(
                    sa.update(customer_information)
                    .where(*where, c.parts == 0)
                    .values(status=status, completed_at=now)
                )

        await self.committer.run(unit)

    async def customer_part(self, station_id: str, request_id: int, part: CustomerPart) -> CustomerRecord:
        """One NotifyCustomerInformation: the part and the request's progress (an unrequested report is
        recorded as ``unsolicited``), in one unit of work."""
        station_key = station_id.casefold()
        c = customer_information.c
        where = (c.station_key == station_key, c.request_id == request_id)

        def unit(connection: sa.Connection) -> CustomerRecord:
            if connection.execute(sa.select(c.id).where(*where)).first() is None:
                connection.execute(
                    sa.insert(customer_information).values(
                        station_key=station_key,
                        request_id=request_id,
                        kind="unsolicited",
                        report=True,
                        clear=False,
                        status=RECEIVING,
                        parts=0,
                        requested_at=part.received_at,
                    )
                )
            connection.execute(
                sa.insert(customer_information_parts).values(
                    station_key=station_key,
                    request_id=request_id,
                    seq_no=part.seq_no,
                    tbc=part.tbc,
                    data=part.data,
                    generated_at=part.generated_at,
                    received_at=part.received_at,
                )
            )
            connection.execute(
                sa.update(customer_information)
                .where(*where)
                .values(
                    parts=c.parts + 1,
                    status=RECEIVING if part.tbc else COMPLETE,
                    completed_at=None if part.tbc else part.received_at,
                )
            )
            row = connection.execute(sa.select(*_CUSTOMER_COLUMNS).where(*where)).one()
            return CustomerRecord(**{name: row._mapping[name] for name in _CUSTOMER_FIELDS})

        return await self.committer.run(unit)

    async def note_local_list(self, station_id: str, request_id: int, outcome: str) -> None:
        c = customer_information.c
        await self.committer.run(
            execute(
                sa.update(customer_information)
                .where(c.station_key == station_id.casefold(), c.request_id == request_id)
                .values(local_list=outcome[:255])
            )
        )

    async def customer_records(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[CustomerRecord], int]:
        """Newest first, without the report's data (see :meth:`customer_record`)."""
        c = customer_information.c
        where = c.station_key == station_id.casefold()
        query = sa.select(*_CUSTOMER_COLUMNS).where(where).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(customer_information).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [CustomerRecord(**{n: r._mapping[n] for n in _CUSTOMER_FIELDS}) for r in rows], total

    async def customer_record(self, station_id: str, request_id: int) -> CustomerRecord | None:
        """The request with its parts in seqNo order."""
        station_key = station_id.casefold()
        c, p = customer_information.c, customer_information_parts.c
        query = sa.select(*_CUSTOMER_COLUMNS).where(c.station_key == station_key, c.request_id == request_id)
        parts = (
            sa.select(p.seq_no, p.tbc, p.data, p.generated_at, p.received_at)
            .where(p.station_key == station_key, p.request_id == request_id)
            .order_by(p.seq_no, p.id)
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                return None
            found = (await connection.execute(parts)).all()
        return CustomerRecord(
            **{name: row._mapping[name] for name in _CUSTOMER_FIELDS},
            data=tuple(CustomerPart(**r._mapping) for r in found),
        )

    async def used_customer_request_ids(self, station_id: str) -> set[int]:
        c = customer_information.c
        query = sa.select(c.request_id).where(c.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())
