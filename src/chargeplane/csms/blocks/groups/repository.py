"""All SQL of the groups block. Groups change from the API only (no OCPP path): plain transactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.groups.tables import station_group_members, station_groups
from chargeplane.csms.storage.batch_read import BatchReader


@dataclass(frozen=True, slots=True)
class GroupRecord:
    name: str
    description: str | None
    priority: int
    members: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRecord:
    station_id: str
    added_at: datetime


_g, _m = station_groups.c, station_group_members.c
_counted = station_group_members.alias("counted")
_MEMBERS = (
    sa.select(sa.func.count())
    .select_from(_counted)
    .where(_counted.c.group_id == _g.id)
    .correlate(station_groups)
    .scalar_subquery()
    .label("members")
)
_COLUMNS = (_g.name, _g.description, _g.priority, _MEMBERS, _g.created_at)


def _group(row: sa.Row[*tuple[Any, ...]]) -> GroupRecord:  # the group columns, whatever else the row holds
    return GroupRecord(row.name, row.description, row.priority, int(row.members), row.created_at)


class GroupRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # read after every accepted boot (the desired configuration): many stations' reads share one
        self._groups: BatchReader[str, list[GroupRecord]] = BatchReader(engine, _groups_of)

    async def create(self, name: str, description: str | None, priority: int, now: datetime) -> bool:
        """False when a group of that name (casefolded) exists."""
        async with self.engine.begin() as connection:
            found = await connection.execute(sa.select(_g.id).where(_g.name_key == name.casefold()))
            if found.first() is not None:
                return False
            await connection.execute(
                sa.insert(station_groups).values(
                    name=name,
                    name_key=name.casefold(),
                    description=description,
                    priority=priority,
                    created_at=now,
                )
            )
        return True

    async def get(self, name: str) -> GroupRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*_COLUMNS).where(_g.name_key == name.casefold()))
            ).first()
        return None if row is None else _group(row)

    async def list_groups(self, offset: int, limit: int) -> tuple[list[GroupRecord], int]:
        query = sa.select(*_COLUMNS).order_by(_g.name_key).offset(offset).limit(limit)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = (
                await connection.execute(sa.select(sa.func.count()).select_from(station_groups))
            ).scalar_one()
        return [_group(r) for r in rows], int(total)

    async def update(self, name: str, values: dict[str, object]) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.update(station_groups).where(_g.name_key == name.casefold()).values(**values)
            )
        return result.rowcount > 0

    async def delete(self, name: str) -> list[str] | None:
        """The members it had; None when there is no such group."""
        async with self.engine.begin() as connection:
            group_id = (
                await connection.execute(sa.select(_g.id).where(_g.name_key == name.casefold()))
            ).scalar()
            if group_id is None:
                return None
            members = list(
                (await connection.execute(sa.select(_m.station_id).where(_m.group_id == group_id))).scalars()
            )
            # explicit: SQLite enforces ON DELETE CASCADE only with its foreign_keys pragma
            await connection.execute(sa.delete(station_group_members).where(_m.group_id == group_id))
            await connection.execute(sa.delete(station_groups).where(_g.id == group_id))
        return members

    async def add_member(self, name: str, station_id: str, now: datetime) -> bool | None:
        """True when added, False when it was a member already, None when there is no such group."""
        async with self.engine.begin() as connection:
            group_id = (
                await connection.execute(sa.select(_g.id).where(_g.name_key == name.casefold()))
            ).scalar()
            if group_id is None:
                return None
            where = (_m.group_id == group_id, _m.station_key == station_id.casefold())
            if (await connection.execute(sa.select(_m.station_key).where(*where))).first() is not None:
                return False
            await connection.execute(
                sa.insert(station_group_members).values(
                    group_id=group_id, station_key=station_id.casefold(), station_id=station_id, added_at=now
                )
            )
        return True

    async def remove_member(self, name: str, station_id: str) -> bool | None:
        """True when removed, False when it was no member, None when there is no such group."""
        async with self.engine.begin() as connection:
            group_id = (
                await connection.execute(sa.select(_g.id).where(_g.name_key == name.casefold()))
            ).scalar()
            if group_id is None:
                return None
            result = await connection.execute(
                sa.delete(station_group_members).where(
                    _m.group_id == group_id, _m.station_key == station_id.casefold()
                )
            )
        return result.rowcount > 0

    async def members(
        self, name: str, offset: int = 0, limit: int | None = None
    ) -> tuple[list[MemberRecord], int]:
        join = station_group_members.join(station_groups, _m.group_id == _g.id)
        where = _g.name_key == name.casefold()
        query = sa.select(_m.station_id, _m.added_at).select_from(join).where(where).order_by(_m.station_key)
        query = query.offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(join).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = (await connection.execute(count)).scalar_one()
        return [MemberRecord(r.station_id, r.added_at) for r in rows], int(total)

    async def groups_of(self, station_id: str) -> list[GroupRecord]:
        """Highest priority first, then by name."""
        return (await self.groups_of_many((station_id,)))[station_id.casefold()]

    async def groups_of_many(self, station_ids: Sequence[str]) -> dict[str, list[GroupRecord]]:
        """Each station's groups, highest priority first, then by name, for many stations in one read, by
        casefolded station id (a station in no group: an empty list)."""
        found = await self._groups.get_many(sorted({station_id.casefold() for station_id in station_ids}))
        return {key: groups or [] for key, groups in found.items()}

    def close(self) -> None:
        self._groups.close()


# Built once: building it per read cost more than running it (the keys are an expanding parameter).
_GROUPS_OF = (
    sa.select(_m.station_key, *_COLUMNS)
    .select_from(station_groups.join(station_group_members, _m.group_id == _g.id))
    .where(_m.station_key.in_(sa.bindparam("keys", expanding=True)))
    .order_by(_m.station_key, _g.priority.desc(), _g.name_key)
)


def _groups_of(connection: sa.Connection, keys: Sequence[str]) -> dict[str, list[GroupRecord]]:
    """The :class:`BatchReader`'s read: the groups of the stations with these keys (those in none left out)."""
    found: dict[str, list[GroupRecord]] = {}
    for row in connection.execute(_GROUPS_OF, {"keys": list(keys)}):
        found.setdefault(row.station_key, []).append(_group(row))
    return found
