"""Monitoring on the CSMS side (N02-N08) for 2.0.1 and 2.1; OCPP 1.6 has no monitoring (its requests are
refused with 422 ``NotSupportedByVersion``).

* **Requests** go through the :class:`CommandService` (validated against the station's version, logged):
  SetVariableMonitoring (N04), ClearVariableMonitoring (N06), SetMonitoringBase (N03), SetMonitoringLevel
  (N05) and GetMonitoringReport (N02) with a requestId of the CSMS's choosing.
* **Limits** (N04.FR.09, N06.FR.04): a request of more than one item first reads
  ``MonitoringCtrlr.ItemsPerMessage`` / ``BytesPerMessage`` (instance ``SetVariableMonitoring`` or
  ``ClearVariableMonitoring``) through the device model's GetVariables (so the inventory learns them) and is
  split into messages within both; a limit the station does not report is no limit.
* **The inventory** per station holds the monitors the station holds: those it accepted (with the id it gave,
  N04.FR.11; an id sent replaces that monitor, N04.FR.12), those its reports name (NotifyMonitoringReport
  parts assembled per requestId; the last part of a report of everything replaces the list), minus those it
  cleared (Accepted or NotFound) and those an accepted SetMonitoringBase removed (N03.FR.04/05).
* **Events**: every NotifyEvent's eventData (through the availability block's listener) is stored and matched
  against the operator's alert rules (:mod:`.alerting`): ``alert.raised`` / ``alert.cleared`` on the bus.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from chargeplane.csms.blocks.availability.service import DeviceEvent
from chargeplane.csms.blocks.device_model import wire as dm
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.monitoring import wire
from chargeplane.csms.blocks.monitoring.alerting import Event, Rule
from chargeplane.csms.blocks.monitoring.repository import (
    COMPLETE,
    CUSTOM,
    FAILED,
    REFUSED,
    REPORT,
    REPORTED,
    SET,
    AlertRecord,
    EventFilter,
    EventRecord,
    MonitorFilter,
    MonitoringRepository,
    MonitorRecord,
    ReportRecord,
    RuleChange,
    StationMonitoring,
)
from chargeplane.csms.blocks.monitoring.repository import (
    AlertFilter as AlertFilter,  # re-exported: the filter of alerts(), for other packages
)
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import NotFound
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.transport.connection import CallFailed

log = logging.getLogger(__name__)
T = TypeVar("T")
_FRAME_OVERHEAD = (
    80  # [2,"<message id>","<Action>", ... ] around the payload, counted against BytesPerMessage
)
_GONE = frozenset({"Accepted", "NotFound"})  # a cleared monitor, or one the station does not hold


@dataclass(frozen=True, slots=True)
class Limits:
    items: int | None = None
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ReportCriteria:
    """GetMonitoringReport's filters; both empty: every monitor (N02.FR.11)."""

    monitoring_criteria: tuple[str, ...] = ()
    component_variables: tuple[dm.ComponentVariable, ...] = ()


def chunks(items: Sequence[T], size: Callable[[Sequence[T]], int], limits: Limits) -> list[list[T]]:
    """``items`` in order, in parts of at most ``limits.items`` items whose ``size`` stays within
    ``limits.bytes`` (an item too large alone still goes, alone: the station then refuses it)."""
    parts: list[list[T]] = []
    current: list[T] = []
    for item in items:
        candidate = [*current, item]
        too_many = limits.items is not None and len(candidate) > limits.items
        too_big = limits.bytes is not None and size(candidate) > limits.bytes
        if current and (too_many or too_big):
            parts.append(current)
            current = [item]
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _positive(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else 0
    except ValueError:
        return None
    return number if number > 0 else None


def event_of(device_event: DeviceEvent) -> Event:
    return Event(
        station_id=device_event.station_id,
        event_id=device_event.event_id,
        timestamp=device_event.event_at,
        trigger=device_event.trigger,
        actual_value=device_event.actual_value,
        component=device_event.component,
        variable=device_event.variable,
        component_instance=device_event.component_instance,
        evse_id=device_event.evse_id,
        connector_id=device_event.connector_id,
        variable_instance=device_event.variable_instance,
        cause=device_event.cause,
        monitor_id=device_event.variable_monitoring_id,
        notification_type=device_event.event_notification_type,
        severity=device_event.severity,
        cleared=bool(device_event.cleared),
        tech_code=device_event.tech_code,
        tech_info=device_event.tech_info,
        transaction_id=device_event.transaction_id,
    )


def monitor_record(
    component: dm.Component,
    variable: dm.Variable,
    monitor_id: int,
    *,
    type: str,
    value: float,
    severity: int,
    transaction: bool,
    kind: str | None,
    status: str,
    source: str,
    clock: Clock,
) -> MonitorRecord:
    evse = component.evse
    return MonitorRecord(
        monitor_id=monitor_id,
        component=component.name,
        component_instance=component.instance,
        evse_id=evse.id if evse is not None else None,
        connector_id=evse.connector_id if evse is not None else None,
        variable=variable.name,
        variable_instance=variable.instance,
        type=type,
        value=value,
        severity=severity,
        transaction=transaction,
        kind=kind,
        status=status,
        source=source,
        updated_at=clock.now(),
    )


def _same(item: wire.SetMonitoringData, result: wire.SetMonitoringResult) -> bool:
    """N04.FR.02: a result names the component and variable (with type and severity) of its request item."""
    return (item.component, item.variable, item.type, item.severity) == (
        result.component,
        result.variable,
        result.type,
        result.severity,
    )


def pair_results(
    items: Sequence[wire.SetMonitoringData], results: Sequence[wire.SetMonitoringResult]
) -> list[tuple[wire.SetMonitoringData, wire.SetMonitoringResult]]:
    """Each result with the request item it answers: the one at its position (N04.FR.01: one result per
    item) when that one matches, else the first unanswered matching item; a result that matches none is
    left out."""
    free = list(range(len(items)))
    pairs = []
    for index, result in enumerate(results):
        chosen = index if index in free and _same(items[index], result) else None
        if chosen is None:
            chosen = next((i for i in free if _same(items[i], result)), None)
        if chosen is not None:
            free.remove(chosen)
            pairs.append((items[chosen], result))
    return pairs


class MonitoringService:
    def __init__(
        self,
        repository: MonitoringRepository,
        commands: CommandService,
        device_model: DeviceModelService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.device_model = device_model
        self.events = events
        self.clock = clock

    # -- SetVariableMonitoring (N04) ------------------------------------------------------------------------

    async def set_monitors(
        self, station_id: str, items: Sequence[wire.SetMonitoringData]
    ) -> list[wire.SetMonitoringResult]:
        """Send the monitors (in as many messages as the station's limits ask, N04.FR.09); the accepted ones
        are stored with the id the station gave them. The results come in the order of ``items``' messages."""
        station_id = await self._station_2x(station_id)
        results: list[wire.SetMonitoringResult] = []
        for part, payload in await self._parts(
            station_id, "SetVariableMonitoring", "setMonitoringData", items
        ):
            sent = await self.commands.send_action(station_id, "SetVariableMonitoring", payload)
            answered = dm.read(sent.response, wire.SetVariableMonitoringAnswer).set_monitoring_result
            accepted = [
                monitor_record(
                    item.component,
                    item.variable,
                    result.id,
                    type=item.type,
                    value=item.value,
                    severity=item.severity,
                    transaction=bool(item.transaction),
                    kind=CUSTOM,  # N04.FR.15: a replaced preconfigured monitor becomes a custom one
                    status=result.status,
                    source=SET,
                    clock=self.clock,
                )
                for item, result in pair_results(part, answered)
                if result.status == "Accepted" and result.id is not None
            ]
            await self.repository.store_monitors(station_id, accepted)
            results.extend(answered)
        return results

    # -- ClearVariableMonitoring (N06) ----------------------------------------------------------------------

    async def clear_monitors(
        self, station_id: str, monitor_ids: Sequence[int]
    ) -> list[wire.ClearMonitoringResult]:
        """Clear monitors by id, in messages within the station's limits (N06.FR.04); those the station cleared
        or does not hold (NotFound) leave the inventory, a Rejected one (N06.FR.03) stays."""
        station_id = await self._station_2x(station_id)
        results: list[wire.ClearMonitoringResult] = []
        for part, payload in await self._parts(station_id, "ClearVariableMonitoring", "id", monitor_ids):
            sent = await self.commands.send_action(station_id, "ClearVariableMonitoring", payload)
            answered = dm.read(sent.response, wire.ClearVariableMonitoringAnswer).clear_monitoring_result
            gone = [r.id for r in answered if r.status in _GONE and r.id in part]  # only what it was asked
            await self.repository.remove_monitors(station_id, gone)
            results.extend(answered)
        return results

    # -- SetMonitoringBase (N03), SetMonitoringLevel (N05) --------------------------------------------------

    async def set_base(self, station_id: str, base: str) -> wire.StatusAnswer:
        station_id = await self._station_2x(station_id)
        sent = await self.commands.send_action(
            station_id, "SetMonitoringBase", msgspec.json.encode({"monitoringBase": base})
        )
        answer = dm.read(sent.response, wire.StatusAnswer)
        if answer.status == "Accepted":
            await self.repository.set_base(station_id, base, self.clock.now())
        return answer

    async def set_level(self, station_id: str, severity: int) -> wire.StatusAnswer:
        """N05: the station then reports only events of monitors with this severity or a more severe one
        (N05.FR.03); a level out of its range is Rejected (N05.FR.02)."""
        station_id = await self._station_2x(station_id)
        sent = await self.commands.send_action(
            station_id, "SetMonitoringLevel", msgspec.json.encode({"severity": severity})
        )
        answer = dm.read(sent.response, wire.StatusAnswer)
        if answer.status == "Accepted":
            await self.repository.set_level(station_id, severity, self.clock.now())
        return answer

    async def station(self, station_id: str) -> StationMonitoring:
        return await self.repository.station(station_id)

    # -- GetMonitoringReport (N02) --------------------------------------------------------------------------

    async def request_report(self, station_id: str, criteria: ReportCriteria) -> ReportRecord:
        """Send GetMonitoringReport with a new requestId; the report record tells what came of it
        (EmptyResultSet, N02.FR.10: complete with no part)."""
        station_id = await self._station_2x(station_id)
        request_id = await self._new_request_id(station_id)
        filters: dict[str, object] = {}
        if criteria.monitoring_criteria:
            filters["monitoringCriteria"] = list(criteria.monitoring_criteria)
        if criteria.component_variables:
            filters["componentVariable"] = msgspec.to_builtins(list(criteria.component_variables))
        stored = msgspec.json.encode(filters).decode() if filters else None
        await self.repository.add_report(station_id, request_id, stored, self.clock.now())
        try:
            sent = await self.commands.send_action(
                station_id, "GetMonitoringReport", msgspec.json.encode({"requestId": request_id} | filters)
            )
        except Exception:
            await self.repository.report_answered(station_id, request_id, None, FAILED, self.clock.now())
            raise
        status = dm.read(sent.response, wire.StatusAnswer).status
        outcome = None if status == "Accepted" else COMPLETE if status == "EmptyResultSet" else REFUSED
        await self.repository.report_answered(station_id, request_id, status, outcome, self.clock.now())
        record = await self.repository.report(station_id, request_id)
        assert record is not None
        return record

    async def report_part(self, station_id: str, part: wire.NotifyMonitoringReport) -> None:
        """One NotifyMonitoringReport (N02.FR.03/04): its monitors stored before it is answered."""
        monitors = [
            monitor_record(
                data.component,
                data.variable,
                monitoring.id,
                type=monitoring.type,
                value=monitoring.value,
                severity=monitoring.severity,
                transaction=monitoring.transaction,
                kind=monitoring.event_notification_type,
                status=REPORTED,
                source=REPORT,
                clock=self.clock,
            )
            for data in part.monitor
            for monitoring in data.variable_monitoring
        ]
        record = await self.repository.add_part(
            station_id, part.request_id, part.tbc, monitors, self.clock.now()
        )
        if record.status == COMPLETE:
            self.events.publish(
                StationEvent(
                    "monitoring.report_complete",
                    station_id,
                    {"requestId": record.request_id, "parts": record.parts, "monitors": record.monitor_count},
                )
            )

    async def reports(self, station_id: str, offset: int, limit: int) -> tuple[list[ReportRecord], int]:
        return await self.repository.reports(station_id, offset, limit)

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        return await self.repository.report(station_id, request_id)

    async def monitors(
        self, station_id: str, where: MonitorFilter, offset: int, limit: int
    ) -> tuple[list[MonitorRecord], int]:
        return await self.repository.monitors(station_id, where, offset, limit)

    # -- NotifyEvent (N07, N08) and alerts ------------------------------------------------------------------

    async def device_events(self, station_id: str, device_events: list[DeviceEvent]) -> None:
        """The availability block's NotifyEvent listener: store every event, open and close alerts."""
        if device_events:
            await self.record(station_id, [event_of(e) for e in device_events])

    async def record(self, station_id: str, events: list[Event]) -> None:
        """Store events (NotifyEvent's, or a periodic event stream's: N15.FR.03), open and close alerts."""
        changes = await self.repository.record_events(station_id, events, self.clock.now())
        for alert in changes.raised:
            self.events.publish(StationEvent("alert.raised", alert.station_id, alert_data(alert)))
        for alert in changes.closed:
            self.events.publish(StationEvent("alert.cleared", alert.station_id, alert_data(alert)))

    async def events_of(self, where: EventFilter, offset: int, limit: int) -> tuple[list[EventRecord], int]:
        return await self.repository.events(where, offset, limit)

    async def alerts(self, where: AlertFilter, offset: int, limit: int) -> tuple[list[AlertRecord], int]:
        return await self.repository.alerts(where, offset, limit)

    async def alert(self, alert_id: int) -> AlertRecord:
        found = await self.repository.alert(alert_id)
        if found is None:
            raise NotFound(f"no alert {alert_id}")
        return found

    async def acknowledge(self, alert_id: int, note: str | None = None) -> AlertRecord:
        """The operator closes an open alert, with an optional note (an alert closed already stays as it
        was)."""
        done = await self.repository.acknowledge(alert_id, note, self.clock.now())
        if done is None:
            raise NotFound(f"no alert {alert_id}")
        alert, changed = done
        if changed:
            self.events.publish(StationEvent("alert.cleared", alert.station_id, alert_data(alert)))
        return alert

    async def add_rule(
        self,
        name: str,
        max_severity: int,
        station_id: str | None = None,
        component: str | None = None,
        variable: str | None = None,
        enabled: bool = True,
    ) -> Rule:
        if station_id is not None:
            station_id = await self._known(station_id)
        return await self.repository.add_rule(
            Rule(0, name, station_id, max_severity, component, variable, enabled, self.clock.now())
        )

    async def rules(self, offset: int, limit: int) -> tuple[list[Rule], int]:
        return await self.repository.rules(offset, limit)

    async def rule(self, rule_id: int) -> Rule:
        found = await self.repository.rule(rule_id)
        if found is None:
            raise NotFound(f"no alert rule {rule_id}")
        return found

    async def change_rule(self, rule_id: int, change: RuleChange) -> Rule:
        if change.station_id is not None:
            change = dataclasses.replace(change, station_id=await self._known(change.station_id))
        found = await self.repository.change_rule(rule_id, change)
        if found is None:
            raise NotFound(f"no alert rule {rule_id}")
        return found

    async def delete_rule(self, rule_id: int) -> None:
        """Its alerts stay (with their ``ruleId``)."""
        if not await self.repository.delete_rule(rule_id):
            raise NotFound(f"no alert rule {rule_id}")

    # -- helpers --------------------------------------------------------------------------------------------

    async def _known(self, station_id: str) -> str:
        station_id, _ = await self.commands.station(station_id)
        return station_id

    async def known(self, station_id: str) -> str:
        """The station's id as registered (404 when unknown)."""
        return await self._station_2x(station_id)

    async def _station_2x(self, station_id: str) -> str:
        return await self.commands.station_2x(station_id, "monitoring")

    async def _parts(
        self, station_id: str, action: str, field: str, items: Sequence[T]
    ) -> list[tuple[list[T], bytes]]:
        """``items`` in the payloads (``{field: part}``) of as many ``action`` messages as the station's limits
        ask (read first when there is more than one item: one item always goes)."""
        limits = await self._limits(station_id, action) if len(items) > 1 else Limits()

        def size(part: Sequence[T]) -> int:
            return len(msgspec.json.encode({field: part})) + _FRAME_OVERHEAD

        return [(part, msgspec.json.encode({field: part})) for part in chunks(items, size, limits)]

    async def _limits(self, station_id: str, instance: str) -> Limits:
        """ItemsPerMessage / BytesPerMessage of ``instance`` (MonitoringCtrlr), read with GetVariables."""
        component = dm.Component("MonitoringCtrlr")
        wanted = [
            dm.GetVariableData(component, dm.Variable(n, instance))
            for n in ("ItemsPerMessage", "BytesPerMessage")
        ]
        try:
            results = await self.device_model.get_variables(station_id, wanted)
        except CallFailed as error:  # the station cannot tell (a CALLERROR): no known limit
            log.info("%s: cannot read the %s limits (%s)", station_id, instance, error)
            return Limits()
        found = {
            r.variable.name: _positive(r.attribute_value) for r in results if r.attribute_status == "Accepted"
        }
        return Limits(found.get("ItemsPerMessage"), found.get("BytesPerMessage"))

    async def _new_request_id(self, station_id: str) -> int:
        used = await self.repository.used_request_ids(station_id)
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate


def alert_data(alert: AlertRecord) -> dict[str, object]:
    """An alert as the event bus carries it."""
    data: dict[str, object] = {
        "alertId": alert.id,
        "ruleId": alert.rule_id,
        "subject": alert.subject,
        "component": alert.component,
        "variable": alert.variable,
        "evseId": alert.evse_id,
        "severity": alert.severity,
        "trigger": alert.trigger,
        "actualValue": alert.actual_value,
        "monitorId": alert.monitor_id,
        "eventId": alert.event_id,
        "state": alert.state,
        "raisedAt": to_wire(alert.raised_at),
    }
    if alert.closed_at is not None:
        data["closedBy"] = alert.closed_by
        data["closedAt"] = to_wire(alert.closed_at)
        if alert.note is not None:
            data["note"] = alert.note
    return data
