"""All SQL of the password rotation block.

A rotation starts and is answered on the operator's API path (direct writes on the engine); it completes on
the OCPP path, when the station connects with the new password (a unit of work of the group committer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.password_rotation.tables import password_rotations
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

# while a rotation is in one of these, the new password is accepted beside the current one
OPEN = ("sent", "accepted", "unanswered")


@dataclass(frozen=True, slots=True)
class RotationRecord:
    station_id: str
    status: str
    station_status: str | None
    pending: bool
    requested_at: datetime
    answered_at: datetime | None
    completed_at: datetime | None


def _key(station_id: str) -> str:
    return station_id.casefold()


class RotationRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def start(self, station_id: str, pending_hash: str, now: datetime) -> None:
        """A new rotation replaces the station's previous one (and its pending password)."""
        t = password_rotations
        async with self.engine.begin() as connection:
            await connection.execute(sa.delete(t).where(t.c.station_key == _key(station_id)))
            await connection.execute(
                sa.insert(t).values(
                    station_key=_key(station_id),
                    station_id=station_id,
                    pending_hash=pending_hash,
                    status="sent",
                    requested_at=now,
                )
            )

    async def answered(self, station_id: str, status: str, station_status: str | None, now: datetime) -> None:
        """The station's answer; a rotation that cannot complete any more drops its pending password."""
        t = password_rotations
        values: dict[str, object] = {"status": status, "station_status": station_status, "answered_at": now}
        if status not in OPEN:
            values["pending_hash"] = None
        mine = t.c.station_key == _key(station_id)
        async with self.engine.begin() as connection:
            await connection.execute(sa.update(t).where(mine, t.c.status == "sent").values(values))
            # the station may reconnect with the new password before its answer is processed here: the
            # completion stands, the answer is recorded beside it
            await connection.execute(
                sa.update(t)
                .where(mine, t.c.status == "completed", t.c.station_status.is_(None))
                .values(station_status=station_status, answered_at=now)
            )

    async def pending_hash(self, station_id: str) -> str | None:
        t = password_rotations
        async with self.engine.connect() as connection:
            found = await connection.execute(
                sa.select(t.c.pending_hash).where(t.c.station_key == _key(station_id), t.c.status.in_(OPEN))
            )
            return found.scalar_one_or_none()

    async def complete(self, station_id: str, pending_hash: str, now: datetime) -> bool:
        """The station connected with ``pending_hash``'s password: settled. False if another rotation (or
        none) is open now."""
        t = password_rotations
        statement = (
            sa.update(t)
            .where(
                t.c.station_key == _key(station_id),
                t.c.pending_hash == pending_hash,
                t.c.status.in_(OPEN),
            )
            .values(status="completed", pending_hash=None, completed_at=now)
        )
        return await self.committer.run(execute(statement)) > 0

    async def get(self, station_id: str) -> RotationRecord | None:
        t = password_rotations
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(t).where(t.c.station_key == _key(station_id)))
            ).one_or_none()
        if row is None:
            return None
        return RotationRecord(
            row.station_id,
            row.status,
            row.station_status,
            row.pending_hash is not None,
            row.requested_at,
            row.answered_at,
            row.completed_at,
        )
