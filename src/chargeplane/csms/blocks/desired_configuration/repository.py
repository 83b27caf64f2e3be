"""All SQL of the desired-configuration block. The operator's desired sets change from the API (plain
transactions); the stations' answers and the 1.6 values read back are written through the group committer,
as the device model writes its values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.desired_configuration.tables import (
    desired_known16,
    desired_results,
    desired_settings,
)
from chargeplane.csms.storage.group_commit import GroupCommitter

VARIABLE, KEY16 = "variable", "key16"


@dataclass(frozen=True, slots=True)
class Setting:
    """One desired value: a 2.x variable attribute (``kind`` variable) or a 1.6 key (``kind`` key16, only
    ``target`` = the key)."""

    kind: str
    target: str
    value: str
    component: str | None = None
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable: str | None = None
    variable_instance: str | None = None
    attribute_type: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    kind: str
    target: str
    value: str
    group_name: str
    status: str
    detail: str | None
    applied_at: datetime


_SETTING_FIELDS = tuple(Setting.__dataclass_fields__)
_s, _r, _k = desired_settings.c, desired_results.c, desired_known16.c


class DesiredRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def replace(self, group: str, settings: Sequence[Setting], now: datetime) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(sa.delete(desired_settings).where(_s.group_key == group.casefold()))
            if settings:
                await connection.execute(
                    sa.insert(desired_settings),
                    [
                        {"group_key": group.casefold(), "updated_at": now}
                        | {name: getattr(s, name) for name in _SETTING_FIELDS}
                        for s in settings
                    ],
                )

    async def settings(self, groups: Sequence[str]) -> dict[str, list[Setting]]:
        """The desired settings of each of ``groups`` (casefolded names as keys), in target order."""
        keys = [g.casefold() for g in groups]
        query = (
            sa.select(_s.group_key, *(_s[name] for name in _SETTING_FIELDS))
            .where(_s.group_key.in_(keys))
            .order_by(_s.kind, _s.target)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all() if keys else []
        found: dict[str, list[Setting]] = {key: [] for key in keys}
        for row in rows:
            found[row.group_key].append(Setting(**{name: row._mapping[name] for name in _SETTING_FIELDS}))
        return found

    async def record(self, station_id: str, results: Sequence[Result]) -> None:
        """The station's answers, one row per target (the last one)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            for result in results:
                connection.execute(
                    sa.delete(desired_results).where(
                        _r.station_key == station_key, _r.kind == result.kind, _r.target == result.target
                    )
                )
                connection.execute(
                    sa.insert(desired_results).values(
                        station_key=station_key,
                        kind=result.kind,
                        target=result.target,
                        value=result.value,
                        group_name=result.group_name,
                        status=result.status,
                        detail=result.detail[:255] if result.detail else None,
                        applied_at=result.applied_at,
                    )
                )

        if results:
            await self.committer.run(unit)

    async def results(self, station_id: str) -> dict[tuple[str, str], Result]:
        query = sa.select(
            _r.kind, _r.target, _r.value, _r.group_name, _r.status, _r.detail, _r.applied_at
        ).where(_r.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {(row.kind, row.target): Result(*row) for row in rows}

    async def store_known16(
        self, station_id: str, values: Sequence[tuple[str, str | None]], now: datetime
    ) -> None:
        """1.6 keys read back (GetConfiguration; None: unknown to the station) or taken (ChangeConfiguration)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            for key, value in values:
                connection.execute(
                    sa.delete(desired_known16).where(_k.station_key == station_key, _k.key == key)
                )
                connection.execute(
                    sa.insert(desired_known16).values(
                        station_key=station_key, key=key, value=value, updated_at=now
                    )
                )

        if values:
            await self.committer.run(unit)

    async def known16(self, station_id: str) -> dict[str, tuple[str | None, datetime]]:
        query = sa.select(_k.key, _k.value, _k.updated_at).where(_k.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row.key: (row.value, row.updated_at) for row in rows}
