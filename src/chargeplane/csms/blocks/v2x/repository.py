"""All SQL of the v2x block: writes as units of work of the group committer, reads on the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.v2x.tables import v2x_allowed, v2x_sessions
from chargeplane.csms.storage.group_commit import GroupCommitter


@dataclass(frozen=True, slots=True)
class AllowedRecord:
    scope: str
    subject: str
    transfers: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    station_key: str
    transaction_id: str
    evse_id: int | None
    allowed: tuple[str, ...] | None
    requested: str | None
    available: tuple[str, ...]
    parameters: dict[str, Any] | None
    export_start_wh: float | None
    export_last_wh: float | None
    power_w: float | None
    updated_at: datetime
    evse_sleep: bool = False  # Q10.FR.04: its EVSE sleeps (the latest event that said anything)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(t for t in (text or "").split(",") if t)


def _session(row: sa.Row[Any]) -> SessionRecord:
    return SessionRecord(
        row.station_key,
        row.transaction_id,
        row.evse_id,
        None if row.allowed is None else _split(row.allowed),
        row.requested,
        _split(row.available),
        row.parameters,
        row.export_start_wh,
        row.export_last_wh,
        row.power_w,
        row.updated_at,
        bool(row.evse_sleep),
    )


class V2xRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- allowed energy transfer -------------------------------------------------------------------------
    async def put_allowed(self, scope: str, subject: str, transfers: tuple[str, ...], now: datetime) -> None:
        a = v2x_allowed.c

        def unit(connection: sa.Connection) -> None:
            connection.execute(sa.delete(v2x_allowed).where(a.scope == scope, a.subject == subject))
            connection.execute(
                sa.insert(v2x_allowed).values(
                    scope=scope, subject=subject, transfers=",".join(transfers), updated_at=now
                )
            )

        await self.committer.run(unit)

    async def delete_allowed(self, scope: str, subject: str) -> bool:
        a = v2x_allowed.c

        def unit(connection: sa.Connection) -> bool:
            result = connection.execute(sa.delete(v2x_allowed).where(a.scope == scope, a.subject == subject))
            return bool(result.rowcount)

        return await self.committer.run(unit)

    async def allowed(self, scope: str | None = None) -> list[AllowedRecord]:
        a = v2x_allowed.c
        query = sa.select(v2x_allowed).order_by(a.scope, a.subject)
        if scope is not None:
            query = query.where(a.scope == scope)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [AllowedRecord(r.scope, r.subject, _split(r.transfers), r.updated_at) for r in rows]

    async def allowed_one(self, scope: str, subject: str) -> tuple[str, ...] | None:
        a = v2x_allowed.c
        query = sa.select(a.transfers).where(a.scope == scope, a.subject == subject)
        async with self.engine.connect() as connection:
            text = (await connection.execute(query)).scalar_one_or_none()
        return None if text is None else _split(text)

    # -- sessions ------------------------------------------------------------------------------------------
    async def update_session(
        self, station_id: str, transaction_id: str, now: datetime, **values: Any
    ) -> None:
        """Set ``values`` on the transaction's row (made when missing). ``export_wh``: a new export register
        reading (the first one of the transaction is kept as its start)."""
        s = v2x_sessions.c
        key = (station_id.casefold(), transaction_id)
        export = values.pop("export_wh", None)
        for name in ("allowed", "available"):
            if isinstance(values.get(name), tuple):
                values[name] = ",".join(values[name])

        def unit(connection: sa.Connection) -> None:
            where = (s.station_key == key[0], s.transaction_id == key[1])
            row = connection.execute(sa.select(s.export_start_wh).where(*where)).first()
            if export is not None:
                values["export_last_wh"] = export
                if row is None or row.export_start_wh is None:
                    values["export_start_wh"] = export
            if row is None:
                connection.execute(
                    sa.insert(v2x_sessions).values(
                        station_key=key[0], transaction_id=key[1], updated_at=now, **values
                    )
                )
            else:
                connection.execute(sa.update(v2x_sessions).where(*where).values(updated_at=now, **values))

        await self.committer.run(unit)

    async def session(self, station_id: str, transaction_id: str) -> SessionRecord | None:
        s = v2x_sessions.c
        query = sa.select(v2x_sessions).where(
            s.station_key == station_id.casefold(), s.transaction_id == transaction_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _session(row)
