"""Block C, online authorization through the Local Authorization List (Part 6 §2.4, C09 / C14),
charging-station side; profile Local Authorization List Management.

Readings:
* The Memory State ("a known ... idToken is configured in the Local Authorization List") is set with a
  SendLocalList Full carrying the token(s) with the status the case names (and the group, for TC_C_40 /
  C_43), its version one above the station's (GetLocalListVersion); the tool sends an empty Full list at the
  end, so that a case leaves no list behind (the next case's tokens must reach the CSMS).
* The Configuration State is set with SetVariables and put back at the end; a variable the station rejects
  ("if implemented") is left as it is.
* TC_C_27 / C_40 (an Accepted token in the list, LocalPreAuthorize true): C14.FR.02 authorizes it locally,
  so an AuthorizeRequest for it fails the case.
* TC_C_29's response status "Restricted" is read as Blocked (its token is the blocked one); TC_C_30's list
  entry is the expired token with status Expired.
* TC_C_40 step 4: the StopAuthorized event's eventType depends on TxStopPoint (Ended when it contains
  Authorized), so it is not checked; its idToken may be either token of the group, or none.
* TC_C_43's step 4 validation names the valid token and a step 6 the table does not have: read as the
  invalid token presented, and as "the transaction is not stopped".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import msgspec

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.c_auth_cache import (
    Setting,
    cached_accepted_start,
    config_state,
    local_pre_authorize,
)
from chargeplane.tools.conformance.cases.cs.c_authorization import (
    RECEIVE_WITHIN,
    Status,
    Trigger,
    answer_as,
    authorized_answered,
    carries_token,
    expect_no,
    group_token,
    no_ended_event,
    present,
    token_of,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
)
from chargeplane.tools.conformance.station_steps import StationTool

PROFILE = ("Local Authorization List Management",)
LIST = "LocalAuthListCtrlr"
LIST_ON: Setting = (LIST, "Enabled", "true")
Entry = tuple[str, str, Status, dt.IdTokenType | None]  # token, type, status, group


async def _send_list(tool: StationTool, step: str, entries: Sequence[Entry]) -> None:
    current = await tool.send_as(step, msg.GetLocalListVersionRequest(), msg.GetLocalListVersionResponse)
    items = [
        dt.AuthorizationData(
            id_token=token_of(value, token_type),
            id_token_info=(
                dt.IdTokenInfoType(status=status)
                if group is None
                else dt.IdTokenInfoType(status=status, group_id_token=group)
            ),
        )
        for value, token_type, status, group in entries
    ]
    request = msg.SendLocalListRequest(
        version_number=current.version_number + 1,
        update_type=en.UpdateEnumType.FULL,
        local_authorization_list=items if items else msgspec.UNSET,
    )
    response = await tool.send_as(step, request, msg.SendLocalListResponse)
    expect_field(step, response, "status", "Accepted")


@asynccontextmanager
async def in_local_list(tool: StationTool, *entries: Entry) -> AsyncIterator[None]:
    """Memory State: the entries in the station's Local Authorization List, an empty list again at the end."""
    await _send_list(tool, "before", entries)
    try:
        yield
    finally:
        if tool.endpoint.is_connected:
            await _send_list(tool, "after", ())


def settings(disable_post_authorize: bool | None = None) -> tuple[Setting, ...]:
    chosen = [LIST_ON, local_pre_authorize(True)]
    if disable_post_authorize is not None:
        chosen.append((LIST, "DisablePostAuthorize", "true" if disable_post_authorize else "false"))
    return tuple(chosen)


def valid_entry(tool: StationTool, group: dt.IdTokenType | None = None) -> Entry:
    configured = tool.configured
    return configured.valid_idtoken, configured.valid_idtoken_type, Status.ACCEPTED, group


async def listed_refused(tool: StationTool, value: str, token_type: str, status: Status) -> None:
    """TC_C_28 / C_29 / C_30: a token listed with ``status``, presented with EV connected: the station asks
    (C14.FR.03), the tool refuses it again, and no transaction starts for it."""
    answer_as(tool, value, status)
    async with (
        in_local_list(tool, (value, token_type, status, None)),
        config_state(tool, *settings(disable_post_authorize=False)),
    ):
        await ev_connected_pre_session(tool)
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


@case(
    "TC_C_27_CS",
    "Online authorization through local authorization list - Accepted",
    use_cases=("C14",),
    requirements=("C14.FR.02",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_27_cs(tool: StationTool) -> None:
    configured = tool.configured
    value, token_type = configured.valid_idtoken, configured.valid_idtoken_type
    async with in_local_list(tool, valid_entry(tool)), config_state(tool, *settings()):
        seen_before = len(tool.seen)
        await present(tool, value, token_type)
        tool.progress.add("Authorized")
        await ev_connected_pre_session(tool)  # 3.
        await energy_transfer_started(tool)  # 4.
        # 1. / 2. (optional): the event that says Authorized carries the listed token
        for event in tool.seen[seen_before:]:
            if isinstance(event, TxEvent) and event.trigger_reason is Trigger.AUTHORIZED:
                expect_field(1, event, "idToken.idToken", value)
                expect_field(1, event, "idToken.type", token_type)
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            raise StepFailed(1, f"the station sent an AuthorizeRequest for {value}, Accepted in its list")


@case(
    "TC_C_28_CS",
    "Online authorization through local authorization list - Invalid & Not Accepted",
    use_cases=("C14",),
    requirements=("C14.FR.03",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_28_cs(tool: StationTool) -> None:
    configured = tool.configured
    await listed_refused(tool, configured.invalid_idtoken, configured.invalid_idtoken_type, Status.INVALID)


@case(
    "TC_C_29_CS",
    "Online authorization through local authorization list - Blocked",
    use_cases=("C14",),
    requirements=("C14.FR.03",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_29_cs(tool: StationTool) -> None:
    configured = tool.configured
    await listed_refused(tool, configured.blocked_idtoken, configured.blocked_idtoken_type, Status.BLOCKED)


@case(
    "TC_C_30_CS",
    "Online authorization through local authorization list - Expired",
    use_cases=("C14",),
    requirements=("C14.FR.03",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_30_cs(tool: StationTool) -> None:
    configured = tool.configured
    await listed_refused(tool, configured.expired_idtoken, configured.expired_idtoken_type, Status.EXPIRED)


@case(
    "TC_C_31_CS",
    "Online authorization through local authorization list - Invalid & Accepted",
    use_cases=("C14",),
    requirements=("C14.FR.03",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_31_cs(tool: StationTool) -> None:
    configured = tool.configured
    value, token_type = configured.invalid_idtoken, configured.invalid_idtoken_type
    async with (
        in_local_list(tool, (value, token_type, Status.INVALID, None)),
        config_state(tool, *settings(disable_post_authorize=False)),
    ):
        answer_as(tool, value, Status.ACCEPTED)  # the CSMS accepts it now
        tool.answers.statuses.pop(value, None)
        await present(tool, value, token_type)  # 1. Authorized, with the listed Invalid token
        await authorized_answered(tool, "Authorized/1", value, token_type)
        tool.progress.add("Authorized")
        await ev_connected_pre_session(tool)  # 2.
        await energy_transfer_started(tool)  # 3.


@case(
    "TC_C_58_CS",
    "Online authorization through local authorization list - LocalAuthListDisablePostAuthorize",
    use_cases=("C14",),
    requirements=("C14.FR.03",),
    profiles=PROFILE,
    features=("LA-3",),
    timeout=60.0,
)
async def tc_c_58_cs(tool: StationTool) -> None:
    configured = tool.configured
    value, token_type = configured.invalid_idtoken, configured.invalid_idtoken_type
    async with (
        in_local_list(tool, (value, token_type, Status.INVALID, None)),
        config_state(tool, *settings(disable_post_authorize=True)),
    ):
        await present(tool, value, token_type)
        await expect_no(  # 1.
            tool,
            1,
            msg.AuthorizeRequest,
            configured.silence_wait,
            lambda m: isinstance(m, msg.AuthorizeRequest) and m.id_token.id_token == value,
            "an AuthorizeRequest for a token listed Invalid (LocalAuthListCtrlr.DisablePostAuthorize true)",
        )
        await expect_no(tool, 1, TxEvent, 0.5, carries_token, "a TransactionEventRequest for a refused token")


@case(
    "TC_C_40_CS",
    "Authorization by GroupId - Success with Local Authorization List",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03", "C09.FR.07"),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_40_cs(tool: StationTool) -> None:
    configured = tool.configured
    group = group_token(tool)
    value2, token_type2 = configured.valid_idtoken2, configured.valid_idtoken2_type
    second: Entry = (value2, token_type2, Status.ACCEPTED, group)
    answer_as(tool, configured.valid_idtoken, Status.ACCEPTED, group)
    answer_as(tool, value2, Status.ACCEPTED, group)
    async with in_local_list(tool, valid_entry(tool, group), second), config_state(tool, *settings()):
        await ev_connected_pre_session(tool)
        await cached_accepted_start(tool, 1)  # 1. / 2. (optional), 3.
        seen_before = len(tool.seen)
        await present(tool, value2, token_type2)
        event = await tool.expect_answered(  # 4.
            4, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.STOP_AUTHORIZED
        )
        expect_field(4, event, "idToken.idToken", configured.valid_idtoken, value2, "absent")
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            raise StepFailed(4, "the station sent an AuthorizeRequest for a listed token of the same group")
        await ev_disconnected(tool)  # 5. - 7.


@case(
    "TC_C_43_CS",
    "Authorization by GroupId - Invalid status with Local Authorization List",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03", "C09.FR.07"),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_c_43_cs(tool: StationTool) -> None:
    configured = tool.configured
    group = group_token(tool)
    bad, bad_type = configured.invalid_idtoken, configured.invalid_idtoken_type
    answer_as(tool, configured.valid_idtoken, Status.ACCEPTED, group)
    answer_as(tool, bad, Status.INVALID, group)
    listed = (valid_entry(tool, group), (bad, bad_type, Status.INVALID, group))
    async with in_local_list(tool, *listed), config_state(tool, *settings()):
        await ev_connected_pre_session(tool)
        await cached_accepted_start(tool, 1)  # 1. / 2. (optional), 3.
        await present(tool, bad, bad_type)
        await authorized_answered(tool, 4, bad, bad_type)  # 4. / 5.
        await expect_no(
            tool,
            5,
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
