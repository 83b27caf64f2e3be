"""Block E, Transactions (Part 6 §2.6), charging-station side: GetTransactionStatus with and without queued
transaction messages (E14). TC_E_28_CS is in ``e_transactions``.

Readings:
* TC_E_29/E_31/E_33: "the moment the WebSocket connection is restored" is as soon as the station is
  connected again, before the tool answers any of its queued messages (so the queue cannot have emptied).
* TC_E_29/E_33 step 5 checks the queued messages as TC_E_40_CS does (Updated, meterValue present, offline).
* TC_E_31_CS: the configured scenario is "local" (the station reads cards): the transaction is stopped by
  presenting the same token, then the EV is disconnected, both while offline. Step 3's "tool validations of
  the reusable states StopAuthorized to ParkingBayUnoccupied" are read as: among the queued messages, one
  with triggerReason StopAuthorized and the Ended event, all of them offline.
* TC_E_32_CS's ParkingBayUnoccupied is entered by disconnecting the EV (Reusable State EVDisconnected; no
  parking bay detector is assumed); the Ended event is answered before the request.
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_absent, expect_field, expect_present
from chargeplane.tools.conformance.station_adapter import PresentToken, Unplug
from chargeplane.tools.conformance.station_states import (
    charging_from_idle,
    configuration,
    ev_disconnected,
    expect_all_offline,
    expect_seq_no_order,
    offline_events,
    offline_settings,
    receive_queue,
    sampled_settings,
    transaction_id,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool


async def transaction_status(
    tool: StationTool, step: int, transaction: str | None
) -> msg.GetTransactionStatusResponse:
    request = (
        msg.GetTransactionStatusRequest()
        if transaction is None
        else msg.GetTransactionStatusRequest(transaction_id=transaction)
    )
    return await tool.send_as(step, request, msg.GetTransactionStatusResponse)


async def status_after_offline(tool: StationTool, with_id: bool) -> None:
    """TC_E_29 / TC_E_33: offline during a transaction, then GetTransactionStatus at once on reconnection."""
    wait = tool.configured.retry_backoff_wait_minimum
    async with configuration(tool, "before", sampled_settings(tool) + offline_settings(tool)):
        await charging_from_idle(tool)
        await tool.drain()
        tx = transaction_id(tool, "before")
        async with tool.offline(1):  # 1. closed, reconnections refused
            await asyncio.sleep(wait)  # 2.
        reconnected_at = wall_clock()
        await tool.come_online(2, wait * 4 + 10)
        response = await transaction_status(tool, 3, tx if with_id else None)  # 3.
        if with_id:
            expect_field(4, response, "ongoingIndicator", True)
        else:
            expect_absent(4, response, "ongoingIndicator")
        expect_field(4, response, "messagesInQueue", True)
        await receive_queue(tool, 5)  # 5. / 6.
        queued = offline_events(tool, reconnected_at)
        expect_all_offline(5, queued)
        for event in queued:
            expect_field(5, event, "eventType", "Updated")
            expect_present(5, event, "meterValue")
        expect_seq_no_order(5, queued)


@case(
    "TC_E_29_CS",
    "Check Transaction status - Transaction with id ongoing - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.04"),
    timeout=60.0,
)
async def tc_e_29_cs(tool: StationTool) -> None:
    await status_after_offline(tool, with_id=True)


@case(
    "TC_E_30_CS",
    "Check Transaction status - Transaction with id ongoing - without message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.05"),
    timeout=40.0,
)
async def tc_e_30_cs(tool: StationTool) -> None:
    await charging_from_idle(tool)
    await tool.drain()
    response = await transaction_status(tool, 1, transaction_id(tool, 1))
    expect_field(2, response, "ongoingIndicator", True)
    expect_field(2, response, "messagesInQueue", False)


@case(
    "TC_E_31_CS",
    "Check Transaction status - Transaction with id ended - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.03", "E14.FR.04"),
    timeout=60.0,
)
async def tc_e_31_cs(tool: StationTool) -> None:
    configured = tool.configured
    duration = configured.transaction_duration
    settings = sampled_settings(tool) + offline_settings(tool, extra_wait=duration)
    async with configuration(tool, "before", settings):
        await charging_from_idle(tool)
        await tool.drain()
        tx = transaction_id(tool, "before")
        async with tool.offline("offline"):  # closed, reconnections refused
            await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
            await tool.manual(Unplug(configured.evse_id, configured.connector_id))
            tool.progress.clear()
            await asyncio.sleep(duration)  # the tool waits <Configured Transaction Duration>
        reconnected_at = wall_clock()
        await tool.come_online("online", (configured.retry_backoff_wait_minimum + duration) * 4 + 10)
        response = await transaction_status(tool, 1, tx)  # 1.
        expect_field(2, response, "ongoingIndicator", False)
        expect_field(2, response, "messagesInQueue", True)
        await receive_queue(tool, 3)  # 3. / 4.
        queued = [e for e in offline_events(tool, reconnected_at) if e.transaction_info.transaction_id == tx]
        expect_all_offline(3, queued)
        expect_seq_no_order(3, queued)
        if not any(e.trigger_reason is en.TriggerReasonEnumType.STOP_AUTHORIZED for e in queued):
            raise StepFailed(3, "no queued TransactionEventRequest with triggerReason StopAuthorized")
        if not any(e.event_type is en.TransactionEventEnumType.ENDED for e in queued):
            raise StepFailed(3, "no queued TransactionEventRequest with eventType Ended")


@case(
    "TC_E_32_CS",
    "Check Transaction status - Transaction with id ended - without message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.03", "E14.FR.05"),
    timeout=40.0,
)
async def tc_e_32_cs(tool: StationTool) -> None:
    await charging_from_idle(tool)
    await ev_disconnected(tool)
    await tool.drain()
    response = await transaction_status(tool, 1, transaction_id(tool, 1))
    expect_field(2, response, "ongoingIndicator", False)
    expect_field(2, response, "messagesInQueue", False)


@case(
    "TC_E_33_CS",
    "Check Transaction status - Without transactionId - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.06", "E14.FR.07"),
    timeout=60.0,
)
async def tc_e_33_cs(tool: StationTool) -> None:
    await status_after_offline(tool, with_id=False)


@case(
    "TC_E_34_CS",
    "Check Transaction status - Without transactionId - without message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.06", "E14.FR.08"),
)
async def tc_e_34_cs(tool: StationTool) -> None:
    response = await transaction_status(tool, 1, None)
    expect_absent(2, response, "ongoingIndicator")
    expect_field(2, response, "messagesInQueue", False)
