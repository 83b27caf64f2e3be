"""Block C, Authorization (Part 6 §2.4), charging-station side: local start with the CSMS's Authorize
results, stop by another token, GroupId and master pass.

Readings:
* Part 5 conditions "C-30 or C-31 or C-32" (the station's local authorization means) leave a case mandatory,
  as in the other blocks; "NOT AQ-2" too. TC_C_05 needs AQ-2 (a cable lock that keeps the EV out before
  authorization), a question of the certification form taken here as a feature the declaration states.
* TC_C_06's damaged text ("Linked", "Locked") is the Blocked case; its and TC_C_07's note "after the
  AuthorizationRequest from step 7" is read as step 1.
* "The OCTT waits <Configured message timeout>": the declaration's ``message_timeout``, during which the
  station must send no TransactionEventRequest carrying the refused token (TC_C_04: none with an idToken).
* Optional TransactionEventRequests ("when TxStartPoint contains Authorized ...") are not required; those
  that came are checked (triggerReason Authorized: the presented token).
* TC_C_42's step 6 validation names the valid token: read as the invalid token presented at that step.
* TC_C_39 step 8 validates the first token: the StopAuthorized event may carry the token presented to stop
  (the second one) or the first; absent is accepted too (StopAuthorized state, step 1).
* TC_C_45 step 1 and the master pass cases name the valid token in their validations: read as the master
  pass token presented. C16.FR.04/05 let a station decide on a master pass it knows from its cache or list
  without asking: the AuthorizeRequest of step 1 is then not required (as the Authorized state allows for a
  cached token), the stop of step 3 is.
* EVConnectedPostSession, EVDisconnected and ParkingBayUnoccupied run as the EVDisconnected state (no
  parking bay sensor in this slice); TC_C_48's "all other EVSE" check has nothing to look at with one EVSE.
* The tool sets AuthCtrlr.MasterPassGroupId itself (Configuration State) and clears it at the end.
"""

from __future__ import annotations

from collections.abc import Callable

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.f_remote_control import set_variable
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import MasterPassStop, PresentToken
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    authorized_local,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.steps import Incoming

Status = en.AuthorizationStatusEnumType
Trigger = en.TriggerReasonEnumType
RECEIVE_WITHIN = 10.0


# ---------------------------------------------------------------------- helpers (also for the other C modules)
def token_of(value: str, token_type: str) -> dt.IdTokenType:
    return dt.IdTokenType(id_token=value, type=en.IdTokenEnumType(token_type))


def group_token(tool: StationTool) -> dt.IdTokenType:
    configured = tool.configured
    return token_of(configured.group_idtoken, configured.group_idtoken_type)


def master_group(tool: StationTool) -> dt.IdTokenType:
    return token_of(tool.configured.master_pass_group_id, "Central")


def answer_as(tool: StationTool, value: str, status: Status, group: dt.IdTokenType | None = None) -> None:
    """From now on the tool answers ``value`` with ``status`` (and ``group``), in Authorize and TransactionEvent
    responses alike."""
    if status is Status.ACCEPTED:
        tool.answers.valid_tokens.add(value)
    else:
        tool.answers.valid_tokens.discard(value)
        tool.answers.statuses[value] = status
    if group is not None:
        tool.answers.groups[value] = group


async def present(tool: StationTool, value: str, token_type: str) -> None:
    await tool.manual(PresentToken(value, token_type))


async def authorize_request(
    tool: StationTool, step: int | str, value: str, token_type: str
) -> Incoming[msg.AuthorizeRequest]:
    """The station's AuthorizeRequest for ``value`` (answered by the caller)."""
    incoming = await tool.expect(step, msg.AuthorizeRequest, RECEIVE_WITHIN)
    expect_field(step, incoming.request, "idToken.idToken", value)
    expect_field(step, incoming.request, "idToken.type", token_type)
    return incoming


async def authorized_answered(tool: StationTool, step: int | str, value: str, token_type: str) -> None:
    """Steps n / n+1: the AuthorizeRequest for ``value``, answered as :func:`answer_as` set."""
    incoming = await authorize_request(tool, step, value, token_type)
    tool.answer_default(incoming)


async def expect_no(
    tool: StationTool,
    step: int | str,
    request_type: type[Payload],
    within: float,
    where: Callable[[Payload], bool],
    what: str,
) -> None:
    """Fail when the station sends a ``request_type`` for which ``where`` holds within ``within`` seconds."""
    try:
        incoming = await tool.expect(step, request_type, within, where=where)
    except StepFailed:
        return
    tool.answer_default(incoming)
    raise StepFailed(step, f"the station sent {what}")


def carries_token(event: Payload) -> bool:
    return isinstance(event, TxEvent) and field_value(event, "idToken") not in (None, ABSENT)


def check_authorized_events(tool: StationTool, step: int | str, value: str, token_type: str) -> None:
    """The optional TransactionEventRequest(s) with triggerReason Authorized that came: the presented token,
    eventType Started for a transaction's first event, else Updated."""
    first: set[str] = set()
    for event in transaction_events(tool):
        tx = event.transaction_info.transaction_id
        is_first = tx not in first
        first.add(tx)
        if event.trigger_reason is not Trigger.AUTHORIZED:
            continue
        expect_field(step, event, "idToken.idToken", value)
        expect_field(step, event, "idToken.type", token_type)
        expect_field(step, event, "eventType", "Started" if is_first else "Updated")


def no_ended_event(tool: StationTool, step: int | str) -> None:
    if any(e.event_type is en.TransactionEventEnumType.ENDED for e in transaction_events(tool)):
        raise StepFailed(step, "the station ended the transaction")


async def refused_at_start(tool: StationTool, value: str, token_type: str, status: Status) -> None:
    """TC_C_02 / C_06 / C_07 / C_56 main scenario: the token presented, refused with ``status``, and no
    TransactionEventRequest for it afterwards."""
    answer_as(tool, value, status)
    await present(tool, value, token_type)
    await authorized_answered(tool, 1, value, token_type)  # 1. / 2.
    await expect_no(
        tool,
        2,
        TxEvent,
        tool.configured.silence_wait,
        carries_token,
        f"a TransactionEventRequest after the {status} AuthorizeResponse",
    )


async def set_master_pass(tool: StationTool, value: str) -> None:
    await set_variable(tool, "before", "AuthCtrlr", "MasterPassGroupId", value)


def _master_pass_stop(event: Payload) -> bool:
    return isinstance(event, TxEvent) and field_value(event, "transactionInfo.stoppedReason") == (
        en.ReasonEnumType.MASTER_PASS
    )


async def master_pass_presented(tool: StationTool, with_ui: MasterPassStop | None) -> None:
    """C16 steps 1-4: the master pass presented; its AuthorizeRequest (unless the station knows it, C16.FR.04/05)
    answered Accepted with the master pass group; then (with a UI, the choice made) the stop."""
    configured = tool.configured
    value, token_type = configured.masterpass_idtoken, configured.masterpass_idtoken_type
    answer_as(tool, value, Status.ACCEPTED, master_group(tool))
    await present(tool, value, token_type)

    def asked_or_stopped(m: Payload) -> bool:
        return isinstance(m, msg.AuthorizeRequest) or _master_pass_stop(m)

    first = await tool.expect(1, Payload, RECEIVE_WITHIN, where=asked_or_stopped)
    if isinstance(first.request, msg.AuthorizeRequest):
        expect_field(1, first.request, "idToken.idToken", value)
        expect_field(1, first.request, "idToken.type", token_type)
        tool.answer_default(first)  # 2.
        if with_ui is not None:
            await tool.manual(with_ui)
        incoming: Incoming[Payload] = await tool.expect(3, Payload, RECEIVE_WITHIN, where=_master_pass_stop)
    else:
        incoming = first  # decided from the station's own cache or list (C16.FR.04 / FR.05)
    event = incoming.request
    assert isinstance(event, TxEvent)
    expect_field(3, event, "transactionInfo.stoppedReason", "MasterPass")
    if field_value(event, "idToken") is not ABSENT:
        expect_field(3, event, "idToken.idToken", value)
        expect_field(3, event, "idToken.type", token_type)
    tool.answer_default(incoming)  # 4.


# ---------------------------------------------------------------------- local start, refused
@case(
    "TC_C_02_CS",
    "Local start transaction - Authorization Invalid/Unknown",
    use_cases=("C01", "C04", "C06"),
    requirements=("C01.FR.02", "C06.FR.02"),
    timeout=30.0,
)
async def tc_c_02_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    configured = tool.configured
    await refused_at_start(tool, configured.invalid_idtoken, configured.invalid_idtoken_type, Status.INVALID)


@case(
    "TC_C_04_CS",
    "Local Stop Transaction - Different idToken",
    use_cases=("C01", "C04", "E07"),
    requirements=("C01.FR.02", "C01.FR.03"),
    timeout=40.0,
)
async def tc_c_04_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    configured = tool.configured
    value, token_type = configured.valid_idtoken2, configured.valid_idtoken2_type
    answer_as(tool, value, Status.ACCEPTED)
    await present(tool, value, token_type)
    await authorized_answered(tool, 1, value, token_type)  # 1. / 2.
    await expect_no(
        tool,
        2,
        TxEvent,
        configured.silence_wait,
        carries_token,
        "a TransactionEventRequest with an idToken after a different idToken was presented",
    )
    no_ended_event(tool, "post")


@case(
    "TC_C_05_CS",
    "Local start transaction - Authorization invalid - Cable lock",
    use_cases=("C01", "C04", "C06"),
    requirements=("C01.FR.02", "C06.FR.02"),
    features=("AQ-2",),
    timeout=30.0,
)
async def tc_c_05_cs(tool: StationTool) -> None:
    configured = tool.configured
    await refused_at_start(tool, configured.invalid_idtoken, configured.invalid_idtoken_type, Status.INVALID)


@case(
    "TC_C_06_CS",
    "Local start transaction - Authorization Blocked",
    use_cases=("C01",),
    requirements=("C01.FR.02",),
    timeout=30.0,
)
async def tc_c_06_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    configured = tool.configured
    await refused_at_start(tool, configured.blocked_idtoken, configured.blocked_idtoken_type, Status.BLOCKED)


@case(
    "TC_C_07_CS",
    "Local start transaction - Authorization Expired",
    use_cases=("C01",),
    requirements=("C01.FR.02",),
    timeout=30.0,
)
async def tc_c_07_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    configured = tool.configured
    await refused_at_start(tool, configured.expired_idtoken, configured.expired_idtoken_type, Status.EXPIRED)


@case(
    "TC_C_56_CS",
    "Local start transaction - Authorization Unknown",
    use_cases=("C01",),
    requirements=("C01.FR.02",),
    timeout=30.0,
)
async def tc_c_56_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    configured = tool.configured
    await refused_at_start(tool, configured.invalid_idtoken, configured.invalid_idtoken_type, Status.UNKNOWN)


# ---------------------------------------------------------------------- GroupId
async def start_with_group(tool: StationTool) -> None:
    """TC_C_39 / C_42 steps 1-5: the valid token of the group authorized, then charging."""
    configured = tool.configured
    answer_as(tool, configured.valid_idtoken, Status.ACCEPTED, group_token(tool))
    await present(tool, configured.valid_idtoken, configured.valid_idtoken_type)
    await authorized_answered(tool, 1, configured.valid_idtoken, configured.valid_idtoken_type)  # 1. / 2.
    tool.progress.add("Authorized")
    await energy_transfer_started(tool)  # 3. / 4. (optional), 5.
    check_authorized_events(tool, 3, configured.valid_idtoken, configured.valid_idtoken_type)


@case(
    "TC_C_39_CS",
    "Authorization by GroupId - Success",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03", "C09.FR.05"),
    timeout=40.0,
)
async def tc_c_39_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await start_with_group(tool)
    configured = tool.configured
    value, token_type = configured.valid_idtoken2, configured.valid_idtoken2_type
    answer_as(tool, value, Status.ACCEPTED, group_token(tool))
    await present(tool, value, token_type)
    await authorized_answered(tool, 6, value, token_type)  # 6. / 7.
    event = await tool.expect_answered(  # 8. / 9.
        8, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.STOP_AUTHORIZED
    )
    expect_field(8, event, "idToken.idToken", configured.valid_idtoken, value, "absent")
    await ev_disconnected(tool)  # 10. - 12.


@case(
    "TC_C_42_CS",
    "Authorization by GroupId - Not stopped by GroupId",
    use_cases=("C09",),
    requirements=("C09.FR.11",),
    timeout=40.0,
)
async def tc_c_42_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await start_with_group(tool)
    configured = tool.configured
    value, token_type = configured.invalid_idtoken, configured.invalid_idtoken_type
    answer_as(tool, value, Status.INVALID, group_token(tool))
    await present(tool, value, token_type)
    await authorized_answered(tool, 6, value, token_type)  # 6. / 7.
    await expect_no(
        tool,
        7,
        TxEvent,
        configured.silence_wait,
        lambda e: (
            isinstance(e, TxEvent)
            and (
                e.trigger_reason is Trigger.STOP_AUTHORIZED
                or e.event_type is en.TransactionEventEnumType.ENDED
            )
        ),
        "a TransactionEventRequest that stops the transaction after an Invalid token of the same group",
    )
    no_ended_event(tool, "post")


# ---------------------------------------------------------------------- master pass
@case(
    "TC_C_45_CS",
    "Authorization by GroupId - Master pass - Not able to start transaction + groupId",
    use_cases=("C09",),
    requirements=("C16.FR.03",),
    condition="C-07 or C-08",
    timeout=40.0,
)
async def tc_c_45_cs(tool: StationTool) -> None:
    configured = tool.configured
    value, token_type = configured.masterpass_idtoken, configured.masterpass_idtoken_type
    await set_master_pass(tool, configured.master_pass_group_id)
    try:
        answer_as(tool, value, Status.ACCEPTED, master_group(tool))
        await present(tool, value, token_type)
        await authorized_answered(tool, 1, value, token_type)  # 1. / 2.
        await ev_connected_pre_session(tool)  # 3.
        await expect_no(  # 4.
            tool,
            4,
            TxEvent,
            configured.silence_wait,
            lambda e: (
                isinstance(e, TxEvent)
                and e.trigger_reason is Trigger.CHARGING_STATE_CHANGED
                and field_value(e, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING
            ),
            "a TransactionEventRequest with chargingState Charging for a master pass",
        )
    finally:
        await set_master_pass(tool, "")


async def stop_with_master_pass(tool: StationTool, with_ui: MasterPassStop | None) -> None:
    configured = tool.configured
    await set_master_pass(tool, configured.master_pass_group_id)
    try:
        await authorized_local(tool)  # before: EnergyTransferStarted
        await energy_transfer_started(tool)
        await master_pass_presented(tool, with_ui)  # 1. - 4.
        await ev_disconnected(tool)  # 5. - 7.
    finally:
        await set_master_pass(tool, "")


@case(
    "TC_C_47_CS",
    "Stop Transaction with a Master Pass - With UI - All transactions",
    use_cases=("C16",),
    requirements=("C16.FR.01",),
    features=("C-07",),
    timeout=40.0,
)
async def tc_c_47_cs(tool: StationTool) -> None:
    await stop_with_master_pass(tool, MasterPassStop())


@case(
    "TC_C_48_CS",
    "Stop Transaction with a Master Pass - With UI - With UI - Specific transactions",
    use_cases=("C16",),
    requirements=("C16.FR.01",),
    features=("C-07",),
    timeout=40.0,
)
async def tc_c_48_cs(tool: StationTool) -> None:
    await stop_with_master_pass(tool, MasterPassStop(tool.configured.evse_id))


@case(
    "TC_C_49_CS",
    "Stop Transaction with a Master Pass - Without UI",
    use_cases=("C16",),
    requirements=("C16.FR.02",),
    features=("C-08",),
    timeout=40.0,
)
async def tc_c_49_cs(tool: StationTool) -> None:
    await stop_with_master_pass(tool, None)
