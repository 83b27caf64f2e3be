"""All SQL of the DER control block.

Writes on the OCPP path (a ReportDERControl part, an alarm, a start/stop notice) are units of work of the
group committer, committed before the handler answers. Reads use the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.der_control.tables import (
    der_controls,
    der_ev_parameters,
    der_notices,
    der_reports,
    site_der_controls,
)
from chargeplane.csms.storage.group_commit import GroupCommitter

ALARM, START_STOP = "alarm", "startStop"


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Control:
    """A DER control: its id, type, kind (default or scheduled) and setting in wire form."""

    control_id: str
    control_type: str
    is_default: bool
    setting: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StationControl:
    station_id: str
    control: Control
    site_id: str | None
    status: str | None  # our SetDERControl's answer (None: not set by us)
    superseded_ids: tuple[str, ...]
    reported: bool
    is_superseded: bool | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    station_id: str
    request_id: int
    request: dict[str, Any]
    status: str | None
    parts: int
    complete: bool
    controls: tuple[dict[str, Any], ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    station_id: str
    kind: str
    control_type: str | None
    grid_event_fault: str | None
    alarm_ended: bool | None
    control_id: str | None
    started: bool | None
    superseded_ids: tuple[str, ...]
    extra_info: str | None
    timestamp: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class EvParameters:
    """R02.FR.01: what an AC_BPT_DER EV stated of its inverter in a transaction (the latest)."""

    station_id: str
    transaction_id: str
    evse_id: int
    energy_transfer: str | None
    parameters: dict[str, Any]  # derChargingParameters in wire form
    received_at: datetime


def _station_control(row: sa.Row[Any]) -> StationControl:
    control = Control(row.control_id, row.control_type, row.is_default, json.loads(row.setting))
    superseded = tuple(json.loads(row.superseded_ids)) if row.superseded_ids else ()
    return StationControl(
        row.station_id,
        control,
        row.site_id,
        row.status,
        superseded,
        row.reported,
        row.is_superseded,
        row.updated_at,
    )


def _report(row: sa.Row[Any]) -> Report:
    return Report(
        row.id,
        row.station_id,
        row.request_id,
        json.loads(row.request),
        row.status,
        row.parts,
        row.complete,
        tuple(json.loads(row.controls)),
        row.created_at,
    )


def _notice(row: sa.Row[Any]) -> Notice:
    return Notice(
        row.id,
        row.station_id,
        row.kind,
        row.control_type,
        row.grid_event_fault,
        row.alarm_ended,
        row.control_id,
        row.started,
        tuple(json.loads(row.superseded_ids)) if row.superseded_ids else (),
        row.extra_info,
        row.timestamp,
        row.received_at,
    )


def _upsert(connection: sa.Connection, station_key: str, control_id: str, values: dict[str, Any]) -> None:
    c = der_controls.c
    where = (c.station_key == station_key, c.control_id == control_id)
    if connection.execute(sa.update(der_controls).where(*where).values(**values)).rowcount == 0:
        connection.execute(
            sa.insert(der_controls).values(
                station_key=station_key, control_id=control_id, **{"reported": False, **values}
            )
        )


class DerRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- controls set by us --------------------------------------------------------------------------------
    async def set_answered(
        self,
        station_id: str,
        control: Control,
        site_id: str | None,
        status: str,
        superseded: list[str],
        now: datetime,
    ) -> None:
        """Our SetDERControl and its answer; what it superseded is marked superseded."""
        key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            values = {
                "station_id": station_id,
                "control_type": control.control_type,
                "is_default": control.is_default,
                "setting": _json(control.setting),
                "site_id": site_id,
                "status": status,
                "superseded_ids": _json(superseded) if superseded else None,
                "updated_at": now,
            }
            _upsert(connection, key, control.control_id, values)
            if superseded:
                c = der_controls.c
                connection.execute(
                    sa.update(der_controls)
                    .where(c.station_key == key, c.control_id.in_(superseded))
                    .values(is_superseded=True, updated_at=now)
                )

        await self.committer.run(unit)

    async def cleared(self, station_id: str, control_ids: list[str] | None, where: dict[str, Any]) -> None:
        """Forget controls the station no longer holds: by id, or matching ``where`` (isDefault, type)."""
        key = station_id.casefold()
        c = der_controls.c

        def unit(connection: sa.Connection) -> None:
            conditions = [c.station_key == key]
            if control_ids is not None:
                conditions.append(c.control_id.in_(control_ids))
            if "is_default" in where:
                conditions.append(c.is_default == where["is_default"])
            if "control_type" in where:
                conditions.append(c.control_type == where["control_type"])
            connection.execute(sa.delete(der_controls).where(*conditions))

        await self.committer.run(unit)

    async def controls(self, station_id: str, offset: int, limit: int) -> tuple[list[StationControl], int]:
        c = der_controls.c
        where = c.station_key == station_id.casefold()
        async with self.engine.connect() as connection:
            total = (await connection.execute(sa.select(sa.func.count()).where(where))).scalar_one()
            rows = await connection.execute(
                sa.select(der_controls).where(where).order_by(c.control_id).offset(offset).limit(limit)
            )
            return [_station_control(r) for r in rows], int(total)

    async def site_station_controls(self, site_id: str) -> list[StationControl]:
        c = der_controls.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(der_controls).where(c.site_id == site_id).order_by(c.station_key, c.control_id)
            )
            return [_station_control(r) for r in rows]

    # -- reports -------------------------------------------------------------------------------------------
    async def add_report(
        self, station_id: str, request_id: int, request: dict[str, Any], now: datetime
    ) -> int:
        def unit(connection: sa.Connection) -> int:
            return _new_report(connection, station_id, request_id, request, now)

        return await self.committer.run(unit)

    async def report_answered(self, row_id: int, status: str) -> None:
        r = der_reports.c
        values: dict[str, Any] = {"status": status}
        if status != "Accepted":  # nothing follows a refusal (an accepted one's parts may be in already)
            values["complete"] = True
        statement = sa.update(der_reports).where(r.id == row_id).values(**values)
        await self.committer.run(lambda connection: connection.execute(statement))

    async def report_part(
        self, station_id: str, request_id: int, tbc: bool, controls: list[dict[str, Any]], now: datetime
    ) -> Report:
        """One ReportDERControl: appended to its request's report (an unknown requestId gets a row of its
        own); with the last part the reported controls become the station's as last reported (the report on a
        GetDERControl of ours without filters replaces them all)."""
        key = station_id.casefold()
        r = der_reports.c

        def unit(connection: sa.Connection) -> Report:
            row = connection.execute(
                sa.select(der_reports)
                .where(r.station_key == key, r.request_id == request_id, r.complete.is_(False))
                .order_by(r.id.desc())
                .limit(1)
            ).first()
            if row is None:
                request: dict[str, Any] = {}  # unrequested: kept all the same
                row_id = _new_report(connection, station_id, request_id, request, now)
                so_far: list[dict[str, Any]] = []
                parts = 0
            else:
                row_id, request, so_far, parts = (
                    row.id,
                    json.loads(row.request),
                    json.loads(row.controls),
                    row.parts,
                )
            so_far += controls
            connection.execute(
                sa.update(der_reports)
                .where(r.id == row_id)
                .values(parts=parts + 1, complete=not tbc, controls=_json(so_far))
            )
            if not tbc:
                _reported(connection, station_id, so_far, unfiltered=set(request) == {"requestId"}, now=now)
            done = connection.execute(sa.select(der_reports).where(r.id == row_id)).one()
            return _report(done)

        return await self.committer.run(unit)

    async def report(self, row_id: int) -> Report | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(sa.select(der_reports).where(der_reports.c.id == row_id))).first()
            return _report(row) if row else None

    async def used_request_ids(self, station_id: str) -> set[int]:
        r = der_reports.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(r.request_id).where(r.station_key == station_id.casefold())
            )
            return {int(x) for x in rows.scalars()}

    # -- notices -------------------------------------------------------------------------------------------
    async def add_notice(self, station_id: str, kind: str, values: dict[str, Any], now: datetime) -> int:
        row = {
            "station_key": station_id.casefold(),
            "station_id": station_id,
            "kind": kind,
            "received_at": now,
        }
        statement = sa.insert(der_notices).values(**row, **values).returning(der_notices.c.id)
        return int(await self.committer.run(lambda connection: connection.execute(statement).scalar_one()))

    async def notices(
        self, station_id: str | None, kind: str, offset: int, limit: int
    ) -> tuple[list[Notice], int]:
        n = der_notices.c
        where = [n.kind == kind]
        if station_id is not None:
            where.append(n.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            total = (await connection.execute(sa.select(sa.func.count()).where(*where))).scalar_one()
            rows = await connection.execute(
                sa.select(der_notices).where(*where).order_by(n.id.desc()).offset(offset).limit(limit)
            )
            return [_notice(r) for r in rows], int(total)

    # -- the EVs' inverters (R02/R03) -----------------------------------------------------------------------
    async def put_ev_parameters(self, record: EvParameters) -> None:
        key = record.station_id.casefold()
        e = der_ev_parameters.c
        values = {
            "station_id": record.station_id,
            "evse_id": record.evse_id,
            "energy_transfer": record.energy_transfer,
            "parameters": _json(record.parameters),
            "received_at": record.received_at,
        }

        def unit(connection: sa.Connection) -> None:
            where = (e.station_key == key, e.transaction_id == record.transaction_id)
            if connection.execute(sa.update(der_ev_parameters).where(*where).values(**values)).rowcount == 0:
                connection.execute(
                    sa.insert(der_ev_parameters).values(
                        station_key=key, transaction_id=record.transaction_id, **values
                    )
                )

        await self.committer.run(unit)

    async def ev_parameters(
        self, station_id: str, transaction_id: str | None, offset: int, limit: int
    ) -> tuple[list[EvParameters], int]:
        e = der_ev_parameters.c
        where = [e.station_key == station_id.casefold()]
        if transaction_id is not None:
            where.append(e.transaction_id == transaction_id)
        async with self.engine.connect() as connection:
            total = (await connection.execute(sa.select(sa.func.count()).where(*where))).scalar_one()
            rows = await connection.execute(
                sa.select(der_ev_parameters)
                .where(*where)
                .order_by(e.received_at.desc(), e.transaction_id)
                .offset(offset)
                .limit(limit)
            )
            items = [
                EvParameters(
                    r.station_id,
                    r.transaction_id,
                    r.evse_id,
                    r.energy_transfer,
                    json.loads(r.parameters),
                    r.received_at,
                )
                for r in rows
            ]
            return items, int(total)

    # -- site settings -------------------------------------------------------------------------------------
    async def put_site_control(self, site_id: str, control: Control, now: datetime) -> None:
        s = site_der_controls.c

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.delete(site_der_controls).where(s.site_id == site_id, s.control_id == control.control_id)
            )
            connection.execute(
                sa.insert(site_der_controls).values(
                    site_id=site_id,
                    control_id=control.control_id,
                    control_type=control.control_type,
                    is_default=control.is_default,
                    setting=_json(control.setting),
                    updated_at=now,
                )
            )

        await self.committer.run(unit)

    async def delete_site_control(self, site_id: str, control_id: str) -> bool:
        s = site_der_controls.c
        statement = sa.delete(site_der_controls).where(s.site_id == site_id, s.control_id == control_id)
        count = await self.committer.run(lambda connection: connection.execute(statement).rowcount)
        return bool(count)

    async def site_controls(self, site_id: str) -> list[Control]:
        s = site_der_controls.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(site_der_controls).where(s.site_id == site_id).order_by(s.control_id)
            )
            return [Control(r.control_id, r.control_type, r.is_default, json.loads(r.setting)) for r in rows]

    async def sites_with_controls(self) -> list[str]:
        s = site_der_controls.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(sa.select(s.site_id).distinct().order_by(s.site_id))
            return [str(x) for x in rows.scalars()]


def _new_report(
    connection: sa.Connection, station_id: str, request_id: int, request: dict[str, Any], now: datetime
) -> int:
    """A report row with no part yet: for our GetDERControl, or for parts with a requestId we never sent."""
    values = {
        "station_key": station_id.casefold(),
        "station_id": station_id,
        "request_id": request_id,
        "request": _json(request),
        "parts": 0,
        "complete": False,
        "controls": "[]",
        "created_at": now,
    }
    return int(
        connection.execute(sa.insert(der_reports).values(**values).returning(der_reports.c.id)).scalar_one()
    )


def _reported(
    connection: sa.Connection,
    station_id: str,
    controls: list[dict[str, Any]],
    *,
    unfiltered: bool,
    now: datetime,
) -> None:
    """The controls of a complete report as the station's, as last reported."""
    key = station_id.casefold()
    c = der_controls.c
    if unfiltered:  # every control the station holds was named: the others are gone
        ids = [x["id"] for x in controls]
        connection.execute(sa.delete(der_controls).where(c.station_key == key, c.control_id.not_in(ids)))
    for item in controls:
        values = {
            "station_id": station_id,
            "control_type": item["controlType"],
            "is_default": item["isDefault"],
            "setting": _json(item["setting"]),
            "reported": True,
            "is_superseded": item.get("isSuperseded"),
            "updated_at": now,
        }
        _upsert(connection, key, item["id"], values)
