"""All SQL of the remote_control block: the command log.

A command is logged when its CALL is answered (or fails, or is refused): an OCPP-path write, so a unit of work
of the CSMS's group committer. Reads (the commands API) use the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        }

        def insert(connection: sa.Connection) -> int:
            key = connection.execute(sa.insert(command_log).values(values)).inserted_primary_key
            assert key is not None
            return int(key[0])

        return await self.committer.run(insert)

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
