"""Block E, Transactions (Part 6 §2.6), charging-station side.

Readings:
* TC_E_03_CS / TC_E_04_CS have Part 5 conditions on local authorization options (C-30 to C-35): a station
  with none of them declares none, yet these stay mandatory here (every station of this tool reads cards).
* TC_E_28_CS's "randomly generated" transaction id is a fresh UUID.
* TC_E_38_CS ("NOT C-09.5"): the EV is made not ready before it connects (a manual action); the Started event
  of EVConnectedPreSession may already say SuspendedEV, which then is the event of step 2.
* TC_E_06_CS / TC_E_05_CS: conditions on local authorization options only: mandatory (as TC_E_03/E_04).
  ParkingBayUnoccupied asks its manual action only when the transaction still runs (TxStopPoint
  ParkingBayOccupancy): otherwise it has nothing to check.
* TC_E_05_CS: the TransactionEvent of step 1 is expected only when TxStartPoint (read from the station)
  contains Authorized or ParkingBayOccupancy; otherwise the tool waits the configured ev_connection_timeout
  and checks that no transaction started. "AuthCtrl.LocalPreAuthorization" is AuthCtrlr.LocalPreAuthorize.
* TC_E_52_CS: its condition reads "Local Authorization List Management" as LA-1. "InvalidateRequest" (step 1)
  is an AuthorizeRequest; "authorization is refused" is checked as no TransactionEvent carrying the
  token. The Memory State (the token in neither cache nor list) is made with ClearCache; the token presented
  is the configured invalid one, which the tool never put in a local list.
"""

from __future__ import annotations

import uuid

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.e_start_options import (
    AUTH_ENABLED,
    REMOTE_AUTH_ALLOWED,
    TX_START,
    Setting,
    read_variable,
    started_event,
    tx_configuration,
)
from chargeplane.tools.conformance.cases.cs.e_stop_options import (
    energy_transfer,
    ev_connected_post_session,
    parking_bay_unoccupied,
    seen_since,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import EvNotReady, PresentToken
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    authorized_local,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    stop_authorized_local,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool


@case(
    "TC_E_03_CS",
    "Local start transaction - Cable plugin first - Success",
    use_cases=("E02", "C01"),
    requirements=("E02.FR.01", "E01.FR.16", "C01.FR.02"),
    timeout=40.0,
)
async def tc_e_03_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await authorized_local(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_04_CS",
    "Local start transaction - Authorization first - Success",
    use_cases=("E03", "C01"),
    requirements=("E03.FR.01", "C01.FR.02"),
    timeout=40.0,
)
async def tc_e_04_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_28_CS",
    "Check Transaction status - TransactionId unknown",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.04"),
)
async def tc_e_28_cs(tool: StationTool) -> None:
    request = msg.GetTransactionStatusRequest(transaction_id=str(uuid.uuid4()))
    response = await tool.send_as(1, request, msg.GetTransactionStatusResponse)
    expect_field(2, response, "ongoingIndicator", False)
    expect_field(2, response, "messagesInQueue", False)


def _suspended_ev(event: TxEvent) -> bool:
    return bool(field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.SUSPENDED_EV)


@case(
    "TC_E_38_CS",
    "Local start transaction - EV not ready",
    use_cases=("E03",),
    condition="not C-09.5",
    timeout=40.0,
)
async def tc_e_38_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await tool.manual(EvNotReady(tool.configured.evse_id))  # Manual Action
    await ev_connected_pre_session(tool)  # 1.
    await started_event(tool, "EVConnectedPreSession/3")
    if not any(_suspended_ev(e) for e in transaction_events(tool)):
        await tool.expect_answered(2, TxEvent, where=_suspended_ev)  # 2. / 3.
    event = next(e for e in transaction_events(tool) if _suspended_ev(e))
    expect_field(2, event, "triggerReason", "ChargingStateChanged")
    expect_field(2, event, "transactionInfo.chargingState", "SuspendedEV")


@case(
    "TC_E_06_CS",
    "Local Stop Transaction - Accepted",
    use_cases=("E07", "C01"),
    requirements=("E07.FR.04", "E06.FR.15", "C01.FR.03"),
    timeout=40.0,
)
async def tc_e_06_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, AUTH_ENABLED, REMOTE_AUTH_ALLOWED):
        await energy_transfer(tool)
        mark = len(tool.seen)
        await stop_authorized_local(tool)  # 1.
        await ev_connected_post_session(tool, mark)  # 2.
        await ev_disconnected(tool)  # 3.
        await parking_bay_unoccupied(tool)  # 4.


async def start_points(tool: StationTool) -> set[str]:
    value = await read_variable(tool, Setting("TxCtrlr", TX_START, ""))
    return {v.strip() for v in (value or "").split(",") if v.strip()}


@case(
    "TC_E_05_CS",
    "Local start transaction - Authorization first - Cable plugin timeout",
    use_cases=("E03", "C01"),
    requirements=("E03.FR.01", "E03.FR.05", "E03.FR.06", "E03.FR.12", "C01.FR.02"),
    timeout=40.0,
)
async def tc_e_05_cs(tool: StationTool) -> None:
    timeout = tool.configured.ev_connection_timeout
    settings = (
        Setting("TxCtrlr", "EVConnectionTimeOut", str(timeout)),
        AUTH_ENABLED,
        REMOTE_AUTH_ALLOWED,
        Setting("AuthCacheCtrlr", "Enabled", "false", optional=True),
        Setting("AuthCtrlr", "LocalPreAuthorize", "false"),
    )
    async with tx_configuration(tool, *settings):
        starts = await start_points(tool)
        stops = await read_variable(tool, Setting("TxCtrlr", "TxStopPoint", ""))
        await authorized_local(tool)
        if {"Authorized", "ParkingBayOccupancy"} & starts:  # 1. / 2.
            event = await tool.expect_answered(
                1,
                TxEvent,
                timeout + 5.0,
                where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.EV_CONNECT_TIMEOUT,
            )
            if "Authorized" in (stops or "").split(","):
                expect_field(1, event, "eventType", "Ended")
                expect_field(1, event, "transactionInfo.stoppedReason", "Timeout")
            else:
                expect_field(1, event, "eventType", "Updated")
        else:
            await tool.drain(timeout + 1.0, timeout + 1.0)  # the timeout runs out; nothing starts
            if transaction_events(tool):
                raise StepFailed(1, "a TransactionEvent came though no start point was reached")
        tool.progress.discard("Authorized")
        await authorized_local(tool)  # 3. the EVSE takes a new authorization
        await energy_transfer_started(tool)  # 4.


@case(
    "TC_E_52_CS",
    "Local start transaction - Authorization first - DisableRemoteAuthorization",
    use_cases=("E03", "C01"),
    requirements=("C01.FR.02", "C01.FR.05"),
    condition="C-58 and (C-49 or LA-1)",
)
async def tc_e_52_cs(tool: StationTool) -> None:
    disable = Setting("AuthCtrlr", "DisableRemoteAuthorization", "true")
    async with tx_configuration(tool, AUTH_ENABLED, disable):
        await tool.send_as("before", msg.ClearCacheRequest(), msg.ClearCacheResponse)  # Memory State
        configured = tool.configured
        mark = len(tool.seen)
        await tool.manual(PresentToken(configured.invalid_idtoken, configured.invalid_idtoken_type))
        await tool.expect_none(1, msg.AuthorizeRequest, 3.0)  # 1.
        for event in seen_since(tool, mark):
            if field_value(event, "idToken.idToken") == configured.invalid_idtoken:
                raise StepFailed(1, "the station accepted the token: a TransactionEvent carries it")
