"""Storage of the sites block: the sites' trees, grid limits and price curves, the EV needs per transaction (written from
the HTTP API, not on the OCPP path: one short transaction each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.sites.tables import site_ev_needs, sites
from chargeplane.csms.blocks.sites.v2x import V2xNeeds


@dataclass(frozen=True, slots=True)
class SiteRow:
    site_id: str
    tree: bytes  # JSON
    grid_limit: tuple[float, float, float] | None
    tariff: bytes | None = None  # JSON (service.Tariff); None: no prices, the allocator alone
    grid_service: bytes | None = None  # JSON (v2x.GridServiceWindow); None: none asked


@dataclass(frozen=True, slots=True)
class EvNeeds:
    transaction_id: str
    maximum: float | None
    minimum: float
    priority: int
    departure: datetime | None
    energy: float | None = None  # kWh the EV needs in the transaction; None: unknown
    v2x: V2xNeeds | None = None  # it may discharge (on a 2.1 station); None: charge only


class SitesRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self) -> list[SiteRow]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(sites).order_by(sites.c.site_id))).all()
        return [
            SiteRow(
                r.site_id,
                r.tree.encode(),
                None if r.grid_limit is None else tuple(msgspec.json.decode(r.grid_limit)),
                None if r.tariff is None else r.tariff.encode(),
                None if r.grid_service is None else r.grid_service.encode(),
            )
            for r in rows
        ]

    async def put(self, row: SiteRow, now: datetime) -> bool:
        """Create or replace; True when it was created."""
        values = {
            "tree": row.tree.decode(),
            "grid_limit": None if row.grid_limit is None else msgspec.json.encode(row.grid_limit).decode(),
            "tariff": None if row.tariff is None else row.tariff.decode(),
            "grid_service": None if row.grid_service is None else row.grid_service.decode(),
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            done = await conn.execute(sa.update(sites).where(sites.c.site_id == row.site_id).values(values))
            if done.rowcount:
                return False
            await conn.execute(sa.insert(sites).values(site_id=row.site_id, **values))
        return True

    async def delete(self, site_id: str) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(sa.delete(sites).where(sites.c.site_id == site_id))
        return bool(done.rowcount)

    async def needs(self) -> dict[str, EvNeeds]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(site_ev_needs))).all()
        return {
            r.transaction_id: EvNeeds(
                r.transaction_id,
                r.maximum,
                r.minimum,
                r.priority,
                r.departure,
                r.energy,
                None if r.v2x is None else msgspec.json.decode(r.v2x, type=V2xNeeds),
            )
            for r in rows
        }

    async def put_needs(self, needs: EvNeeds, now: datetime) -> None:
        values = {
            "maximum": needs.maximum,
            "minimum": needs.minimum,
            "priority": needs.priority,
            "departure": needs.departure,
            "energy": needs.energy,
            "v2x": None if needs.v2x is None else msgspec.json.encode(needs.v2x).decode(),
            "updated_at": now,
        }
        key = site_ev_needs.c.transaction_id == needs.transaction_id
        async with self.engine.begin() as conn:
            done = await conn.execute(sa.update(site_ev_needs).where(key).values(values))
            if not done.rowcount:
                await conn.execute(
                    sa.insert(site_ev_needs).values(transaction_id=needs.transaction_id, **values)
                )
