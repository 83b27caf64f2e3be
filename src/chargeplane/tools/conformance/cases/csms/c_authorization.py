"""Block C, Authorization (Part 6 §3.4).

Readings:
* TC_C_06's table is damaged in the converted text (its name and token say "Linked"); it is the
  blocked-token case: the blocked token is stored as Blocked at the CSMS, the answer must be Blocked or
  Invalid.
* TC_C_02 accepts Invalid or Unknown (a CSMS may not tell an unknown token from an invalid one).
* TC_C_08: the token "in the authorization cache" is the configured valid one (the cache is the station's;
  the CSMS only sees the TransactionEvent).
* TC_C_37 / C_38: the CSMS's ClearCacheRequest is a manual action; the tool answers Accepted / Rejected.
* TC_C_39's CSV name says "Groupld" (damaged): named "GroupId" as C_40 / C_43.
* TC_C_39 / C_40 / C_43 (C09): "<Configured groupIdToken>" is the group both valid tokens are stored with.
  TC_C_43 is named "Invalid status" but its steps and checks are those of a success (all Accepted, the
  group in every answer): the tool follows the table. Its check "ActivateResponse" is the AuthorizeResponse
  of step 5; the checks labelled with the tool's steps (1, 5) are those of the CSMS's answers (2, 5).
  TC_C_40 has no step 4 (damaged numbering); its steps are numbered as printed.
* TC_C_47 / C_48 / C_49 (C16): the converted text loses TC_C_47's and C_49's checks; read as TC_C_48's
  (Authorize and TransactionEvent answered Accepted with the master pass group). TC_C_48 step 1 and
  TC_C_49 step 3 name the valid token; both read as the master pass token, which the checks (the master
  pass group in the answer) and the other two cases imply. "For EVSE 1 and EVSE 2" uses the configured
  EVSE and ``second_evse_id``, EVSE 1 with the valid token and EVSE 2 with the second valid token;
  "EnergyTransferStarted for all EVSE" (TC_C_48) is the configured EVSE only.
"""

from __future__ import annotations

import contextlib
import uuid

from msgspec import UNSET

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.adapter import SendCommand
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import (
    authorize,
    id_token,
    send_as,
    status_notification,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import (
    Charging,
    Event,
    Trigger,
    energy_transfer_started,
    ev_connected_post_session,
    ev_connected_pre_session,
    ev_disconnected,
)
from chargeplane.tools.conformance.steps import CsmsTool, Transaction

LOCAL_LIST = ("Local Authorization List Management",)


async def authorize_expecting(tool: CsmsTool, token: str, token_type: str, *statuses: str) -> None:
    response = await send_as(1, tool, authorize(id_token(token, token_type)), msg.AuthorizeResponse)
    expect_field(2, response, "idTokenInfo.status", *statuses)


@case(
    "TC_C_02_CSMS",
    "Local start transaction - Authorization Invalid/Unknown",
    use_cases=("C01", "C04", "C06"),
    requirements=("C01.FR.07", "C04.FR.01", "C06.FR.04"),
)
async def tc_c_02(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.invalid_idtoken, c.invalid_idtoken_type, "Invalid", "Unknown")


@case(
    "TC_C_06_CSMS",
    "Local start transaction - Authorization Blocked",
    use_cases=("C01",),
    requirements=("C01.FR.07",),
)
async def tc_c_06(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.blocked_idtoken, c.blocked_idtoken_type, "Blocked", "Invalid")


@case(
    "TC_C_07_CSMS",
    "Local start transaction - Authorization Expired",
    use_cases=("C01",),
    requirements=("C01.FR.07",),
)
async def tc_c_07(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.expired_idtoken, c.expired_idtoken_type, "Expired", "Invalid")


@case(
    "TC_C_20_CSMS",
    "Authorization through authorization cache - Invalid",
    use_cases=("C12",),
    requirements=("C12.FR.03",),
)
async def tc_c_20(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    c = tool.configured
    token = id_token(c.invalid_idtoken, c.invalid_idtoken_type)
    answer = await transaction_event(tool, 1, Event.UPDATED, Trigger.AUTHORIZED, token=token)
    expect_field(2, answer, "idTokenInfo.status", "Invalid", "Unknown")


@case(
    "TC_C_08_CSMS",
    "Authorization through authorization cache - Accepted",
    use_cases=("C12",),
    requirements=("C12.FR.03",),
)
async def tc_c_08(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    answer = await transaction_event(
        tool, 1, Event.UPDATED, Trigger.AUTHORIZED, token=valid_token(tool.configured)
    )
    expect_field(2, answer, "idTokenInfo.status", "Accepted")
    tool.progress.authorized = True


async def clear_cache(tool: CsmsTool, status: en.ClearCacheStatusEnumType) -> None:
    tool.manual(SendCommand("ClearCache", what="clear the authorization cache"))
    incoming = await tool.expect(1, msg.ClearCacheRequest)
    incoming.answer(msg.ClearCacheResponse(status=status))
    await tool.settle()


@case("TC_C_37_CSMS", "Clear Authorization Data in Authorization Cache - Accepted", use_cases=("C11",))
async def tc_c_37(tool: CsmsTool) -> None:
    await clear_cache(tool, en.ClearCacheStatusEnumType.ACCEPTED)


@case("TC_C_38_CSMS", "Clear Authorization Data in Authorization Cache - Rejected", use_cases=("C11",))
async def tc_c_38(tool: CsmsTool) -> None:
    await clear_cache(tool, en.ClearCacheStatusEnumType.REJECTED)


def expect_group(step: int, answer: Payload, group: str) -> None:
    """A C09 / C16 answer: the token Accepted, with the group it is stored with."""
    expect_field(step, answer, "idTokenInfo.status", "Accepted")
    expect_field(step, answer, "idTokenInfo.groupIdToken.idToken", group)


def second_token(tool: CsmsTool) -> dt.IdTokenType:
    return id_token(tool.configured.valid_idtoken2, tool.configured.valid_idtoken2_type)


async def authorize_in_group(tool: CsmsTool, step: int, token: dt.IdTokenType, group: str) -> None:
    response = await send_as(step, tool, authorize(token), msg.AuthorizeResponse)
    expect_group(step + 1, response, group)


async def group_authorized(tool: CsmsTool, step: int) -> None:
    """The transaction (EV connected) is authorized by the valid token; the answer names the group."""
    event = Event.UPDATED if tool.transaction is not None else Event.STARTED
    token = valid_token(tool.configured)
    answer = await transaction_event(tool, step, event, Trigger.AUTHORIZED, token=token)
    expect_group(step + 1, answer, tool.configured.group_idtoken)
    tool.progress.authorized = True


async def group_stop(tool: CsmsTool, step: int) -> None:
    """The second valid token of the same group stops the transaction, then the EV leaves."""
    answer = await transaction_event(
        tool, step, Event.UPDATED, Trigger.STOP_AUTHORIZED, token=second_token(tool)
    )
    expect_group(step + 1, answer, tool.configured.group_idtoken)
    tool.progress.stop_authorized = True
    await ev_connected_post_session(tool)
    await ev_disconnected(tool)


@case(
    "TC_C_39_CSMS",
    "Authorization by GroupId - Success",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03"),
)
async def tc_c_39(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    group = tool.configured.group_idtoken
    await authorize_in_group(tool, 1, second_token(tool), group)
    await group_authorized(tool, 3)
    await energy_transfer_started(tool)  # 5
    await authorize_in_group(tool, 6, second_token(tool), group)
    await group_stop(tool, 8)  # 8-11


@case(
    "TC_C_40_CSMS",
    "Authorization by GroupId - Success with Local Authorization List",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03"),
    profiles=LOCAL_LIST,
)
async def tc_c_40(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    await group_authorized(tool, 1)
    await energy_transfer_started(tool)  # 3
    await group_stop(tool, 5)  # 5-8


@case(
    "TC_C_43_CSMS",
    "Authorization by GroupId - Invalid status with Local Authorization List",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03"),
    profiles=LOCAL_LIST,
)
async def tc_c_43(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    await group_authorized(tool, 1)
    await energy_transfer_started(tool)  # 3
    await authorize_in_group(tool, 4, second_token(tool), tool.configured.group_idtoken)
    await group_stop(tool, 6)  # 6-9


def master_pass(tool: CsmsTool) -> dt.IdTokenType:
    c = tool.configured
    return id_token(c.masterpass_idtoken, c.masterpass_idtoken_type)


async def master_pass_stop(tool: CsmsTool, step: int) -> None:
    """The tool's transaction ends, stopped by the master pass (stoppedReason MasterPass)."""
    answer = await transaction_event(
        tool,
        step,
        Event.ENDED,
        Trigger.STOP_AUTHORIZED,
        token=master_pass(tool),
        stopped_reason=en.ReasonEnumType.MASTER_PASS,
    )
    expect_group(step + 1, answer, tool.configured.master_pass_group_id)
    tool.progress = type(tool.progress)()


async def second_evse_charging(tool: CsmsTool, step: str, token: dt.IdTokenType) -> Transaction:
    """EnergyTransferStarted on the second EVSE, beside the tool's own transaction (which the reusable states
    and the clean-up look after): a transaction of its own, sent with explicit events."""
    c = tool.configured
    transaction = Transaction(id=str(uuid.uuid4()))
    status = status_notification(en.ConnectorStatusEnumType.OCCUPIED, c.second_evse_id, 1)
    await tool.send(step, status)
    response = await send_as(step, tool, authorize(token), msg.AuthorizeResponse)
    expect_field(step, response, "idTokenInfo.status", "Accepted")
    answer = await second_evse_event(
        tool, step, transaction, Event.STARTED, Trigger.AUTHORIZED, token=token, charging=Charging.CHARGING
    )
    expect_field(step, answer, "idTokenInfo.status", "Accepted")
    return transaction


async def second_evse_event(
    tool: CsmsTool,
    step: int | str,
    transaction: Transaction,
    event: en.TransactionEventEnumType,
    trigger: en.TriggerReasonEnumType,
    *,
    token: dt.IdTokenType | None = None,
    charging: en.ChargingStateEnumType | None = None,
    stopped_reason: en.ReasonEnumType | None = None,
) -> msg.TransactionEventResponse:
    evse = UNSET if transaction.evse_sent else dt.EVSEType(id=tool.configured.second_evse_id, connector_id=1)
    info = dt.TransactionType(
        transaction_id=transaction.id,
        charging_state=UNSET if charging is None else charging,
        stopped_reason=UNSET if stopped_reason is None else stopped_reason,
    )
    request = msg.TransactionEventRequest(
        event_type=event,
        timestamp=utc_now(),
        trigger_reason=trigger,
        seq_no=transaction.seq_no,
        transaction_info=info,
        evse=evse,
        id_token=UNSET if token is None else token,
    )
    transaction.seq_no += 1
    transaction.evse_sent = True
    return await send_as(step, tool, request, msg.TransactionEventResponse)


async def stop_all_with_master_pass(tool: CsmsTool) -> None:
    """TC_C_47 / C_49: two EVSEs charging; the master pass is presented and ends both transactions."""
    other = await second_evse_charging(tool, "before", second_token(tool))
    ended = False
    try:
        await energy_transfer_started(tool)  # before, EVSE 1 with the valid token
        await authorize_in_group(tool, 1, master_pass(tool), tool.configured.master_pass_group_id)
        await master_pass_stop(tool, 3)
        answer = await second_evse_event(
            tool,
            3,
            other,
            Event.ENDED,
            Trigger.STOP_AUTHORIZED,
            token=master_pass(tool),
            stopped_reason=en.ReasonEnumType.MASTER_PASS,
        )
        ended = True
        expect_group(4, answer, tool.configured.master_pass_group_id)
    finally:  # outside the verdict, as the runner's clean-up: the second EVSE's transaction ends
        if not ended and tool.link.connected:
            with contextlib.suppress(StepFailed):
                await second_evse_event(tool, "clean-up", other, Event.ENDED, Trigger.EV_COMMUNICATION_LOST)


@case(
    "TC_C_47_CSMS",
    "Stop Transaction with a Master Pass - With UI - All transactions",
    use_cases=("C16",),
    requirements=("C16.FR.01",),
)
async def tc_c_47(tool: CsmsTool) -> None:
    await stop_all_with_master_pass(tool)


@case(
    "TC_C_48_CSMS",
    "Stop Transaction with a Master Pass - With UI - With UI - Specific transactions",
    use_cases=("C16",),
    requirements=("C16.FR.01",),
)
async def tc_c_48(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await authorize_in_group(tool, 1, master_pass(tool), tool.configured.master_pass_group_id)
    await master_pass_stop(tool, 3)


@case(
    "TC_C_49_CSMS",
    "Stop Transaction with a Master Pass - Without UI",
    use_cases=("C16",),
    requirements=("C16.FR.02",),
)
async def tc_c_49(tool: CsmsTool) -> None:
    await stop_all_with_master_pass(tool)
