"""Monitoring's OCPP structures in their wire form (camelCase JSON), the same for 2.0.1 and 2.1: what the HTTP
API takes and gives, and how the service reads a station's answers and reports whatever their version's
generated types. Components and variables are the device model's (:mod:`..device_model.wire`)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from chargeplane.csms.blocks.device_model.wire import Component, StatusInfo, Variable

# 2.0.1 MonitorEnumType; 2.1 adds TargetDelta and TargetDeltaRelative (the station's schema refuses those in
# a 2.0.1 request: 422 from the command service).
MONITOR_TYPE = (
    r"\A(UpperThreshold|LowerThreshold|Delta|Periodic|PeriodicClockAligned|TargetDelta|TargetDeltaRelative)\Z"
)
MONITORING_CRITERION = r"\A(ThresholdMonitoring|DeltaMonitoring|PeriodicMonitoring)\Z"
MONITORING_BASE = r"\A(All|FactoryDefault|HardWiredOnly)\Z"
Severity = Annotated[int, msgspec.Meta(ge=0, le=9)]  # 0 Danger ... 9 Debug (Part 2, 2.0.1 §N)

# N04.FR.17: the recommended value of a Delta monitor on a variable that is not numeric (any change fires).
DELTA_DEFAULT_VALUE = 1.0


class SetMonitoringData(msgspec.Struct, rename="camel", omit_defaults=True):
    """One monitor to set, as sent. ``id`` replaces the station's monitor of that id (N04.FR.12)."""

    value: float
    type: str
    severity: int
    component: Component
    variable: Variable
    id: int | None = None
    transaction: bool | None = None
    periodic_event_stream: EventStreamParams | None = None  # 2.1 (N11): report by a periodic event stream


class EventStreamParams(msgspec.Struct, rename="camel", omit_defaults=True):
    """2.1 PeriodicEventStreamParamsType: flush every ``interval`` s and/or after ``values`` values."""

    interval: Annotated[int, msgspec.Meta(ge=0)] | None = None
    values: Annotated[int, msgspec.Meta(ge=0)] | None = None


class SetMonitoringResult(msgspec.Struct, rename="camel", omit_defaults=True):
    status: (
        str  # Accepted | UnknownComponent | UnknownVariable | UnsupportedMonitorType | Rejected | Duplicate
    )
    type: str
    severity: int
    component: Component
    variable: Variable
    id: int | None = None
    status_info: StatusInfo | None = None


class SetVariableMonitoringAnswer(msgspec.Struct, rename="camel"):
    set_monitoring_result: list[SetMonitoringResult]


class ClearMonitoringResult(msgspec.Struct, rename="camel", omit_defaults=True):
    status: str  # Accepted | Rejected | NotFound
    id: int
    status_info: StatusInfo | None = None


class ClearVariableMonitoringAnswer(msgspec.Struct, rename="camel"):
    clear_monitoring_result: list[ClearMonitoringResult]


class StatusAnswer(msgspec.Struct, rename="camel", omit_defaults=True):
    """SetMonitoringBase, SetMonitoringLevel and GetMonitoringReport answers."""

    status: str
    status_info: StatusInfo | None = None


class VariableMonitoring(msgspec.Struct, rename="camel"):
    id: int
    transaction: bool
    value: float
    type: str
    severity: int
    event_notification_type: str | None = None  # required in 2.1, absent in 2.0.1


class MonitoringData(msgspec.Struct, rename="camel"):
    component: Component
    variable: Variable
    variable_monitoring: list[VariableMonitoring]


class NotifyMonitoringReport(msgspec.Struct, rename="camel"):
    request_id: int
    seq_no: int
    generated_at: str
    tbc: bool = False
    monitor: list[MonitoringData] = msgspec.field(default_factory=list)
