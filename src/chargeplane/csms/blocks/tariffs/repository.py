"""All SQL of the tariffs block.

Writes on the OCPP path (a transaction's samples and cost) are units of work of the group committer,
committed before the TransactionEvent is answered. Reads use the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargeplane.cost.samples import Reading
from chargeplane.csms.blocks.tariffs.tables import (
    tariff_assignments,
    tariff_samples,
    tariffs,
    transaction_costs,
)
from chargeplane.csms.storage.group_commit import GroupCommitter

TOKEN, GROUP = "token", "group"
ACTIVE, ENDED = "active", "ended"


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class TariffRecord:
    tariff_id: str
    tariff: dict[str, Any]  # 2.1 TariffType, wire form
    currency: str
    is_default: bool
    id_tokens: tuple[str, ...]
    groups: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CostRecord:
    transaction_key: int
    station_id: str
    transaction_id: str
    ocpp_version: str
    tariff_id: str
    tariff: dict[str, Any]
    id_token: str | None
    status: str
    breakdown: dict[str, Any] | None
    total_excl_tax: Decimal | None
    total_incl_tax: Decimal | None
    station_cost: dict[str, Any] | None
    mismatch: str | None
    last_sent_cost: Decimal | None
    last_sent_at: datetime | None
    updated_at: datetime


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _cost(row: sa.Row[Any]) -> CostRecord:
    m = row._mapping
    return CostRecord(
        transaction_key=m["transaction_key"],
        station_id=m["station_id"],
        transaction_id=m["transaction_id"],
        ocpp_version=m["ocpp_version"],
        tariff_id=m["tariff_id"],
        tariff=json.loads(m["tariff"]),
        id_token=m["id_token"],
        status=m["status"],
        breakdown=json.loads(m["breakdown"]) if m["breakdown"] else None,
        total_excl_tax=_decimal(m["total_excl_tax"]),
        total_incl_tax=_decimal(m["total_incl_tax"]),
        station_cost=json.loads(m["station_cost"]) if m["station_cost"] else None,
        mismatch=m["mismatch"],
        last_sent_cost=_decimal(m["last_sent_cost"]),
        last_sent_at=m["last_sent_at"],
        updated_at=m["updated_at"],
    )


class TariffRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- tariffs (API writes: their own transactions) --------------------------------------------------------

    async def _assignments(self, connection: AsyncConnection, ids: list[str]) -> dict[str, Any]:
        a = tariff_assignments.c
        rows = await connection.execute(sa.select(a.tariff_id, a.kind, a.value).where(a.tariff_id.in_(ids)))
        found: dict[str, dict[str, list[str]]] = {i: {TOKEN: [], GROUP: []} for i in ids}
        for row in rows:
            found[row.tariff_id][row.kind].append(row.value)
        return found

    async def tariffs(self, offset: int, limit: int) -> tuple[list[TariffRecord], int]:
        t = tariffs.c
        async with self.engine.connect() as connection:
            total = (await connection.execute(sa.select(sa.func.count()).select_from(tariffs))).scalar_one()
            rows = list(
                await connection.execute(sa.select(tariffs).order_by(t.tariff_id).offset(offset).limit(limit))
            )
            assigned = await self._assignments(connection, [r.tariff_id for r in rows])
        return [self._record(r, assigned[r.tariff_id]) for r in rows], int(total)

    @staticmethod
    def _record(row: sa.Row[Any], assigned: dict[str, list[str]]) -> TariffRecord:
        return TariffRecord(
            row.tariff_id,
            json.loads(row.tariff),
            row.currency,
            row.is_default,
            tuple(sorted(assigned[TOKEN])),
            tuple(sorted(assigned[GROUP])),
            row.created_at,
            row.updated_at,
        )

    async def tariff(self, tariff_id: str) -> TariffRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(tariffs).where(tariffs.c.tariff_id == tariff_id))
            ).one_or_none()
            if row is None:
                return None
            assigned = await self._assignments(connection, [tariff_id])
        return self._record(row, assigned[tariff_id])

    async def save(
        self,
        tariff_id: str,
        tariff: dict[str, Any],
        currency: str,
        is_default: bool,
        id_tokens: list[str],
        groups: list[str],
        now: datetime,
        *,
        create: bool,
    ) -> bool:
        """Create or replace a tariff and its assignments; False when it exists (create) / is missing (replace).
        Assignments of other tariffs to the same tokens or groups move to this one."""
        t, a = tariffs.c, tariff_assignments.c
        async with self.engine.begin() as connection:
            exists = (
                await connection.execute(sa.select(t.tariff_id).where(t.tariff_id == tariff_id))
            ).one_or_none() is not None
            if exists == create:
                return False
            if is_default:
                await connection.execute(sa.update(tariffs).where(t.is_default).values(is_default=False))
            values = {
                "tariff": _json(tariff),
                "currency": currency,
                "is_default": is_default,
                "updated_at": now,
            }
            if create:
                await connection.execute(
                    sa.insert(tariffs).values(tariff_id=tariff_id, created_at=now, **values)
                )
            else:
                await connection.execute(sa.update(tariffs).where(t.tariff_id == tariff_id).values(**values))
                await connection.execute(sa.delete(tariff_assignments).where(a.tariff_id == tariff_id))
            wanted = [(TOKEN, v) for v in id_tokens] + [(GROUP, v) for v in groups]
            for kind, value in wanted:
                await connection.execute(
                    sa.delete(tariff_assignments).where(a.kind == kind, a.value == value)
                )
            if wanted:
                await connection.execute(
                    sa.insert(tariff_assignments),
                    [{"tariff_id": tariff_id, "kind": k, "value": v} for k, v in wanted],
                )
        return True

    async def delete(self, tariff_id: str) -> bool:
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.delete(tariff_assignments).where(tariff_assignments.c.tariff_id == tariff_id)
            )
            result = await connection.execute(sa.delete(tariffs).where(tariffs.c.tariff_id == tariff_id))
        return bool(result.rowcount)

    async def anything_to_price(self) -> bool:
        """Whether any tariff exists, or any ongoing transaction has one."""
        async with self.engine.connect() as connection:
            if (await connection.execute(sa.select(tariffs.c.tariff_id).limit(1))).first() is not None:
                return True
            c = transaction_costs.c
            found = await connection.execute(sa.select(c.transaction_key).where(c.status == ACTIVE).limit(1))
            return found.first() is not None

    async def applicable(self, id_token: str | None, group: str | None) -> TariffRecord | None:
        """The token's tariff, else its group's, else the default tariff."""
        a, t = tariff_assignments.c, tariffs.c
        async with self.engine.connect() as connection:
            for kind, value in ((TOKEN, id_token), (GROUP, group)):
                if value is None:
                    continue
                row = (
                    await connection.execute(
                        sa.select(tariffs)
                        .join(tariff_assignments, a.tariff_id == t.tariff_id)
                        .where(a.kind == kind, a.value == value)
                    )
                ).one_or_none()
                if row is not None:
                    return self._record(row, {TOKEN: [], GROUP: []})
            row = (await connection.execute(sa.select(tariffs).where(t.is_default))).first()
        return self._record(row, {TOKEN: [], GROUP: []}) if row is not None else None

    # -- transaction costs (OCPP path: group committed) ------------------------------------------------------

    async def cost(self, transaction_key: int) -> CostRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(transaction_costs).where(transaction_costs.c.transaction_key == transaction_key)
                )
            ).one_or_none()
        return _cost(row) if row is not None else None

    async def active_costs(self) -> list[CostRecord]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(transaction_costs).where(transaction_costs.c.status == ACTIVE)
            )
            return [_cost(r) for r in rows]

    async def samples(self, transaction_key: int) -> list[Reading]:
        s = tariff_samples.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(s.at, s.energy_wh, s.charging)
                .where(s.transaction_key == transaction_key)
                .order_by(s.at, s.id)
            )
            return [Reading(r.at, r.energy_wh, r.charging) for r in rows]

    async def record_event(
        self,
        transaction_key: int,
        opening: dict[str, Any] | None,
        samples: list[Reading],
        changes: dict[str, Any],
        now: datetime,
    ) -> None:
        """One event's samples, and the cost row created (``opening``) or updated (``changes``), in one unit."""

        def unit(connection: sa.Connection) -> None:
            c = transaction_costs.c
            if opening is not None:
                exists = connection.execute(
                    sa.select(c.transaction_key).where(c.transaction_key == transaction_key)
                ).one_or_none()
                if exists is None:
                    connection.execute(
                        sa.insert(transaction_costs).values(
                            transaction_key=transaction_key, status=ACTIVE, updated_at=now, **opening
                        )
                    )
            if samples:
                connection.execute(
                    sa.insert(tariff_samples),
                    [
                        {
                            "transaction_key": transaction_key,
                            "at": s.at,
                            "energy_wh": s.energy_wh,
                            "charging": s.charging,
                        }
                        for s in samples
                    ],
                )
            if changes:
                connection.execute(
                    sa.update(transaction_costs)
                    .where(c.transaction_key == transaction_key)
                    .values(updated_at=now, **changes)
                )

        await self.committer.run(unit)

    async def update_cost(self, transaction_key: int, changes: dict[str, Any], now: datetime) -> None:
        await self.record_event(transaction_key, None, [], changes, now)


def cost_changes(
    breakdown: dict[str, Any] | None, excl: Decimal | None, incl: Decimal | None
) -> dict[str, Any]:
    return {
        "breakdown": _json(breakdown) if breakdown is not None else None,
        "total_excl_tax": str(excl) if excl is not None else None,
        "total_incl_tax": str(incl) if incl is not None else None,
    }


def station_cost_changes(details: dict[str, Any], mismatch: str | None) -> dict[str, Any]:
    return {"station_cost": _json(details), "mismatch": mismatch}


def opening_values(
    station_id: str, transaction_id: str, version: str, tariff: TariffRecord, id_token: str | None
) -> dict[str, Any]:
    return {
        "station_id": station_id,
        "transaction_id": transaction_id,
        "ocpp_version": version,
        "tariff_id": tariff.tariff_id,
        "tariff": _json(tariff.tariff),
        "id_token": id_token,
    }
