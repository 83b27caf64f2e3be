"""All SQL of the device-model block.

A NotifyReport part is one unit of work of the group committer (the report's counters and every variable it
carries, with their history), committed before the handler answers. The values a GetVariables / SetVariables
brought back take the same path, so that one station's variables are written in one order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.device_model.tables import (
    device_model_changes,
    device_model_reports,
    device_model_variables,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

REQUESTED, RECEIVING, COMPLETE, REFUSED, FAILED = "requested", "receiving", "complete", "refused", "failed"
REPORT, GET, SET = "report", "get", "set"  # what last wrote a variable's value


@dataclass(frozen=True, slots=True)
class VariableRef:
    """One attribute of one variable of one component, as OCPP addresses it."""

    component: str
    variable: str
    attribute_type: str = "Actual"
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None

    def key(self) -> str:
        """Canonical and unique per station: ``Component[instance]@evse.connector/Variable[instance]:Type``."""
        component = self.component + (f"[{self.component_instance}]" if self.component_instance else "")
        if self.evse_id is not None:
            component += f"@{self.evse_id}" + (
                f".{self.connector_id}" if self.connector_id is not None else ""
            )
        variable = self.variable + (f"[{self.variable_instance}]" if self.variable_instance else "")
        return f"{component}/{variable}:{self.attribute_type}"


@dataclass(frozen=True, slots=True)
class Characteristics:
    data_type: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None


@dataclass(frozen=True, slots=True)
class ReportedAttribute:
    """What a NotifyReport says of one attribute."""

    ref: VariableRef
    value: str | None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None
    characteristics: Characteristics = field(default_factory=Characteristics)


@dataclass(frozen=True, slots=True)
class VariableRecord:
    ref: VariableRef
    value: str | None
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    characteristics: Characteristics
    source: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    id: int
    key: str
    old_value: str | None
    new_value: str | None
    source: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ReportRecord:
    request_id: int
    kind: str
    report_base: str | None
    criteria: str | None
    status: str
    station_status: str | None
    parts: int
    item_count: int
    requested_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class VariableFilter:
    component: str | None = None
    variable: str | None = None
    evse_id: int | None = None


def _ref_columns(ref: VariableRef) -> dict[str, Any]:
    return {
        "key": ref.key(),
        "component": ref.component,
        "component_instance": ref.component_instance,
        "evse_id": ref.evse_id,
        "connector_id": ref.connector_id,
        "variable": ref.variable,
        "variable_instance": ref.variable_instance,
        "attribute_type": ref.attribute_type,
    }


def _write_value(
    connection: sa.Connection,
    station_key: str,
    ref: VariableRef,
    columns: dict[str, Any],
    source: str,
    now: datetime,
) -> None:
    """Insert or update one attribute (``columns`` holds what this source knows) and log a changed value."""
    c = device_model_variables.c
    key = ref.key()
    found = connection.execute(
        sa.select(c.id, c.value).where(c.station_key == station_key, c.key == key)
    ).first()
    new_value = columns.get("value")
    stamp = {"source": source, "updated_at": now}
    if found is None:
        connection.execute(
            sa.insert(device_model_variables).values(
                station_key=station_key, **_ref_columns(ref), **columns, **stamp
            )
        )
        old_value: str | None = None
    else:
        connection.execute(
            sa.update(device_model_variables).where(c.id == found.id).values(**columns, **stamp)
        )
        old_value = found.value
        if old_value == new_value:
            return
    connection.execute(
        sa.insert(device_model_changes).values(
            station_key=station_key,
            key=key,
            old_value=old_value,
            new_value=new_value,
            source=source,
            changed_at=now,
        )
    )


def _reported_columns(item: ReportedAttribute) -> dict[str, Any]:
    ch = item.characteristics
    return {
        "value": item.value,
        "mutability": item.mutability,
        "persistent": item.persistent,
        "constant": item.constant,
        "data_type": ch.data_type,
        "unit": ch.unit,
        "min_limit": ch.min_limit,
        "max_limit": ch.max_limit,
        "values_list": ch.values_list,
        "supports_monitoring": ch.supports_monitoring,
    }


def _report_record(row: sa.Row[Any]) -> ReportRecord:
    m = row._mapping
    return ReportRecord(**{name: m[name] for name in ReportRecord.__dataclass_fields__})


def _variable_record(row: sa.Row[Any]) -> VariableRecord:
    m = row._mapping
    return VariableRecord(
        ref=VariableRef(
            component=m["component"],
            variable=m["variable"],
            attribute_type=m["attribute_type"],
            component_instance=m["component_instance"],
            evse_id=m["evse_id"],
            connector_id=m["connector_id"],
            variable_instance=m["variable_instance"],
        ),
        value=m["value"],
        mutability=m["mutability"],
        persistent=m["persistent"],
        constant=m["constant"],
        characteristics=Characteristics(
            data_type=m["data_type"],
            unit=m["unit"],
            min_limit=m["min_limit"],
            max_limit=m["max_limit"],
            values_list=m["values_list"],
            supports_monitoring=m["supports_monitoring"],
        ),
        source=m["source"],
        updated_at=m["updated_at"],
    )


class DeviceModelRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- reports --------------------------------------------------------------------------------------------

    async def add_report(
        self,
        station_id: str,
        request_id: int,
        kind: str,
        report_base: str | None,
        criteria: str | None,
        now: datetime,
    ) -> None:
        await self.committer.run(
            execute(
                sa.insert(device_model_reports).values(
                    station_key=station_id.casefold(),
                    request_id=request_id,
                    kind=kind,
                    report_base=report_base,
                    criteria=criteria,
                    status=REQUESTED,
                    parts=0,
                    item_count=0,
                    requested_at=now,
                )
            )
        )

    async def report_answered(
        self, station_id: str, request_id: int, station_status: str | None, status: str | None, now: datetime
    ) -> None:
        """The station's answer to the request (``station_status`` None: none came). ``status`` replaces the
        report's own only while no part has come (a part may overtake the answer)."""
        c = device_model_reports.c
        where = (c.station_key == station_id.casefold(), c.request_id == request_id)

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(device_model_reports).where(*where).values(station_status=station_status)
            )
            if status is not None:
                connection.execute(
                    sa.update(device_model_reports)
                    .where(*where, c.parts == 0)
                    .values(status=status, completed_at=now if status != REQUESTED else None)
                )

        await self.committer.run(unit)

    async def add_part(
        self, station_id: str, request_id: int, tbc: bool, items: Sequence[ReportedAttribute], now: datetime
    ) -> ReportRecord:
        """One NotifyReport: the report's counters (an unrequested report is recorded as ``unsolicited``) and
        every attribute it carries, in one unit of work."""
        station_key = station_id.casefold()
        c = device_model_reports.c

        def unit(connection: sa.Connection) -> ReportRecord:
            where = (c.station_key == station_key, c.request_id == request_id)
            if connection.execute(sa.select(c.id).where(*where)).first() is None:
                connection.execute(
                    sa.insert(device_model_reports).values(
                        station_key=station_key,
                        request_id=request_id,
                        kind="unsolicited",
                        status=RECEIVING,
                        parts=0,
                        item_count=0,
                        requested_at=now,
                    )
                )
            connection.execute(
                sa.update(device_model_reports)
                .where(*where)
                .values(
                    parts=c.parts + 1,
                    item_count=c.item_count + len(items),
                    status=RECEIVING if tbc else COMPLETE,
                    completed_at=None if tbc else now,
                )
            )
            for item in items:
                _write_value(connection, station_key, item.ref, _reported_columns(item), REPORT, now)
            row = connection.execute(sa.select(*_REPORT_COLUMNS).where(*where)).one()
            return _report_record(row)

        return await self.committer.run(unit)

    async def reports(self, station_id: str, offset: int, limit: int) -> tuple[list[ReportRecord], int]:
        c = device_model_reports.c
        where = c.station_key == station_id.casefold()
        query = sa.select(*_REPORT_COLUMNS).where(where).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(device_model_reports).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_report_record(r) for r in rows], total

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        c = device_model_reports.c
        query = sa.select(*_REPORT_COLUMNS).where(
            c.station_key == station_id.casefold(), c.request_id == request_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _report_record(row)

    async def used_request_ids(self, station_id: str) -> set[int]:
        c = device_model_reports.c
        query = sa.select(c.request_id).where(c.station_key == station_id.casefold())
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    # -- variables ------------------------------------------------------------------------------------------

    async def store_values(
        self, station_id: str, values: Sequence[tuple[VariableRef, str | None]], source: str, now: datetime
    ) -> None:
        """Values a GetVariables read or a SetVariables wrote (the station accepted them)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            for ref, value in values:
                _write_value(connection, station_key, ref, {"value": value}, source, now)

        if values:
            await self.committer.run(unit)

    async def values(self, station_id: str, keys: Sequence[str]) -> dict[str, tuple[str | None, datetime]]:
        """The stored value (and when it was stored) of each of ``keys`` the inventory has."""
        c = device_model_variables.c
        query = sa.select(c.key, c.value, c.updated_at).where(
            c.station_key == station_id.casefold(), c.key.in_(list(keys))
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all() if keys else []
        return {row.key: (row.value, row.updated_at) for row in rows}

    async def variables(
        self, station_id: str, where: VariableFilter, offset: int, limit: int
    ) -> tuple[list[VariableRecord], int]:
        """In component, variable and attribute order."""
        c = device_model_variables.c
        conditions: list[sa.ColumnElement[bool]] = [c.station_key == station_id.casefold()]
        if where.component is not None:
            conditions.append(c.component == where.component)
        if where.variable is not None:
            conditions.append(c.variable == where.variable)
        if where.evse_id is not None:
            conditions.append(c.evse_id == where.evse_id)
        query = (
            sa.select(device_model_variables).where(*conditions).order_by(c.key).offset(offset).limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(device_model_variables).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_variable_record(r) for r in rows], total

    async def changes(
        self, station_id: str, key: str | None, offset: int, limit: int
    ) -> tuple[list[ChangeRecord], int]:
        """Newest first."""
        c = device_model_changes.c
        conditions: list[sa.ColumnElement[bool]] = [c.station_key == station_id.casefold()]
        if key is not None:
            conditions.append(c.key == key)
        columns = [c.id, c.key, c.old_value, c.new_value, c.source, c.changed_at]
        query = sa.select(*columns).where(*conditions).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(device_model_changes).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [ChangeRecord(**row._mapping) for row in rows], total


_REPORT_COLUMNS = [device_model_reports.c[name] for name in ReportRecord.__dataclass_fields__]
