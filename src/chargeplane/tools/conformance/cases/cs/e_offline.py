"""Block E, Transactions (Part 6 §2.6), charging-station side: transactions while the connection to the CSMS
is lost (E08, E11, E12).

The tool takes the station offline by closing the WebSocket and refusing its reconnections; the station's
queued TransactionEvents are those it sends after the offline period began with a timestamp before the
reconnection (a message in flight when the connection closed, sent again as it was, is left out).

Readings:
* TC_E_40_CS: "SampledDataEnabled" is SampledDataCtrlr.Enabled (set when the station has it); the measurand
  configured is Energy.Active.Import.Register. The wait of step 2 is the station's own reconnection wait
  (RetryBackOffWaitMinimum, no random part): the tool accepts the reconnection after that wait.
* "All messages" of step 3 are the queued ones; besides the table's checks the tool checks that each
  transaction's seqNo grows in the order the queue is emptied.
* TC_E_43_CS needs C-01 (offline authorization; its "or C-35" for NoAuthorization stations contradicts its
  prerequisite, which excludes them). Memory State TransactionEventsInQueueEnded: the valid token is cached
  by an online session first and put in the local authorization list when the station has one (a
  CALLERROR to SendLocalList means it has none); then, offline: EV connected, token presented, the same
  token presented again, EV disconnected; the reconnection is accepted after RetryBackOffWaitMinimum.
* TC_E_44_CS / TC_E_45_CS: the manual actions come while offline, the reconnection is accepted after
  RetryBackOffWaitMinimum (the cases set it, with no random part). TC_E_45 needs C-49 (its "Local
  Authorization List Management or C-49": this tool caches the tokens, and lists them too when the station
  has a list): the first token is Authorized with <Configured GroupIdToken> in the tool's answers, the second
  (<valid idtoken fields2>) is cached and listed with the same group, and stops the transaction offline.
* TC_E_16_CS (condition "(C-10.2 or C-10.3) and C-01"; the local start authorization means count as held):
  Reusable State StartOfflineTransaction is the EV connected and the cached valid token presented while the
  tool refuses reconnections; the queued event carrying the token is answered Invalid, and the Ended event
  the station then sends online (step 3) is told apart from the queued ones by not being one of them.
* Local authorization lists the cases send are emptied afterwards (outside the verdict).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from msgspec import UNSET

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, expect_present
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    charging_from_idle,
    configuration,
    energy_transfer_started,
    ev_disconnected,
    expect_all_offline,
    expect_seq_no_order,
    offline_events,
    offline_settings,
    receive_queue,
    sampled_settings,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool, token_info

log = logging.getLogger(__name__)


async def list_if_implemented(
    tool: StationTool, step: int | str, entries: list[dt.AuthorizationData]
) -> bool:
    """Memory State IdTokenLocalAuthList "(If implemented)": False when the station has no list."""
    request = msg.SendLocalListRequest(
        version_number=1, update_type=en.UpdateEnumType.FULL, local_authorization_list=entries
    )
    try:
        response = await tool.send_as(step, request, msg.SendLocalListResponse)
    except StepFailed as failed:
        if "CALLERROR" in failed.detail:
            return False
        raise
    expect_field(step, response, "status", "Accepted")
    return True


async def empty_list(tool: StationTool) -> None:
    request = msg.SendLocalListRequest(version_number=1, update_type=en.UpdateEnumType.FULL)
    try:
        async with asyncio.timeout(10.0):
            await tool.endpoint.wait_connected("restore", 10.0)
            await tool.send("restore", request)
    except (StepFailed, TimeoutError) as error:
        log.warning("emptying the local authorization list: %s", error)


def entry(token: str, token_type: str, group: str | None = None) -> dt.AuthorizationData:
    info = dt.IdTokenInfoType(
        status=en.AuthorizationStatusEnumType.ACCEPTED,
        group_id_token=UNSET
        if group is None
        else dt.IdTokenType(id_token=group, type=en.IdTokenEnumType.CENTRAL),
    )
    return dt.AuthorizationData(
        id_token=dt.IdTokenType(id_token=token, type=en.IdTokenEnumType(token_type)), id_token_info=info
    )


async def cached(tool: StationTool, token: str, token_type: str) -> None:
    """Memory State IdTokenCached: an online session with the token (Authorized, EV connected, disconnected)."""
    await tool.manual(PresentToken(token, token_type))
    incoming = await tool.expect("IdTokenCached/2", msg.AuthorizeRequest)
    incoming.answer(msg.AuthorizeResponse(id_token_info=token_info(incoming.request.id_token, tool.answers)))
    tool.progress.add("Authorized")
    await energy_transfer_started(tool)
    await ev_disconnected(tool)


async def queue_after_offline(
    tool: StationTool, step: int, offline: Callable[[], Awaitable[None]]
) -> list[TxEvent]:
    """Offline (reconnections refused) while ``offline`` runs and RetryBackOffWaitMinimum more seconds; then
    the reconnection accepted and the queue taken: the queued TransactionEvents, all offline."""
    wait = tool.configured.retry_backoff_wait_minimum
    async with tool.offline(1):
        await offline()
        await asyncio.sleep(wait)
    reconnected_at = wall_clock()
    await tool.come_online(2, wait * 4 + 10)
    await receive_queue(tool, step)
    queued = offline_events(tool, reconnected_at)
    expect_all_offline(step, queued)
    expect_seq_no_order(step, queued)
    return queued


def expect_one(step: int, events: list[TxEvent], kind: en.TransactionEventEnumType) -> None:
    if not any(e.event_type is kind for e in events):
        raise StepFailed(step, f"no queued TransactionEventRequest with eventType {kind.value}")


@case(
    "TC_E_40_CS",
    "Offline Behaviour - Connection loss during transaction",
    use_cases=("E11",),
    requirements=("E11.FR.01", "E11.FR.02", "E11.FR.06"),
    timeout=60.0,
)
async def tc_e_40_cs(tool: StationTool) -> None:
    wait = tool.configured.retry_backoff_wait_minimum
    async with configuration(tool, "before", sampled_settings(tool) + offline_settings(tool)):
        await charging_from_idle(tool)
        await tool.drain()
        async with tool.offline(1):  # 1. closed, reconnections refused
            await asyncio.sleep(wait)  # 2. the tool waits RetryBackOffWaitMinimum
        reconnected_at = wall_clock()
        await tool.come_online(2, wait * 4 + 10)
        await receive_queue(tool, 3)  # 3. / 4. the queue, answered
        queued = offline_events(tool, reconnected_at)
        expect_all_offline(3, queued)
        for event in queued:
            expect_field(3, event, "eventType", "Updated")
            expect_present(3, event, "meterValue")
        expect_seq_no_order(3, queued)


@case(
    "TC_E_43_CS",
    "Offline Behaviour - Transaction during offline period",
    use_cases=("E12",),
    requirements=("E12.FR.01", "E12.FR.02", "E12.FR.06"),
    features=("C-01",),
    timeout=60.0,
)
async def tc_e_43_cs(tool: StationTool) -> None:
    configured = tool.configured
    token, token_type = configured.valid_idtoken, configured.valid_idtoken_type
    settings = [("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None, "true", False), *offline_settings(tool)]
    try:
        async with configuration(tool, "before", settings):
            await cached(tool, token, token_type)  # 1. TransactionEventsInQueueEnded
            await list_if_implemented(tool, "IdTokenLocalAuthList", [entry(token, token_type)])
            await tool.drain()

            async def session() -> None:
                await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
                await tool.manual(PresentToken(token, token_type))
                await asyncio.sleep(1.0)  # some charging before the stop
                await tool.manual(PresentToken(token, token_type))
                await tool.manual(Unplug(configured.evse_id, configured.connector_id))

            queued = await queue_after_offline(tool, 2, session)  # 2. / 3.
            expect_one(2, queued, en.TransactionEventEnumType.STARTED)
            expect_one(2, queued, en.TransactionEventEnumType.ENDED)
    finally:
        await empty_list(tool)


@case(
    "TC_E_44_CS",
    "Offline Behaviour - Stop transaction during offline period",
    use_cases=("E08",),
    requirements=("E08.FR.01", "E08.FR.04", "E08.FR.05", "E08.FR.06", "E08.FR.07", "E08.FR.08"),
    timeout=60.0,
)
async def tc_e_44_cs(tool: StationTool) -> None:
    configured = tool.configured
    async with configuration(tool, "before", offline_settings(tool)):
        await charging_from_idle(tool)
        await tool.drain()

        async def stop() -> None:
            await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
            await tool.manual(Unplug(configured.evse_id, configured.connector_id))
            tool.progress.clear()

        queued = await queue_after_offline(tool, 3, stop)  # 1. - 4.
        expect_one(3, queued, en.TransactionEventEnumType.ENDED)


@case(
    "TC_E_45_CS",
    "Offline Behaviour - Stop transaction during offline period - Same GroupId",
    use_cases=("E08",),
    requirements=("E08.FR.02", "E08.FR.04", "E08.FR.05", "E08.FR.06", "E08.FR.07", "E08.FR.08"),
    features=("C-49",),
    timeout=60.0,
)
async def tc_e_45_cs(tool: StationTool) -> None:
    configured = tool.configured
    first, second = configured.valid_idtoken, configured.valid_idtoken2
    group = dt.IdTokenType(id_token=configured.group_idtoken, type=en.IdTokenEnumType.CENTRAL)
    tool.answers.valid_tokens.add(second)
    tool.answers.groups.update({first: group, second: group})
    try:
        async with configuration(tool, "before", offline_settings(tool)):
            await cached(
                tool, second, configured.valid_idtoken2_type
            )  # IdTokenCached, fields2 with the group
            await list_if_implemented(
                tool, "IdTokenLocalAuthList", [entry(second, configured.valid_idtoken2_type, group.id_token)]
            )
            await charging_from_idle(tool)  # Authorized with the group, then EnergyTransferStarted
            await tool.drain()

            async def stop() -> None:
                await tool.manual(PresentToken(second, configured.valid_idtoken2_type))
                await tool.manual(Unplug(configured.evse_id, configured.connector_id))
                tool.progress.clear()

            queued = await queue_after_offline(tool, 3, stop)  # 1. - 4.
            expect_one(3, queued, en.TransactionEventEnumType.ENDED)
    finally:
        await empty_list(tool)


@case(
    "TC_E_16_CS",
    "Stop transaction options - Deauthorized - Invalid idToken",
    use_cases=("E06",),
    requirements=("E06.FR.04", "E06.FR.15", "C15.FR.04"),
    condition="(C-10.2 or C-10.3) and C-01",
    timeout=60.0,
)
async def tc_e_16_cs(tool: StationTool) -> None:
    """Reusable State StartOfflineTransaction: the valid token (cached, and listed when the station has a list)
    starts a transaction offline; back online, the queued event that carries the token is answered Invalid and
    the station, with StopTxOnInvalidId true, ends the transaction as Deauthorized."""
    configured = tool.configured
    token, token_type = configured.valid_idtoken, configured.valid_idtoken_type
    settings = [
        ("TxCtrlr", "TxStopPoint", None, "Authorized", False),
        ("TxCtrlr", "StopTxOnInvalidId", None, "true", True),
        ("AuthCtrlr", "DisableRemoteAuthorization", None, "false", False),
        ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None, "true", False),
        *offline_settings(tool),
    ]
    try:
        async with configuration(tool, "before", settings):
            await cached(tool, token, token_type)  # Memory State IdTokenCached
            await list_if_implemented(tool, "IdTokenLocalAuthList", [entry(token, token_type)])
            await tool.drain()

            async def start_offline() -> None:  # StartOfflineTransaction
                await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
                await tool.manual(PresentToken(token, token_type))

            tool.answers.statuses[token] = en.AuthorizationStatusEnumType.INVALID  # 2. the CSMS's answer
            try:
                queued = await queue_after_offline(tool, 1, start_offline)  # 1. / 2.
            finally:
                tool.answers.statuses.pop(token, None)
            if not any(isinstance(e.id_token, dt.IdTokenType) for e in queued):
                raise StepFailed(1, "no queued TransactionEventRequest carries the idToken")
            queued_keys = {(e.transaction_info.transaction_id, e.seq_no) for e in queued}
            ended = [
                e
                for e in tool.seen[tool.offline_at :]
                if isinstance(e, TxEvent)
                and (e.transaction_info.transaction_id, e.seq_no) not in queued_keys
                and e.event_type is en.TransactionEventEnumType.ENDED
            ]
            if not ended:
                event = await tool.expect_answered(
                    3, TxEvent, 15.0, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
                )
            else:
                event = ended[0]
            expect_field(3, event, "eventType", "Ended")  # 3. / 4.
            expect_field(3, event, "triggerReason", "Deauthorized")
            expect_field(3, event, "transactionInfo.stoppedReason", "DeAuthorized")
            await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    finally:
        await empty_list(tool)
