"""Block C, authorization through the Authorization Cache while offline (Part 6 §2.4, C12 with C15 on the way
back), charging-station side: TC_C_15 to C_18.

Readings:
* Memory and Configuration States as in ``c_auth_cache`` (the cached token first, the variables put back
  at the end).
* Step 1: the tool closes the connection and refuses reconnects, so it does not set OfflineThreshold /
  RetryBackOff* (they only give a person time at a real OCTT); step 2 accepts the reconnect after the wait.
* A station stops a deauthorized transaction whatever StopTxOnInvalidId says when TxStopPoint contains
  Authorized or PowerPathClosed (E05), so TC_C_15 / C_17 (StopTxOnInvalidId false) set TxStopPoint to
  EVConnected.
* TC_C_17's step 5 (a "triggerReason SuspendedEVSE", which does not exist) and its validation are read
  together as: an event with chargingState SuspendedEVSE, and none with triggerReason Deauthorized.
* TC_C_15's post-scenario energy check is not made (MaxEnergyOnInvalidId is far from reached in a run); its
  "no message" validation is watched for the declaration's ``message_timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.c_auth_cache import (
    AUTH,
    CACHE_ON,
    Setting,
    config_state,
    id_token_cached,
    local_pre_authorize,
    valid,
)
from chargeplane.tools.conformance.cases.cs.c_authorization import (
    RECEIVE_WITHIN,
    Status,
    Trigger,
    answer_as,
    expect_no,
    no_ended_event,
    present,
)
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_states import TxEvent, ev_connected_pre_session
from chargeplane.tools.conformance.station_steps import StationTool

TX = "TxCtrlr"


def offline_settings(stop_on_invalid: bool, max_energy: int) -> tuple[Setting, ...]:
    chosen = [
        CACHE_ON,
        local_pre_authorize(True),
        (AUTH, "LocalAuthorizationOffline", "true"),
        (AUTH, "OfflineTxForUnknownIdEnabled", "true"),
        (TX, "StopTxOnInvalidId", "true" if stop_on_invalid else "false"),
        (TX, "MaxEnergyOnInvalidId", str(max_energy)),
    ]
    if not stop_on_invalid:
        chosen.append((TX, "TxStopPoint", "EVConnected"))
    return tuple(chosen)


def _offline(event: TxEvent) -> bool:
    return event.offline is True


async def offline_cached_start(
    tool: StationTool,
    settings: tuple[Setting, ...],
    wait: float,
    then: Callable[[StationTool], Awaitable[None]],
) -> None:
    """Before and steps 1-4 of TC_C_15..C_18: the cached Accepted token presented while the tool is offline;
    back online, the queued events (the token answered Invalid now), then ``then``."""
    value, token_type = valid(tool)
    await id_token_cached(tool, value, token_type, Status.ACCEPTED)
    async with config_state(tool, *settings):
        await ev_connected_pre_session(tool)
        answer_as(tool, value, Status.INVALID)
        async with tool.offline(1):  # 1. offline; 2. leaving the block: the reconnection is accepted
            await present(tool, value, token_type)
            tool.progress.add("Authorized")
            await asyncio.sleep(wait)
        await tool.endpoint.wait_connected(2, 30.0)
        charging = await tool.expect_answered(  # 3. / 4.
            3,
            TxEvent,
            RECEIVE_WITHIN,
            where=lambda e: e.trigger_reason is Trigger.CHARGING_STATE_CHANGED and _offline(e),
        )
        expect_field(3, charging, "offline", True)
        for event in tool.seen:  # the optional Authorized event, sent offline
            if isinstance(event, TxEvent) and event.trigger_reason is Trigger.AUTHORIZED:
                expect_field(3, event, "idToken.idToken", value)
                expect_field(3, event, "idToken.type", token_type)
                expect_field(3, event, "offline", True)
        await then(tool)


async def deauthorized(tool: StationTool, online: bool) -> None:
    event = await tool.expect_answered(  # 5. / 6.
        5, TxEvent, RECEIVE_WITHIN, where=lambda e: e.trigger_reason is Trigger.DEAUTHORIZED
    )
    if online:
        expect_field(5, event, "offline", False, "absent")


async def not_deauthorized(tool: StationTool, suspended_expected: bool) -> None:
    if suspended_expected:
        await tool.expect_answered(
            5,
            TxEvent,
            RECEIVE_WITHIN,
            where=lambda e: e.transaction_info.charging_state is en.ChargingStateEnumType.SUSPENDED_EVSE,
        )

    def stopping(e: object) -> bool:
        if not isinstance(e, TxEvent):
            return False
        suspended = e.transaction_info.charging_state is en.ChargingStateEnumType.SUSPENDED_EVSE
        return e.trigger_reason is Trigger.DEAUTHORIZED or (not suspended_expected and suspended)

    what = "a TransactionEventRequest that deauthorizes" + ("" if suspended_expected else " or suspends")
    await expect_no(tool, 5, TxEvent, tool.configured.silence_wait, stopping, what)
    no_ended_event(tool, "post")


@case(
    "TC_C_15_CS",
    "Authorization through authorization cache - StopTxOnInvalidId = false, MaxEnergyOnInvalidId > 0",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49", "C-03"),
    timeout=60.0,
)
async def tc_c_15_cs(tool: StationTool) -> None:
    async def then(tool: StationTool) -> None:
        await not_deauthorized(tool, suspended_expected=False)

    settings = offline_settings(stop_on_invalid=False, max_energy=10000)
    await offline_cached_start(tool, settings, tool.configured.transaction_duration, then)


@case(
    "TC_C_16_CS",
    "Authorization through authorization cache - StopTxOnInvalidId = true",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_16_cs(tool: StationTool) -> None:
    async def then(tool: StationTool) -> None:
        await deauthorized(tool, online=False)

    await offline_cached_start(tool, offline_settings(stop_on_invalid=True, max_energy=0), 5.0, then)


@case(
    "TC_C_17_CS",
    "Authorization through authorization cache - StopTxOnInvalidId = false",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_c_17_cs(tool: StationTool) -> None:
    async def then(tool: StationTool) -> None:
        await not_deauthorized(tool, suspended_expected=True)

    await offline_cached_start(tool, offline_settings(stop_on_invalid=False, max_energy=0), 5.0, then)


@case(
    "TC_C_18_CS",
    "Authorization through authorization cache - StopTxOnInvalidId = true, MaxEnergyOnInvalidId > 0",
    use_cases=("C12",),
    requirements=("C12.FR.02", "C12.FR.04"),
    features=("C-49", "C-03"),
    timeout=60.0,
)
async def tc_c_18_cs(tool: StationTool) -> None:
    async def then(tool: StationTool) -> None:
        await deauthorized(tool, online=True)

    settings = offline_settings(stop_on_invalid=True, max_energy=500)
    await offline_cached_start(tool, settings, tool.configured.transaction_duration, then)
