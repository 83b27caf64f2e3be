"""HTTP routes of the device model: report requests and reports, Get/Set Variables, the inventory and its
history. Calls to the station answer with the status codes of every station call
(:mod:`chargeplane.csms.api.errors`): 404 no such station, 409 offline or Rejected, 422 the CSMS will not send
it (a 1.6 station, a payload against the schema), 502/504 the station failed or did not answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.repository import (
    ChangeRecord,
    ReportRecord,
    VariableFilter,
    VariableRecord,
)
from chargeplane.csms.blocks.device_model.service import DeviceModelService, ReportRequest
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Invalid

MAX_ITEMS = 100  # per Get/SetVariables call; a station may accept fewer (ItemsPerMessageGet/SetVariables)


class ReportIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """``reportBase`` for a GetBaseReport (B07); else ``componentCriteria`` and/or ``componentVariable`` for a
    GetReport (B08)."""

    report_base: Annotated[str, msgspec.Meta(pattern=wire.REPORT_BASE)] | None = None
    component_criteria: list[str] = msgspec.field(default_factory=list)  # Active, Available, Enabled, Problem
    component_variable: list[wire.ComponentVariable] = msgspec.field(default_factory=list)


class ReportOut(msgspec.Struct, rename="camel"):
    request_id: int
    kind: str  # base | custom | unsolicited (a report nobody asked this CSMS for)
    report_base: str | None
    criteria: Any  # GetReport's criteria, as sent
    status: str  # requested | receiving | complete | refused | failed
    station_status: str | None  # the station's answer: Accepted, Rejected, NotSupported, EmptyResultSet
    parts: int
    items: int
    requested_at: datetime
    completed_at: datetime | None


class GetVariablesIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    get_variable_data: Annotated[list[wire.GetVariableData], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class SetVariablesIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    set_variable_data: Annotated[list[wire.SetVariableData], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class VariableOut(msgspec.Struct, rename="camel"):
    key: str
    component: wire.Component
    variable: wire.Variable
    attribute_type: str
    value: str | None
    mutability: str | None
    persistent: bool | None
    constant: bool | None
    data_type: str | None
    unit: str | None
    min_limit: float | None
    max_limit: float | None
    values_list: str | None
    supports_monitoring: bool | None
    source: str  # report | get | set: what brought the value
    updated_at: datetime


class ChangeOut(msgspec.Struct, rename="camel"):
    id: int
    key: str
    old_value: str | None
    new_value: str | None
    source: str
    changed_at: datetime


def _report_out(record: ReportRecord) -> ReportOut:
    return ReportOut(
        request_id=record.request_id,
        kind=record.kind,
        report_base=record.report_base,
        criteria=None if record.criteria is None else msgspec.json.decode(record.criteria),
        status=record.status,
        station_status=record.station_status,
        parts=record.parts,
        items=record.item_count,
        requested_at=record.requested_at,
        completed_at=record.completed_at,
    )


def _variable_out(record: VariableRecord) -> VariableOut:
    ref, ch = record.ref, record.characteristics
    evse = None if ref.evse_id is None else wire.Evse(ref.evse_id, ref.connector_id)
    return VariableOut(
        key=ref.key(),
        component=wire.Component(ref.component, ref.component_instance, evse),
        variable=wire.Variable(ref.variable, ref.variable_instance),
        attribute_type=ref.attribute_type,
        value=record.value,
        mutability=record.mutability,
        persistent=record.persistent,
        constant=record.constant,
        data_type=ch.data_type,
        unit=ch.unit,
        min_limit=ch.min_limit,
        max_limit=ch.max_limit,
        values_list=ch.values_list,
        supports_monitoring=ch.supports_monitoring,
        source=record.source,
        updated_at=record.updated_at,
    )


def _change_out(record: ChangeRecord) -> ChangeOut:
    return ChangeOut(
        id=record.id,
        key=record.key,
        old_value=record.old_value,
        new_value=record.new_value,
        source=record.source,
        changed_at=record.changed_at,
    )


def routes(service: DeviceModelService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/reports",
        summary="Ask a station for a device model report (B07 GetBaseReport, B08 GetReport)",
    )
    async def request_report(known_station: KnownStation, data: JSONBody[ReportIn]) -> ReportOut:
        """Answers once the station answered the request; the report's parts follow as NotifyReport, and its
        ``status`` becomes ``complete`` with the last one (GET the report, or wait for the
        ``device_model.report_complete`` event)."""
        if data.report_base is not None and (data.component_criteria or data.component_variable):
            raise Invalid("give reportBase (GetBaseReport) or criteria (GetReport), not both")
        if data.report_base is None and not (data.component_criteria or data.component_variable):
            raise Invalid("give reportBase, componentCriteria or componentVariable")
        request = ReportRequest(
            data.report_base, tuple(data.component_criteria), tuple(data.component_variable)
        )
        return _report_out(await service.request_report(known_station.station_id, request))

    @get_or_404(
        "/stations/{station_id:str}/reports", summary="A station's device model reports, newest first"
    )
    async def list_reports(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[ReportOut]:
        """The reports the CSMS asked for and those the station sent unasked, with their progress."""
        found = await service.reports(known_station.station_id, offset, limit)
        return paged(_report_out, found, offset, limit)

    @get_or_404("/stations/{station_id:str}/reports/{request_id:int}", summary="One device model report")
    async def one_report(known_station: KnownStation, request_id: FromPath[int]) -> ReportOut:
        """A report by its requestId; 404 when the station has no such report."""
        record = await service.report(known_station.station_id, request_id)
        if record is None:
            raise NotFoundException(f"no report {request_id} of {known_station.station_id}")
        return _report_out(record)

    @station_call(
        "/stations/{station_id:str}/variables/get", summary="Read variables of a station (B06 GetVariables)"
    )
    async def get_variables(
        known_station: KnownStation, data: JSONBody[GetVariablesIn]
    ) -> list[wire.GetVariableResult]:
        """The station's results; Accepted values are stored in the inventory."""
        return await service.get_variables(known_station.station_id, data.get_variable_data)

    @station_call(
        "/stations/{station_id:str}/variables/set", summary="Write variables of a station (B05 SetVariables)"
    )
    async def set_variables(
        known_station: KnownStation, data: JSONBody[SetVariablesIn]
    ) -> list[wire.SetVariableResult]:
        """The station's results; values it took (Accepted, RebootRequired) are stored in the inventory."""
        return await service.set_variables(known_station.station_id, data.set_variable_data)

    @get_or_404(
        "/stations/{station_id:str}/variables", summary="A station's device model as the CSMS knows it"
    )
    async def list_variables(
        known_station: KnownStation,
        component: Annotated[str | None, QueryParameter(max_length=50)] = None,
        variable: Annotated[str | None, QueryParameter(max_length=50)] = None,
        evse_id: Annotated[int | None, QueryParameter(name="evseId", ge=0)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[VariableOut]:
        """One entry per component, variable and attribute type, from reports and Get/SetVariables."""
        where = VariableFilter(component, variable, evse_id)
        found = await service.variables(known_station.station_id, where, offset, limit)
        return paged(_variable_out, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/variables/history",
        summary="Changes of a station's variable values, newest first",
    )
    async def variable_history(
        known_station: KnownStation,
        key: Annotated[str | None, QueryParameter(max_length=255)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[ChangeOut]:
        """Every value change seen (first value included), with what brought it; ``key`` as in the inventory."""
        found = await service.changes(known_station.station_id, key, offset, limit)
        return paged(_change_out, found, offset, limit)

    return [
        request_report,
        list_reports,
        one_report,
        get_variables,
        set_variables,
        list_variables,
        variable_history,
    ]
