"""Block B, Provisioning (Part 6 §2.3), charging-station side.

Readings:
* TC_B_01_CS executes Reusable State Booted, which the tool enters with ResetRequest Immediate.
* TC_B_03_CS / TC_B_30_CS start with "Reboot the Charging Station" (TC_B_30 implies it): a PowerCycle manual
  action. The tool answers the rejected boot with ``boot_interval`` from the declaration (the
  <Configured heartbeatInterval> of the table) so that the retry comes soon; a retry earlier than the interval
  (half a second of slack for timer granularity) or any other CALL in between fails step 3.
* TC_B_30_CS: the GetBaseReport is sent half a second after the Rejected answer, and only while the station keeps its connection; one that closes it passes.
* TC_B_02_CS: the Pending answer carries the tool's heartbeat interval (300 s), so that no retry of the
  station crosses the scenario and the BootNotification of step 15 is the triggered one (reason
  Triggered). "OCPPCommCtrl" is OCPPCommCtrlr. The tool's CALLs start half a second after the Pending
  answer (the station must have taken it in). Step 12 (RequestStartTransaction while Pending: Rejected)
  uses the valid id token on the configured EVSE. Should TriggerMessage answer NotImplemented, the tool
  waits the Pending interval for the next BootNotification (any reason). Step 17 is the StatusNotification
  Available of the configured connector (the NotifyEvent alternative is answered, not required).
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.b_reports import base_report
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import PowerCycle
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, booted, connector_status, valid_token
from chargeplane.tools.conformance.station_steps import HEARTBEAT_INTERVAL, StationTool

Registration = en.RegistrationStatusEnumType
SLACK = 0.5  # seconds a retry may come before the interval (timer granularity)


@case(
    "TC_B_01_CS",
    "Cold Boot Charging Station - Accepted",
    use_cases=("B01",),
    requirements=("B01.FR.01", "B01.FR.05", "B01.FR.09"),
    timeout=90.0,
)
async def tc_b_01_cs(tool: StationTool) -> None:
    await booted(tool)


@case(
    "TC_B_02_CS",
    "Cold Boot Charging Station - Pending",
    use_cases=("B02", "F06"),
    requirements=(
        "B02.FR.01",
        "B02.FR.02",
        "B02.FR.04",
        "B02.FR.05",
        "B02.FR.06",
        "B02.FR.08",
        "F06.FR.17",
    ),
    timeout=HEARTBEAT_INTERVAL + BOOT_WITHIN * 2,  # a station without the trigger retries after the interval
)
async def tc_b_02_cs(tool: StationTool) -> None:
    await tool.manual(PowerCycle())
    tool.answers.registration = Registration.PENDING
    tool.answers.interval = HEARTBEAT_INTERVAL
    await tool.expect_answered(1, msg.BootNotificationRequest, BOOT_WITHIN)  # 1. / 2. Pending
    await asyncio.sleep(0.5)  # let the station take the Pending in before the tool's CALLs
    threshold = dt.SetVariableDataType(
        attribute_value="300",
        component=dt.ComponentType(name="OCPPCommCtrlr"),
        variable=dt.VariableType(name="OfflineThreshold"),
    )
    response = await tool.send_as(
        3, msg.SetVariablesRequest(set_variable_data=[threshold]), msg.SetVariablesResponse
    )
    expect_field(4, response, "setVariableResult[0].attributeStatus", "Accepted")
    read = dt.GetVariableDataType(component=threshold.component, variable=threshold.variable)
    got = await tool.send_as(5, msg.GetVariablesRequest(get_variable_data=[read]), msg.GetVariablesResponse)
    expect_field(6, got, "getVariableResult[0].attributeStatus", "Accepted")
    await base_report(tool, 7, en.ReportBaseEnumType.FULL_INVENTORY)  # 7.-10.
    start = msg.RequestStartTransactionRequest(
        id_token=valid_token(tool), evse_id=tool.configured.evse_id, remote_start_id=202
    )
    started = await tool.send_as(11, start, msg.RequestStartTransactionResponse)
    if started.status is not en.RequestStartStopStatusEnumType.REJECTED:
        tool.progress.add("Authorized")  # the clean-up makes the station idle again
    expect_field(12, started, "status", "Rejected")
    trigger = msg.TriggerMessageRequest(requested_message=en.MessageTriggerEnumType.BOOT_NOTIFICATION)
    triggered = await tool.send_as(13, trigger, msg.TriggerMessageResponse)
    expect_field(14, triggered, "status", "Accepted", "NotImplemented")
    tool.answers.registration = Registration.ACCEPTED  # 16.
    if triggered.status is en.TriggerMessageStatusEnumType.ACCEPTED:
        boot = await tool.expect_answered(15, msg.BootNotificationRequest, BOOT_WITHIN)
        expect_field(15, boot, "reason", "Triggered")
    else:
        await tool.expect_answered(15, msg.BootNotificationRequest, HEARTBEAT_INTERVAL + BOOT_WITHIN)
    await connector_status(tool, 17, en.ConnectorStatusEnumType.AVAILABLE)  # 17. / 18.


async def rejected_boot(tool: StationTool, interval: int) -> float:
    """Steps 1-2 of TC_B_03 / TC_B_30: reboot; the BootNotification is answered Rejected. Returns when."""
    await tool.manual(PowerCycle())
    tool.answers.registration = Registration.REJECTED
    tool.answers.interval = interval
    await tool.expect_answered(1, msg.BootNotificationRequest, BOOT_WITHIN)
    return asyncio.get_running_loop().time()


@case(
    "TC_B_03_CS",
    "Cold Boot Charging Station - Rejected",
    use_cases=("B03",),
    requirements=("B03.FR.02", "B03.FR.04", "B03.FR.06"),
    timeout=120.0,
)
async def tc_b_03_cs(tool: StationTool) -> None:
    interval = tool.configured.boot_interval
    answered_at = await rejected_boot(tool, interval)
    incoming = await tool.endpoint.next_call(interval + BOOT_WITHIN)
    if incoming is None:
        raise StepFailed(3, f"no BootNotificationRequest again within {interval + BOOT_WITHIN:g} s")
    tool.seen.append(incoming.request)
    waited = asyncio.get_running_loop().time() - answered_at
    if not isinstance(incoming.request, msg.BootNotificationRequest):
        tool.answer_default(incoming)
        raise StepFailed(3, f"the station sent {type(incoming.request).__name__} while Rejected")
    tool.answers.registration = Registration.ACCEPTED
    tool.answers.interval = HEARTBEAT_INTERVAL
    tool.answer_default(incoming)
    if waited < interval - SLACK:
        raise StepFailed(
            3, f"BootNotification again after {waited:.1f} s, before the interval of {interval} s"
        )
    await connector_status(tool, 5, en.ConnectorStatusEnumType.AVAILABLE)


@case(
    "TC_B_30_CS",
    "Cold Boot Charging Station - Pending/Rejected - SecurityError",
    use_cases=("B03",),
    requirements=("B03.FR.08",),
    timeout=120.0,
)
async def tc_b_30_cs(tool: StationTool) -> None:
    interval = tool.configured.boot_interval
    await rejected_boot(tool, interval)
    await asyncio.sleep(0.5)  # let the station take the Rejected in before the tool's CALL
    if tool.endpoint.is_connected:
        request = msg.GetBaseReportRequest(request_id=30, report_base=en.ReportBaseEnumType.FULL_INVENTORY)
        code = await tool.send_expecting_error(3, request)
        if code != "SecurityError":
            raise StepFailed(4, f"CALLERROR {code}, expected SecurityError")
    # Outside the table: accept the station's next boot, for the cases that follow.
    tool.answers.registration = Registration.ACCEPTED
    tool.answers.interval = HEARTBEAT_INTERVAL
    await tool.expect_answered("after", msg.BootNotificationRequest, interval + BOOT_WITHIN)
