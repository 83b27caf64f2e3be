"""Block I, Tariff and Cost (Part 6, Advanced User Interface): the running and final cost shown to the driver,
charging-station side.

Readings:
* <Configured Cost> is the tariff text "0.25 EUR/kWh" the tool puts in personalMessage and
  updatedPersonalMessage; <Configured Cost2> the running totals 1.23 and 2.34 (TC_I_01: CostUpdated) or the
  totalCost of TransactionEvent answers (TC_I_07, TC_I_02: 4.56).
* The tool cannot see the display: "the Charging Station shows ..." is not judged; what the tables validate
  (the messages and their fields) is.
* TC_I_01 / I_07 step 6 ("The Charging Station sends a TransactionEventRequest"): the tool asks for one with
  TriggerMessage TransactionEvent (F06), so the case does not wait for the station's own update interval; steps
  6-9 are run twice (the "n times").
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_adapter import PresentToken
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    stop_authorized_local,
    transaction_id,
)
from chargeplane.tools.conformance.station_steps import StationTool, token_info

TARIFF_TEXT = "0.25 EUR/kWh"
RUNNING = (1.23, 2.34)
FINAL = 4.56


def _message(text: str) -> dt.MessageContentType:
    return dt.MessageContentType(format=en.MessageFormatEnumType.UTF8, content=text)


async def authorized_with_tariff(tool: StationTool) -> None:
    """Steps 1-4: Authorize answered Accepted with the tariff text; the TransactionEvent that follows."""
    configured = tool.configured
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
    incoming = await tool.expect(1, msg.AuthorizeRequest)
    expect_field(1, incoming.request, "idToken.idToken", configured.valid_idtoken)
    expect_field(1, incoming.request, "idToken.type", configured.valid_idtoken_type)
    info = token_info(incoming.request.id_token, tool.answers)
    incoming.answer(
        msg.AuthorizeResponse(
            id_token_info=dt.IdTokenInfoType(status=info.status, personal_message=_message(TARIFF_TEXT))
        )
    )
    event = await tool.expect_answered(
        3, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.AUTHORIZED
    )
    expect_field(3, event, "idToken.idToken", configured.valid_idtoken)
    expect_field(3, event, "idToken.type", configured.valid_idtoken_type)
    tool.progress.add("Authorized")


async def triggered_event(tool: StationTool, step: int) -> TxEvent:
    """Step 6 asked for with TriggerMessage, answered by default (the tool's answers say what it carries)."""
    evse = dt.EVSEType(id=tool.configured.evse_id)
    request = msg.TriggerMessageRequest(
        requested_message=en.MessageTriggerEnumType.TRANSACTION_EVENT, evse=evse
    )
    response = await tool.send_as(step, request, msg.TriggerMessageResponse)
    expect_field(step, response, "status", "Accepted")
    return await tool.expect_answered(
        step, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.TRIGGER
    )


async def end(tool: StationTool) -> None:
    tool.answers.total_cost = None
    tool.answers.updated_message = None
    await stop_authorized_local(tool)
    await ev_disconnected(tool)


@case(
    "TC_I_01_CS",
    "Show EV Driver running total cost during charging - costUpdatedRequest",
    use_cases=("I02",),
    requirements=("I02.FR.02",),
)
async def tc_i_01(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await authorized_with_tariff(tool)
    await energy_transfer_started(tool)
    tool.answers.updated_message = TARIFF_TEXT
    for total in RUNNING:
        await triggered_event(tool, 6)  # step 7: answered with updatedPersonalMessage
        request = msg.CostUpdatedRequest(total_cost=total, transaction_id=transaction_id(tool, 8))
        await tool.send_as(8, request, msg.CostUpdatedResponse)  # step 9
    await end(tool)


@case(
    "TC_I_07_CS",
    "Show EV Driver running total cost during charging - transactionResponse",
    use_cases=("I02",),
    requirements=("I02.FR.02",),
)
async def tc_i_07(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await authorized_with_tariff(tool)
    await energy_transfer_started(tool)
    tool.answers.updated_message = TARIFF_TEXT
    for total in RUNNING:
        tool.answers.total_cost = total  # step 8: totalCost in the TransactionEventResponse
        event = await triggered_event(tool, 6)
        expect_field(6, event, "transactionInfo.transactionId", transaction_id(tool, 6))
    await end(tool)


@case(
    "TC_I_02_CS",
    "Show EV Driver Final Total Cost After Charging",
    use_cases=("I03",),
    requirements=("I03.FR.01", "I03.FR.03"),
)
async def tc_i_02(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await authorized_with_tariff(tool)
    await energy_transfer_started(tool)
    tool.answers.total_cost = FINAL  # every answer of steps 1-4 may carry it; the Ended one must
    await stop_authorized_local(tool)
    await ev_disconnected(tool)
    ended = [
        e for e in tool.seen if isinstance(e, TxEvent) and e.event_type is en.TransactionEventEnumType.ENDED
    ]
    expect_field(4, ended[-1], "eventType", "Ended")  # I03.FR.01
    tool.answers.total_cost = None
