"""The device model's OCPP structures in their wire form (camelCase JSON), the same for 2.0.1 and 2.1: what
the HTTP API takes and gives, and how the service reads a station's answers and reports whatever their
version's generated types."""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec

from chargeplane.csms.blocks.device_model.repository import (
    Characteristics,
    ReportedAttribute,
    VariableRef,
)
from chargeplane.ocpp.messages.base import Payload

ATTRIBUTE_TYPE = r"\A(Actual|Target|MinSet|MaxSet)\Z"
S = TypeVar("S", bound=msgspec.Struct)
REPORT_BASE = r"\A(ConfigurationInventory|FullInventory|SummaryInventory)\Z"


class Evse(msgspec.Struct, rename="camel", omit_defaults=True):
    id: int
    connector_id: int | None = None


class Component(msgspec.Struct, omit_defaults=True):
    name: str
    instance: str | None = None
    evse: Evse | None = None


class Variable(msgspec.Struct, omit_defaults=True):
    name: str
    instance: str | None = None


class ComponentVariable(msgspec.Struct, omit_defaults=True):
    component: Component
    variable: Variable | None = None


AttributeType = Annotated[str, msgspec.Meta(pattern=ATTRIBUTE_TYPE)]


class GetVariableData(msgspec.Struct, rename="camel", omit_defaults=True):
    component: Component
    variable: Variable
    attribute_type: AttributeType = "Actual"


class SetVariableData(msgspec.Struct, rename="camel", omit_defaults=True):
    component: Component
    variable: Variable
    attribute_value: Annotated[str, msgspec.Meta(max_length=1000)]
    attribute_type: AttributeType = "Actual"


class StatusInfo(msgspec.Struct, rename="camel", omit_defaults=True):
    reason_code: str
    additional_info: str | None = None


class GetVariableResult(msgspec.Struct, rename="camel", omit_defaults=True):
    attribute_status: (
        str  # Accepted | Rejected | UnknownComponent | UnknownVariable | NotSupportedAttributeType
    )
    component: Component
    variable: Variable
    attribute_type: str = "Actual"
    attribute_value: str | None = None
    attribute_status_info: StatusInfo | None = None


class SetVariableResult(msgspec.Struct, rename="camel", omit_defaults=True):
    attribute_status: (
        str  # Accepted | Rejected | UnknownComponent | UnknownVariable | NotSupportedAttributeType
    )
    component: Component  # | RebootRequired
    variable: Variable
    attribute_type: str = "Actual"
    attribute_status_info: StatusInfo | None = None


class GetVariablesAnswer(msgspec.Struct, rename="camel"):
    get_variable_result: list[GetVariableResult]


class SetVariablesAnswer(msgspec.Struct, rename="camel"):
    set_variable_result: list[SetVariableResult]


class StatusAnswer(msgspec.Struct):
    status: str


class VariableAttribute(msgspec.Struct, omit_defaults=True):
    type: str = "Actual"
    value: str | None = None
    mutability: str | None = None
    persistent: bool | None = None
    constant: bool | None = None


class VariableCharacteristics(msgspec.Struct, rename="camel", omit_defaults=True):
    data_type: str
    supports_monitoring: bool
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None


class ReportData(msgspec.Struct, rename="camel"):
    component: Component
    variable: Variable
    variable_attribute: list[VariableAttribute]
    variable_characteristics: VariableCharacteristics | None = None


class NotifyReport(msgspec.Struct, rename="camel"):
    request_id: int
    generated_at: str
    seq_no: int
    tbc: bool = False
    report_data: list[ReportData] = msgspec.field(default_factory=list)


def read(payload: Payload, kind: type[S]) -> S:
    """A generated 2.0.1 or 2.1 Struct read as one of the wire Structs above."""
    return msgspec.convert(msgspec.to_builtins(payload), kind)


def ref_of(component: Component, variable: Variable, attribute_type: str) -> VariableRef:
    evse = component.evse
    return VariableRef(
        component=component.name,
        variable=variable.name,
        attribute_type=attribute_type,
        component_instance=component.instance,
        evse_id=evse.id if evse is not None else None,
        connector_id=evse.connector_id if evse is not None else None,
        variable_instance=variable.instance,
    )


def reported_attributes(data: ReportData) -> list[ReportedAttribute]:
    ch = data.variable_characteristics
    characteristics = (
        Characteristics()
        if ch is None
        else Characteristics(
            data_type=ch.data_type,
            unit=ch.unit,
            min_limit=ch.min_limit,
            max_limit=ch.max_limit,
            values_list=ch.values_list,
            supports_monitoring=ch.supports_monitoring,
        )
    )
    return [
        ReportedAttribute(
            ref=ref_of(data.component, data.variable, attribute.type),
            value=attribute.value,
            mutability=attribute.mutability,
            persistent=attribute.persistent,
            constant=attribute.constant,
            characteristics=characteristics,
        )
        for attribute in data.variable_attribute
    ]
