"""Block N, Monitoring (Part 6 §3.16, N02-N08), CSMS side: monitoring reports, monitoring base and level,
variable monitors, and the events a station sends.

Readings:
* The tables name no manual action by route; each one asks the CSMS for the request of its step
  (:class:`~chargeplane.tools.conformance.adapter.Monitoring`). Their post-scenario checks ("CSMS shows the
  monitors") are for a person looking at the CSMS: the tool validates the messages only.
* The memory state of TC_N_01/02/03/60 ("CSMS requests ClearVariableMonitoring ItemsPerMessage") is a
  GetVariables the tool answers with :data:`CLEAR_LIMIT`.
* TC_N_02's step 3 validation names ``componentVariable[1]`` for the second request's only element: read as
  ``[0]``. TC_N_60's main scenario and its validations disagree on the variables: the validations (Delta and
  Threshold monitoring of AvailabilityState of the station and of the configured EVSE) are followed.
* TC_N_08: the operator gives no value for the Delta monitor; the CSMS is to send the recommended 1 (N04.FR.17).
* TC_N_18: a CSMS may read ItemsPerMessage again before it clears (Chargeplane reads its limits before every
  request of more than one item); the tool answers such a GetVariables like the first one. The ids need not
  exist: the tool answers NotFound.
* TC_N_21_CSMS has no table in Part 6 (TC_N_24_CSMS refers to it): a NotifyEvent of a hard-wired monitor
  (Alerting, HardWiredMonitor), answered empty (N07.FR.03). TC_N_49: the station reboots (BootNotification),
  then reports the threshold cleared (N07.FR.14). TC_N_24 / TC_N_50: periodic events, twice.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.adapter import Monitoring, SendCommand
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_absent, expect_field
from chargeplane.tools.conformance.messages import boot_notification, send_as
from chargeplane.tools.conformance.steps import CsmsTool

CLEAR_LIMIT = 2  # the tool's MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]
HARD_WIRED_MONITOR_ID = 1  # the tool's monitor that cannot be cleared (TC_N_44)
Report = en.GenericDeviceModelStatusEnumType


def _component(name: str, evse_id: int | None = None) -> dict[str, Any]:
    return {"name": name} | ({"evse": {"id": evse_id}} if evse_id is not None else {})


def _component_variable(component: str, variable: str, evse_id: int | None = None) -> dict[str, Any]:
    return {"component": _component(component, evse_id), "variable": {"name": variable}}


def clear_limit_answer(request: msg.GetVariablesRequest) -> msg.GetVariablesResponse:
    """The tool's answer to a GetVariables of the limits of ClearVariableMonitoring (ItemsPerMessage:
    :data:`CLEAR_LIMIT`)."""
    results = []
    for item in request.get_variable_data:
        known = item.component.name == "MonitoringCtrlr" and item.variable.name == "ItemsPerMessage"
        results.append(
            dt.GetVariableResultType(
                attribute_status=(
                    en.GetVariableStatusEnumType.ACCEPTED
                    if known
                    else en.GetVariableStatusEnumType.UNKNOWN_VARIABLE
                ),
                attribute_value=str(CLEAR_LIMIT) if known else UNSET,
                component=item.component,
                variable=item.variable,
            )
        )
    return msg.GetVariablesResponse(get_variable_result=results)


async def read_clear_limit(tool: CsmsTool, step: int | str = "before") -> None:
    """The memory state "CSMS requests ClearVariableMonitoring ItemsPerMessage from CS"."""
    wanted = {
        "component": {"name": "MonitoringCtrlr"},
        "variable": {"name": "ItemsPerMessage", "instance": "ClearVariableMonitoring"},
    }
    tool.manual(
        SendCommand(
            "GetVariables", {"getVariableData": [wanted]}, "ItemsPerMessage of ClearVariableMonitoring"
        )
    )
    incoming = await tool.expect(step, msg.GetVariablesRequest)
    expect_field(step, incoming.request, "getVariableData[0].component.name", "MonitoringCtrlr")
    expect_field(step, incoming.request, "getVariableData[0].variable.name", "ItemsPerMessage")
    incoming.answer(clear_limit_answer(incoming.request))
    await tool.settle()


# -- N02: GetMonitoringReport ---------------------------------------------------------------------------------
async def get_report(
    tool: CsmsTool, step: int, filters: dict[str, Any], status: Report, what: str
) -> msg.GetMonitoringReportRequest:
    """Steps ``step`` / ``step + 1``: the CSMS's GetMonitoringReport, answered with ``status``."""
    tool.manual(Monitoring("GetMonitoringReport", filters, what))
    incoming = await tool.expect(step, msg.GetMonitoringReportRequest)
    incoming.answer(msg.GetMonitoringReportResponse(status=status))
    await tool.settle()
    return incoming.request


def _monitor(
    component: str, variable: str, evse_id: int | None, monitor_type: en.MonitorEnumType
) -> dt.MonitoringDataType:
    value = 1.0 if monitor_type is en.MonitorEnumType.DELTA else 22000.0
    return dt.MonitoringDataType(
        component=dt.ComponentType(
            name=component, evse=dt.EVSEType(id=evse_id) if evse_id is not None else UNSET
        ),
        variable=dt.VariableType(name=variable),
        variable_monitoring=[
            dt.VariableMonitoringType(
                id=100 + (evse_id or 0), transaction=False, value=value, type=monitor_type, severity=5
            )
        ],
    )


async def notify_report(
    tool: CsmsTool, step: int, request_id: int, monitors: list[dt.MonitoringDataType]
) -> None:
    """Steps ``step`` / ``step + 1``: the tool's NotifyMonitoringReport parts (one monitor each, N02.FR.09)."""
    for seq_no, monitor in enumerate(monitors):
        request = msg.NotifyMonitoringReportRequest(
            request_id=request_id,
            seq_no=seq_no,
            generated_at=utc_now(),
            tbc=seq_no < len(monitors) - 1,
            monitor=[monitor],
        )
        await send_as(step, tool, request, msg.NotifyMonitoringReportResponse)


def expect_criterion(step: int, request: Payload, criterion: str) -> None:
    """``monitoringCriteria`` is exactly ``[criterion]``."""
    expect_field(step, request, "monitoringCriteria[0]", criterion)
    expect_absent(step, request, "monitoringCriteria[1]")


def expect_component_variable(
    step: int, request: Payload, index: int, component: str, variable: str, evse_id: int | None = None
) -> None:
    prefix = f"componentVariable[{index}]"
    expect_field(step, request, f"{prefix}.component.name", component)
    if evse_id is not None:
        expect_field(step, request, f"{prefix}.component.evse.id", evse_id)
    expect_field(step, request, f"{prefix}.variable.name", variable)


@case(
    "TC_N_01_CSMS",
    "Get Monitoring Report - with monitoringCriteria",
    use_cases=("N02",),
    requirements=("N02.FR.05", "N02.FR.10"),
)
async def tc_n_01(tool: CsmsTool) -> None:
    await read_clear_limit(tool)
    first = await get_report(
        tool, 1, {"monitoringCriteria": ["DeltaMonitoring"]}, Report.EMPTY_RESULT_SET, "all Delta monitors"
    )
    expect_criterion(1, first, "DeltaMonitoring")
    second = await get_report(
        tool, 3, {"monitoringCriteria": ["ThresholdMonitoring"]}, Report.ACCEPTED, "all Threshold monitors"
    )
    expect_criterion(3, second, "ThresholdMonitoring")
    await notify_report(
        tool,
        5,
        second.request_id,
        [_monitor("ChargingStation", "Power", None, en.MonitorEnumType.UPPER_THRESHOLD)],
    )


@case(
    "TC_N_02_CSMS",
    "Get Monitoring Report - with component/variable",
    use_cases=("N02",),
    requirements=("N02.FR.05", "N02.FR.10"),
)
async def tc_n_02(tool: CsmsTool) -> None:
    evse_id = tool.configured.evse_id
    await read_clear_limit(tool)
    power = {"componentVariable": [_component_variable("ChargingStation", "Power")]}
    first = await get_report(tool, 1, power, Report.EMPTY_RESULT_SET, "the monitors of ChargingStation Power")
    expect_component_variable(1, first, 0, "ChargingStation", "Power")
    availability = {"componentVariable": [_component_variable("EVSE", "AvailabilityState", evse_id)]}
    second = await get_report(
        tool, 3, availability, Report.ACCEPTED, f"the monitors of EVSE {evse_id} AvailabilityState"
    )
    expect_component_variable(3, second, 0, "EVSE", "AvailabilityState", evse_id)
    await notify_report(
        tool, 5, second.request_id, [_monitor("EVSE", "AvailabilityState", evse_id, en.MonitorEnumType.DELTA)]
    )


@case(
    "TC_N_03_CSMS",
    "Get Monitoring Report - with component criteria and component/variable",
    use_cases=("N02",),
    requirements=("N02.FR.05", "N02.FR.10"),
)
async def tc_n_03(tool: CsmsTool) -> None:
    evse_id = tool.configured.evse_id
    await read_clear_limit(tool)
    filters = {
        "monitoringCriteria": ["DeltaMonitoring"],
        "componentVariable": [_component_variable("EVSE", "AvailabilityState", evse_id)],
    }
    first = await get_report(
        tool, 1, filters, Report.EMPTY_RESULT_SET, f"Delta monitors of EVSE {evse_id} AvailabilityState"
    )
    expect_criterion(1, first, "DeltaMonitoring")
    expect_component_variable(1, first, 0, "EVSE", "AvailabilityState", evse_id)
    filters = {
        "monitoringCriteria": ["ThresholdMonitoring"],
        "componentVariable": [_component_variable("ChargingStation", "Power")],
    }
    second = await get_report(
        tool, 3, filters, Report.ACCEPTED, "Threshold monitors of ChargingStation Power"
    )
    expect_criterion(3, second, "ThresholdMonitoring")
    expect_component_variable(3, second, 0, "ChargingStation", "Power")
    await notify_report(
        tool,
        5,
        second.request_id,
        [_monitor("ChargingStation", "Power", None, en.MonitorEnumType.UPPER_THRESHOLD)],
    )


@case(
    "TC_N_60_CSMS",
    "Get Monitoring Report - with component criteria and list of components/variables",
    use_cases=("N02",),
    requirements=("N02.FR.05", "N02.FR.10"),
)
async def tc_n_60(tool: CsmsTool) -> None:
    evse_id = tool.configured.evse_id
    await read_clear_limit(tool)
    both = [
        _component_variable("ChargingStation", "AvailabilityState"),
        _component_variable("EVSE", "AvailabilityState", evse_id),
    ]
    for step, criterion, status in (
        (1, "DeltaMonitoring", Report.EMPTY_RESULT_SET),
        (3, "ThresholdMonitoring", Report.ACCEPTED),
    ):
        filters = {"monitoringCriteria": [criterion], "componentVariable": both}
        request = await get_report(
            tool, step, filters, status, f"{criterion} of AvailabilityState of the station and EVSE {evse_id}"
        )
        expect_criterion(step, request, criterion)
        expect_component_variable(step, request, 0, "ChargingStation", "AvailabilityState")
        expect_component_variable(step, request, 1, "EVSE", "AvailabilityState", evse_id)
    monitors = [
        _monitor("ChargingStation", "AvailabilityState", None, en.MonitorEnumType.UPPER_THRESHOLD),
        _monitor("EVSE", "AvailabilityState", evse_id, en.MonitorEnumType.UPPER_THRESHOLD),
    ]
    await notify_report(tool, 5, request.request_id, monitors)


@case("TC_N_47_CSMS", "Get Monitoring report - Report all", use_cases=("N02",))
async def tc_n_47(tool: CsmsTool) -> None:
    request = await get_report(tool, 1, {}, Report.ACCEPTED, "every monitor")
    expect_absent(1, request, "monitoringCriteria")
    expect_absent(1, request, "componentVariable")
    monitors = [
        _monitor("ChargingStation", "Power", None, en.MonitorEnumType.UPPER_THRESHOLD),
        _monitor("EVSE", "AvailabilityState", tool.configured.evse_id, en.MonitorEnumType.DELTA),
    ]
    await notify_report(tool, 3, request.request_id, monitors)


# -- N03, N05: SetMonitoringBase, SetMonitoringLevel ----------------------------------------------------------
@case(
    "TC_N_05_CSMS",
    "Set Monitoring Base - success",
    use_cases=("N03",),
    requirements=("N03.FR.03", "N03.FR.04", "N03.FR.05"),
)
async def tc_n_05(tool: CsmsTool) -> None:
    for step, base in ((1, "All"), (3, "FactoryDefault"), (5, "HardWiredOnly")):
        tool.manual(Monitoring("SetMonitoringBase", {"monitoringBase": base}, base))
        incoming = await tool.expect(step, msg.SetMonitoringBaseRequest)
        incoming.answer(msg.SetMonitoringBaseResponse(status=Report.ACCEPTED))
        expect_field(step, incoming.request, "monitoringBase", base)
        await tool.settle()


async def set_level(tool: CsmsTool, status: en.GenericStatusEnumType) -> None:
    tool.manual(Monitoring("SetMonitoringLevel", {"severity": 4}, "severity 4"))
    incoming = await tool.expect(1, msg.SetMonitoringLevelRequest)
    incoming.answer(msg.SetMonitoringLevelResponse(status=status))
    expect_field(1, incoming.request, "severity", 4)
    await tool.settle()


@case("TC_N_16_CSMS", "Set Monitoring Level - Success", use_cases=("N05",), requirements=("N05.FR.01",))
async def tc_n_16(tool: CsmsTool) -> None:
    await set_level(tool, en.GenericStatusEnumType.ACCEPTED)


@case("TC_N_17_CSMS", "Set Monitoring Level - Out of range", use_cases=("N05",), requirements=("N05.FR.02",))
async def tc_n_17(tool: CsmsTool) -> None:
    await set_level(tool, en.GenericStatusEnumType.REJECTED)


# -- N04, N06: SetVariableMonitoring, ClearVariableMonitoring --------------------------------------------------
@case(
    "TC_N_08_CSMS",
    "Set Variable Monitoring - One SetMonitoringData element",
    use_cases=("N04",),
    requirements=("N04.FR.01", "N04.FR.02", "N04.FR.17"),
)
async def tc_n_08(tool: CsmsTool) -> None:
    evse_id = tool.configured.evse_id
    monitor = _component_variable("EVSE", "AvailabilityState", evse_id) | {"type": "Delta", "severity": 8}
    tool.manual(
        Monitoring(
            "SetVariableMonitoring",
            {"setMonitoringData": [monitor]},
            f"Delta, severity 8, on EVSE {evse_id} AvailabilityState",
        )
    )
    incoming = await tool.expect(1, msg.SetVariableMonitoringRequest)
    request = incoming.request
    results = [
        dt.SetMonitoringResultType(
            id=200 + n,
            status=en.SetMonitoringStatusEnumType.ACCEPTED,
            type=item.type,
            severity=item.severity,
            component=item.component,
            variable=item.variable,
        )
        for n, item in enumerate(request.set_monitoring_data)
    ]
    incoming.answer(msg.SetVariableMonitoringResponse(set_monitoring_result=results))
    expect_field(1, request, "setMonitoringData[0].value", 1, 1.0)
    expect_field(1, request, "setMonitoringData[0].type", "Delta")
    expect_field(1, request, "setMonitoringData[0].severity", 8)
    expect_field(1, request, "setMonitoringData[0].component.name", "EVSE")
    expect_field(1, request, "setMonitoringData[0].component.evse.id", evse_id)
    expect_field(1, request, "setMonitoringData[0].variable.name", "AvailabilityState")
    await tool.settle()


@case("TC_N_18_CSMS", "Clear Monitoring - Too many elements", use_cases=("N06",), requirements=("N06.FR.04",))
async def tc_n_18(tool: CsmsTool) -> None:
    await read_clear_limit(tool, 1)
    wanted = list(range(300, 300 + CLEAR_LIMIT + 1))
    tool.manual(
        Monitoring("ClearVariableMonitoring", {"id": wanted}, f"monitors {', '.join(map(str, wanted))}")
    )
    cleared: list[int] = []
    messages = 0
    while len(cleared) < len(wanted):
        incoming = await tool.expect(3, Payload)
        request = incoming.request
        if isinstance(request, msg.GetVariablesRequest):
            incoming.answer(clear_limit_answer(request))
            continue
        if not isinstance(request, msg.ClearVariableMonitoringRequest):
            incoming.answer(msg.ClearVariableMonitoringResponse(clear_monitoring_result=[]))
            raise StepFailed(
                3, f"expected a ClearVariableMonitoringRequest, the CSMS sent {type(request).__name__}"
            )
        results = [
            dt.ClearMonitoringResultType(id=i, status=en.ClearMonitoringStatusEnumType.NOT_FOUND)
            for i in request.id
        ]
        incoming.answer(msg.ClearVariableMonitoringResponse(clear_monitoring_result=results))
        messages += 1
        if len(request.id) > CLEAR_LIMIT:
            raise StepFailed(
                3, f"a ClearVariableMonitoringRequest with {len(request.id)} ids, more than {CLEAR_LIMIT}"
            )
        cleared += request.id
    await tool.settle()
    if sorted(cleared) != wanted or messages < 2:
        raise StepFailed(
            3,
            f"{messages} ClearVariableMonitoringRequest(s) cleared {cleared}, expected {wanted} in two or more",
        )


@case("TC_N_44_CSMS", "Clear Monitoring - Rejected", use_cases=("N06",))
async def tc_n_44(tool: CsmsTool) -> None:
    monitor_id = HARD_WIRED_MONITOR_ID
    tool.manual(
        Monitoring("ClearVariableMonitoring", {"id": [monitor_id]}, f"monitor {monitor_id} (hard-wired)")
    )
    incoming = await tool.expect(1, msg.ClearVariableMonitoringRequest)
    incoming.answer(
        msg.ClearVariableMonitoringResponse(
            clear_monitoring_result=[
                dt.ClearMonitoringResultType(id=monitor_id, status=en.ClearMonitoringStatusEnumType.REJECTED)
            ]
        )
    )
    expect_field(1, incoming.request, "id", [monitor_id])
    await tool.settle()


# -- N07, N08: events ------------------------------------------------------------------------------------------
def monitor_event(
    event_id: int,
    trigger: en.EventTriggerEnumType,
    notification: en.EventNotificationEnumType,
    value: str,
    *,
    cleared: bool | None = None,
) -> msg.NotifyEventRequest:
    event = dt.EventDataType(
        event_id=event_id,
        timestamp=utc_now(),
        trigger=trigger,
        actual_value=value,
        cleared=UNSET if cleared is None else cleared,
        variable_monitoring_id=HARD_WIRED_MONITOR_ID,
        event_notification_type=notification,
        component=dt.ComponentType(name="ChargingStation"),
        variable=dt.VariableType(name="Power"),
    )
    return msg.NotifyEventRequest(generated_at=utc_now(), seq_no=0, event_data=[event])


async def send_event(tool: CsmsTool, step: int, request: msg.NotifyEventRequest) -> None:
    """N07.FR.03 / N08.FR.02: the CSMS answers with an empty NotifyEventResponse."""
    response = await send_as(step, tool, request, msg.NotifyEventResponse)
    if response != msg.NotifyEventResponse():
        raise StepFailed(step + 1, f"the NotifyEventResponse is not empty: {response}")


@case("TC_N_21_CSMS", "Alert Event - HardWiredMonitor", use_cases=("N07",), requirements=("N07.FR.03",))
async def tc_n_21(tool: CsmsTool) -> None:
    hard_wired = en.EventNotificationEnumType.HARD_WIRED_MONITOR
    await send_event(tool, 1, monitor_event(4801, en.EventTriggerEnumType.ALERTING, hard_wired, "51000"))


@case(
    "TC_N_24_CSMS",
    "Set Variable Monitoring - Periodic event",
    use_cases=("N08",),
    requirements=("N08.FR.02",),
)
async def tc_n_24(tool: CsmsTool) -> None:
    custom = en.EventNotificationEnumType.CUSTOM_MONITOR
    for event_id in (4811, 4812):
        await send_event(tool, 1, monitor_event(event_id, en.EventTriggerEnumType.PERIODIC, custom, "11000"))


@case("TC_N_49_CSMS", "Alert Event - LowerThreshold/UpperThreshold cleared after reboot", use_cases=("N07",))
async def tc_n_49(tool: CsmsTool) -> None:
    await send_as("reboot", tool, boot_notification(tool.configured), msg.BootNotificationResponse)
    hard_wired = en.EventNotificationEnumType.HARD_WIRED_MONITOR
    await send_event(
        tool, 1, monitor_event(4821, en.EventTriggerEnumType.ALERTING, hard_wired, "30000", cleared=True)
    )


@case("TC_N_50_CSMS", "Alert Event - Periodic Triggered", use_cases=("N07",))
async def tc_n_50(tool: CsmsTool) -> None:
    preconfigured = en.EventNotificationEnumType.PRECONFIGURED_MONITOR
    for event_id in (4831, 4832):
        await send_event(
            tool, 1, monitor_event(event_id, en.EventTriggerEnumType.PERIODIC, preconfigured, "12000")
        )
