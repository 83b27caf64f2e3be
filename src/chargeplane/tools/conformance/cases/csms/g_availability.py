"""Block G, Availability (Part 6 §3.8).

Readings:
* TC_G_04's Memory State "Unavailable for <Configured evseId>" is reached by running Reusable State
  Unavailable first.
* TC_G_06's manual action says "to Inoperative" but its check wants Operative: read as Operative, from the
  station made Unavailable first (its Before section).
* TC_G_08's Memory State (connector Unavailable) is reached by the steps of TC_G_07.
* TC_G_11 / TC_G_14 / TC_G_17: the transaction runs to its end (StopAuthorized, EVConnectedPostSession,
  EVDisconnected) before the connector is notified Unavailable; the tool has no other, unoccupied connector
  to notify at TC_G_14's step 3.
* TC_G_05 notifies every connector Unavailable; the tool has one. The station stays Inoperative at the
  CSMS afterwards; the cases that follow only send, so they do not depend on it.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import ChangeAvailability
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_absent, expect_field
from chargeplane.tools.conformance.messages import delta_event, send_as
from chargeplane.tools.conformance.states import (
    Status,
    energy_transfer_started,
    ev_connected_post_session,
    ev_disconnected,
    notify_connector,
    stop_authorized,
    unavailable,
)
from chargeplane.tools.conformance.steps import CsmsTool


async def change_availability(
    tool: CsmsTool,
    action: ChangeAvailability,
    answer: en.ChangeAvailabilityStatusEnumType = en.ChangeAvailabilityStatusEnumType.ACCEPTED,
) -> msg.ChangeAvailabilityRequest:
    """Manual action, then steps 1-2: the CSMS's ChangeAvailabilityRequest, answered with ``answer``."""
    tool.manual(action)
    incoming = await tool.expect(1, msg.ChangeAvailabilityRequest)
    incoming.answer(msg.ChangeAvailabilityResponse(status=answer))
    await tool.settle()
    expect_field(
        1, incoming.request, "operationalStatus", "Operative" if action.operational else "Inoperative"
    )
    return incoming.request


@case("TC_G_03_CSMS", "Change Availability EVSE - Operative to inoperative", use_cases=("G03",))
async def tc_g_03(tool: CsmsTool) -> None:
    await unavailable(tool, tool.configured.evse_id)


@case("TC_G_04_CSMS", "Change Availability EVSE - Inoperative to operative", use_cases=("G03",))
async def tc_g_04(tool: CsmsTool) -> None:
    evse = tool.configured.evse_id
    await unavailable(tool, evse)  # memory state
    request = await change_availability(tool, ChangeAvailability(operational=True, evse_id=evse))
    expect_field(1, request, "evse.id", evse)
    expect_absent(1, request, "evse.connectorId")
    await notify_connector(tool, 3, Status.AVAILABLE)


@case("TC_G_05_CSMS", "Change Availability Charging Station - Operative to inoperative", use_cases=("G04",))
async def tc_g_05(tool: CsmsTool) -> None:
    request = await change_availability(tool, ChangeAvailability(operational=False))
    expect_absent(1, request, "evse")
    await notify_connector(tool, 3, Status.UNAVAILABLE)


@case("TC_G_06_CSMS", "Change Availability Charging Station - Inoperative to operative", use_cases=("G04",))
async def tc_g_06(tool: CsmsTool) -> None:
    await change_availability(tool, ChangeAvailability(operational=False))  # before
    await notify_connector(tool, "before", Status.UNAVAILABLE)
    request = await change_availability(tool, ChangeAvailability(operational=True))
    expect_absent(1, request, "evse")
    await notify_connector(tool, 3, Status.AVAILABLE)


async def connector_availability(tool: CsmsTool, operational: bool) -> None:
    """TC_G_07 / TC_G_08: the configured connector made (in)operative, then its status notified."""
    c = tool.configured
    action = ChangeAvailability(operational=operational, evse_id=c.evse_id, connector_id=c.connector_id)
    request = await change_availability(tool, action)
    expect_field(1, request, "evse.id", c.evse_id)
    expect_field(1, request, "evse.connectorId", c.connector_id)
    await notify_connector(tool, 3, Status.AVAILABLE if operational else Status.UNAVAILABLE)


@case("TC_G_07_CSMS", "Change Availability Connector - Operative to inoperative", use_cases=("G03",))
async def tc_g_07(tool: CsmsTool) -> None:
    await connector_availability(tool, operational=False)


@case("TC_G_08_CSMS", "Change Availability Connector - Inoperative to operative", use_cases=("G03",))
async def tc_g_08(tool: CsmsTool) -> None:
    await connector_availability(tool, operational=False)  # memory state
    await connector_availability(tool, operational=True)


async def inoperative_after_transaction(
    tool: CsmsTool, action: ChangeAvailability
) -> msg.ChangeAvailabilityRequest:
    """TC_G_11/14/17: made inoperative while charging (Scheduled), the transaction ends, then Unavailable."""
    await energy_transfer_started(tool)  # before
    scheduled = en.ChangeAvailabilityStatusEnumType.SCHEDULED
    request = await change_availability(tool, action, scheduled)
    await stop_authorized(tool)
    await ev_connected_post_session(tool)
    await ev_disconnected(tool)
    await notify_connector(tool, "last", Status.UNAVAILABLE)
    return request


@case("TC_G_11_CSMS", "Change Availability EVSE - With ongoing transaction", use_cases=("G03",))
async def tc_g_11(tool: CsmsTool) -> None:
    evse = tool.configured.evse_id
    request = await inoperative_after_transaction(tool, ChangeAvailability(operational=False, evse_id=evse))
    expect_field(1, request, "evse.id", evse)
    expect_absent(1, request, "evse.connectorId")


@case("TC_G_14_CSMS", "Change Availability Charging Station - With ongoing transaction", use_cases=("G04",))
async def tc_g_14(tool: CsmsTool) -> None:
    request = await inoperative_after_transaction(tool, ChangeAvailability(operational=False))
    expect_absent(1, request, "evse")


@case("TC_G_17_CSMS", "Change Availability Connector - With ongoing transaction", use_cases=("G03",))
async def tc_g_17(tool: CsmsTool) -> None:
    c = tool.configured
    action = ChangeAvailability(operational=False, evse_id=c.evse_id, connector_id=c.connector_id)
    request = await inoperative_after_transaction(tool, action)
    expect_field(1, request, "evse.id", c.evse_id)
    expect_field(1, request, "evse.connectorId", c.connector_id)


@case(
    "TC_G_20_CSMS",
    "Connector status Notification - Lock Failure",
    use_cases=("G05",),
    requirements=("G05.FR.03",),
)
async def tc_g_20(tool: CsmsTool) -> None:
    c = tool.configured
    request = delta_event("ConnectorPlugRetentionLock", "Problem", "true", c.evse_id, c.connector_id)
    await send_as(1, tool, request, msg.NotifyEventResponse)
