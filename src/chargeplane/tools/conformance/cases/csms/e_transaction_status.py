"""Block E, Transactions (Part 6 §3.6): checking a transaction's status (E14, C-16), CSMS side.

Readings:
* The CSMS asks for a transaction's status: a manual action.
* TC_E_29 / E_31 / E_33 go offline: the tool closes its connection, waits ``transaction_duration`` and
  reconnects without a new BootNotification (a dropped connection, not a reboot); the CSMS's
  GetTransactionStatusRequest is a manual action after the reconnection. TC_E_31's check is labelled step 5
  and is that of step 7 (the request); its events 9 and 11 carry the two seqNo values the Ended event of
  step 5 skipped. The queued event of TC_E_29 / E_33 names no trigger: it is a periodic meter value
  (MeterValuePeriodic, a Sample.Periodic reading).
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import GetTransactionStatus
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import (
    energy_reading,
    status_notification,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import Charging, Event, Status, Trigger, energy_transfer_started
from chargeplane.tools.conformance.steps import CsmsTool, Transaction


async def transaction_status(tool: CsmsTool, transaction_id: str | None, ongoing: bool | None) -> None:
    """TC_E_30 / TC_E_34: the CSMS's GetTransactionStatusRequest, answered with no message in queue."""
    tool.manual(GetTransactionStatus(transaction_id))
    incoming = await tool.expect(1, msg.GetTransactionStatusRequest)
    expect_field(1, incoming.request, "transactionId", "absent" if transaction_id is None else transaction_id)
    response = msg.GetTransactionStatusResponse(messages_in_queue=False)
    if ongoing is not None:
        response = msg.GetTransactionStatusResponse(ongoing_indicator=ongoing, messages_in_queue=False)
    incoming.answer(response)


@case(
    "TC_E_30_CSMS",
    "Check Transaction status - Transaction with id ongoing - without message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.05"),
    features=("C-16",),
)
async def tc_e_30(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    transaction = tool.transaction
    if transaction is None:
        raise StepFailed("before", "no transaction after EnergyTransferStarted")
    await transaction_status(tool, transaction.id, ongoing=True)


@case(
    "TC_E_34_CSMS",
    "Check Transaction status - Without transactionId - without message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.06", "E14.FR.08"),
    features=("C-16",),
)
async def tc_e_34(tool: CsmsTool) -> None:
    await transaction_status(tool, None, ongoing=None)


async def offline_for_a_while(tool: CsmsTool) -> Transaction:
    """Steps 1-2 of TC_E_29 / E_31 / E_33: from EnergyTransferStarted, the connection drops for
    <Configured Transaction Duration>, then the tool reconnects (no reboot: no BootNotification)."""
    await energy_transfer_started(tool)  # before
    transaction = tool.transaction
    if transaction is None:
        raise StepFailed("before", "no transaction after EnergyTransferStarted")
    await tool.link.close()  # 1
    await asyncio.sleep(tool.configured.transaction_duration)  # 2
    await tool.link.connect(2)
    return transaction


async def queued_status(tool: CsmsTool, step: int, transaction_id: str | None, ongoing: bool | None) -> None:
    """The CSMS's GetTransactionStatusRequest (a manual action), answered: messages in queue."""
    tool.manual(GetTransactionStatus(transaction_id))
    incoming = await tool.expect(step, msg.GetTransactionStatusRequest)
    expect_field(
        step, incoming.request, "transactionId", "absent" if transaction_id is None else transaction_id
    )
    response = msg.GetTransactionStatusResponse(messages_in_queue=True)
    if ongoing is not None:
        response = msg.GetTransactionStatusResponse(ongoing_indicator=ongoing, messages_in_queue=True)
    incoming.answer(response)
    await tool.settle()


async def queued_meter_values(tool: CsmsTool, step: int) -> None:
    """The TransactionEvent kept while offline: Updated, with meter values, offline true."""
    await transaction_event(
        tool,
        step,
        Event.UPDATED,
        Trigger.METER_VALUE_PERIODIC,
        meter_value=[energy_reading(en.ReadingContextEnumType.SAMPLE_PERIODIC)],
        offline=True,
    )


@case(
    "TC_E_29_CSMS",
    "Check Transaction status - Transaction with id ongoing - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.04"),
    features=("C-16",),
)
async def tc_e_29(tool: CsmsTool) -> None:
    transaction = await offline_for_a_while(tool)
    await queued_status(tool, 3, transaction.id, ongoing=True)
    await queued_meter_values(tool, 5)


@case(
    "TC_E_31_CSMS",
    "Check Transaction status - Transaction with id ended - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.03", "E14.FR.04"),
    features=("C-16",),
)
async def tc_e_31(tool: CsmsTool) -> None:
    transaction = await offline_for_a_while(tool)
    c = tool.configured
    await tool.send(3, status_notification(Status.AVAILABLE, c.evse_id, c.connector_id))
    skipped = transaction.seq_no
    transaction.seq_no += 2
    await transaction_event(
        tool,
        5,
        Event.ENDED,
        Trigger.EV_COMMUNICATION_LOST,
        charging_state=Charging.IDLE,
        stopped_reason=en.ReasonEnumType.EV_DISCONNECTED,
        offline=True,
    )
    tool.progress = type(tool.progress)()
    await queued_status(tool, 7, transaction.id, ongoing=False)
    # The two events queued before the Ended one, with the seqNo values it skipped.
    tool.transaction, transaction.seq_no = transaction, skipped
    try:
        token = valid_token(c)
        await transaction_event(tool, 9, Event.UPDATED, Trigger.STOP_AUTHORIZED, token=token, offline=True)
        await transaction_event(
            tool,
            11,
            Event.UPDATED,
            Trigger.CHARGING_STATE_CHANGED,
            charging_state=Charging.EV_CONNECTED,
            offline=True,
        )
    finally:
        tool.transaction = None  # it ended at step 5


@case(
    "TC_E_33_CSMS",
    "Check Transaction status - Without transactionId - with message in queue",
    use_cases=("E14",),
    requirements=("E14.FR.06", "E14.FR.07"),
    features=("C-16",),
)
async def tc_e_33(tool: CsmsTool) -> None:
    await offline_for_a_while(tool)
    await queued_status(tool, 3, None, ongoing=None)
    await queued_meter_values(tool, 5)
