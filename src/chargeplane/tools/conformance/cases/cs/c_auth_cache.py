"""Block C, Authorization Cache (Part 6 §2.4, use cases C10-C12), charging-station side.

Readings:
* Memory State IdTokenCached is reached by presenting the token and answering its AuthorizeRequest with the
  status the case needs (and the group); an Accepted token leaves the EVSE authorized with no EV, so the same
  token is presented again to end that authorization (the table's EVConnectedPreSession /
  ParkingBayUnoccupied round serves the same end). It runs before the case's Configuration State (while
  AuthCtrlr.LocalPreAuthorize is still false, a general precondition), so that the station asks the tool.
* The Configuration State is set with SetVariables ("if implemented": a variable the station rejects is left
  as it is) and put back at the end.
* TC_C_08 / C_13 / C_32 (an Accepted token in the cache, LocalPreAuthorize true): C12.FR.02 starts without
  an AuthorizeRequest, so one sent for that token fails the case.
* TC_C_10's response status "Restricted" is read as Blocked (its token is the blocked one); TC_C_11's step 1
  validation names the valid token and its step 2 a TransactionEventResponse: read as the expired token and
  an AuthorizeResponse.
* TC_C_33 needs an AuthorizeRequest at step 1 (no Memory State): the tool clears the cache first (a cached
  Accepted token with LocalPreAuthorize true would be authorized locally). Its step 12 is required: the
  cached Accepted token is authorized locally with the EV connected, which opens or updates the transaction.
* TC_C_41 / C_44: the tokens are cached with the group. TC_C_41 step 4 (StopAuthorized, C09.FR.07: no
  AuthorizeRequest) may carry either token or none.
* TC_C_15 to C_18 (the cache while offline) are in ``c_auth_cache_offline``.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.c_authorization import (
    RECEIVE_WITHIN,
    Status,
    Trigger,
    answer_as,
    authorized_answered,
    carries_token,
    check_authorized_events,
    expect_no,
    group_token,
    no_ended_event,
    present,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    authorized_local,
    booted,
    configuration,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    stop_authorized_local,
)
from chargeplane.tools.conformance.station_steps import StationTool

AUTH = "AuthCtrlr"
CACHE = "AuthCacheCtrlr"
Setting = tuple[str, str, str]  # component, variable, value


def config_state(tool: StationTool, *settings: Setting) -> AbstractAsyncContextManager[None]:
    """A case's Configuration State, put back when the case ends (pass or fail); the station's answers are not
    judged here (a case checks what it relies on)."""
    return configuration(tool, "before", [(c, v, None, value, False) for c, v, value in settings])


def local_pre_authorize(value: bool) -> Setting:
    return (AUTH, "LocalPreAuthorize", "true" if value else "false")


CACHE_ON: Setting = (CACHE, "Enabled", "true")


async def id_token_cached(
    tool: StationTool, value: str, token_type: str, status: Status, group: dt.IdTokenType | None = None
) -> None:
    """Memory State IdTokenCached: the token's AuthorizeRequest answered with ``status`` (and ``group``)."""
    answer_as(tool, value, status, group)
    await present(tool, value, token_type)
    await authorized_answered(tool, "IdTokenCached", value, token_type)
    if status is Status.ACCEPTED:  # the EVSE waits for an EV now: withdraw that authorization
        await asyncio.sleep(0.3)
        await present(tool, value, token_type)
    await tool.drain(0.5)


def no_authorize_for(tool: StationTool, step: int | str, value: str) -> None:
    """C12.FR.02 / C14.FR.02: an Accepted token in the cache or the list is authorized without asking."""
    for m in tool.seen:
        if isinstance(m, msg.AuthorizeRequest) and m.id_token.id_token == value:
            raise StepFailed(step, f"the station sent an AuthorizeRequest for {value}, Accepted locally")


def valid(tool: StationTool) -> tuple[str, str]:
    return tool.configured.valid_idtoken, tool.configured.valid_idtoken_type


def invalid(tool: StationTool) -> tuple[str, str]:
    return tool.configured.invalid_idtoken, tool.configured.invalid_idtoken_type


async def clear_cache(tool: StationTool, step: int | str) -> msg.ClearCacheResponse:
    return await tool.send_as(step, msg.ClearCacheRequest(), msg.ClearCacheResponse)


async def cached_accepted_start(tool: StationTool, step: int) -> None:
    """The cached Accepted valid token presented with LocalPreAuthorize true: no AuthorizeRequest; the
    optional TransactionEventRequest (triggerReason Authorized) checked once charging."""
    value, token_type = valid(tool)
    seen_before = len(tool.seen)
    await present(tool, value, token_type)
    tool.progress.add("Authorized")
    await energy_transfer_started(tool)
    check_authorized_events(tool, step, value, token_type)
    if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
        no_authorize_for(tool, step, value)


# ---------------------------------------------------------------------- C10 store
@case(
    "TC_C_32_CS",
    "Store Authorization Data in the Authorization Cache - Persistent over reboot",
    use_cases=("C10",),
    requirements=("C10.FR.02",),
    features=("C-49",),
    timeout=90.0,
)
async def tc_c_32_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, CACHE_ON, local_pre_authorize(True)):
        await booted(tool)  # 1.
        seen_before = len(tool.seen)
        await present(tool, value, token_type)
        tool.progress.add("Authorized")
        await ev_connected_pre_session(tool)  # 4.
        await energy_transfer_started(tool)  # 5.
        check_authorized_events(tool, 2, value, token_type)  # 2. / 3. (optional)
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            no_authorize_for(tool, 2, value)


@case(
    "TC_C_33_CS",
    "Store Authorization Data in the Authorization Cache - Update on AuthorizationResponse",
    use_cases=("C10",),
    requirements=("C10.FR.04", "C12.FR.06"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_33_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await clear_cache(tool, "before")
    settings = (CACHE_ON, local_pre_authorize(True), ("LocalAuthListCtrlr", "Enabled", "true"))
    async with config_state(tool, *settings):
        await ev_connected_pre_session(tool)
        answer_as(tool, value, Status.ACCEPTED)
        await present(tool, value, token_type)
        await authorized_answered(tool, 1, value, token_type)  # 1. / 2.
        tool.progress.add("Authorized")
        await energy_transfer_started(tool)  # 3. / 4. (optional), 5.
        check_authorized_events(tool, 3, value, token_type)
        await stop_authorized_local(tool)  # 6. EVConnectedPostSession (its StopAuthorized first)
        await ev_disconnected(tool)  # 7. / 8.
        await ev_connected_pre_session(tool)  # 9. / 10.
        answer_as(tool, value, Status.INVALID)
        seen_before = len(tool.seen)
        await present(tool, value, token_type)
        incoming = await tool.expect(  # 12.
            12, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.AUTHORIZED
        )
        event = incoming.request
        expect_field(12, event, "idToken.idToken", value)
        expect_field(12, event, "idToken.type", token_type)
        tool.answer_default(incoming)  # 13. idTokenInfo.status Invalid
        check_authorized_events(tool, 12, value, token_type)  # Started, or Updated in a started one
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            no_authorize_for(tool, 12, value)


@case(
    "TC_C_34_CS",
    "Store Authorization Data in the Authorization Cache - Update on TransactionResponse",
    use_cases=("C10",),
    requirements=("C10.FR.05", "C12.FR.06"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_34_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    settings = (CACHE_ON, local_pre_authorize(True), ("LocalAuthListCtrlr", "Enabled", "true"))
    async with config_state(tool, *settings):
        await ev_connected_pre_session(tool)
        answer_as(tool, value, Status.INVALID)
        await present(tool, value, token_type)
        tool.progress.add("Authorized")
        incoming = await tool.expect(  # 1.
            1, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.AUTHORIZED
        )
        expect_field(1, incoming.request, "idToken.idToken", value)
        expect_field(1, incoming.request, "idToken.type", token_type)
        tool.answer_default(incoming)  # 2. idTokenInfo.status Invalid
        check_authorized_events(tool, 1, value, token_type)
        await ev_disconnected(tool)  # 3. / 4.
        await ev_connected_pre_session(tool)  # 5. / 6.
        await present(tool, value, token_type)
        await authorized_answered(tool, 7, value, token_type)  # 7. / 8. Invalid


@case(
    "TC_C_36_CS",
    "Store Authorization Data in the Authorization Cache - AuthCacheCtrlr.LocalPreAuthorize = false",
    use_cases=("C10",),
    requirements=("C10.FR.11",),
    features=("C-49",),
    timeout=40.0,
)
async def tc_c_36_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, CACHE_ON, local_pre_authorize(False)):
        answer_as(tool, value, Status.INVALID)
        await present(tool, value, token_type)
        await authorized_answered(tool, 1, value, token_type)  # 1. / 2.


@case(
    "TC_C_46_CS",
    "Store Authorization Data in the Authorization Cache - AuthCacheLifeTime",
    use_cases=("C10",),
    requirements=("C10.FR.08",),
    features=("C-53",),
    timeout=60.0,
)
async def tc_c_46_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    duration = tool.configured.transaction_duration
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    lifetime: Setting = (CACHE, "LifeTime", str(duration))
    async with config_state(tool, lifetime, local_pre_authorize(True)):
        await ev_connected_pre_session(tool)
        await asyncio.sleep(duration + 1.0)  # 1. (past the lifetime since the token's last use)
        await authorized_local(tool)  # 2. the entry is gone: the station asks again


# ---------------------------------------------------------------------- C11 clear
@case(
    "TC_C_37_CS",
    "Clear Authorization Data in Authorization Cache - Accepted",
    use_cases=("C11",),
    requirements=("C11.FR.01", "C11.FR.02", "C11.FR.03"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_37_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, CACHE_ON):
        response = await clear_cache(tool, 1)  # 1. / 2.
        expect_field(2, response, "status", "Accepted")
        await ev_connected_pre_session(tool)  # 3. / 4.
        await present(tool, value, token_type)
        await authorized_answered(tool, 5, value, token_type)  # 5. / 6.
        tool.progress.add("Authorized")
        incoming = await tool.expect(  # 7. / 8.
            7, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.AUTHORIZED
        )
        tool.answer_default(incoming)
        await energy_transfer_started(tool)  # 9.


@case(
    "TC_C_38_CS",
    "Clear Authorization Data in Authorization Cache - Rejected",
    use_cases=("C11",),
    requirements=("C11.FR.01", "C11.FR.02", "C11.FR.04"),
    features=("C-49",),
    timeout=40.0,
)
async def tc_c_38_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, (CACHE, "Enabled", "false")):
        response = await clear_cache(tool, 1)  # 1. / 2.
        expect_field(2, response, "status", "Rejected")


# ---------------------------------------------------------------------- C09 with the cache
@case(
    "TC_C_41_CS",
    "Authorization by GroupId - Success with Authorization Cache",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03", "C09.FR.07"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_41_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    configured = tool.configured
    value2, token_type2 = configured.valid_idtoken2, configured.valid_idtoken2_type
    await id_token_cached(tool, value, token_type, Status.ACCEPTED, group_token(tool))
    await id_token_cached(tool, value2, token_type2, Status.ACCEPTED, group_token(tool))
    async with config_state(tool, CACHE_ON, local_pre_authorize(True)):
        await ev_connected_pre_session(tool)
        await cached_accepted_start(tool, 1)  # 1. / 2. (optional), 3.
        seen_before = len(tool.seen)
        await present(tool, value2, token_type2)
        event = await tool.expect_answered(  # 4.
            4, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.STOP_AUTHORIZED
        )
        expect_field(4, event, "idToken.idToken", value, value2, "absent")
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            raise StepFailed(4, "the station sent an AuthorizeRequest for a cached token of the same group")
        await ev_disconnected(tool)  # 5. - 7.


@case(
    "TC_C_44_CS",
    "Authorization by GroupId - Invalid status with Authorization Cache",
    use_cases=("C09",),
    requirements=("C09.FR.02", "C09.FR.03", "C09.FR.07"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_44_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    bad, bad_type = invalid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED, group_token(tool))
    await id_token_cached(tool, bad, bad_type, Status.INVALID, group_token(tool))
    async with config_state(tool, CACHE_ON, local_pre_authorize(True)):
        await ev_connected_pre_session(tool)
        await cached_accepted_start(tool, 1)  # 1. / 2. (optional), 3.
        await present(tool, bad, bad_type)
        await authorized_answered(tool, 4, bad, bad_type)  # 4. / 5. Invalid, the same group
        await expect_no(
            tool,
            5,
            TxEvent,
            tool.configured.silence_wait,
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


# ---------------------------------------------------------------------- C12 authorization through the cache
@case(
    "TC_C_08_CS",
    "Authorization through authorization cache - Accepted",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_08_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, CACHE_ON, local_pre_authorize(True)):
        await ev_connected_pre_session(tool)
        await cached_accepted_start(tool, 1)  # 1. Authorized (cached), 2. EnergyTransferStarted


async def cached_refused(tool: StationTool, value: str, token_type: str, status: Status) -> None:
    """TC_C_09 / C_10 / C_11: a token cached with ``status``, presented with LocalPreAuthorize true: the
    station asks (C10.FR.03), the tool refuses it again."""
    await id_token_cached(tool, value, token_type, status)
    settings = (CACHE_ON, local_pre_authorize(True), (CACHE, "DisablePostAuthorize", "false"))
    async with config_state(tool, *settings):
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
    "TC_C_09_CS",
    "Authorization through authorization cache - Invalid & Not Accepted",
    use_cases=("C12",),
    requirements=("C12.FR.05", "C10.FR.03"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_09_cs(tool: StationTool) -> None:
    await cached_refused(tool, *invalid(tool), Status.INVALID)


@case(
    "TC_C_10_CS",
    "Authorization through authorization cache - Blocked",
    use_cases=("C12",),
    requirements=("C12.FR.05", "C10.FR.03"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_10_cs(tool: StationTool) -> None:
    configured = tool.configured
    await cached_refused(tool, configured.blocked_idtoken, configured.blocked_idtoken_type, Status.BLOCKED)


@case(
    "TC_C_11_CS",
    "Authorization through authorization cache - Expired",
    use_cases=("C12",),
    requirements=("C12.FR.05", "C10.FR.03"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_11_cs(tool: StationTool) -> None:
    configured = tool.configured
    await cached_refused(tool, configured.expired_idtoken, configured.expired_idtoken_type, Status.EXPIRED)


@case(
    "TC_C_12_CS",
    "Authorization through authorization cache - Invalid & Accepted",
    use_cases=("C12",),
    requirements=("C12.FR.05", "C10.FR.03"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_12_cs(tool: StationTool) -> None:
    value, token_type = invalid(tool)
    await id_token_cached(tool, value, token_type, Status.INVALID)
    settings = (CACHE_ON, local_pre_authorize(True), (CACHE, "DisablePostAuthorize", "false"))
    async with config_state(tool, *settings):
        await ev_connected_pre_session(tool)
        answer_as(tool, value, Status.ACCEPTED)  # the CSMS knows better than the cache now
        tool.answers.statuses.pop(value, None)
        await present(tool, value, token_type)
        await authorized_answered(tool, 1, value, token_type)  # 1. / 2.
        tool.progress.add("Authorized")
        await energy_transfer_started(tool)  # 3. / 4. (optional), 5.


@case(
    "TC_C_13_CS",
    "Authorization through authorization cache - Accepted but cable not connected yet.",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_13_cs(tool: StationTool) -> None:
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, CACHE_ON, local_pre_authorize(True)):
        seen_before = len(tool.seen)
        await present(tool, value, token_type)
        tool.progress.add("Authorized")
        await ev_connected_pre_session(tool)  # 3.
        await energy_transfer_started(tool)  # 4.
        check_authorized_events(tool, 1, value, token_type)  # 1. / 2. (optional)
        if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen[seen_before:]):
            no_authorize_for(tool, 1, value)


@case(
    "TC_C_57_CS",
    "Authorization through authorization cache - AuthCacheDisablePostAuthorize",
    use_cases=("C12",),
    requirements=("C12.FR.05", "C10.FR.03"),
    features=("C-59", "C-49"),
    timeout=60.0,
)
async def tc_c_57_cs(tool: StationTool) -> None:
    value, token_type = invalid(tool)
    await id_token_cached(tool, value, token_type, Status.INVALID)
    settings = (CACHE_ON, local_pre_authorize(True), (CACHE, "DisablePostAuthorize", "true"))
    async with config_state(tool, *settings):
        await ev_connected_pre_session(tool)
        await present(tool, value, token_type)
        await expect_no(  # 1.
            tool,
            1,
            msg.AuthorizeRequest,
            tool.configured.silence_wait,
            lambda m: isinstance(m, msg.AuthorizeRequest) and m.id_token.id_token == value,
            "an AuthorizeRequest for a token cached as Invalid (AuthCacheCtrlr.DisablePostAuthorize true)",
        )
        await expect_no(tool, 1, TxEvent, 0.5, carries_token, "a TransactionEventRequest for a refused token")
