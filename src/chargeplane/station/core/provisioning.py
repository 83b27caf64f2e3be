"""Provisioning (B05-B07): the device model as the CSMS reads and writes it.

Owns GetVariables (B06), SetVariables (B05), GetBaseReport (B07) and GetReport (B08) with their NotifyReport
parts, the 1.6
GetConfiguration / ChangeConfiguration view on the same values (1.6 §5.3, §5.8, through :mod:`.config16`),
and the DeviceDataCtrlr variables. The values and their checks live in :class:`~.device_model.DeviceModel`.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import UNSET, UnsetType

from chargeplane.ocpp.errors import FormatViolation, OccurrenceConstraintViolation
from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.messages.v2x import Dialect
from chargeplane.ocpp.messages.v21 import datatypes as d21
from chargeplane.ocpp.messages.v201 import datatypes as d201
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import config16
from chargeplane.station.core.adapter import narrow
from chargeplane.station.core.context import Controller, route
from chargeplane.station.core.device_model import (
    GetStatus,
    ReportItem,
    Selector,
    StationLayout,
    VariableDef,
    VariableKey,
    var,
)
from chargeplane.station.core.model import Registration

DEVICE = "DeviceDataCtrlr"


class Provisioning(Controller):
    __slots__ = ()

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        return [
            var(DEVICE, "Enabled", "boolean", "true", ro),
            *(
                var(DEVICE, name, "integer", default, ro, variable_instance=instance)
                for instance in ("GetReport", "GetVariables", "SetVariables")
                for name, default in (("ItemsPerMessage", "50"), ("BytesPerMessage", "65000"))
            ),
            var(DEVICE, "ConfigurationValueSize", "integer", "1000", ro),
            var(DEVICE, "ReportingValueSize", "integer", "2500", ro),
        ]

    def refresh_clock(self, now: datetime) -> None:
        """ClockCtrlr.DateTime is computed when read."""
        self.ctx.model.put(VariableKey("ClockCtrlr", "DateTime"), self.ctx.ts(now))


def _key(
    component: d201.ComponentType | d21.ComponentType, variable: d201.VariableType | d21.VariableType
) -> VariableKey:
    evse = component.evse
    if isinstance(evse, UnsetType):
        return VariableKey(
            component.name, variable.name, present(component.instance), present(variable.instance)
        )
    return VariableKey(
        component.name,
        variable.name,
        present(component.instance),
        present(variable.instance),
        evse.id,
        present(evse.connector_id),
    )


# ---------------------------------------------------------------------- 2.x handlers
def get_variables(
    ctl: Provisioning, request: v2x.GetVariablesRequestT, now: datetime
) -> v2x.GetVariablesResponse:
    """B06: one result per requested item, echoing component and variable."""
    ns = v2x.dialect_of(request)
    ctl.refresh_clock(now)
    model = ctl.ctx.model
    results = []
    for item in request.get_variable_data:
        result = model.get(_key(item.component, item.variable), present(item.attribute_type))
        results.append(
            ns.GetVariableResultType(
                attribute_status=ns.GetVariableStatusEnumType(result.status),
                attribute_type=ns.AttributeEnumType(result.attribute),
                attribute_value=(result.value or "") if result.status is GetStatus.ACCEPTED else UNSET,
                component=item.component,
                variable=item.variable,
            )
        )
    return ns.GetVariablesResponse(get_variable_result=results)


def set_variables(
    ctl: Provisioning, request: v2x.SetVariablesRequestT, now: datetime
) -> v2x.SetVariablesResponse:
    """B05: exactly one result per item, echoing component, variable and attributeType (B05.FR.01-03, B05.FR.12)."""
    ns = v2x.dialect_of(request)
    model = ctl.ctx.model
    limit = 1000 if ctl.ctx.version is Version.V201 else 2500  # the schema's attributeValue maxLength
    results = []
    for item in request.set_variable_data:
        result = model.set(
            _key(item.component, item.variable), present(item.attribute_type), item.attribute_value, limit
        )
        results.append(
            ns.SetVariableResultType(
                attribute_status=ns.SetVariableStatusEnumType(result.status),
                attribute_type=ns.AttributeEnumType(result.attribute),
                attribute_status_info=narrow(_status_info(ns, result.reason), ns.StatusInfoType)
                if result.reason
                else UNSET,
                component=item.component,
                variable=item.variable,
            )
        )
    return ns.SetVariablesResponse(set_variable_result=results)


def _status_info(ns: Dialect, reason: str) -> d201.StatusInfoType | d21.StatusInfoType:
    """A refusal's reason: as reasonCode when it fits (20 characters), else InvalidValue with it as
    additionalInfo."""
    if len(reason) <= 20:
        return ns.StatusInfoType(reason_code=reason)
    return ns.StatusInfoType(reason_code="InvalidValue", additional_info=reason[:512])


def get_base_report(
    ctl: Provisioning,
    request: v2x.GetBaseReportRequestT,
    now: datetime,
) -> v2x.GetBaseReportResponse:
    """B07: Accepted, then NotifyReport parts of ItemsPerMessage items, seqNo from 0, tbc on all but the last."""
    ns = v2x.dialect_of(request)
    ctl.refresh_clock(now)
    items = ctl.ctx.model.report(str(request.report_base))
    if items is None:
        return ns.GetBaseReportResponse(status=ns.GenericDeviceModelStatusEnumType.NOT_SUPPORTED)
    _send_report(ctl, ns, request.request_id, items, now)
    return ns.GetBaseReportResponse(status=ns.GenericDeviceModelStatusEnumType.ACCEPTED)


def get_report(ctl: Provisioning, request: v2x.GetReportRequestT, now: datetime) -> v2x.GetReportResponse:
    """B08: the variables of the components meeting the criteria and/or the componentVariables, in
    NotifyReport parts as for a base report (B08.FR.03/04/14); EmptyResultSet and no report when nothing
    matches (B08.FR.15). Every criterion of the enumeration is supported, so NotSupported (B08.FR.02) is never
    the answer. More componentVariables than ItemsPerMessageGetReport: OccurrenceConstraintViolation
    (B08.FR.17); a request longer than BytesPerMessageGetReport: FormatViolation (B08.FR.18)."""
    ns = v2x.dialect_of(request)
    model = ctl.ctx.model
    selectors = [_selector(cv) for cv in present(request.component_variable) or ()]
    if len(selectors) > max(1, model.number(DEVICE, "ItemsPerMessage", "GetReport")):
        raise OccurrenceConstraintViolation("more componentVariable than ItemsPerMessageGetReport")
    if len(msgspec.json.encode(request)) > model.number(DEVICE, "BytesPerMessage", "GetReport"):
        raise FormatViolation("GetReportRequest longer than BytesPerMessageGetReport")
    ctl.refresh_clock(now)
    criteria = [str(c) for c in present(request.component_criteria) or ()]
    items = model.custom_report(criteria, selectors)
    if not items:
        return ns.GetReportResponse(
            status=ns.GenericDeviceModelStatusEnumType.EMPTY_RESULT_SET,
            status_info=ns.StatusInfoType(reason_code="NotFound"),
        )
    _send_report(ctl, ns, request.request_id, items, now)
    return ns.GetReportResponse(status=ns.GenericDeviceModelStatusEnumType.ACCEPTED)


def _selector(item: d201.ComponentVariableType | d21.ComponentVariableType) -> Selector:
    component, variable, evse = item.component, item.variable, item.component.evse
    evse_id = connector_id = None
    if not isinstance(evse, UnsetType):
        evse_id, connector_id = evse.id, present(evse.connector_id)
    name = instance = None
    if not isinstance(variable, UnsetType):
        name, instance = variable.name, present(variable.instance)
    return Selector(component.name, present(component.instance), evse_id, connector_id, name, instance)


# What a NotifyReportRequest carries besides its reportData (requestId, generatedAt, seqNo, tbc, the frame).
_PART_OVERHEAD = 200


def _send_report(
    ctl: Provisioning, ns: Dialect, request_id: int, items: list[ReportItem], now: datetime
) -> None:
    """NotifyReport parts of at most ItemsPerMessageGetReport items and BytesPerMessageGetReport bytes (an
    item larger than that alone still goes, in a part of its own), seqNo from 0, tbc on all but the last
    (B07.FR.04/10, B08.FR.04/14)."""
    ctx = ctl.ctx
    per_message = max(1, ctx.model.number(DEVICE, "ItemsPerMessage", "GetReport"))
    budget = ctx.model.number(DEVICE, "BytesPerMessage", "GetReport") - _PART_OVERHEAD
    chunks: list[list[ReportItem]] = [[]]
    size = 0
    for item in items:
        length = len(msgspec.json.encode(_report_data(ns, item))) + 1
        if chunks[-1] and (len(chunks[-1]) >= per_message or size + length > budget):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += length
    generated_at = ctx.ts(now)
    for seq_no, chunk in enumerate(chunks):
        data = [narrow(_report_data(ns, item), ns.ReportDataType) for item in chunk]
        part = ns.NotifyReportRequest(
            request_id=request_id,
            generated_at=generated_at,
            seq_no=seq_no,
            report_data=data if data else UNSET,
            tbc=True if seq_no < len(chunks) - 1 else UNSET,
        )
        # B02.FR.02: NotifyReport is allowed while Pending when the CSMS asked for it
        ctx.send(part, now, force=ctx.registration is Registration.PENDING)


def _report_data(ns: Dialect, item: ReportItem) -> d201.ReportDataType | d21.ReportDataType:
    definition = item.definition
    key = definition.key
    evse = None
    if key.evse is not None:
        evse = ns.EVSEType(id=key.evse, connector_id=key.connector if key.connector is not None else UNSET)
    attributes = [
        ns.VariableAttributeType(
            type=ns.AttributeEnumType(attribute),
            value=value if value is not None else UNSET,
            mutability=ns.MutabilityEnumType(definition.mutability),
            persistent=True,
        )
        for attribute, value in item.attributes
    ]
    return ns.ReportDataType(
        component=ns.ComponentType(
            name=key.component,
            instance=key.component_instance or UNSET,
            evse=evse if evse is not None else UNSET,
        ),
        variable=ns.VariableType(name=key.variable, instance=key.variable_instance or UNSET),
        variable_attribute=attributes,
        variable_characteristics=ns.VariableCharacteristicsType(
            data_type=ns.DataEnumType(definition.data_type),
            supports_monitoring=True,  # every variable takes Delta and periodic monitors (monitoring.py)
            unit=definition.unit or UNSET,
            min_limit=definition.min_limit if definition.min_limit is not None else UNSET,
            max_limit=definition.max_limit if definition.max_limit is not None else UNSET,
            values_list=definition.values_list or UNSET,
        ),
    )


# ---------------------------------------------------------------------- 1.6 handlers
def get_configuration16(
    ctl: Provisioning, request: v16.messages.GetConfigurationRequest, now: datetime
) -> v16.messages.GetConfigurationResponse:
    """1.6 §5.8: known keys and the unknown ones."""
    known, unknown = config16.get_configuration(ctl.ctx.model, present(request.key))
    keys = [v16.datatypes.KeyValue(key=k.key, readonly=k.readonly, value=k.value[:500]) for k in known]
    return v16.messages.GetConfigurationResponse(
        configuration_key=keys if keys else UNSET, unknown_key=unknown if unknown else UNSET
    )


def change_configuration16(
    ctl: Provisioning, request: v16.messages.ChangeConfigurationRequest, now: datetime
) -> v16.messages.ChangeConfigurationResponse:
    """1.6 §5.3: readonly -> Rejected, unknown -> NotSupported."""
    status = config16.change_configuration(ctl.ctx.model, request.key, request.value)
    return v16.messages.ChangeConfigurationResponse(status=v16.enums.ConfigurationStatus(status))


Provisioning.on_2x = (
    route("GetVariables", get_variables),
    route("SetVariables", set_variables),
    route("GetBaseReport", get_base_report),
    route("GetReport", get_report),
)
Provisioning.on_16 = (
    route("GetConfiguration", get_configuration16),
    route("ChangeConfiguration", change_configuration16),
)
