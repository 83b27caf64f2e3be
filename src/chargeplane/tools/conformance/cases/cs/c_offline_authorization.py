"""Block C, Authorization (Part 6 §2.4), charging-station side: authorizing while the connection to the CSMS
is lost, through the local authorization list (C13, C14; profile Local Authorization List Management) and
for unknown tokens (C15).

Readings:
* Memory State IdTokenLocalAuthList is a SendLocalList Full (versionNumber 1) with the case's token and the
  status its name says (valid: Accepted; invalid: Invalid; blocked: Blocked; expired: Expired; TC_C_25's
  "valid token, but set as invalid": the valid token with Invalid). The list is emptied afterwards (outside
  the verdict). IdTokenCached (TC_C_25) is an online session with the valid token: Authorized,
  EVConnectedPreSession, then the EV disconnected.
* Reusable State StartOfflineTransaction: offline, the token presented, the EV connected, the reconnection
  accepted after RetryBackOffWaitMinimum (the cases set it, with no random part). No parking bay detector is
  assumed: "drive EV into / out of the parking bay" are skipped.
* "LocalAuthorizationOffline" is AuthCtrlr.LocalAuthorizationOffline (Part 2's name); "(If implemented)" values may be refused
  as unknown by the station.
* The queued messages are those sent after the offline period began with a timestamp before the
  reconnection (as in ``e_offline``): they must carry offline true; messages the station makes once online
  again (e.g. the StopAuthorized of TC_C_21 and TC_C_26) need not.
* TC_C_22/C_23/C_24: a station with TxStartPoint ParkingBayOccupancy may queue an EVDetected event; any
  queued TransactionEvent must be that (triggerReason EVDetected, offline), and no transaction may start for
  the refused token (no TransactionEvent carries it).
* TC_C_25 step 3 ("does NOT start a transaction"): no TransactionEvent after the offline period began
  carries the token, and none is a Started event.
* TC_C_26: StopTxOnInvalidId false only keeps the transaction when TxStopPoint has neither Authorized nor
  PowerPathClosed (E05), so the tool also sets TxStopPoint to EVConnected where the station lets it.
  The token presented offline is the configured invalid one (unknown to the CSMS); the tool answers its
  queued event with Invalid (its default answer for any token but the valid one). "Present valid idToken"
  to stop is read as the token that started the transaction: another token may stop it only with the same
  GroupId (C09) or as a master pass, which this case does not set up. Its StopAuthorized event is required.
"""

from __future__ import annotations

import asyncio
import logging

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug
from chargeplane.tools.conformance.station_states import (
    Setting,
    TxEvent,
    authorized_local,
    configuration,
    connector_status,
    ev_connected_pre_session,
    ev_disconnected,
    expect_all_offline,
    offline_events,
    offline_settings,
    receive_queue,
    transaction_events,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool

log = logging.getLogger(__name__)
LALM = ("Local Authorization List Management",)
AUTH = "AuthCtrlr"
Status = en.AuthorizationStatusEnumType


async def local_list(tool: StationTool, step: int | str, token: str, token_type: str, status: Status) -> None:
    """Memory State IdTokenLocalAuthList: the token, with ``status``, as the whole list."""
    entry = dt.AuthorizationData(
        id_token=dt.IdTokenType(id_token=token, type=en.IdTokenEnumType(token_type)),
        id_token_info=dt.IdTokenInfoType(status=status),
    )
    request = msg.SendLocalListRequest(
        version_number=1, update_type=en.UpdateEnumType.FULL, local_authorization_list=[entry]
    )
    response = await tool.send_as(step, request, msg.SendLocalListResponse)
    expect_field(step, response, "status", "Accepted")


async def empty_local_list(tool: StationTool) -> None:
    """Outside the verdict: the list back to empty for the cases that follow."""
    request = msg.SendLocalListRequest(version_number=1, update_type=en.UpdateEnumType.FULL)
    try:
        async with asyncio.timeout(10.0):
            await tool.endpoint.wait_connected("restore", 10.0)
            await tool.send("restore", request)
    except (StepFailed, TimeoutError) as error:
        log.warning("emptying the local authorization list: %s", error)


def list_settings(tool: StationTool, unknown_offline: bool) -> list[Setting]:
    return [
        ("LocalAuthListCtrlr", "Enabled", None, "true", False),
        (AUTH, "LocalPreAuthorize", None, "true", False),
        (AUTH, "OfflineTxForUnknownIdEnabled", None, "true" if unknown_offline else "false", unknown_offline),
        (AUTH, "LocalAuthorizationOffline", None, "true", True),
        *offline_settings(tool),
    ]


def carries(event: TxEvent, token: str) -> bool:
    return bool(field_value(event, "idToken.idToken") == token)


async def start_offline_transaction(tool: StationTool, token: str, token_type: str) -> None:
    """Reusable State StartOfflineTransaction."""
    configured = tool.configured
    async with tool.offline("StartOfflineTransaction/1"):
        await tool.manual(PresentToken(token, token_type))
        await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
        tool.progress.add("EVConnected")
        await asyncio.sleep(configured.retry_backoff_wait_minimum)
    await tool.come_online("StartOfflineTransaction/2", configured.retry_backoff_wait_minimum * 4 + 10)


@case(
    "TC_C_21_CS",
    "Offline authorization through local authorization list - Accepted",
    use_cases=("C13",),
    requirements=("C13.FR.02",),
    profiles=LALM,
    timeout=60.0,
)
async def tc_c_21_cs(tool: StationTool) -> None:
    configured = tool.configured
    token, token_type = configured.valid_idtoken, configured.valid_idtoken_type
    try:
        async with configuration(tool, "before", list_settings(tool, unknown_offline=False)):
            await local_list(tool, "before", token, token_type, Status.ACCEPTED)
            await start_offline_transaction(tool, token, token_type)
            reconnected_at = wall_clock()
            await receive_queue(tool, 1)  # the queue, answered (the token's event with Accepted)
            await tool.manual(PresentToken(token, token_type))
            stop = await tool.expect_answered(
                1, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.STOP_AUTHORIZED
            )
            await tool.manual(Unplug(configured.evse_id, configured.connector_id))
            await connector_status(tool, 3, en.ConnectorStatusEnumType.AVAILABLE)  # 3. ParkingBayUnoccupied
            tool.progress.clear()
            await receive_queue(tool, 3)
            queued = [e for e in offline_events(tool, reconnected_at) if e is not stop]
            expect_all_offline(1, queued)
            if not any(carries(e, token) for e in queued):
                raise StepFailed(1, "no queued TransactionEventRequest carries the token presented offline")
    finally:
        await empty_local_list(tool)


async def refused_offline(tool: StationTool, token: str, token_type: str, status: Status) -> None:
    """TC_C_22 / C_23 / C_24: a listed token that is not Accepted starts nothing offline."""
    configured = tool.configured
    try:
        async with configuration(tool, "before", list_settings(tool, unknown_offline=False)):
            await local_list(tool, "before", token, token_type, status)
            await tool.drain()
            async with tool.offline(1):  # 1.
                await tool.manual(PresentToken(token, token_type))  # 3. (2. no parking bay)
                await asyncio.sleep(configured.retry_backoff_wait_minimum)
            reconnected_at = wall_clock()
            await tool.come_online(4, configured.retry_backoff_wait_minimum * 4 + 10)  # 4.
            await receive_queue(tool, 5)  # 5. / 6.
            for event in offline_events(tool, reconnected_at):
                expect_field(5, event, "offline", True)
                expect_field(5, event, "triggerReason", "EVDetected")
            started = [e for e in transaction_events(tool) if carries(e, token)]
            if started:
                raise StepFailed(5, f"a transaction was authorized for the {status.value} token")
    finally:
        await empty_local_list(tool)


@case(
    "TC_C_22_CS",
    "Offline authorization through local authorization list - Invalid",
    use_cases=("C13",),
    requirements=("C13.FR.02",),
    profiles=LALM,
    timeout=60.0,
)
async def tc_c_22_cs(tool: StationTool) -> None:
    configured = tool.configured
    await refused_offline(tool, configured.invalid_idtoken, configured.invalid_idtoken_type, Status.INVALID)


@case(
    "TC_C_23_CS",
    "Offline authorization through local authorization list - Blocked",
    use_cases=("C13",),
    requirements=("C13.FR.02",),
    profiles=LALM,
    timeout=60.0,
)
async def tc_c_23_cs(tool: StationTool) -> None:
    configured = tool.configured
    await refused_offline(tool, configured.blocked_idtoken, configured.blocked_idtoken_type, Status.BLOCKED)


@case(
    "TC_C_24_CS",
    "Offline authorization through local authorization list - Expired",
    use_cases=("C13",),
    requirements=("C13.FR.02",),
    profiles=LALM,
    timeout=60.0,
)
async def tc_c_24_cs(tool: StationTool) -> None:
    configured = tool.configured
    await refused_offline(tool, configured.expired_idtoken, configured.expired_idtoken_type, Status.EXPIRED)


@case(
    "TC_C_25_CS",
    "Offline authorization through local authorization list - Local Authorization List > Authorization Cache",
    use_cases=("C13", "C14"),
    requirements=("C13.FR.01", "C14.FR.01"),
    profiles=LALM,
    timeout=60.0,
)
async def tc_c_25_cs(tool: StationTool) -> None:
    configured = tool.configured
    token, token_type = configured.valid_idtoken, configured.valid_idtoken_type
    settings = [
        *list_settings(tool, unknown_offline=True),
        ("TxCtrlr", "StopTxOnInvalidId", None, "false", True),
    ]
    await authorized_local(tool)  # Memory State IdTokenCached: an online session with the token
    await ev_connected_pre_session(tool)
    await ev_disconnected(tool)
    try:
        async with configuration(tool, "before", settings):
            await local_list(tool, "before", token, token_type, Status.INVALID)
            await ev_connected_pre_session(tool)
            await tool.drain()
            async with tool.offline(1):  # 1.
                await tool.manual(PresentToken(token, token_type))
                await asyncio.sleep(configured.transaction_duration)
            await tool.come_online(2, configured.retry_backoff_wait_minimum * 4 + 10)  # 2.
            await receive_queue(tool, 3)
            after = [e for e in tool.seen[tool.offline_at :] if isinstance(e, TxEvent)]
            for event in after:  # 3. no transaction for the token
                if carries(event, token) or event.event_type is en.TransactionEventEnumType.STARTED:
                    raise StepFailed(3, f"the station started a transaction ({event.trigger_reason.value})")
    finally:
        await empty_local_list(tool)


@case(
    "TC_C_26_CS",
    "Offline Authorization - Unknown Id",
    use_cases=("C15", "C13"),
    requirements=("C15.FR.02", "C15.FR.06", "C15.FR.08", "C13.FR.04"),
    features=("C-02",),
    timeout=60.0,
)
async def tc_c_26_cs(tool: StationTool) -> None:
    configured = tool.configured
    settings = [
        *list_settings(tool, unknown_offline=True),
        ("TxCtrlr", "MaxEnergyOnInvalidId", None, "0", False),
        ("TxCtrlr", "StopTxOnInvalidId", None, "false", True),
        ("TxCtrlr", "TxStopPoint", None, "EVConnected", False),
    ]
    async with configuration(tool, "before", settings):
        await start_offline_transaction(tool, configured.invalid_idtoken, configured.invalid_idtoken_type)
        reconnected_at = wall_clock()
        await receive_queue(tool, 1)  # 1. / 2. the token's event answered Invalid
        await tool.manual(PresentToken(configured.invalid_idtoken, configured.invalid_idtoken_type))
        stop = await tool.expect_answered(  # 3. / 4.
            3, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.STOP_AUTHORIZED
        )
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await receive_queue(tool, 3)
        tool.progress.clear()
        queued = [e for e in offline_events(tool, reconnected_at) if e is not stop]
        expect_all_offline(1, queued)
        after = [e for e in tool.seen[tool.offline_at :] if isinstance(e, TxEvent)]
        if not any(str(field_value(e, "transactionInfo.chargingState")) == "SuspendedEVSE" for e in after):
            raise StepFailed(1, "no TransactionEventRequest with chargingState SuspendedEVSE")
