"""DER control on the CSMS side (2.1 R04, R05; 2.0.1 and 1.6 have none).

The operator sets, queries and clears a station's DER controls (SetDERControl, GetDERControl,
ClearDERControl through the CommandService); every answer is kept with the control, so a station's list shows
each control as we set it (with the station's status and what it superseded) and as the station last reported
it (ReportDERControl parts assembled per requestId; a complete unfiltered report replaces the list). The
station's NotifyDERAlarm and NotifyDERStartStop are stored and published on the bus (``der.alarm``,
``der.started`` / ``der.stopped``). Each alarm also goes to the monitoring block as an event of its own
(component DCDERCtrlr, variable DERAlarm, severity 2, the value ``<controlType>/<gridEventFault>``), so the
operator's alert rules open an alert for it and its end (alarmEnded) closes that alert; one subject per
station, as R05 has one alarm at a time whose cause may change (R05.FR.03/04).

Per site (the sites block's tree names the stations), the operator states DER controls; they are applied to
every 2.1 station of the site when the set changes and after each accepted boot, and by a periodic pass to
the online ones that lack them (a station added to the site's tree, a send that failed); the per-station
state (each control's status on each station) is shown.

An AC_BPT_DER EV has an inverter of its own: its station states the inverter's nameplate and the DER controls
it supports in the derChargingParameters of NotifyEVChargingNeeds (R02.FR.01 / R03.FR.01); the latest per
transaction is kept (``der.ev_parameters`` event) and shown. The CSMS refuses no needs for them (the spec
sets no rule on their values).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from chargeplane.csms.blocks.der_control.repository import (
    ALARM,
    START_STOP,
    Control,
    DerRepository,
    EvParameters,
    Notice,
    Report,
    StationControl,
)
from chargeplane.csms.blocks.monitoring.alerting import Event
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.blocks.sites.service import CircuitNode, SitesService
from chargeplane.csms.blocks.smart_charging.service import EvRequest
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import NotFound
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.errors import OcppError
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.validation import decode_payload
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

# the SetDERControlRequest field that carries each control type's setting (the rest are curves)
SETTING_FIELD = {
    "EnterService": "enterService",
    "FreqDroop": "freqDroop",
    "FixedPFAbsorb": "fixedPFAbsorb",
    "FixedPFInject": "fixedPFInject",
    "FixedVar": "fixedVar",
    "Gradients": "gradient",
    "LimitMaxDischarge": "limitMaxDischarge",
}
CALL_ERRORS = (CallFailed, CallTimeout, ConnectionLost, StationOffline)
ALARM_COMPONENT, ALARM_VARIABLE = "DCDERCtrlr", "DERAlarm"
ALARM_SEVERITY = 2  # Critical: the grid makes the inverter leave what its schedule asks


SET_DECODER = ActionCatalog.for_version(Version.V21).actions["SetDERControl"].request_decoder


def setting_field(control_type: str) -> str:
    return SETTING_FIELD.get(control_type, "curve")


def _set_payload(control: Control) -> dict[str, Any]:
    """SetDERControlRequest in wire form: the setting in the field its type uses."""
    return {
        "isDefault": control.is_default,
        "controlId": control.control_id,
        "controlType": control.control_type,
        setting_field(control.control_type): control.setting,
    }


class _Answer(msgspec.Struct):
    status: str
    superseded_ids: list[str] = msgspec.field(default_factory=list, name="supersededIds")


class UnknownReport(NotFound):
    def __init__(self, station_id: str, row_id: int) -> None:
        super().__init__(f"no DER control report {row_id} for {station_id}")


class UnknownSiteControl(NotFound):
    def __init__(self, site_id: str, control_id: str) -> None:
        super().__init__(f"site {site_id} has no DER control {control_id}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The station's answer to a SetDERControl / ClearDERControl."""

    station_id: str
    status: str
    superseded_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SiteState:
    """A site's stated controls and, per station of the site, what became of each."""

    site_id: str
    controls: list[Control]
    stations: dict[str, list[StationControl]]


def _stations_of(tree: CircuitNode) -> list[str]:
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        found += [e.station_id for e in node.evses if e.station_id not in found]
        stack += node.circuits
    return sorted(found)


ANSWERED = frozenset({"Accepted", "Rejected", "NotSupported", "NotFound"})


def _to_send(held: StationControl | None, control: Control) -> bool:
    """Whether a site's ``control`` still has to go to a station that holds ``held`` from the site."""
    return held is None or held.control != control or held.status not in ANSWERED


class DerService:
    def __init__(
        self,
        repository: DerRepository,
        commands: CommandService,
        sites: SitesService,
        monitoring: MonitoringService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.sites = sites
        self.monitoring = monitoring
        self.events = events
        self.clock = clock
        self._boots: asyncio.Queue[str] = asyncio.Queue()

    async def _station_21(self, station_id: str) -> str:
        station_id, version = await self.commands.station(station_id)
        if version is not None and version is not Version.V21:
            raise InvalidCommand(
                "NotSupportedByVersion", f"{station_id} speaks OCPP {version.value}, which has no DER control"
            )
        return station_id

    async def _send(self, station_id: str, action: str, payload: dict[str, Any]) -> _Answer:
        sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        return msgspec.convert(msgspec.to_builtins(sent.response), _Answer)

    # ------------------------------------------------------------------ one station
    async def set_control(self, station_id: str, control: Control, site_id: str | None = None) -> Outcome:
        """R04: SetDERControl; the answer kept with the control (a failed call too, then raised)."""
        station_id = await self._station_21(station_id)
        payload = _set_payload(control)
        try:
            answer = await self._send(station_id, "SetDERControl", payload)
        except CALL_ERRORS as error:  # kept: the operator sees the control did not get there
            now = self.clock.now()
            await self.repository.set_answered(station_id, control, site_id, type(error).__name__, [], now)
            raise
        await self.repository.set_answered(
            station_id, control, site_id, answer.status, answer.superseded_ids, self.clock.now()
        )
        return Outcome(station_id, answer.status, tuple(answer.superseded_ids))

    async def get_controls(
        self, station_id: str, is_default: bool | None, control_type: str | None, control_id: str | None
    ) -> Report:
        """R04.FR.30-36: GetDERControl; the ReportDERControl parts follow (GET the report until complete)."""
        station_id = await self._station_21(station_id)
        used = await self.repository.used_request_ids(station_id)
        request_id = random.randrange(1, 2**31)  # an id, not a secret
        while request_id in used:
            request_id = random.randrange(1, 2**31)
        payload: dict[str, Any] = {"requestId": request_id}
        if is_default is not None:
            payload["isDefault"] = is_default
        if control_type is not None:
            payload["controlType"] = control_type
        if control_id is not None:
            payload["controlId"] = control_id
        row_id = await self.repository.add_report(station_id, request_id, payload, self.clock.now())
        try:
            answer = await self._send(station_id, "GetDERControl", payload)
        except (*CALL_ERRORS, InvalidCommand) as error:
            await self.repository.report_answered(row_id, getattr(error, "code", type(error).__name__))
            raise
        await self.repository.report_answered(row_id, answer.status)
        return await self.report(station_id, row_id)

    async def clear_controls(
        self, station_id: str, is_default: bool, control_type: str | None, control_id: str | None
    ) -> Outcome:
        """R04.FR.41-45: ClearDERControl; on Accepted the matching controls are forgotten."""
        station_id = await self._station_21(station_id)
        payload: dict[str, Any] = {"isDefault": is_default}
        where: dict[str, Any] = {"is_default": is_default}
        if control_type is not None:
            payload["controlType"] = where["control_type"] = control_type
        if control_id is not None:
            payload["controlId"] = control_id
        answer = await self._send(station_id, "ClearDERControl", payload)
        if answer.status in ("Accepted", "NotFound"):  # either way the station holds none of them now
            await self.repository.cleared(station_id, [control_id] if control_id else None, where)
        return Outcome(station_id, answer.status)

    async def controls(self, station_id: str, offset: int, limit: int) -> tuple[list[StationControl], int]:
        return await self.repository.controls(station_id, offset, limit)

    async def report(self, station_id: str, row_id: int) -> Report:
        report = await self.repository.report(row_id)
        if report is None or report.station_id.casefold() != station_id.casefold():
            raise UnknownReport(station_id, row_id)
        return report

    async def notices(
        self, station_id: str | None, kind: str, offset: int, limit: int
    ) -> tuple[list[Notice], int]:
        return await self.repository.notices(station_id, kind, offset, limit)

    # ------------------------------------------------------------------ the EVs' inverters (R02/R03)
    async def on_ev_needs(self, request: EvRequest) -> bool:
        """R02.FR.01: keep an EV's derChargingParameters with its transaction; never refuses the needs."""
        parameters = request.needs.get("derChargingParameters")
        if request.version is not Version.V21 or not isinstance(parameters, dict):
            return True
        transfer = request.needs.get("requestedEnergyTransfer")
        record = EvParameters(
            request.station_id,
            request.transaction_id,
            request.evse_id,
            str(transfer) if transfer is not None else None,
            parameters,
            self.clock.now(),
        )
        await self.repository.put_ev_parameters(record)
        supported = parameters.get("evSupportedDERControl")
        data = {
            "transactionId": request.transaction_id,
            "evseId": request.evse_id,
            "evSupportedDERControl": supported if isinstance(supported, list) else [],
        }
        self.events.publish(StationEvent("der.ev_parameters", request.station_id, data))
        return True

    async def ev_parameters(
        self, station_id: str, transaction_id: str | None, offset: int, limit: int
    ) -> tuple[list[EvParameters], int]:
        return await self.repository.ev_parameters(station_id, transaction_id, offset, limit)

    # ------------------------------------------------------------------ what stations send
    async def report_part(
        self, station_id: str, request_id: int, tbc: bool, controls: list[dict[str, Any]]
    ) -> None:
        report = await self.repository.report_part(station_id, request_id, tbc, controls, self.clock.now())
        if report.complete:
            data = {"requestId": request_id, "controls": len(report.controls)}
            self.events.publish(StationEvent("der.reported", station_id, data))

    async def alarm(
        self,
        station_id: str,
        control_type: str,
        fault: str | None,
        ended: bool,
        timestamp: str,
        extra_info: str | None,
    ) -> None:
        """R05: stored before it is answered; ``der.alarm`` on the bus."""
        at = from_wire(timestamp)
        values = {
            "control_type": control_type,
            "grid_event_fault": fault,
            "alarm_ended": ended,
            "extra_info": extra_info,
            "timestamp": at,
        }
        row_id = await self.repository.add_notice(station_id, ALARM, values, self.clock.now())
        event = Event(
            station_id=station_id,
            event_id=row_id,
            timestamp=at,
            trigger="Alerting",
            actual_value=f"{control_type}/{fault or ''}",
            component=ALARM_COMPONENT,
            variable=ALARM_VARIABLE,
            severity=ALARM_SEVERITY,
            cleared=ended,
            tech_code=fault,
            tech_info=extra_info,
        )
        await self.monitoring.record(station_id, [event])  # the operator's alert rules decide
        data = {"controlType": control_type, "gridEventFault": fault, "alarmEnded": ended}
        self.events.publish(StationEvent("der.alarm", station_id, data))

    async def start_stop(
        self, station_id: str, control_id: str, started: bool, timestamp: str, superseded: list[str]
    ) -> None:
        """R04.FR.20-22: stored before it is answered; ``der.started`` / ``der.stopped`` on the bus."""
        values = {
            "control_id": control_id,
            "started": started,
            "superseded_ids": msgspec.json.encode(superseded).decode() if superseded else None,
            "timestamp": from_wire(timestamp),
        }
        await self.repository.add_notice(station_id, START_STOP, values, self.clock.now())
        kind = "der.started" if started else "der.stopped"
        self.events.publish(
            StationEvent(kind, station_id, {"controlId": control_id, "supersededIds": superseded})
        )

    # ------------------------------------------------------------------ sites
    async def _site_stations(self, site_id: str) -> list[str]:
        return _stations_of((await self.sites.site(site_id)).tree)  # UnknownSite for a missing site

    async def put_site_control(self, site_id: str, control: Control) -> SiteState:
        """The operator states a control for the site: applied to its 2.1 stations online now. A setting the
        2.1 schema refuses is :class:`InvalidCommand` (422), never stored."""
        stations = await self._site_stations(site_id)
        try:
            decode_payload(SET_DECODER, msgspec.json.encode(_set_payload(control)), Version.V21)
        except OcppError as error:
            raise InvalidCommand(error.code_for(Version.V21), error.description) from None
        await self.repository.put_site_control(site_id, control, self.clock.now())
        await self._apply(stations, [control], site_id)
        return await self.site_state(site_id)

    async def delete_site_control(self, site_id: str, control_id: str) -> SiteState:
        """The control is no longer stated: cleared on the site's stations that hold it from us."""
        stations = await self._site_stations(site_id)
        if not await self.repository.delete_site_control(site_id, control_id):
            raise UnknownSiteControl(site_id, control_id)
        for held in await self.repository.site_station_controls(site_id):
            if held.control.control_id != control_id or held.station_id not in stations:
                continue
            if self.commands.version_of(held.station_id) is not Version.V21:
                continue  # offline: cleared when it next boots (not stated any more)
            try:
                await self.clear_controls(held.station_id, held.control.is_default, None, control_id)
            except (*CALL_ERRORS, InvalidCommand):
                log.warning("%s: clearing site DER control %s failed", held.station_id, control_id)
        return await self.site_state(site_id)

    async def site_state(self, site_id: str) -> SiteState:
        stations = await self._site_stations(site_id)
        controls = await self.repository.site_controls(site_id)
        held = await self.repository.site_station_controls(site_id)
        per: dict[str, list[StationControl]] = {s: [] for s in stations}
        for item in held:
            match = next((s for s in per if s.casefold() == item.station_id.casefold()), None)
            if match is not None:
                per[match].append(item)
        return SiteState(site_id, controls, per)

    async def _apply(self, stations: list[str], controls: list[Control], site_id: str) -> None:
        for station_id in stations:
            if self.commands.version_of(station_id) is not Version.V21:
                continue  # offline or not 2.1: applied after its next accepted boot (2.1 only)
            for control in controls:
                try:
                    await self.set_control(station_id, control, site_id)
                except (*CALL_ERRORS, InvalidCommand):
                    log.warning("%s: site DER control %s not set", station_id, control.control_id)

    def station_accepted(self, station_id: str) -> None:
        """The accepted-boot listener: the site controls follow in :meth:`boot_job`."""
        if self.commands.version_of(station_id) is Version.V21:
            self._boots.put_nowait(station_id)

    async def apply_sites(self, station_id: str) -> None:
        """Every site that names ``station_id`` gives it its stated controls."""
        for site_id in await self.repository.sites_with_controls():
            try:
                stations = await self._site_stations(site_id)
            except NotFound:
                continue
            if any(s.casefold() == station_id.casefold() for s in stations):
                await self._apply([station_id], await self.repository.site_controls(site_id), site_id)

    async def reconcile(self, now: datetime) -> None:
        """The periodic pass: each site's controls onto its online 2.1 stations that lack them or hold another
        version of them, or whose last send failed (the station's own refusals are not retried)."""
        for site_id in await self.repository.sites_with_controls():
            try:
                stations = await self._site_stations(site_id)
            except NotFound:
                continue  # the site is gone; its controls wait for a site of that name
            controls = await self.repository.site_controls(site_id)
            held = {
                (h.station_id.casefold(), h.control.control_id): h
                for h in await self.repository.site_station_controls(site_id)
            }
            for station_id in stations:
                lacking = [
                    c for c in controls if _to_send(held.get((station_id.casefold(), c.control_id)), c)
                ]
                if lacking:
                    await self._apply([station_id], lacking, site_id)

    async def boot_job(self) -> None:
        while True:
            station_id = await self._boots.get()
            try:
                await self.apply_sites(station_id)
            except Exception:
                log.exception("%s: applying the site DER controls failed", station_id)
            finally:
                self._boots.task_done()
