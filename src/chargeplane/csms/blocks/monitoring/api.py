"""HTTP routes of monitoring (N02-N08): the monitor requests to a station and the monitors it holds, its
monitoring reports and events, and the alerts with the rules that open them. Calls to the station answer with
the status codes of every station call (:mod:`chargeplane.csms.api.errors`): 404 no such station, 409 offline
or Rejected, 422 the CSMS will not send it (a 1.6 station: 1.6 has no monitoring; a payload against the
station's schema), 502/504 the station failed or did not answer. The station's own answer (Accepted,
Rejected, ...) comes back with 200."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_404_NOT_FOUND

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import INT32_MAX, Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.device_model import wire as dm
from chargeplane.csms.blocks.monitoring import wire
from chargeplane.csms.blocks.monitoring.alerting import Rule
from chargeplane.csms.blocks.monitoring.repository import (
    AlertFilter,
    AlertRecord,
    EventFilter,
    EventRecord,
    MonitorFilter,
    MonitorRecord,
    ReportRecord,
    RuleChange,
)
from chargeplane.csms.blocks.monitoring.service import MonitoringService, ReportCriteria
from chargeplane.csms.blocks.monitoring.streams import StreamParams, StreamRecord, StreamService
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Invalid, NotFound

MAX_ITEMS = 500  # per API call; the CSMS splits them to the station's ItemsPerMessage / BytesPerMessage
MonitorType = Annotated[str, msgspec.Meta(pattern=wire.MONITOR_TYPE)]
Criterion = Annotated[str, msgspec.Meta(pattern=wire.MONITORING_CRITERION)]
Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
StationName = Annotated[str, msgspec.Meta(min_length=1, max_length=48)]
MonitorId = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
RequestId = Annotated[int, PathParameter(ge=-INT32_MAX - 1, le=INT32_MAX)]


class MonitorIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """One SetMonitoringData. ``value`` may be left out for a Delta monitor: 1, the value Part 2 recommends
    for a variable that is not numeric (N04.FR.17). ``id`` replaces the station's monitor of that id."""

    type: MonitorType
    severity: wire.Severity
    component: dm.Component
    variable: dm.Variable
    value: float | None = None
    id: MonitorId | None = None
    transaction: bool | None = None
    periodic_event_stream: wire.EventStreamParams | None = None  # 2.1 only (N11)


class SetMonitorsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    set_monitoring_data: Annotated[list[MonitorIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class ClearMonitorsIn(msgspec.Struct, forbid_unknown_fields=True):
    ids: Annotated[list[MonitorId], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class BaseIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    monitoring_base: Annotated[str, msgspec.Meta(pattern=wire.MONITORING_BASE)]


class LevelIn(msgspec.Struct, forbid_unknown_fields=True):
    severity: wire.Severity


class ReportIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Both empty (or left out): every monitor the station holds (N02.FR.11)."""

    monitoring_criteria: Annotated[list[Criterion], msgspec.Meta(max_length=3)] = msgspec.field(
        default_factory=list
    )
    component_variable: list[dm.ComponentVariable] = msgspec.field(default_factory=list)


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class StationMonitoringOut(msgspec.Struct, rename="camel"):
    level: int | None  # the last SetMonitoringLevel the station accepted
    base: str | None  # the last SetMonitoringBase the station accepted


class MonitorOut(msgspec.Struct, rename="camel"):
    id: int
    component: dm.Component
    variable: dm.Variable
    type: str
    value: float
    severity: int
    transaction: bool
    kind: str | None  # HardWiredMonitor | PreconfiguredMonitor | CustomMonitor; null: not reported (2.0.1)
    status: str  # Accepted (set through this CSMS) | Reported (seen in a monitoring report)
    source: str  # set | report
    updated_at: datetime


class ReportOut(msgspec.Struct, rename="camel"):
    request_id: int
    criteria: Any  # GetMonitoringReport's filters as sent; null: every monitor
    status: str  # requested | receiving | complete | refused | failed
    station_status: str | None  # Accepted | Rejected | NotSupported | EmptyResultSet
    parts: int
    monitors: int
    solicited: bool  # false: parts of a report this CSMS did not ask for
    requested_at: datetime
    completed_at: datetime | None


class EventOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    event_id: int
    timestamp: datetime
    trigger: str
    actual_value: str
    component: dm.Component
    variable: dm.Variable
    cause: int | None
    monitor_id: int | None
    notification_type: str | None
    severity: int | None
    cleared: bool
    tech_code: str | None
    tech_info: str | None
    transaction_id: str | None
    received_at: datetime


class RuleIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Events of severity ``maxSeverity`` or more severe (0 is the most severe; 9 takes every event, also
    those of unknown severity), of ``stationId`` (or any), whose component and variable names match the
    shell-style patterns (``*``, ``?``; or any)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    max_severity: wire.Severity
    station_id: StationName | None = None
    component: Pattern | None = None
    variable: Pattern | None = None
    enabled: bool = True


class RulePatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Absent fields are kept; ``null`` clears ``stationId``, ``component`` or ``variable``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    max_severity: wire.Severity | msgspec.UnsetType = msgspec.UNSET
    station_id: StationName | msgspec.UnsetType | None = msgspec.UNSET
    component: Pattern | msgspec.UnsetType | None = msgspec.UNSET
    variable: Pattern | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class RuleOut(msgspec.Struct, rename="camel"):
    id: int
    name: str
    station_id: str | None
    max_severity: int
    component: str | None
    variable: str | None
    enabled: bool
    created_at: datetime


class AlertOut(msgspec.Struct, rename="camel"):
    id: int
    rule_id: int
    station_id: str
    subject: str  # Component[instance]@evse.connector/Variable[instance]
    component: str
    variable: str
    evse_id: int | None
    severity: int | None
    trigger: str
    actual_value: str
    monitor_id: int | None
    tech_code: str | None
    event_id: int
    state: str  # open | closed
    closed_by: str | None  # cleared (the station's cleared event) | acknowledged (an operator)
    note: str | None  # the operator's note with the acknowledgement
    raised_at: datetime
    closed_at: datetime | None


def _component(
    name: str, instance: str | None, evse_id: int | None, connector_id: int | None
) -> dm.Component:
    evse = None if evse_id is None else dm.Evse(evse_id, connector_id)
    return dm.Component(name, instance, evse)


def _monitor_data(item: MonitorIn) -> wire.SetMonitoringData:
    value = item.value
    if value is None:
        if item.type != "Delta":
            raise Invalid(f"a {item.type} monitor needs a value")
        value = wire.DELTA_DEFAULT_VALUE
    if item.type == "Delta" and value < 0:
        raise Invalid("a Delta monitor's value cannot be negative (N04.FR.14)")
    stream = item.periodic_event_stream
    if stream is not None and not stream.interval and not stream.values:
        raise Invalid("a periodicEventStream needs an interval or values or both (N11.FR.09)")
    return wire.SetMonitoringData(
        value, item.type, item.severity, item.component, item.variable, item.id, item.transaction, stream
    )


def _monitor_out(record: MonitorRecord) -> MonitorOut:
    r = record
    return MonitorOut(
        id=r.monitor_id,
        component=_component(r.component, r.component_instance, r.evse_id, r.connector_id),
        variable=dm.Variable(r.variable, r.variable_instance),
        type=r.type,
        value=r.value,
        severity=r.severity,
        transaction=r.transaction,
        kind=r.kind,
        status=r.status,
        source=r.source,
        updated_at=r.updated_at,
    )


def _report_out(record: ReportRecord) -> ReportOut:
    return ReportOut(
        request_id=record.request_id,
        criteria=None if record.criteria is None else msgspec.json.decode(record.criteria),
        status=record.status,
        station_status=record.station_status,
        parts=record.parts,
        monitors=record.monitor_count,
        solicited=record.solicited,
        requested_at=record.requested_at,
        completed_at=record.completed_at,
    )


def _event_out(record: EventRecord) -> EventOut:
    e = record.event
    return EventOut(
        id=record.id,
        station_id=e.station_id,
        event_id=e.event_id,
        timestamp=e.timestamp,
        trigger=e.trigger,
        actual_value=e.actual_value,
        component=_component(e.component, e.component_instance, e.evse_id, e.connector_id),
        variable=dm.Variable(e.variable, e.variable_instance),
        cause=e.cause,
        monitor_id=e.monitor_id,
        notification_type=e.notification_type,
        severity=e.severity,
        cleared=e.cleared,
        tech_code=e.tech_code,
        tech_info=e.tech_info,
        transaction_id=e.transaction_id,
        received_at=record.received_at,
    )


def _rule_out(rule: Rule) -> RuleOut:
    return RuleOut(**dataclasses.asdict(rule))


def _alert_out(alert: AlertRecord) -> AlertOut:
    return AlertOut(**dataclasses.asdict(alert))


def station_routes(service: MonitoringService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/monitoring/monitors",
        summary="Set monitors on a station (N04 SetVariableMonitoring)",
    )
    async def set_monitors(
        known_station: KnownStation, data: JSONBody[SetMonitorsIn]
    ) -> list[wire.SetMonitoringResult]:
        """The station's result for every monitor, in order; the accepted ones join the station's monitors
        with the id the station gave them. More monitors than the station takes in one message
        (``MonitoringCtrlr.ItemsPerMessage`` / ``BytesPerMessage``, read first) go in several messages."""
        items = [_monitor_data(item) for item in data.set_monitoring_data]
        return await service.set_monitors(known_station.station_id, items)

    @station_call(
        "/stations/{station_id:str}/monitoring/clear",
        summary="Clear monitors of a station by id (N06 ClearVariableMonitoring)",
    )
    async def clear_monitors(
        known_station: KnownStation, data: JSONBody[ClearMonitorsIn]
    ) -> list[wire.ClearMonitoringResult]:
        """The station's result per id (Accepted, Rejected, NotFound); the ids go in as many messages as the
        station's limits ask (N06.FR.04)."""
        return await service.clear_monitors(known_station.station_id, data.ids)

    @station_call(
        "/stations/{station_id:str}/monitoring/base",
        summary="Set a station's monitoring base (N03 SetMonitoringBase)",
    )
    async def set_base(known_station: KnownStation, data: JSONBody[BaseIn]) -> wire.StatusAnswer:
        """All, FactoryDefault (custom monitors removed) or HardWiredOnly (only hard-wired monitors stay);
        ask for a monitoring report afterwards to see what the station holds."""
        return await service.set_base(known_station.station_id, data.monitoring_base)

    @station_call(
        "/stations/{station_id:str}/monitoring/level",
        summary="Set a station's monitoring level (N05 SetMonitoringLevel)",
    )
    async def set_level(known_station: KnownStation, data: JSONBody[LevelIn]) -> wire.StatusAnswer:
        """The station reports only events of monitors with this severity or a more severe one (0-9)."""
        return await service.set_level(known_station.station_id, data.severity)

    @get_or_404("/stations/{station_id:str}/monitoring", summary="A station's monitoring level and base")
    async def station_monitoring(known_station: KnownStation) -> StationMonitoringOut:
        """What the station last accepted (null: nothing through this CSMS)."""
        state = await service.station(known_station.station_id)
        return StationMonitoringOut(state.level, state.base)

    @get_or_404(
        "/stations/{station_id:str}/monitoring/monitors",
        summary="The monitors a station holds, as the CSMS knows them",
    )
    async def list_monitors(
        known_station: KnownStation,
        component: Annotated[str | None, QueryParameter(max_length=50)] = None,
        variable: Annotated[str | None, QueryParameter(max_length=50)] = None,
        evse_id: Annotated[int | None, QueryParameter(name="evseId", ge=0, le=INT32_MAX)] = None,
        monitor_type: Annotated[str | None, QueryParameter(name="type", pattern=wire.MONITOR_TYPE)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[MonitorOut]:
        """From the station's answers to SetVariableMonitoring / ClearVariableMonitoring / SetMonitoringBase
        and its monitoring reports, by monitor id."""
        where = MonitorFilter(component, variable, evse_id, monitor_type)
        found = await service.monitors(known_station.station_id, where, offset, limit)
        return paged(_monitor_out, found, offset, limit)

    @station_call(
        "/stations/{station_id:str}/monitoring/reports",
        summary="Ask a station for a monitoring report (N02 GetMonitoringReport)",
    )
    async def request_report(known_station: KnownStation, data: JSONBody[ReportIn]) -> ReportOut:
        """Answers once the station answered; the report's parts follow as NotifyMonitoringReport and its
        ``status`` becomes ``complete`` with the last one (or at once with EmptyResultSet). A report of every
        monitor (no filter) replaces the station's monitors the CSMS knows."""
        criteria = ReportCriteria(tuple(data.monitoring_criteria), tuple(data.component_variable))
        return _report_out(await service.request_report(known_station.station_id, criteria))

    @get_or_404(
        "/stations/{station_id:str}/monitoring/reports",
        summary="A station's monitoring reports, newest first",
    )
    async def list_reports(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[ReportOut]:
        """The reports the CSMS asked for and those the station sent unasked, with their progress."""
        found = await service.reports(known_station.station_id, offset, limit)
        return paged(_report_out, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/monitoring/reports/{request_id:int}", summary="One monitoring report"
    )
    async def one_report(known_station: KnownStation, request_id: RequestId) -> ReportOut:
        """A report by its requestId; 404 when the station has no such report."""
        record = await service.report(known_station.station_id, request_id)
        if record is None:
            raise NotFound(f"no monitoring report {request_id} of {known_station.station_id}")
        return _report_out(record)

    @get_or_404(
        "/stations/{station_id:str}/monitoring/events",
        summary="A station's events (NotifyEvent), newest first",
    )
    async def list_events(
        known_station: KnownStation,
        component: Annotated[str | None, QueryParameter(max_length=50)] = None,
        variable: Annotated[str | None, QueryParameter(max_length=50)] = None,
        max_severity: Annotated[int | None, QueryParameter(name="maxSeverity", ge=0, le=9)] = None,
        cleared: Annotated[bool | None, QueryParameter()] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[EventOut]:
        """Every eventData the station sent (alerting, delta, periodic; monitor-triggered or hard-wired), with
        the severity of the monitor that fired where the event does not carry it (2.0.1)."""
        where = EventFilter(known_station.station_id, component, variable, max_severity, cleared)
        return paged(_event_out, await service.events_of(where, offset, limit), offset, limit)

    return [
        set_monitors,
        clear_monitors,
        set_base,
        set_level,
        station_monitoring,
        list_monitors,
        request_report,
        list_reports,
        one_report,
        list_events,
    ]


def alert_routes(service: MonitoringService) -> list[Any]:
    @get("/alerts", summary="Alerts, newest first")
    async def list_alerts(
        station_id: Annotated[str | None, QueryParameter(name="stationId", max_length=48)] = None,
        alert_state: Annotated[str | None, QueryParameter(name="state", pattern=r"\A(open|closed)\Z")] = None,
        rule_id: Annotated[int | None, QueryParameter(name="ruleId", ge=0, le=INT32_MAX)] = None,
        max_severity: Annotated[int | None, QueryParameter(name="maxSeverity", ge=0, le=9)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[AlertOut]:
        """Opened by an event that matched a rule; closed by the station's ``cleared`` event about the same
        variable (and monitor) or by an operator's acknowledgement."""
        where = AlertFilter(station_id, alert_state, rule_id, max_severity)
        return paged(_alert_out, await service.alerts(where, offset, limit), offset, limit)

    @get_or_404("/alerts/{alert_id:int}", summary="One alert")
    async def one_alert(alert_id: PathId) -> AlertOut:
        """404 when there is no such alert."""
        return _alert_out(await service.alert(alert_id))

    @post(
        "/alerts/{alert_id:int}/acknowledge",
        status_code=HTTP_200_OK,
        summary="Acknowledge (close) an alert",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def acknowledge(alert_id: PathId, data: JSONBody[AcknowledgeIn]) -> AlertOut:
        """An open alert is closed (``closedBy`` acknowledged, with the optional ``note``; ``alert.cleared`` on the event stream); a
        closed one is returned as it is."""
        return _alert_out(await service.acknowledge(alert_id, data.note))

    @get("/alert-rules", summary="Alert rules")
    async def list_rules(offset: Offset = 0, limit: Limit = 100) -> Page[RuleOut]:
        """By id."""
        return paged(_rule_out, await service.rules(offset, limit), offset, limit)

    @post(
        "/alert-rules",
        status_code=HTTP_201_CREATED,
        summary="Add an alert rule",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def add_rule(data: JSONBody[RuleIn]) -> RuleOut:
        """It applies to the events received from now on; 404 when ``stationId`` names no station."""
        rule = await service.add_rule(
            data.name, data.max_severity, data.station_id, data.component, data.variable, data.enabled
        )
        return _rule_out(rule)

    @get_or_404("/alert-rules/{rule_id:int}", summary="One alert rule")
    async def one_rule(rule_id: PathId) -> RuleOut:
        """404 when there is no such rule."""
        return _rule_out(await service.rule(rule_id))

    @patch(
        "/alert-rules/{rule_id:int}",
        summary="Change an alert rule",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def change_rule(rule_id: PathId, data: JSONBody[RulePatch]) -> RuleOut:
        """Absent fields are kept; ``null`` clears ``stationId``, ``component`` or ``variable``."""
        values = {
            n: getattr(data, n) for n in RulePatch.__struct_fields__ if getattr(data, n) is not msgspec.UNSET
        }
        cleared = frozenset(n for n, v in values.items() if v is None)
        if cleared - {"station_id", "component", "variable"}:
            raise Invalid(f"{', '.join(sorted(cleared))} cannot be null")
        change = RuleChange(**{n: v for n, v in values.items() if v is not None}, clear=cleared)
        return _rule_out(await service.change_rule(rule_id, change))

    @delete(
        "/alert-rules/{rule_id:int}",
        summary="Remove an alert rule",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_rule(rule_id: PathId) -> None:
        """Its alerts stay."""
        await service.delete_rule(rule_id)

    return [list_alerts, one_alert, acknowledge, list_rules, add_rule, one_rule, change_rule, delete_rule]


class StreamOut(msgspec.Struct, rename="camel"):
    id: int
    variable_monitoring_id: int
    interval: int | None
    values: int | None
    status: str  # Open | Closed
    pending: int  # of the last NotifyPeriodicEventStream: growing means the stream falls behind (N15.FR.05)
    received: int
    updated_at: datetime


class RefreshStreamsIn(msgspec.Struct, forbid_unknown_fields=True):
    """GetPeriodicEventStream has no parameters: the body is ``{}``."""


class AdjustStreamIn(msgspec.Struct, forbid_unknown_fields=True):
    interval: Annotated[int, msgspec.Meta(ge=0)] | None = None
    values: Annotated[int, msgspec.Meta(ge=0)] | None = None


class AdjustStreamOut(msgspec.Struct, rename="camel", omit_defaults=True):
    status: str  # Accepted | Rejected
    status_info: dm.StatusInfo | None = None


def _stream_out(r: StreamRecord) -> StreamOut:
    return StreamOut(
        r.stream_id, r.monitor_id, r.interval, r.values, r.status, r.pending, r.received, r.updated_at
    )


def stream_routes(streams: StreamService) -> list[Any]:
    @get_or_404(
        "/stations/{station_id:str}/monitoring/streams",
        summary="A station's periodic event streams (2.1 N11-N15)",
    )
    async def list_streams(known_station: KnownStation) -> list[StreamOut]:
        """The streams the station opened (its values are stored as the monitor's Periodic events)."""
        return [_stream_out(r) for r in await streams.streams(known_station.station_id)]

    @station_call(
        "/stations/{station_id:str}/monitoring/streams/refresh",
        summary="Ask a station which periodic event streams are open (N12 GetPeriodicEventStream)",
    )
    async def refresh_streams(
        known_station: KnownStation, data: JSONBody[RefreshStreamsIn]
    ) -> list[StreamOut]:
        """What the station answers replaces what this CSMS knew: the streams it does not list are closed."""
        return [_stream_out(r) for r in await streams.refresh(known_station.station_id)]

    @station_call(
        "/stations/{station_id:str}/monitoring/streams/{stream_id:int}/adjust",
        summary="Change how often a periodic event stream is flushed (N14 AdjustPeriodicEventStream)",
    )
    async def adjust_stream(
        known_station: KnownStation, stream_id: PathId, data: JSONBody[AdjustStreamIn]
    ) -> AdjustStreamOut:
        """Interval (s) and/or values; 404 for a stream that is not open, the station's Rejected with its
        reason (N14.FR.02)."""
        refusal = await streams.adjust(
            known_station.station_id, stream_id, StreamParams(data.interval, data.values)
        )
        return AdjustStreamOut("Accepted") if refusal is None else AdjustStreamOut("Rejected", refusal)

    return [list_streams, refresh_streams, adjust_stream]


def routes(service: MonitoringService, streams: StreamService) -> list[Any]:
    return station_routes(service) + alert_routes(service) + stream_routes(streams)
