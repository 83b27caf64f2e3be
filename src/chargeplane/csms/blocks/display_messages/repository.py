"""All SQL of the display-message block.

Writes on the OCPP path (a NotifyDisplayMessages part, the station's answer to a request) are units of work
of the group committer, committed before the handler answers. Reads use the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.display_messages.tables import (
    display_message_parts,
    display_message_requests,
    display_messages,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

ACCEPTED, REPORTED = "Accepted", "Reported"
UNSOLICITED = "Unsolicited"  # a NotifyDisplayMessages with a requestId we never sent


@dataclass(frozen=True, slots=True)
class HeldMessage:
    message_id: int
    priority: str
    state: str | None
    start_date_time: str | None
    end_date_time: str | None
    transaction_id: str | None
    info: dict[str, Any]
    status: str
    request_id: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: int
    station_id: str
    action: str
    message_id: int | None
    request_id: int | None
    request: dict[str, Any]
    status: str | None
    parts: int
    complete: bool
    created_at: datetime
    answered_at: datetime | None
    messages: tuple[dict[str, Any], ...] = ()  # a GetDisplayMessages: the reported messages, in order


def _held_values(
    station_key: str, info: dict[str, Any], status: str, request_id: int | None
) -> dict[str, Any]:
    return {
        "station_key": station_key,
        "message_id": int(info["id"]),
        "priority": str(info["priority"]),
        "state": info.get("state"),
        "start_date_time": info.get("startDateTime"),
        "end_date_time": info.get("endDateTime"),
        "transaction_id": info.get("transactionId"),
        "info": json.dumps(info, separators=(",", ":")),
        "status": status,
        "request_id": request_id,
    }


def _hold(
    connection: sa.Connection,
    station_key: str,
    infos: list[dict[str, Any]],
    status: str,
    request_id: int | None,
    now: datetime,
) -> None:
    """Store messages the station holds, replacing those with the same ids (O06: same id, new message)."""
    if not infos:
        return
    d = display_messages.c
    ids = [int(i["id"]) for i in infos]
    connection.execute(sa.delete(display_messages).where(d.station_key == station_key, d.message_id.in_(ids)))
    connection.execute(
        sa.insert(display_messages),
        [_held_values(station_key, i, status, request_id) | {"updated_at": now} for i in infos],
    )


def _forget(connection: sa.Connection, station_key: str, ids: list[int] | None) -> None:
    """The station no longer holds these messages (None: any of them)."""
    d = display_messages.c
    where = [d.station_key == station_key]
    if ids is not None:
        where.append(d.message_id.in_(ids))
    connection.execute(sa.delete(display_messages).where(*where))


class DisplayMessageRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- the requests --------------------------------------------------------------------------------------
    async def add_request(
        self,
        station_id: str,
        action: str,
        request: dict[str, Any],
        now: datetime,
        *,
        message_id: int | None = None,
        request_id: int | None = None,
    ) -> int:
        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(display_message_requests)
                .values(
                    station_key=station_id.casefold(),
                    station_id=station_id,
                    action=action,
                    message_id=message_id,
                    request_id=request_id,
                    request=json.dumps(request, separators=(",", ":")),
                    status=None,
                    parts=0,
                    complete=False,
                    created_at=now,
                )
                .returning(display_message_requests.c.id)
            )
            return int(result.scalar_one())

        return await self.committer.run(unit)

    async def set_answered(
        self, station_id: str, row_id: int, status: str, info: dict[str, Any] | None, now: datetime
    ) -> None:
        """The answer to a SetDisplayMessage; an accepted message is held (an AlwaysFront one replaces the
        station's other AlwaysFront message, O01.FR.16)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            _answer(connection, row_id, status, now)
            if info is not None and status == ACCEPTED:
                if info["priority"] == "AlwaysFront":
                    d = display_messages.c
                    connection.execute(
                        sa.delete(display_messages).where(
                            d.station_key == station_key, d.priority == "AlwaysFront"
                        )
                    )
                _hold(connection, station_key, [info], ACCEPTED, None, now)

        await self.committer.run(unit)

    async def clear_answered(
        self, station_id: str, row_id: int, message_id: int, status: str, now: datetime
    ) -> None:
        """The answer to a ClearDisplayMessage: Accepted (removed) and Unknown (not there) both mean the
        station holds no such message now."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            _answer(connection, row_id, status, now)
            if status in (ACCEPTED, "Unknown"):
                _forget(connection, station_key, [message_id])

        await self.committer.run(unit)

    async def get_answered(
        self,
        station_id: str,
        row_id: int,
        status: str,
        forget: list[int] | None,
        unknown: bool,
        now: datetime,
    ) -> None:
        """The answer to a GetDisplayMessages; Unknown to an unfiltered or id-only query means the station
        holds none of the messages asked about (``forget``)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            _answer(connection, row_id, status, now)
            if status == "Unknown":
                connection.execute(
                    sa.update(display_message_requests)
                    .where(display_message_requests.c.id == row_id)
                    .values(complete=True)
                )
                if unknown:
                    _forget(connection, station_key, forget)

        await self.committer.run(unit)

    async def failed(self, row_id: int, outcome: str, now: datetime) -> None:
        await self.committer.run(
            execute(
                sa.update(display_message_requests)
                .where(display_message_requests.c.id == row_id)
                .values(status=outcome[:32], answered_at=now)
            )
        )

    # -- the reports ----------------------------------------------------------------------------------------
    async def part(
        self, station_id: str, request_id: int, tbc: bool, infos: list[dict[str, Any]], now: datetime
    ) -> RequestRecord:
        """One NotifyDisplayMessages: the part, the request's progress (an unrequested report recorded as
        ``Unsolicited``) and, with the last part, the messages the station holds (an unfiltered report is the
        whole list: what it does not name is gone)."""
        station_key = station_id.casefold()
        r = display_message_requests.c

        def unit(connection: sa.Connection) -> RequestRecord:
            where = (
                r.station_key == station_key,
                r.request_id == request_id,
                r.action != "SetDisplayMessage",
            )
            row = connection.execute(sa.select(r.id, r.request).where(*where).order_by(r.id.desc())).first()
            if row is None:
                row_id = connection.execute(
                    sa.insert(display_message_requests)
                    .values(
                        station_key=station_key,
                        station_id=station_id,
                        action=UNSOLICITED,
                        request_id=request_id,
                        request="{}",
                        status=None,
                        parts=0,
                        complete=False,
                        created_at=now,
                    )
                    .returning(r.id)
                ).scalar_one()
                filters: dict[str, Any] = {}
            else:
                row_id = row.id
                filters = {k: v for k, v in json.loads(row.request).items() if k != "requestId"}
            connection.execute(
                sa.insert(display_message_parts).values(
                    station_key=station_key,
                    request_id=request_id,
                    tbc=tbc,
                    messages=json.dumps(infos, separators=(",", ":")),
                    received_at=now,
                )
            )
            connection.execute(
                sa.update(display_message_requests)
                .where(r.id == row_id)
                .values(parts=r.parts + 1, complete=not tbc)
            )
            if not tbc:
                reported = _parts(connection, station_key, request_id)
                if not filters:
                    _forget(connection, station_key, None)
                _hold(connection, station_key, reported, REPORTED, request_id, now)
            return _request(connection, row_id)

        return await self.committer.run(unit)

    # -- reads ------------------------------------------------------------------------------------------------
    async def held(self, station_id: str, offset: int, limit: int) -> tuple[list[HeldMessage], int]:
        d = display_messages.c
        where = d.station_key == station_id.casefold()
        query = (
            sa.select(*[c for c in display_messages.c if c.name not in ("id", "station_key")])
            .where(where)
            .order_by(d.message_id)
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(display_messages).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [HeldMessage(**(dict(row._mapping) | {"info": json.loads(row.info)})) for row in rows], total

    async def used_message_ids(self, station_id: str) -> set[int]:
        d = display_messages.c
        query = sa.select(d.message_id).where(d.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def used_request_ids(self, station_id: str) -> set[int]:
        r = display_message_requests.c
        query = sa.select(r.request_id).where(
            r.station_key == station_id.casefold(), r.request_id.is_not(None)
        )
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    async def request(self, row_id: int) -> RequestRecord | None:
        async with self.engine.connect() as connection:
            return await connection.run_sync(lambda sync: _request_or_none(sync, row_id))

    async def requests(self, station_id: str, offset: int, limit: int) -> tuple[list[RequestRecord], int]:
        """Newest first, without the reported messages (see :meth:`request`)."""
        r = display_message_requests.c
        where = r.station_key == station_id.casefold()
        query = (
            sa.select(display_message_requests).where(where).order_by(r.id.desc()).offset(offset).limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(display_message_requests).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_record(row) for row in rows], total


def _answer(connection: sa.Connection, row_id: int, status: str, now: datetime) -> None:
    connection.execute(
        sa.update(display_message_requests)
        .where(display_message_requests.c.id == row_id)
        .values(status=status[:32], answered_at=now)
    )


def _parts(connection: sa.Connection, station_key: str, request_id: int) -> list[dict[str, Any]]:
    p = display_message_parts.c
    rows = connection.execute(
        sa.select(p.messages).where(p.station_key == station_key, p.request_id == request_id).order_by(p.id)
    ).scalars()
    return [info for text in rows for info in json.loads(text)]


def _record(row: sa.Row[Any], messages: tuple[dict[str, Any], ...] = ()) -> RequestRecord:
    m = row._mapping
    return RequestRecord(
        id=m["id"],
        station_id=m["station_id"],
        action=m["action"],
        message_id=m["message_id"],
        request_id=m["request_id"],
        request=json.loads(m["request"]),
        status=m["status"],
        parts=m["parts"],
        complete=m["complete"],
        created_at=m["created_at"],
        answered_at=m["answered_at"],
        messages=messages,
    )


def _request_or_none(connection: sa.Connection, row_id: int) -> RequestRecord | None:
    row = connection.execute(
        sa.select(display_message_requests).where(display_message_requests.c.id == row_id)
    ).first()
    if row is None:
        return None
    messages: tuple[dict[str, Any], ...] = ()
    if row.request_id is not None:
        messages = tuple(_parts(connection, row.station_key, row.request_id))
    return _record(row, messages)


def _request(connection: sa.Connection, row_id: int) -> RequestRecord:
    record = _request_or_none(connection, row_id)
    assert record is not None
    return record
