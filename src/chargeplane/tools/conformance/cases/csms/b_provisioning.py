"""Block B, Provisioning (Part 6 §3.3).

Readings:
* TC_B_02: the CSMS is "configured to first respond with Pending"; the adapter configures that, and lets
  the CSMS accept the station while the tool waits the interval (capped by ``max_boot_wait``; a real OCTT
  waits the whole interval). The CSMS may send CALLs during the wait; this tool does not answer them yet.
* TC_B_30: Part 5 gives "C-44 or NOT AQ-6"; AQ-6 is a question of the certification form, so the case needs
  C-44 only, and the tool configures Pending.
* TC_B_09's table (converted text) says setVariableData[1] and component "OCPPCommCtrl"; read as the only
  element, of OCPPCommCtrlr (the name the other cases and Part 2 use).
* TC_B_31: as TC_B_02, the adapter makes the CSMS accept the station before the triggered BootNotification.
* TC_B_22 notifies the configured connector Occupied after the reboot (the EV is still plugged in).
* TC_B_21's ResetRequest check says "status OnIdle": read as type OnIdle.
* No CSMS-side heartbeat case exists in block B; heartbeat is TC_F_20 (block F).
* TC_B_07 lists "AuthCtrlr授权RemoteStart" (damaged) and checks AuthorizationRemoteStart; TC_B_10 says
  AuthorizeRemoteStart. Both read as AuthCtrlr.AuthorizeRemoteStart, the variable of Part 2. Their checks
  accept the elements in any order; TC_B_10's setVariableData[1] / [2] are the two elements.
* TC_B_12 / B_13: the post-scenario check (the CSMS takes every NotifyReportRequest of the request) is run:
  the tool sends the report, one NotifyReportRequest (tbc false) of the request's requestId, and expects a
  NotifyReportResponse.
* TC_B_25: nothing follows the ResetResponse (an EVSE reset does not reboot the station).
* TC_B_42 / B_44: the CSMS is asked for a profile of the configured values (slot, timeout, URL, interface,
  security profile), transport JSON and version OCPP20; TC_B_44 checks nothing of the request.
* TC_B_14 as TC_B_12 / B_13 with a SummaryInventory. TC_B_18: the operator asks for EVSE #<configured
  evse>::AvailabilityState of the Problem components (the tool answers EmptyResultSet), then of the Available
  ones (Accepted, and the tool reports the state in one NotifyReportRequest, step 5).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.adapter import GetVariables, Reset, SendCommand, SetVariables
from chargeplane.tools.conformance.adapter import Trigger as TriggerAction
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import (
    availability_event,
    boot_notification,
    send_as,
    status_notification,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import (
    Charging,
    Event,
    Trigger,
    booted,
    energy_transfer_started,
    ev_gone,
    notify_connector,
)
from chargeplane.tools.conformance.steps import CsmsTool, Incoming

Status = en.ConnectorStatusEnumType


@case(
    "TC_B_01_CSMS",
    "Cold Boot Charging Station - Accepted",
    use_cases=("B01",),
    requirements=("B01.FR.02",),
    starts_booted=False,
)
async def tc_b_01(tool: CsmsTool) -> None:
    await booted(tool)


@case(
    "TC_B_02_CSMS",
    "Cold Boot Charging Station - Pending",
    use_cases=("B02",),
    requirements=("B02.FR.01", "B02.FR.06"),
    features=("C-44",),
    starts_booted=False,
    timeout=30.0,
)
async def tc_b_02(tool: CsmsTool) -> None:
    await tool.adapter.set_registration(tool.station_id, "Pending")
    first = await send_as(1, tool, boot_notification(tool.configured), msg.BootNotificationResponse)
    expect_field(2, first, "status", "Pending")
    await tool.adapter.set_registration(tool.station_id, "Accepted")
    wait = first.interval if first.interval > 0 else tool.configured.max_boot_wait
    await asyncio.sleep(min(wait, tool.configured.max_boot_wait))
    second = await send_as(3, tool, boot_notification(tool.configured), msg.BootNotificationResponse)
    expect_field(4, second, "status", "Accepted")
    await notify_connector(tool, 5, Status.AVAILABLE)


@contextlib.asynccontextmanager
async def not_accepted_yet(tool: CsmsTool) -> AsyncIterator[None]:
    """Steps 1-2 of TC_B_30 / TC_B_31: the CSMS, configured to answer Pending first, answers the boot with
    Pending or Rejected. On the way out the adapter makes the CSMS accept the station again."""
    await tool.adapter.set_registration(tool.station_id, "Pending")
    try:
        response = await send_as(1, tool, boot_notification(tool.configured), msg.BootNotificationResponse)
        expect_field(2, response, "status", "Pending", "Rejected")
        yield
    finally:
        await tool.adapter.set_registration(tool.station_id, "Accepted")


@case(
    "TC_B_30_CSMS",
    "Cold Boot Charging Station - Pending/Rejected - SecurityError",
    use_cases=("B02", "B03"),
    requirements=("B02.FR.09", "B03.FR.07"),
    features=("C-44",),
    starts_booted=False,
)
async def tc_b_30(tool: CsmsTool) -> None:
    async with not_accepted_yet(tool):
        configured = tool.configured
        for request in (
            status_notification(Status.AVAILABLE, configured.evse_id, configured.connector_id),
            availability_event("Available", "Connector", configured.evse_id, configured.connector_id),
        ):
            code = await tool.send_expecting_error(3, request)
            if code != "SecurityError":
                raise StepFailed(4, f"CALLERROR {code} to {type(request).__name__}, expected SecurityError")


@case(
    "TC_B_06_CSMS",
    "Get Variables - single value",
    use_cases=("B06",),
    requirements=("B06.FR.01", "B06.FR.02", "B06.FR.03", "B06.FR.04", "B06.FR.10", "B06.FR.11"),
)
async def tc_b_06(tool: CsmsTool) -> None:
    tool.manual(GetVariables((("OCPPCommCtrlr", "OfflineThreshold"),)))
    incoming = await tool.expect(1, msg.GetVariablesRequest)
    data = incoming.request.get_variable_data
    if len(data) != 1:
        raise StepFailed(1, f"GetVariablesRequest.getVariableData has {len(data)} elements, expected 1")
    expect_field(
        1,
        incoming.request,
        "getVariableData[0].attributeType",
        "absent",
        "Actual",
        "Target",
        "MinSet",
        "MaxSet",
    )
    expect_field(1, incoming.request, "getVariableData[0].variable.name", "OfflineThreshold")
    expect_field(1, incoming.request, "getVariableData[0].component.name", "OCPPCommCtrlr")
    result = dt.GetVariableResultType(
        attribute_status=en.GetVariableStatusEnumType.ACCEPTED,
        attribute_value="60",
        component=data[0].component,
        variable=data[0].variable,
    )
    incoming.answer(msg.GetVariablesResponse(get_variable_result=[result]))


@case(
    "TC_B_20_CSMS",
    "Reset Charging Station - Without ongoing transaction - OnIdle",
    use_cases=("B11",),
    requirements=("B11.FR.04",),
)
async def tc_b_20(tool: CsmsTool) -> None:
    tool.manual(Reset("OnIdle"))
    incoming = await tool.expect(1, msg.ResetRequest)
    expect_field(1, incoming.request, "type", "OnIdle")
    incoming.answer(msg.ResetResponse(status=en.ResetStatusEnumType.ACCEPTED))
    await tool.settle()
    await tool.link.close()  # the station reboots
    await tool.link.connect(3)
    await booted(tool, en.BootReasonEnumType.REMOTE_RESET)


@case(
    "TC_B_09_CSMS",
    "Set Variables - single value",
    use_cases=("B05",),
    requirements=("B05.FR.01", "B05.FR.02", "B05.FR.03", "B05.FR.10", "B05.FR.12"),
)
async def tc_b_09(tool: CsmsTool) -> None:
    tool.manual(SetVariables((("OCPPCommCtrlr", "OfflineThreshold", "123"),)))
    incoming = await tool.expect(1, msg.SetVariablesRequest)
    data = incoming.request.set_variable_data
    if len(data) != 1:
        raise StepFailed(1, f"SetVariablesRequest.setVariableData has {len(data)} elements, expected 1")
    expect_field(1, incoming.request, "setVariableData[0].variable.name", "OfflineThreshold")
    expect_field(1, incoming.request, "setVariableData[0].component.name", "OCPPCommCtrlr")
    expect_field(1, incoming.request, "setVariableData[0].attributeValue", "123")
    expect_field(1, incoming.request, "setVariableData[0].attributeType", "absent", "Actual")
    result = dt.SetVariableResultType(
        attribute_status=en.SetVariableStatusEnumType.ACCEPTED,
        component=data[0].component,
        variable=data[0].variable,
    )
    incoming.answer(msg.SetVariablesResponse(set_variable_result=[result]))


@case(
    "TC_B_21_CSMS",
    "Reset Charging Station - With Ongoing Transaction - OnIdle",
    use_cases=("B12",),
    requirements=("B12.FR.01", "B12.FR.03", "E07.FR.03"),
)
async def tc_b_21(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    tool.manual(Reset("OnIdle"))
    incoming = await tool.expect(1, msg.ResetRequest)
    expect_field(1, incoming.request, "type", "OnIdle")
    incoming.answer(msg.ResetResponse(status=en.ResetStatusEnumType.SCHEDULED))
    await tool.settle()
    token = valid_token(tool.configured)
    await transaction_event(
        tool, 3, Event.UPDATED, Trigger.STOP_AUTHORIZED, charging_state=Charging.EV_CONNECTED, token=token
    )
    await ev_gone(tool, 5)
    await tool.link.close()  # the scheduled reset
    await tool.link.connect(7)
    await booted(tool, en.BootReasonEnumType.SCHEDULED_RESET)


@case(
    "TC_B_22_CSMS",
    "Reset Charging Station - With Ongoing Transaction - Immediate",
    use_cases=("B12",),
)
async def tc_b_22(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    tool.manual(Reset("Immediate"))
    incoming = await tool.expect(1, msg.ResetRequest)
    expect_field(1, incoming.request, "type", "Immediate")
    incoming.answer(msg.ResetResponse(status=en.ResetStatusEnumType.ACCEPTED))
    await tool.settle()
    await transaction_event(
        tool,
        3,
        Event.ENDED,
        Trigger.RESET_COMMAND,
        charging_state=Charging.EV_CONNECTED,
        stopped_reason=en.ReasonEnumType.IMMEDIATE_RESET,
    )
    await tool.link.close()  # the immediate reset
    await tool.link.connect(5)
    response = await send_as(
        5,
        tool,
        boot_notification(tool.configured, en.BootReasonEnumType.REMOTE_RESET),
        msg.BootNotificationResponse,
    )
    expect_field(6, response, "status", "Accepted")
    await notify_connector(tool, 7, Status.OCCUPIED)


@case(
    "TC_B_31_CSMS",
    "Cold Boot Charging Station - Pending/Rejected - TriggerMessage",
    use_cases=("B02", "F06"),
    features=("C-44",),
    starts_booted=False,
)
async def tc_b_31(tool: CsmsTool) -> None:
    async with not_accepted_yet(tool):
        tool.manual(TriggerAction("BootNotification"))
        incoming = await tool.expect(3, msg.TriggerMessageRequest)
        expect_field(3, incoming.request, "requestedMessage", "BootNotification")
        incoming.answer(msg.TriggerMessageResponse(status=en.TriggerMessageStatusEnumType.ACCEPTED))
        await tool.settle()
    triggered = boot_notification(tool.configured, en.BootReasonEnumType.TRIGGERED)
    second = await send_as(5, tool, triggered, msg.BootNotificationResponse)
    expect_field(6, second, "status", "Accepted")
    await notify_connector(tool, 7, Status.AVAILABLE)


ATTRIBUTE_TYPES = ("absent", "Actual", "Target", "MinSet", "MaxSet")


def in_any_order(step: int, items: list[tuple[str, str]], wanted: list[tuple[str, str]]) -> None:
    """The (component, variable) pairs of a Get/SetVariablesRequest are the wanted ones, in any order."""
    if sorted(items) != sorted(wanted):
        raise StepFailed(step, f"the request is about {sorted(items)}, expected {sorted(wanted)}")


@case(
    "TC_B_07_CSMS",
    "Get Variables - multiple values",
    use_cases=("B06",),
    requirements=("B06.FR.01", "B06.FR.02", "B06.FR.03"),
    features=("C-45",),
)
async def tc_b_07(tool: CsmsTool) -> None:
    wanted = [("OCPPCommCtrlr", "OfflineThreshold"), ("AuthCtrlr", "AuthorizeRemoteStart")]
    tool.manual(GetVariables(tuple(wanted)))
    incoming = await tool.expect(1, msg.GetVariablesRequest)
    data = incoming.request.get_variable_data
    in_any_order(1, [(d.component.name, d.variable.name) for d in data], wanted)
    for index in range(len(data)):
        expect_field(1, incoming.request, f"getVariableData[{index}].attributeType", *ATTRIBUTE_TYPES)
    values = {"OfflineThreshold": "60", "AuthorizeRemoteStart": "true"}
    results = [
        dt.GetVariableResultType(
            attribute_status=en.GetVariableStatusEnumType.ACCEPTED,
            attribute_value=values[d.variable.name],
            component=d.component,
            variable=d.variable,
        )
        for d in data
    ]
    incoming.answer(msg.GetVariablesResponse(get_variable_result=results))
    await tool.settle()


@case(
    "TC_B_10_CSMS",
    "Set Variables - multiple values",
    use_cases=("B05",),
    requirements=("B05.FR.01", "B05.FR.02", "B05.FR.03"),
    features=("C-46",),
)
async def tc_b_10(tool: CsmsTool) -> None:
    values = {("OCPPCommCtrlr", "OfflineThreshold"): "123", ("AuthCtrlr", "AuthorizeRemoteStart"): "false"}
    tool.manual(SetVariables(tuple((c, v, x) for (c, v), x in values.items())))
    incoming = await tool.expect(1, msg.SetVariablesRequest)
    data = incoming.request.set_variable_data
    in_any_order(1, [(d.component.name, d.variable.name) for d in data], list(values))
    for index, item in enumerate(data):
        wanted = values[(item.component.name, item.variable.name)]
        expect_field(1, incoming.request, f"setVariableData[{index}].attributeValue", wanted)
        expect_field(1, incoming.request, f"setVariableData[{index}].attributeType", "absent", "Actual")
    results = [
        dt.SetVariableResultType(
            attribute_status=en.SetVariableStatusEnumType.ACCEPTED, component=d.component, variable=d.variable
        )
        for d in data
    ]
    incoming.answer(msg.SetVariablesResponse(set_variable_result=results))
    await tool.settle()


async def base_report(tool: CsmsTool, report_base: en.ReportBaseEnumType) -> None:
    """TC_B_12 / B_13: the CSMS asks for a base report; the tool accepts and sends it (post scenario)."""
    what = f"a {report_base.value} report"
    tool.manual(SendCommand("GetBaseReport", {"requestId": 1, "reportBase": report_base.value}, what))
    incoming = await tool.expect(1, msg.GetBaseReportRequest)
    request = incoming.request
    expect_field(1, request, "reportBase", report_base.value)
    if request.request_id < 0:
        raise StepFailed(1, f"GetBaseReportRequest.requestId is {request.request_id}, expected >= 0")
    incoming.answer(msg.GetBaseReportResponse(status=en.GenericDeviceModelStatusEnumType.ACCEPTED))
    await tool.settle()
    report = [
        dt.ReportDataType(
            component=dt.ComponentType(name="OCPPCommCtrlr"),
            variable=dt.VariableType(name="OfflineThreshold"),
            variable_attribute=[
                dt.VariableAttributeType(
                    type=en.AttributeEnumType.ACTUAL, value="60", mutability=en.MutabilityEnumType.READ_WRITE
                )
            ],
        ),
        dt.ReportDataType(
            component=dt.ComponentType(name="AuthCtrlr"),
            variable=dt.VariableType(name="AuthorizeRemoteStart"),
            variable_attribute=[
                dt.VariableAttributeType(
                    type=en.AttributeEnumType.ACTUAL,
                    value="true",
                    mutability=en.MutabilityEnumType.READ_WRITE,
                )
            ],
        ),
    ]
    notify = msg.NotifyReportRequest(
        request_id=request.request_id, generated_at=utc_now(), seq_no=0, tbc=False, report_data=report
    )
    await send_as("post", tool, notify, msg.NotifyReportResponse)


@case(
    "TC_B_12_CSMS",
    "Get Base Report - ConfigurationInventory",
    use_cases=("B07",),
    requirements=("B07.FR.07",),
    profiles=("Core", "Advanced Device Management"),  # the CSV lists it in both
    features=("C-17",),
)
async def tc_b_12(tool: CsmsTool) -> None:
    await base_report(tool, en.ReportBaseEnumType.CONFIGURATION_INVENTORY)


@case(
    "TC_B_13_CSMS",
    "Get Base Report - FullInventory",
    use_cases=("B07",),
    requirements=("B07.FR.08",),
    features=("C-50.2",),
)
async def tc_b_13(tool: CsmsTool) -> None:
    await base_report(tool, en.ReportBaseEnumType.FULL_INVENTORY)


@case(
    "TC_B_14_CSMS",
    "Get Base Report - SummaryInventory",
    use_cases=("B07",),
    requirements=("B07.FR.09",),
)
async def tc_b_14(tool: CsmsTool) -> None:
    await base_report(tool, en.ReportBaseEnumType.SUMMARY_INVENTORY)


async def custom_report(
    tool: CsmsTool, step: int, criterion: en.ComponentCriterionEnumType
) -> Incoming[msg.GetReportRequest]:
    """TC_B_18 steps 1 / 3: the CSMS asks for EVSE #<configured>::AvailabilityState of the components meeting
    ``criterion``; the request is checked and returned unanswered to the caller."""
    evse_id = tool.configured.evse_id
    wanted = {
        "component": {"name": "EVSE", "evse": {"id": evse_id}},
        "variable": {"name": "AvailabilityState"},
    }
    payload = {"requestId": step, "componentCriteria": [criterion.value], "componentVariable": [wanted]}
    tool.manual(
        SendCommand(
            "GetReport", payload, f"EVSE #{evse_id} AvailabilityState of {criterion.value} components"
        )
    )
    incoming = await tool.expect(step, msg.GetReportRequest)
    request = incoming.request
    criteria = request.component_criteria if isinstance(request.component_criteria, list) else []
    if [c.value for c in criteria] != [criterion.value]:
        raise StepFailed(
            step, f"componentCriteria is {[c.value for c in criteria]}, expected [{criterion.value}]"
        )
    expect_field(step, request, "componentVariable[0].component.name", "EVSE")
    expect_field(step, request, "componentVariable[0].component.evse.id", evse_id)
    expect_field(step, request, "componentVariable[0].variable.name", "AvailabilityState")
    return incoming


@case(
    "TC_B_18_CSMS",
    "Get Custom Report - with componentCriteria and component/variables",
    use_cases=("B08",),
    requirements=("B08.FR.01", "B08.FR.03"),
)
async def tc_b_18(tool: CsmsTool) -> None:
    empty = await custom_report(tool, 1, en.ComponentCriterionEnumType.PROBLEM)
    empty.answer(msg.GetReportResponse(status=en.GenericDeviceModelStatusEnumType.EMPTY_RESULT_SET))
    await tool.settle()
    incoming = await custom_report(tool, 3, en.ComponentCriterionEnumType.AVAILABLE)
    incoming.answer(msg.GetReportResponse(status=en.GenericDeviceModelStatusEnumType.ACCEPTED))
    await tool.settle()
    state = dt.ReportDataType(
        component=dt.ComponentType(name="EVSE", evse=dt.EVSEType(id=tool.configured.evse_id)),
        variable=dt.VariableType(name="AvailabilityState"),
        variable_attribute=[
            dt.VariableAttributeType(
                type=en.AttributeEnumType.ACTUAL,
                value="Available",
                mutability=en.MutabilityEnumType.READ_ONLY,
            )
        ],
        variable_characteristics=dt.VariableCharacteristicsType(
            data_type=en.DataEnumType.OPTION_LIST,
            supports_monitoring=False,
            values_list="Available,Occupied,Reserved,Unavailable,Faulted",
        ),
    )
    notify = msg.NotifyReportRequest(
        request_id=incoming.request.request_id, generated_at=utc_now(), seq_no=0, report_data=[state]
    )
    await send_as(5, tool, notify, msg.NotifyReportResponse)


async def evse_reset(tool: CsmsTool, reset_type: str, status: en.ResetStatusEnumType) -> None:
    """Manual action, steps 1-2 of TC_B_25 / B_26 / B_27: the CSMS resets the configured EVSE."""
    evse_id = tool.configured.evse_id
    tool.manual(Reset(reset_type, evse_id))
    incoming = await tool.expect(1, msg.ResetRequest)
    expect_field(1, incoming.request, "type", reset_type)
    expect_field(1, incoming.request, "evseId", evse_id)
    incoming.answer(msg.ResetResponse(status=status))
    await tool.settle()


@case(
    "TC_B_25_CSMS",
    "Reset EVSE - Without ongoing transaction",
    use_cases=("B11",),
    requirements=("B11.FR.04",),
    features=("C-13",),
)
async def tc_b_25(tool: CsmsTool) -> None:
    await evse_reset(tool, "OnIdle", en.ResetStatusEnumType.ACCEPTED)


@case(
    "TC_B_26_CSMS",
    "Reset EVSE - With Ongoing Transaction - OnIdle",
    use_cases=("B12",),
    requirements=("B12.FR.07",),
    features=("C-13",),
)
async def tc_b_26(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await evse_reset(tool, "OnIdle", en.ResetStatusEnumType.SCHEDULED)
    token = valid_token(tool.configured)
    await transaction_event(
        tool, 3, Event.UPDATED, Trigger.STOP_AUTHORIZED, charging_state=Charging.EV_CONNECTED, token=token
    )
    await ev_gone(tool, 5)


@case(
    "TC_B_27_CSMS",
    "Reset EVSE - With Ongoing Transaction - Immediate",
    use_cases=("B12",),
    features=("C-13",),
)
async def tc_b_27(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await evse_reset(tool, "Immediate", en.ResetStatusEnumType.ACCEPTED)
    await transaction_event(
        tool,
        3,
        Event.ENDED,
        Trigger.RESET_COMMAND,
        charging_state=Charging.EV_CONNECTED,
        stopped_reason=en.ReasonEnumType.IMMEDIATE_RESET,
    )
    tool.progress = type(tool.progress)()


async def network_profile(
    tool: CsmsTool, status: en.SetNetworkProfileStatusEnumType
) -> msg.SetNetworkProfileRequest:
    """Manual action, steps 1-2 of TC_B_42 / B_44: the CSMS sends the configured connection profile."""
    c = tool.configured
    data = {
        "ocppVersion": "OCPP20",
        "ocppTransport": "JSON",
        "ocppCsmsUrl": c.ocpp_csms_url,
        "messageTimeout": c.message_timeout,
        "securityProfile": c.security_profile,
        "ocppInterface": c.ocpp_interface,
    }
    payload = {"configurationSlot": c.configuration_slot, "connectionData": data}
    tool.manual(SendCommand("SetNetworkProfile", payload, f"slot {c.configuration_slot}: {c.ocpp_csms_url}"))
    incoming = await tool.expect(1, msg.SetNetworkProfileRequest)
    incoming.answer(msg.SetNetworkProfileResponse(status=status))
    await tool.settle()
    return incoming.request


@case(
    "TC_B_42_CSMS",
    "Set new NetworkConnectionProfile - Accepted",
    use_cases=("B09",),
    requirements=("B09.FR.01",),
)
async def tc_b_42(tool: CsmsTool) -> None:
    request = await network_profile(tool, en.SetNetworkProfileStatusEnumType.ACCEPTED)
    c = tool.configured
    expect_field(1, request, "configurationSlot", c.configuration_slot)
    expect_field(1, request, "connectionData.messageTimeout", c.message_timeout)
    expect_field(1, request, "connectionData.ocppCsmsUrl", c.ocpp_csms_url)
    expect_field(1, request, "connectionData.ocppInterface", c.ocpp_interface)
    expect_field(1, request, "connectionData.ocppTransport", "JSON")
    expect_field(1, request, "connectionData.ocppVersion", "OCPP20")
    expect_field(1, request, "connectionData.securityProfile", c.security_profile)


@case(
    "TC_B_44_CSMS",
    "Set new NetworkConnectionProfile - Failed",
    use_cases=("B09",),
    requirements=("B09.FR.03",),
)
async def tc_b_44(tool: CsmsTool) -> None:
    await network_profile(tool, en.SetNetworkProfileStatusEnumType.FAILED)
