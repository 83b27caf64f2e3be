"""HTTP routes of DER control (2.1 R04, R05): set, query and clear a station's DER controls, its controls as
set and as reported, its alarms and start/stop notices, and the DER controls stated per site."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, put
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.der_control.repository import (
    ALARM,
    START_STOP,
    Control,
    EvParameters,
    Notice,
    Report,
    StationControl,
)
from chargeplane.csms.blocks.der_control.service import DerService, Outcome, SiteState
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.ocpp.messages.v21.enums import DERControlEnumType

ControlId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]


class ControlIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A DER control: ``setting`` is what SetDERControl carries for the type (a DERCurve, freqDroop,
    fixedPF, fixedVar, limitMaxDischarge, enterService or gradient, in wire form), checked by the schema."""

    control_id: ControlId
    control_type: DERControlEnumType
    is_default: bool
    setting: dict[str, Any]

    def control(self) -> Control:
        return Control(self.control_id, self.control_type.value, self.is_default, self.setting)


class SiteControlIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    control_type: DERControlEnumType
    is_default: bool
    setting: dict[str, Any]


class QueryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    is_default: bool | None = None
    control_type: DERControlEnumType | None = None
    control_id: ControlId | None = None


class ClearIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    is_default: bool
    control_type: DERControlEnumType | None = None
    control_id: ControlId | None = None


class OutcomeOut(msgspec.Struct, rename="camel"):
    station_id: str
    status: str  # the station's: Accepted, Rejected, NotSupported, NotFound
    superseded_ids: list[str]


class ControlOut(msgspec.Struct, rename="camel"):
    control_id: str
    control_type: str
    is_default: bool
    setting: dict[str, Any]


class StationControlOut(msgspec.Struct, rename="camel"):
    station_id: str
    control_id: str
    control_type: str
    is_default: bool
    setting: dict[str, Any]
    site_id: str | None  # set for a site's DER settings
    status: str | None  # our SetDERControl's answer (or the call's failure); None: only reported
    superseded_ids: list[str]
    reported: bool  # named in the station's last report
    is_superseded: bool | None
    updated_at: datetime


class ReportOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    request_id: int
    request: dict[str, Any]
    status: str | None
    parts: int
    complete: bool
    controls: list[dict[str, Any]]
    created_at: datetime


class NoticeOut(msgspec.Struct, rename="camel", omit_defaults=True):
    id: int
    station_id: str
    timestamp: datetime
    received_at: datetime
    control_type: str | None = None
    grid_event_fault: str | None = None
    alarm_ended: bool | None = None
    extra_info: str | None = None
    control_id: str | None = None
    started: bool | None = None
    superseded_ids: list[str] | None = None


class SiteStateOut(msgspec.Struct, rename="camel"):
    site_id: str
    controls: list[ControlOut]
    stations: dict[str, list[StationControlOut]]  # per station of the site: the site's controls it holds


def _outcome(outcome: Outcome) -> OutcomeOut:
    return OutcomeOut(outcome.station_id, outcome.status, list(outcome.superseded_ids))


def _control(control: Control) -> ControlOut:
    return ControlOut(control.control_id, control.control_type, control.is_default, control.setting)


def _station_control(item: StationControl) -> StationControlOut:
    c = item.control
    return StationControlOut(
        item.station_id,
        c.control_id,
        c.control_type,
        c.is_default,
        c.setting,
        item.site_id,
        item.status,
        list(item.superseded_ids),
        item.reported,
        item.is_superseded,
        item.updated_at,
    )


def _report(report: Report) -> ReportOut:
    return ReportOut(
        report.id,
        report.station_id,
        report.request_id,
        report.request,
        report.status,
        report.parts,
        report.complete,
        list(report.controls),
        report.created_at,
    )


def _notice(notice: Notice) -> NoticeOut:
    if notice.kind == ALARM:
        return NoticeOut(
            notice.id,
            notice.station_id,
            notice.timestamp,
            notice.received_at,
            control_type=notice.control_type,
            grid_event_fault=notice.grid_event_fault,
            alarm_ended=notice.alarm_ended,
            extra_info=notice.extra_info,
        )
    return NoticeOut(
        notice.id,
        notice.station_id,
        notice.timestamp,
        notice.received_at,
        control_id=notice.control_id,
        started=notice.started,
        superseded_ids=list(notice.superseded_ids),
    )


def _site(state: SiteState) -> SiteStateOut:
    stations = {s: [_station_control(i) for i in items] for s, items in state.stations.items()}
    return SiteStateOut(state.site_id, [_control(c) for c in state.controls], stations)


class EvParametersOut(msgspec.Struct, rename="camel"):
    station_id: str
    transaction_id: str
    evse_id: int
    energy_transfer: str | None
    der_charging_parameters: dict[str, Any]
    received_at: datetime


def _ev_parameters(p: EvParameters) -> EvParametersOut:
    return EvParametersOut(
        p.station_id, p.transaction_id, p.evse_id, p.energy_transfer, p.parameters, p.received_at
    )


TransactionId = Annotated[str | None, QueryParameter(name="transactionId", min_length=1, max_length=36)]


def routes(service: DerService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/der-controls",
        summary="Set a DER control on a 2.1 station (R04 SetDERControl)",
    )
    async def set_der_control(known_station: KnownStation, data: JSONBody[ControlIn]) -> OutcomeOut:
        """Sends SetDERControl; ``status`` is the station's (NotSupported: a type its DCDERCtrlr does not
        list) with the ids it superseded. 422 for a station that does not speak 2.1 and for a setting the
        schema refuses."""
        return _outcome(await service.set_control(known_station.station_id, data.control()))

    @get_or_404(
        "/stations/{station_id:str}/der-controls",
        summary="A station's DER controls, as set by the CSMS and as last reported",
    )
    async def list_der_controls(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[StationControlOut]:
        """Each control with our SetDERControl's answer (``status``) and whether the station's last report
        named it (POST .../query to refresh)."""
        found = await service.controls(known_station.station_id, offset, limit)
        return paged(_station_control, found, offset, limit)

    @station_call(
        "/stations/{station_id:str}/der-controls/query",
        summary="Ask a 2.1 station for its DER controls (R04 GetDERControl)",
    )
    async def query_der_controls(known_station: KnownStation, data: JSONBody[QueryIn]) -> ReportOut:
        """Sends GetDERControl with the filters given (none: all); the ReportDERControl parts follow: GET
        the report (``id``) until ``complete``."""
        control_type = data.control_type.value if data.control_type else None
        report = await service.get_controls(
            known_station.station_id, data.is_default, control_type, data.control_id
        )
        return _report(report)

    @get_or_404(
        "/stations/{station_id:str}/der-controls/reports/{report_id:int}",
        summary="One DER control report with the controls reported so far",
    )
    async def one_der_report(known_station: KnownStation, report_id: PathId) -> ReportOut:
        """The answer to the GetDERControl and the controls of its ReportDERControl parts, in order."""
        return _report(await service.report(known_station.station_id, report_id))

    @station_call(
        "/stations/{station_id:str}/der-controls/clear",
        summary="Clear DER controls on a 2.1 station by id, type or all of a kind (R04 ClearDERControl)",
    )
    async def clear_der_controls(known_station: KnownStation, data: JSONBody[ClearIn]) -> OutcomeOut:
        """Sends ClearDERControl; Accepted or NotFound forget the matching controls, NotSupported: the
        station has no such type."""
        control_type = data.control_type.value if data.control_type else None
        outcome = await service.clear_controls(
            known_station.station_id, data.is_default, control_type, data.control_id
        )
        return _outcome(outcome)

    @get_or_404(
        "/stations/{station_id:str}/der-alarms",
        summary="A station's DER alarms (R05 NotifyDERAlarm), newest first",
    )
    async def station_der_alarms(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[NoticeOut]:
        """Each alarm as the station reported it: the control type, the grid fault, and its end."""
        found = await service.notices(known_station.station_id, ALARM, offset, limit)
        return paged(_notice, found, offset, limit)

    @get("/der-alarms", summary="The DER alarms of every station, newest first")
    async def der_alarms(offset: Offset = 0, limit: Limit = 100) -> Page[NoticeOut]:
        """Every NotifyDERAlarm received (R05)."""
        return paged(_notice, await service.notices(None, ALARM, offset, limit), offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/der-start-stops",
        summary="A station's DER control starts and stops (R04 NotifyDERStartStop), newest first",
    )
    async def station_der_start_stops(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[NoticeOut]:
        """Each scheduled control's start (with the ids it superseded) and stop."""
        found = await service.notices(known_station.station_id, START_STOP, offset, limit)
        return paged(_notice, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/der-ev-parameters",
        summary="The DER parameters of the station's EVs with their own inverter (R02/R03), newest first",
    )
    async def station_der_ev_parameters(
        known_station: KnownStation,
        transaction_id: TransactionId = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[EvParametersOut]:
        """Per transaction, the derChargingParameters of the EV's latest NotifyEVChargingNeeds (the EV
        inverter's nameplate and the DER controls it supports) and the energy transfer it asked for;
        ``transactionId`` picks one transaction."""
        found = await service.ev_parameters(known_station.station_id, transaction_id, offset, limit)
        return paged(_ev_parameters, found, offset, limit)

    @get_or_404(
        "/sites/{site_id:str}/der-controls",
        summary="A site's DER controls and their state on each station of the site",
    )
    async def site_der_controls(site_id: FromPath[str]) -> SiteStateOut:
        """The controls stated for the site and, per station, the answer of each (as set by the CSMS)."""
        return _site(await service.site_state(site_id))

    @put(
        "/sites/{site_id:str}/der-controls/{control_id:str}",
        summary="State a DER control for a site: applied to its 2.1 stations now and after each boot",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY),
        opt=OPERATOR,
    )
    async def put_site_der_control(
        site_id: FromPath[str], control_id: FromPath[ControlId], data: JSONBody[SiteControlIn]
    ) -> SiteStateOut:
        """Sent at once to every 2.1 station of the site that is online (its answer shown per station), to
        the others after their next accepted boot. 422 for a setting the 2.1 schema refuses."""
        control = Control(control_id, data.control_type.value, data.is_default, data.setting)
        return _site(await service.put_site_control(site_id, control))

    @delete(
        "/sites/{site_id:str}/der-controls/{control_id:str}",
        status_code=HTTP_200_OK,
        summary="Stop stating a DER control for a site: cleared on its online stations",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def delete_site_der_control(
        site_id: FromPath[str], control_id: FromPath[ControlId]
    ) -> SiteStateOut:
        """ClearDERControl by id on each online station of the site that holds it from the site."""
        return _site(await service.delete_site_control(site_id, control_id))

    return [
        set_der_control,
        list_der_controls,
        query_der_controls,
        one_der_report,
        clear_der_controls,
        station_der_alarms,
        der_alarms,
        station_der_start_stops,
        station_der_ev_parameters,
        site_der_controls,
        put_site_der_control,
        delete_site_der_control,
    ]
