"""All SQL of the monitoring block.

Every write is a unit of work of the group committer, committed before the OCPP message is answered (a
NotifyMonitoringReport part with the monitors it carries; a NotifyEvent's events with the alerts they open and
close) or before the API answers (the monitors a station accepted or cleared, its level and base, rules).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.monitoring import alerting
from chargeplane.csms.blocks.monitoring.alerting import Event, Rule
from chargeplane.csms.blocks.monitoring.tables import (
    alert_rules,
    alerts,
    monitoring_events,
    monitoring_monitors,
    monitoring_reports,
    monitoring_stations,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

R = TypeVar("R")
REQUESTED, RECEIVING, COMPLETE, REFUSED, FAILED = "requested", "receiving", "complete", "refused", "failed"
SET, REPORT = "set", "report"  # what last wrote a monitor
REPORTED = "Reported"  # the status of a monitor seen in a report
OPEN, CLOSED = "open", "closed"
CLEARED, ACKNOWLEDGED = "cleared", "acknowledged"
HARD_WIRED, PRECONFIGURED, CUSTOM = "HardWiredMonitor", "PreconfiguredMonitor", "CustomMonitor"


@dataclass(frozen=True, slots=True)
class MonitorRecord:
    """One monitor a station holds."""

    monitor_id: int
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    type: str
    value: float
    severity: int
    transaction: bool
    kind: str | None  # HardWiredMonitor | PreconfiguredMonitor | CustomMonitor; None: not reported (2.0.1)
    status: str  # Accepted (set by this CSMS) | Reported
    source: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MonitorFilter:
    component: str | None = None
    variable: str | None = None
    evse_id: int | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRecord:
    request_id: int
    criteria: str | None
    status: str
    station_status: str | None
    parts: int
    monitor_count: int
    solicited: bool
    requested_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StationMonitoring:
    level: int | None
    base: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    event: Event
    received_at: datetime


@dataclass(frozen=True, slots=True)
class EventFilter:
    station_id: str | None = None
    component: str | None = None
    variable: str | None = None
    max_severity: int | None = None
    cleared: bool | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    rule_id: int
    station_id: str
    subject: str
    component: str
    variable: str
    evse_id: int | None
    severity: int | None
    trigger: str
    actual_value: str
    monitor_id: int | None
    tech_code: str | None
    event_id: int
    state: str
    closed_by: str | None
    note: str | None
    raised_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    station_id: str | None = None
    state: str | None = None
    rule_id: int | None = None
    max_severity: int | None = None


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """What one NotifyEvent did to the alerts."""

    raised: list[AlertRecord]
    closed: list[AlertRecord]


@dataclass(frozen=True, slots=True)
class RuleChange:
    name: str | None = None
    station_id: str | None = None
    max_severity: int | None = None
    component: str | None = None
    variable: str | None = None
    enabled: bool | None = None
    clear: frozenset[str] = frozenset()  # optional fields set back to None (station_id, component, variable)


def _monitor_columns(record: MonitorRecord) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(record).items() if k != "monitor_id"}


def _upsert_monitor(connection: sa.Connection, station_key: str, record: MonitorRecord) -> None:
    c = monitoring_monitors.c
    where = (c.station_key == station_key, c.monitor_id == record.monitor_id)
    if connection.execute(sa.select(c.id).where(*where)).first() is None:
        connection.execute(
            sa.insert(monitoring_monitors).values(
                station_key=station_key, monitor_id=record.monitor_id, **_monitor_columns(record)
            )
        )
    else:
        columns = _monitor_columns(record)
        if record.kind is None:  # a 2.0.1 report does not say; keep what the CSMS knew
            del columns["kind"]
        connection.execute(sa.update(monitoring_monitors).where(*where).values(**columns))


def _record(kind: Callable[..., R], row: sa.Row[Any]) -> R:
    """A row selected with exactly the fields of the dataclass ``kind`` (``_*_COLUMNS``) as one."""
    return kind(**row._mapping)


_MONITOR_COLUMNS = [monitoring_monitors.c[n] for n in MonitorRecord.__dataclass_fields__]
_REPORT_COLUMNS = [monitoring_reports.c[n] for n in ReportRecord.__dataclass_fields__]
_ALERT_COLUMNS = [alerts.c[n] for n in AlertRecord.__dataclass_fields__]
_RULE_COLUMNS = [alert_rules.c[n] for n in Rule.__dataclass_fields__]
_EVENT_FIELDS = tuple(Event.__dataclass_fields__)


def _event_of(row: sa.Row[Any]) -> EventRecord:
    m = row._mapping
    return EventRecord(m["id"], Event(**{n: m[n] for n in _EVENT_FIELDS}), m["received_at"])


class MonitoringRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def _page(
        self,
        table: sa.Table,
        columns: Sequence[Any],
        where: Sequence[sa.ColumnElement[bool]],
        order: Any,
        offset: int,
        limit: int,
    ) -> tuple[list[sa.Row[Any]], int]:
        query = sa.select(*columns).where(*where).order_by(order).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(table).where(*where)
        async with self.engine.connect() as connection:
            rows = list((await connection.execute(query)).all())
            total = int((await connection.execute(count)).scalar_one())
        return rows, total

    # -- monitors -------------------------------------------------------------------------------------------

    async def store_monitors(self, station_id: str, records: Sequence[MonitorRecord]) -> None:
        """Monitors the station accepted (a SetVariableMonitoring answer)."""
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            for record in records:
                _upsert_monitor(connection, station_key, record)

        if records:
            await self.committer.run(unit)

    async def remove_monitors(self, station_id: str, monitor_ids: Sequence[int]) -> None:
        c = monitoring_monitors.c
        if monitor_ids:
            await self.committer.run(
                execute(
                    sa.delete(monitoring_monitors).where(
                        c.station_key == station_id.casefold(), c.monitor_id.in_(list(monitor_ids))
                    )
                )
            )

    async def monitors(
        self, station_id: str, where: MonitorFilter, offset: int, limit: int
    ) -> tuple[list[MonitorRecord], int]:
        c = monitoring_monitors.c
        conditions: list[sa.ColumnElement[bool]] = [c.station_key == station_id.casefold()]
        for column, value in (
            (c.component, where.component),
            (c.variable, where.variable),
            (c.evse_id, where.evse_id),
            (c.type, where.type),
        ):
            if value is not None:
                conditions.append(column == value)
        rows, total = await self._page(
            monitoring_monitors, _MONITOR_COLUMNS, conditions, c.monitor_id, offset, limit
        )
        return [_record(MonitorRecord, r) for r in rows], total

    # -- level and base -------------------------------------------------------------------------------------

    async def set_level(self, station_id: str, level: int, now: datetime) -> None:
        station_key = station_id.casefold()

        def unit(connection: sa.Connection) -> None:
            _ensure_station(connection, station_key, now)
            connection.execute(
                sa.update(monitoring_stations)
                .where(monitoring_stations.c.station_key == station_key)
                .values(level=level, updated_at=now)
            )

        await self.committer.run(unit)

    async def set_base(self, station_id: str, base: str, now: datetime) -> None:
        """An accepted SetMonitoringBase: FactoryDefault deletes the custom monitors (N03.FR.04), HardWiredOnly
        the custom and the preconfigured ones (N03.FR.05). Monitors of unknown kind (2.0.1 reports do not say)
        go too: the station reports them again if it still holds them. All (N03.FR.03) removes nothing."""
        station_key = station_id.casefold()
        c = monitoring_monitors.c
        gone = {"FactoryDefault": (CUSTOM,), "HardWiredOnly": (CUSTOM, PRECONFIGURED)}.get(base)

        def unit(connection: sa.Connection) -> None:
            _ensure_station(connection, station_key, now)
            connection.execute(
                sa.update(monitoring_stations)
                .where(monitoring_stations.c.station_key == station_key)
                .values(base=base, updated_at=now)
            )
            if gone is not None:
                connection.execute(
                    sa.delete(monitoring_monitors).where(
                        c.station_key == station_key, sa.or_(c.kind.is_(None), c.kind.in_(gone))
                    )
                )

        await self.committer.run(unit)

    async def station(self, station_id: str) -> StationMonitoring:
        c = monitoring_stations.c
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(c.level, c.base).where(c.station_key == station_id.casefold())
                )
            ).first()
        return StationMonitoring(None, None) if row is None else StationMonitoring(row.level, row.base)

    # -- reports --------------------------------------------------------------------------------------------

    async def add_report(self, station_id: str, request_id: int, criteria: str | None, now: datetime) -> None:
        await self.committer.run(
            execute(
                sa.insert(monitoring_reports).values(
                    station_key=station_id.casefold(),
                    request_id=request_id,
                    criteria=criteria,
                    status=REQUESTED,
                    parts=0,
                    monitor_count=0,
                    solicited=True,
                    requested_at=now,
                )
            )
        )

    async def report_answered(
        self, station_id: str, request_id: int, station_status: str | None, status: str | None, now: datetime
    ) -> None:
        """The station's answer (``station_status`` None: none came). ``status`` replaces the report's own only
        while no part has come (a part may overtake the answer). A complete report of everything (no
        criteria) that came with no part (EmptyResultSet) means the station holds no monitor."""
        station_key = station_id.casefold()
        c = monitoring_reports.c
        where = (c.station_key == station_key, c.request_id == request_id)

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(monitoring_reports).where(*where).values(station_status=station_status)
            )
            if status is None:
                return
            changed = connection.execute(
                sa.update(monitoring_reports)
                .where(*where, c.parts == 0)
                .values(status=status, completed_at=None if status == REQUESTED else now)
            ).rowcount
            if changed and status == COMPLETE:
                _prune_after_full_report(connection, station_key, request_id)

        await self.committer.run(unit)

    async def add_part(
        self, station_id: str, request_id: int, tbc: bool, monitors: Sequence[MonitorRecord], now: datetime
    ) -> ReportRecord:
        """One NotifyMonitoringReport: the report's counters (a report nobody asked for is recorded as not
        solicited) and every monitor it carries, in one unit of work. The last part of a report of every
        monitor (N02.FR.11) drops the monitors it did not name and nothing wrote since it was asked for."""
        station_key = station_id.casefold()
        c = monitoring_reports.c

        def unit(connection: sa.Connection) -> ReportRecord:
            where = (c.station_key == station_key, c.request_id == request_id)
            if connection.execute(sa.select(c.id).where(*where)).first() is None:
                connection.execute(
                    sa.insert(monitoring_reports).values(
                        station_key=station_key,
                        request_id=request_id,
                        status=RECEIVING,
                        parts=0,
                        monitor_count=0,
                        solicited=False,
                        requested_at=now,
                    )
                )
            connection.execute(
                sa.update(monitoring_reports)
                .where(*where)
                .values(
                    parts=c.parts + 1,
                    monitor_count=c.monitor_count + len(monitors),
                    status=RECEIVING if tbc else COMPLETE,
                    completed_at=None if tbc else now,
                )
            )
            for record in monitors:
                _upsert_monitor(connection, station_key, record)
            if not tbc:
                _prune_after_full_report(connection, station_key, request_id)
            return _record(ReportRecord, connection.execute(sa.select(*_REPORT_COLUMNS).where(*where)).one())

        return await self.committer.run(unit)

    async def reports(self, station_id: str, offset: int, limit: int) -> tuple[list[ReportRecord], int]:
        c = monitoring_reports.c
        rows, total = await self._page(
            monitoring_reports,
            _REPORT_COLUMNS,
            [c.station_key == station_id.casefold()],
            c.id.desc(),
            offset,
            limit,
        )
        return [_record(ReportRecord, r) for r in rows], total

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        c = monitoring_reports.c
        query = sa.select(*_REPORT_COLUMNS).where(
            c.station_key == station_id.casefold(), c.request_id == request_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _record(ReportRecord, row)

    async def used_request_ids(self, station_id: str) -> set[int]:
        c = monitoring_reports.c
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(c.request_id).where(c.station_key == station_id.casefold())
            )
            return set(rows.scalars())

    # -- events and alerts ----------------------------------------------------------------------------------

    async def record_events(self, station_id: str, events: Sequence[Event], now: datetime) -> AlertChanges:
        """Store the events (a severity the event does not carry is the stored monitor's, N07.FR.06 names it)
        and open and close alerts, in one unit of work."""
        station_key = station_id.casefold()
        m = monitoring_monitors.c
        a = alerts.c

        def unit(connection: sa.Connection) -> AlertChanges:
            rules = [
                _record(Rule, r)
                for r in connection.execute(
                    sa.select(*_RULE_COLUMNS)
                    .where(alert_rules.c.enabled.is_(True))
                    .order_by(alert_rules.c.id)
                )
            ]
            raised: list[AlertRecord] = []
            closed: list[AlertRecord] = []
            for event in events:
                if event.severity is None and event.monitor_id is not None:
                    severity = connection.execute(
                        sa.select(m.severity).where(
                            m.station_key == station_key, m.monitor_id == event.monitor_id
                        )
                    ).scalar()
                    event = dataclasses.replace(event, severity=severity)
                row_id = connection.execute(
                    sa.insert(monitoring_events)
                    .values(station_key=station_key, received_at=now, **dataclasses.asdict(event))
                    .returning(monitoring_events.c.id)
                ).scalar_one()
                subject = event.subject()
                if event.cleared:
                    open_rows = connection.execute(
                        sa.select(*_ALERT_COLUMNS).where(
                            a.station_key == station_key, a.subject == subject, a.state == OPEN
                        )
                    ).all()
                    for alert in (_record(AlertRecord, r) for r in open_rows):
                        if alerting.closes(event, alert.subject, alert.monitor_id):
                            closed.append(_close(connection, alert, CLEARED, event.timestamp))
                    continue
                for rule in rules:
                    if not alerting.matches(rule, event):
                        continue
                    already = connection.execute(
                        sa.select(a.id).where(
                            a.rule_id == rule.id,
                            a.station_key == station_key,
                            a.subject == subject,
                            a.state == OPEN,
                        )
                    ).first()
                    if already is not None:  # one open alert per rule and subject
                        continue
                    alert_id = connection.execute(
                        sa.insert(alerts)
                        .values(
                            rule_id=rule.id,
                            station_key=station_key,
                            station_id=station_id,
                            subject=subject,
                            component=event.component,
                            variable=event.variable,
                            evse_id=event.evse_id,
                            severity=event.severity,
                            trigger=event.trigger,
                            actual_value=event.actual_value,
                            monitor_id=event.monitor_id,
                            tech_code=event.tech_code,
                            event_id=event.event_id,
                            state=OPEN,
                            raised_event=row_id,
                            raised_at=event.timestamp,
                        )
                        .returning(a.id)
                    ).scalar_one()
                    raised.append(
                        _record(
                            AlertRecord,
                            connection.execute(sa.select(*_ALERT_COLUMNS).where(a.id == alert_id)).one(),
                        )
                    )
            return AlertChanges(raised, closed)

        return await self.committer.run(unit)

    async def events(self, where: EventFilter, offset: int, limit: int) -> tuple[list[EventRecord], int]:
        c = monitoring_events.c
        conditions: list[sa.ColumnElement[bool]] = []
        if where.station_id is not None:
            conditions.append(c.station_key == where.station_id.casefold())
        if where.component is not None:
            conditions.append(c.component == where.component)
        if where.variable is not None:
            conditions.append(c.variable == where.variable)
        if where.max_severity is not None:
            conditions.append(c.severity <= where.max_severity)
        if where.cleared is not None:
            conditions.append(c.cleared.is_(where.cleared))
        columns = [c.id, c.received_at, *(c[n] for n in _EVENT_FIELDS)]
        rows, total = await self._page(monitoring_events, columns, conditions, c.id.desc(), offset, limit)
        return [_event_of(r) for r in rows], total

    async def alerts(self, where: AlertFilter, offset: int, limit: int) -> tuple[list[AlertRecord], int]:
        c = alerts.c
        conditions: list[sa.ColumnElement[bool]] = []
        if where.station_id is not None:
            conditions.append(c.station_key == where.station_id.casefold())
        if where.state is not None:
            conditions.append(c.state == where.state)
        if where.rule_id is not None:
            conditions.append(c.rule_id == where.rule_id)
        if where.max_severity is not None:
            conditions.append(c.severity <= where.max_severity)
        rows, total = await self._page(alerts, _ALERT_COLUMNS, conditions, c.id.desc(), offset, limit)
        return [_record(AlertRecord, r) for r in rows], total

    async def alert(self, alert_id: int) -> AlertRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*_ALERT_COLUMNS).where(alerts.c.id == alert_id))
            ).first()
        return None if row is None else _record(AlertRecord, row)

    async def acknowledge(
        self, alert_id: int, note: str | None, now: datetime
    ) -> tuple[AlertRecord, bool] | None:
        """Close an open alert (``True``); an alert closed already is returned as it is (``False``)."""

        def unit(connection: sa.Connection) -> tuple[AlertRecord, bool] | None:
            row = connection.execute(sa.select(*_ALERT_COLUMNS).where(alerts.c.id == alert_id)).first()
            if row is None:
                return None
            alert = _record(AlertRecord, row)
            if alert.state != OPEN:
                return alert, False
            return _close(connection, alert, ACKNOWLEDGED, now, note), True

        return await self.committer.run(unit)

    # -- rules ----------------------------------------------------------------------------------------------

    async def add_rule(self, rule: Rule) -> Rule:
        values = {k: v for k, v in dataclasses.asdict(rule).items() if k != "id"}
        rule_id = await self.committer.run(
            lambda connection: int(
                connection.execute(
                    sa.insert(alert_rules).values(**values).returning(alert_rules.c.id)
                ).scalar_one()
            )
        )
        return dataclasses.replace(rule, id=rule_id)

    async def rules(self, offset: int, limit: int) -> tuple[list[Rule], int]:
        rows, total = await self._page(alert_rules, _RULE_COLUMNS, [], alert_rules.c.id, offset, limit)
        return [_record(Rule, r) for r in rows], total

    async def rule(self, rule_id: int) -> Rule | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*_RULE_COLUMNS).where(alert_rules.c.id == rule_id))
            ).first()
        return None if row is None else _record(Rule, row)

    async def change_rule(self, rule_id: int, change: RuleChange) -> Rule | None:
        values: dict[str, Any] = {
            k: v for k, v in dataclasses.asdict(change).items() if k != "clear" and v is not None
        }
        values |= dict.fromkeys(change.clear)
        if values:
            await self.committer.run(
                execute(sa.update(alert_rules).where(alert_rules.c.id == rule_id).values(**values))
            )
        return await self.rule(rule_id)

    async def delete_rule(self, rule_id: int) -> bool:
        return bool(
            await self.committer.run(execute(sa.delete(alert_rules).where(alert_rules.c.id == rule_id)))
        )


def _ensure_station(connection: sa.Connection, station_key: str, now: datetime) -> None:
    c = monitoring_stations.c
    if connection.execute(sa.select(c.station_key).where(c.station_key == station_key)).first() is None:
        connection.execute(sa.insert(monitoring_stations).values(station_key=station_key, updated_at=now))


def _prune_after_full_report(connection: sa.Connection, station_key: str, request_id: int) -> None:
    """A complete solicited report of every monitor (no criteria, N02.FR.11) is the station's whole list: a
    stored monitor that nothing wrote since the request is gone from the station."""
    r = monitoring_reports.c
    report = connection.execute(
        sa.select(r.requested_at, r.criteria, r.solicited).where(
            r.station_key == station_key, r.request_id == request_id
        )
    ).one()
    if report.solicited and report.criteria is None:
        m = monitoring_monitors.c
        connection.execute(
            sa.delete(monitoring_monitors).where(
                m.station_key == station_key, m.updated_at < report.requested_at
            )
        )


def _close(
    connection: sa.Connection, alert: AlertRecord, closed_by: str, at: datetime, note: str | None = None
) -> AlertRecord:
    closed = dataclasses.replace(alert, state=CLOSED, closed_by=closed_by, closed_at=at, note=note)
    connection.execute(
        sa.update(alerts)
        .where(alerts.c.id == alert.id)
        .values(state=CLOSED, closed_by=closed_by, closed_at=at, note=note)
    )
    return closed
