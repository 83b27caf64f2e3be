"""All SQL of the reservation block.

Status changes happen on the OCPP path (the station's answer to ReserveNow / CancelReservation, its
ReservationStatusUpdate, a transaction that uses the reservation) or in the expiry job: units of work of the
CSMS's group committer. :meth:`ReservationRepository.create` records the operator's request from the HTTP API
before ReserveNow is sent, directly on the engine; reads use the engine.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.reservation.tables import reservations
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


def station_key(station_id: str) -> str:
    return station_id.casefold()


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    id: int
    station_id: str
    evse_id: int | None
    connector_id: int | None
    connector_type: str | None
    id_token: str
    token_type: str | None
    group_id_token: str | None
    group_token_type: str | None
    expires_at: datetime
    status: str
    status_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewReservation:
    station_id: str
    id_token: str
    expires_at: datetime
    token_type: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    connector_type: str | None = None
    group_id_token: str | None = None
    group_token_type: str | None = None


_COLUMNS = [c for c in reservations.c if c.name != "station_key"]


class ReservationRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def create(self, new: NewReservation, status: str, now: datetime) -> int:
        values: dict[str, Any] = {
            "station_key": station_key(new.station_id),
            "station_id": new.station_id,
            "evse_id": new.evse_id,
            "connector_id": new.connector_id,
            "connector_type": new.connector_type,
            "id_token": new.id_token,
            "token_type": new.token_type,
            "group_id_token": new.group_id_token,
            "group_token_type": new.group_token_type,
            "expires_at": new.expires_at,
            "status": status,
            "created_at": now,
            "updated_at": now,
        }
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.insert(reservations).values(values).returning(reservations.c.id)
            )
            return int(result.scalar_one())

    async def get(self, reservation_id: int) -> ReservationRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*_COLUMNS).where(reservations.c.id == reservation_id))
            ).first()
        return ReservationRecord(**row._mapping) if row is not None else None

    async def find(
        self, *, station_id: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[ReservationRecord], int]:
        """Newest first."""
        conditions = []
        if station_id is not None:
            conditions.append(reservations.c.station_key == station_key(station_id))
        if status is not None:
            conditions.append(reservations.c.status == status)
        query = (
            sa.select(*_COLUMNS)
            .where(*conditions)
            .order_by(reservations.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(reservations).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [ReservationRecord(**row._mapping) for row in rows], total

    async def set_status(
        self,
        reservation_id: int,
        status: str,
        now: datetime,
        *,
        reason: str | None = None,
        station_id: str | None = None,
        only_from: Collection[str] | None = None,
    ) -> bool:
        """Change the status; with ``station_id`` only a reservation of that station, with ``only_from`` only
        from one of those statuses. False when nothing matched."""
        statement = sa.update(reservations).where(reservations.c.id == reservation_id)
        if station_id is not None:
            statement = statement.where(reservations.c.station_key == station_key(station_id))
        if only_from is not None:
            statement = statement.where(reservations.c.status.in_(list(only_from)))
        statement = statement.values(status=status, status_reason=reason, updated_at=now)
        return await self.committer.run(execute(statement)) > 0

    async def expire(self, now: datetime, active: Collection[str]) -> list[ReservationRecord]:
        """Mark every active reservation past its expiry Expired; the ones changed."""

        def close_expired(connection: sa.Connection) -> list[ReservationRecord]:
            rows = connection.execute(
                sa.select(*_COLUMNS)
                .where(reservations.c.status.in_(list(active)), reservations.c.expires_at <= now)
                .with_for_update()
            ).all()
            ids = [row.id for row in rows]
            if ids:
                connection.execute(
                    sa.update(reservations)
                    .where(reservations.c.id.in_(ids), reservations.c.status.in_(list(active)))
                    .values(status="Expired", updated_at=now)
                )
            return [ReservationRecord(**row._mapping) for row in rows]

        return await self.committer.run(close_expired)
