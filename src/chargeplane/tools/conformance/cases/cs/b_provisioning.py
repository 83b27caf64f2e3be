"""Block B, Provisioning (Part 6 §2.3), charging-station side.

Readings:
* TC_B_01_CS executes Reusable State Booted, which the tool enters with ResetRequest Immediate.
* TC_B_03_CS / TC_B_30_CS start with "Reboot the Charging Station" (TC_B_30 implies it): a PowerCycle manual
  action. The tool answers the rejected boot with ``boot_interval`` from the declaration (the
  <Configured heartbeatInterval> of the table) so that the retry comes soon; a retry earlier than the interval
  (half a second of slack for timer granularity) or any other CALL in between fails step 3.
* TC_B_30_CS: the GetBaseReport is sent half a second after the Rejected answer, and only while the station keeps its connection; one that closes it passes.
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.station_adapter import PowerCycle
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, booted, connector_status
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
