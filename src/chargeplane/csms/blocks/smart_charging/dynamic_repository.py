"""The SQL of 2.1 dynamic schedules (K28) and priority charging notices (K21/K22): writes through the group
committer like the rest of the block."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.smart_charging.repository import station_key
from chargeplane.csms.blocks.smart_charging.tables import dynamic_schedules, priority_charging_events
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


@dataclass(frozen=True, slots=True)
class DynamicValues:
    profile_id: int
    schedule_update: dict[str, Any]  # ChargingScheduleUpdateType, wire JSON (camelCase)
    updated_at: datetime
    pulled_at: datetime | None
    pulls: int


@dataclass(frozen=True, slots=True)
class PriorityNotice:
    transaction_id: str
    activated: bool
    received_at: datetime


class DynamicRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def set_values(
        self, station_id: str, profile_id: int, update: dict[str, Any], now: datetime
    ) -> None:
        key = station_key(station_id)
        text = msgspec.json.encode(update).decode()
        c = dynamic_schedules.c

        def work(connection: sa.Connection) -> None:
            changed = connection.execute(
                sa.update(dynamic_schedules)
                .where(c.station_key == key, c.profile_id == profile_id)
                .values(schedule_update=text, updated_at=now)
            ).rowcount
            if not changed:
                connection.execute(
                    sa.insert(dynamic_schedules).values(
                        station_key=key, profile_id=profile_id, schedule_update=text, updated_at=now, pulls=0
                    )
                )

        await self.committer.run(work)

    async def pulled(self, station_id: str, profile_id: int, now: datetime) -> None:
        c = dynamic_schedules.c
        statement = (
            sa.update(dynamic_schedules)
            .where(c.station_key == station_key(station_id), c.profile_id == profile_id)
            .values(pulled_at=now, pulls=c.pulls + 1)
        )
        await self.committer.run(execute(statement))

    async def values(self, station_id: str, profile_id: int | None = None) -> list[DynamicValues]:
        c = dynamic_schedules.c
        query = sa.select(dynamic_schedules).where(c.station_key == station_key(station_id))
        if profile_id is not None:
            query = query.where(c.profile_id == profile_id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(c.profile_id))).all()
        return [
            DynamicValues(
                r.profile_id, msgspec.json.decode(r.schedule_update), r.updated_at, r.pulled_at, r.pulls
            )
            for r in rows
        ]

    async def add_priority(
        self, station_id: str, transaction_id: str, activated: bool, now: datetime
    ) -> None:
        values = {
            "station_key": station_key(station_id),
            "transaction_id": transaction_id,
            "activated": activated,
            "received_at": now,
        }
        await self.committer.run(execute(sa.insert(priority_charging_events).values(values)))

    async def priority(self, station_id: str, transaction_id: str) -> list[PriorityNotice]:
        """The notices of one transaction, oldest first."""
        c = priority_charging_events.c
        query = (
            sa.select(c.transaction_id, c.activated, c.received_at)
            .where(c.station_key == station_key(station_id), c.transaction_id == transaction_id)
            .order_by(c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PriorityNotice(r.transaction_id, r.activated, r.received_at) for r in rows]
