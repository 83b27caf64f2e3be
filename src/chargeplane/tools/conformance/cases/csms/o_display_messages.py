"""Block O, Display Message (Part 6, Advanced User Interface): the CSMS sets, gets and clears display
messages.

Readings:
* Each case starts with the manual action its table names ("request the CSMS to send ..."): a message with
  <Configured priority> NormalCycle, <Configured state> Charging, <Configured format> ASCII and a text naming
  the case; the CSMS chooses the message id unless the case needs a given one (TC_O_12 replaces the message
  of its memory state, TC_O_07 / O_04 name the configured one).
* Memory state "a display message is configured": a SetDisplayMessage the CSMS sends through the same manual
  action, answered Accepted, before the steps.
* <Configured startDateTime> / <Configured endDateTime> are now + 1 hour / + 2 hours (whole seconds); the
  request must carry that moment.
* TC_O_10: the manual action names a transaction the station does not know ("If the CSMS supports sending
  ... a transaction that does not exist"); the tool answers UnknownTransaction.
* TC_O_02 / O_07 / O_08 / O_09: the tool's NotifyDisplayMessages reports the configured message; the
  CSMS must answer it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.tools.conformance.adapter import ClearDisplayMessage, GetDisplayMessages, SetDisplayMessage
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_absent, expect_field, expect_present
from chargeplane.tools.conformance.messages import send_as
from chargeplane.tools.conformance.states import energy_transfer_started, ev_disconnected
from chargeplane.tools.conformance.steps import CsmsTool

Status = en.DisplayMessageStatusEnumType
PRIORITY = "NormalCycle"
STATE = "Charging"
CONFIGURED_ID = 4801


def wanted(text: str, **fields: Any) -> dict[str, Any]:
    """A MessageInfo as the operator asks for it (wire JSON)."""
    return {"priority": PRIORITY, "message": {"format": "ASCII", "content": text}} | fields


def moment(hours: int) -> str:
    return to_wire((datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0))


async def set_message(
    tool: CsmsTool, step: int | str, message: dict[str, Any], status: Status = Status.ACCEPTED
) -> msg.SetDisplayMessageRequest:
    """Steps ``step`` / ``step + 1``: the CSMS's SetDisplayMessage for the operator's ``message``, answered
    with ``status``; the request carries the priority (and the id, when one was asked for)."""
    tool.manual(SetDisplayMessage(message))
    incoming = await tool.expect(step, msg.SetDisplayMessageRequest)
    incoming.answer(msg.SetDisplayMessageResponse(status=status))
    request = incoming.request
    expect_present(step, request, "message.id")
    expect_field(step, request, "message.priority", message["priority"])
    expect_field(step, request, "message.message.content", message["message"]["content"])
    if "id" in message:
        expect_field(step, request, "message.id", message["id"])
    for field in ("startDateTime", "endDateTime"):
        if field in message:
            sent = expect_present(step, request, f"message.{field}")
            if from_wire(str(sent)) != from_wire(message[field]):
                raise StepFailed(step, f"message.{field} is {sent}, expected {message[field]}")
    for field in ("state", "transactionId"):
        if field in message:
            expect_field(step, request, f"message.{field}", message[field])
    await tool.settle()
    return request


async def get_messages(
    tool: CsmsTool, action: GetDisplayMessages, status: en.GetDisplayMessagesStatusEnumType
) -> msg.GetDisplayMessagesRequest:
    """Steps 1 / 2: the CSMS's GetDisplayMessages with a requestId, answered with ``status``."""
    tool.manual(action)
    incoming = await tool.expect(1, msg.GetDisplayMessagesRequest)
    incoming.answer(msg.GetDisplayMessagesResponse(status=status))
    expect_present(1, incoming.request, "requestId")
    await tool.settle()
    return incoming.request


async def report(tool: CsmsTool, request_id: int, info: dt.MessageInfoType) -> None:
    """Steps 3 / 4: the tool's NotifyDisplayMessages and the CSMS's answer."""
    request = msg.NotifyDisplayMessagesRequest(request_id=request_id, message_info=[info])
    await send_as(3, tool, request, msg.NotifyDisplayMessagesResponse)


def configured_info(**fields: Any) -> dt.MessageInfoType:
    content = dt.MessageContentType(format=en.MessageFormatEnumType.ASCII, content="configured message")
    return dt.MessageInfoType(
        id=CONFIGURED_ID, priority=en.MessagePriorityEnumType(PRIORITY), message=content, **fields
    )


# --- O01 / O02 / O06: set ---


@case("TC_O_01_CSMS", "Set Display Message - Success", use_cases=("O01",))
async def tc_o_01(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_01_CSMS"))


@case("TC_O_26_CSMS", "Set Display Message - Rejected", use_cases=("O01",))
async def tc_o_26(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_26_CSMS"), Status.REJECTED)


@case("TC_O_13_CSMS", "Set Display Message - Display message at StartTime", use_cases=("O01",))
async def tc_o_13(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_13_CSMS", startDateTime=moment(1)))


@case("TC_O_14_CSMS", "Set Display Message - Remove message after EndTime", use_cases=("O01",))
async def tc_o_14(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_14_CSMS", endDateTime=moment(2)))


@case("TC_O_17_CSMS", "Set Display Message - NotSupportedPriority", use_cases=("O01",))
async def tc_o_17(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_17_CSMS"), Status.NOT_SUPPORTED_PRIORITY)


@case("TC_O_18_CSMS", "Set Display Message - NotSupportedState", use_cases=("O01",))
async def tc_o_18(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_18_CSMS", state=STATE), Status.NOT_SUPPORTED_STATE)


@case("TC_O_19_CSMS", "Set Display Message - NotSupportedMessageFormat", use_cases=("O01",))
async def tc_o_19(tool: CsmsTool) -> None:
    await set_message(tool, 1, wanted("TC_O_19_CSMS"), Status.NOT_SUPPORTED_MESSAGE_FORMAT)


@case("TC_O_12_CSMS", "Set Display Message - Replace DisplayMessage", use_cases=("O06",))
async def tc_o_12(tool: CsmsTool) -> None:
    await set_message(tool, "before", wanted("TC_O_12_CSMS first", id=CONFIGURED_ID))
    await set_message(tool, 1, wanted("TC_O_12_CSMS replaced", id=CONFIGURED_ID, priority="InFront"))


async def for_transaction(tool: CsmsTool, **fields: Any) -> None:
    """EnergyTransferStarted, then a SetDisplayMessage for the tool's transaction, then EVDisconnected."""
    await energy_transfer_started(tool)
    assert tool.transaction is not None
    await set_message(tool, 1, wanted("for your session", transactionId=tool.transaction.id, **fields))
    await ev_disconnected(tool)


@case("TC_O_06_CSMS", "Set Display Message - Specific transaction - Success", use_cases=("O02",))
async def tc_o_06(tool: CsmsTool) -> None:
    await for_transaction(tool)


@case("TC_O_10_CSMS", "Set Display Message - Specific transaction - UnknownTransaction", use_cases=("O02",))
async def tc_o_10(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)
    message = wanted("TC_O_10_CSMS", transactionId="unknown-transaction-0010")
    await set_message(tool, 1, message, Status.UNKNOWN_TRANSACTION)


@case(
    "TC_O_27_CSMS",
    "Set Display Message - Specific transaction - Display message at StartTime",
    use_cases=("O02",),
)
async def tc_o_27(tool: CsmsTool) -> None:
    await for_transaction(tool, startDateTime=moment(1))


@case(
    "TC_O_28_CSMS",
    "Set Display Message - Specific transaction - Remove message after EndTime",
    use_cases=("O02",),
)
async def tc_o_28(tool: CsmsTool) -> None:
    await for_transaction(tool, endDateTime=moment(2), state=STATE)


# --- O03 / O04: get ---


async def configured(tool: CsmsTool, **fields: Any) -> None:
    """Memory state: the configured message set through the CSMS (answered Accepted)."""
    await set_message(tool, "before", wanted("configured message", id=CONFIGURED_ID, **fields))


@case("TC_O_02_CSMS", "Get all Display Messages - Success", use_cases=("O03",))
async def tc_o_02(tool: CsmsTool) -> None:
    await configured(tool)
    accepted = en.GetDisplayMessagesStatusEnumType.ACCEPTED
    request = await get_messages(tool, GetDisplayMessages(), accepted)
    for field in ("id", "priority", "state"):
        expect_absent(1, request, field)
    await report(tool, request.request_id, configured_info())


@case("TC_O_03_CSMS", "Get all Display Messages - No DisplayMessages configured", use_cases=("O03",))
async def tc_o_03(tool: CsmsTool) -> None:
    await get_messages(tool, GetDisplayMessages(), en.GetDisplayMessagesStatusEnumType.UNKNOWN)


@case("TC_O_07_CSMS", "Get a Specific Display Message - Id", use_cases=("O04",))
async def tc_o_07(tool: CsmsTool) -> None:
    await configured(tool)
    accepted = en.GetDisplayMessagesStatusEnumType.ACCEPTED
    request = await get_messages(tool, GetDisplayMessages(ids=(CONFIGURED_ID,)), accepted)
    if request.id != [CONFIGURED_ID]:
        raise StepFailed(1, f"GetDisplayMessagesRequest.id is {request.id}, expected [{CONFIGURED_ID}]")
    expect_absent(1, request, "priority")
    expect_absent(1, request, "state")
    await report(tool, request.request_id, configured_info())


@case("TC_O_08_CSMS", "Get a Specific Display Message - Priority", use_cases=("O04",))
async def tc_o_08(tool: CsmsTool) -> None:
    await configured(tool)
    accepted = en.GetDisplayMessagesStatusEnumType.ACCEPTED
    request = await get_messages(tool, GetDisplayMessages(priority=PRIORITY), accepted)
    expect_field(1, request, "priority", PRIORITY)
    expect_absent(1, request, "id")
    expect_absent(1, request, "state")
    await report(tool, request.request_id, configured_info())


@case("TC_O_09_CSMS", "Get a Specific Display Message - State", use_cases=("O04",))
async def tc_o_09(tool: CsmsTool) -> None:
    await configured(tool, state=STATE)
    accepted = en.GetDisplayMessagesStatusEnumType.ACCEPTED
    request = await get_messages(tool, GetDisplayMessages(state=STATE), accepted)
    expect_field(1, request, "state", STATE)
    expect_absent(1, request, "id")
    expect_absent(1, request, "priority")
    await report(tool, request.request_id, configured_info(state=en.MessageStateEnumType(STATE)))


# --- O05: clear ---


async def clear(tool: CsmsTool, message_id: int, status: en.ClearMessageStatusEnumType) -> None:
    tool.manual(ClearDisplayMessage(message_id))
    incoming = await tool.expect(1, msg.ClearDisplayMessageRequest)
    incoming.answer(msg.ClearDisplayMessageResponse(status=status))
    expect_field(1, incoming.request, "id", message_id)
    await tool.settle()


@case("TC_O_04_CSMS", "Clear Display Message - Success", use_cases=("O05",))
async def tc_o_04(tool: CsmsTool) -> None:
    await configured(tool)
    await clear(tool, CONFIGURED_ID, en.ClearMessageStatusEnumType.ACCEPTED)


@case("TC_O_05_CSMS", "Clear Display Message - Unknown Key", use_cases=("O05",))
async def tc_o_05(tool: CsmsTool) -> None:
    await clear(tool, CONFIGURED_ID + 99, en.ClearMessageStatusEnumType.UNKNOWN)
