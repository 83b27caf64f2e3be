"""All SQL of the remote_control block: the command log.

A command is logged when its CALL is answered (or fails, or is refused): an OCPP-path write, so a unit of work
of the CSMS's group committer. Reads (the commands API) use the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.remote_control.tables import command_log
from chargeplane.csms.storage.group_commit import GroupCommitter


@dataclass(frozen=True, slots=True)
class CommandEntry:
    station_id: str
    action: str
    version: str | None
    request: str
    response: str | None
    error_code: str | None
    error_description: str | None
    outcome: str
    created_at: datetime
    duration_ms: int
    correlation: str | None = field(default=None, kw_only=True)  # what to find it by (a remote start)
    follow_up: str | None = field(default=None, kw_only=True)  # what became of it
    initiator: str | None = field(default=None, kw_only=True)  # who asked: api:<token>, console:<user>


@dataclass(frozen=True, slots=True)
class CommandRecord(CommandEntry):
    id: int


class CommandLogRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def add(self, entry: CommandEntry) -> int:
        values: dict[str, Any] = {
            "station_id": entry.station_id,
            "action": entry.action,
            "version": entry.version,
            "request": entry.request,
            "response": entry.response,
            "error_code": entry.error_code,
            "error_description": entry.error_description,
            "outcome": entry.outcome,
            "created_at": entry.created_at,
            "duration_ms": entry.duration_ms,
            "correlation": entry.correlation,
            "initiator": entry.initiator,
        }

        def insert(connection: sa.Connection) -> int:
            key = connection.execute(sa.insert(command_log).values(values)).inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self.committer.run(insert)

    async def follow_up(
        self, station_id: str, correlation: str, since: datetime, note: str
    ) -> CommandRecord | None:
        """Note (added to any before) what became of the newest answered command about ``correlation`` sent
        since ``since``."""

        def update(connection: sa.Connection) -> CommandRecord | None:
            c = command_log.c
            newest = (
                sa.select(c.id)
                .where(
                    c.station_id == station_id,
                    c.correlation == correlation,
                    c.outcome == "ok",
                    c.created_at >= since,
                )
                .order_by(c.created_at.desc(), c.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            statement = (
                sa.update(command_log)
                .where(c.id == newest)
                .values(follow_up=sa.func.substr(sa.func.coalesce(c.follow_up + "; ", "") + note, 1, 500))
                .returning(*command_log.c)
            )
            row = connection.execute(statement).first()
            return CommandRecord(**row._mapping) if row is not None else None

        return await self.committer.run(update)

    @staticmethod
    def _filtered(query: Any, station_id: str | None, action: str | None) -> Any:
        if station_id is not None:
            query = query.where(command_log.c.station_id == station_id)
        if action is not None:
            query = query.where(command_log.c.action == action)
        return query

    async def list(
        self, *, station_id: str | None = None, action: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[CommandRecord]:
        """Newest first."""
        query = self._filtered(sa.select(command_log), station_id, action)
        query = query.order_by(command_log.c.created_at.desc(), command_log.c.id.desc())
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.offset(offset).limit(limit))).all()
        return [CommandRecord(**row._mapping) for row in rows]

    async def count(self, *, station_id: str | None = None, action: str | None = None) -> int:
        query = self._filtered(sa.select(sa.func.count()).select_from(command_log), station_id, action)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())
