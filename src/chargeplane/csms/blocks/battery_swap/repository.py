"""All SQL of the battery swap block.

Swap events and the inventory they change are one unit of work of the CSMS's group committer (the OCPP
path); a RequestBatterySwap from the API is stored before it is sent, directly on the engine; reads use the
engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.battery_swap.tables import (
    battery_slots,
    battery_swap_events,
    battery_swap_requests,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

BATTERY_OUT = "BatteryOut"


def station_key(station_id: str) -> str:
    return station_id.casefold()


@dataclass(frozen=True, slots=True)
class SwapEvent:
    station_id: str
    request_id: int
    event_type: str
    id_token: str  # a KeyCode one as its digest
    token_type: str
    token_status: str
    battery_data: list[dict[str, Any]]
    at: datetime


@dataclass(frozen=True, slots=True)
class SwapEventRecord(SwapEvent):
    id: int


@dataclass(frozen=True, slots=True)
class SwapRequestRecord:
    id: int
    station_id: str
    id_token: str
    token_type: str
    status: str
    status_reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SlotRecord:
    evse_id: int
    serial_number: str
    soc: float
    soh: float
    present: bool
    updated_at: datetime


_EVENT_COLUMNS = [c for c in battery_swap_events.c if c.name != "station_key"]
_REQUEST_COLUMNS = [c for c in battery_swap_requests.c if c.name != "station_key"]


class BatterySwapRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def record(self, event: SwapEvent) -> None:
        """The event and what it says about the slots: BatteryOut empties them, the others (BatteryIn, and
        BatteryOutTimeout: still in its slot) put the battery there."""
        key = station_key(event.station_id)
        present = event.event_type != BATTERY_OUT

        def write(connection: sa.Connection) -> None:
            connection.execute(
                sa.insert(battery_swap_events).values(
                    station_key=key,
                    station_id=event.station_id,
                    request_id=event.request_id,
                    event_type=event.event_type,
                    id_token=event.id_token,
                    token_type=event.token_type,
                    token_status=event.token_status,
                    battery_data=event.battery_data,
                    at=event.at,
                )
            )
            for battery in event.battery_data:
                slot = (battery_slots.c.station_key == key) & (battery_slots.c.evse_id == battery["evseId"])
                connection.execute(sa.delete(battery_slots).where(slot))
                connection.execute(
                    sa.insert(battery_slots).values(
                        station_key=key,
                        evse_id=battery["evseId"],
                        station_id=event.station_id,
                        serial_number=battery["serialNumber"],
                        soc=battery["soC"],
                        soh=battery["soH"],
                        present=present,
                        updated_at=event.at,
                    )
                )

        await self.committer.run(write)

    async def events(
        self, *, station_id: str | None, request_id: int | None, offset: int, limit: int
    ) -> tuple[list[SwapEventRecord], int]:
        """Newest first."""
        conditions = []
        if station_id is not None:
            conditions.append(battery_swap_events.c.station_key == station_key(station_id))
        if request_id is not None:
            conditions.append(battery_swap_events.c.request_id == request_id)
        query = (
            sa.select(*_EVENT_COLUMNS)
            .where(*conditions)
            .order_by(battery_swap_events.c.at.desc(), battery_swap_events.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(battery_swap_events).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [SwapEventRecord(**row._mapping) for row in rows], total

    async def slots(self, station_id: str) -> list[SlotRecord]:
        query = (
            sa.select(
                battery_slots.c.evse_id,
                battery_slots.c.serial_number,
                battery_slots.c.soc,
                battery_slots.c.soh,
                battery_slots.c.present,
                battery_slots.c.updated_at,
            )
            .where(battery_slots.c.station_key == station_key(station_id))
            .order_by(battery_slots.c.evse_id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SlotRecord(**row._mapping) for row in rows]

    async def create_request(self, station_id: str, id_token: str, token_type: str, now: datetime) -> int:
        values = {
            "station_key": station_key(station_id),
            "station_id": station_id,
            "id_token": id_token,
            "token_type": token_type,
            "status": "Requested",
            "created_at": now,
        }
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.insert(battery_swap_requests).values(values).returning(battery_swap_requests.c.id)
            )
            return int(result.scalar_one())

    async def set_request_status(self, request_id: int, status: str, reason: str | None) -> SwapRequestRecord:
        statement = (
            sa.update(battery_swap_requests)
            .where(battery_swap_requests.c.id == request_id)
            .values(status=status, status_reason=reason)
        )
        await self.committer.run(execute(statement))
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*_REQUEST_COLUMNS).where(battery_swap_requests.c.id == request_id)
                )
            ).one()
        return SwapRequestRecord(**row._mapping)
