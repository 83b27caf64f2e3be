"""All SQL of the data-transfer block.

Every DataTransfer is logged on the OCPP path (a station's request, the answer to one the CSMS sent): a unit of
work of the CSMS's group committer, committed before the handler answers. Reads use the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.data_transfer.tables import data_transfers
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


@dataclass(frozen=True, slots=True)
class TransferRecord:
    id: int
    station_id: str
    direction: str
    vendor_id: str
    message_id: str | None
    data: str | None
    status: str
    response_data: str | None
    created_at: datetime


_COLUMNS = [c for c in data_transfers.c if c.name != "station_key"]


class DataTransferRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def log(
        self,
        *,
        station_id: str,
        direction: str,
        vendor_id: str,
        message_id: str | None,
        data: str | None,
        status: str,
        response_data: str | None,
        now: datetime,
    ) -> None:
        await self.committer.run(
            execute(
                sa.insert(data_transfers).values(
                    station_key=station_id.casefold(),
                    station_id=station_id,
                    direction=direction,
                    vendor_id=vendor_id,
                    message_id=message_id,
                    data=data,
                    status=status,
                    response_data=response_data,
                    created_at=now,
                )
            )
        )

    async def find(self, station_id: str | None, offset: int, limit: int) -> tuple[list[TransferRecord], int]:
        """Newest first."""
        conditions = [] if station_id is None else [data_transfers.c.station_key == station_id.casefold()]
        query = (
            sa.select(*_COLUMNS)
            .where(*conditions)
            .order_by(data_transfers.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(data_transfers).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [TransferRecord(**row._mapping) for row in rows], total
