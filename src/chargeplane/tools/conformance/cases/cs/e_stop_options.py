"""Block E, Transactions (Part 6 §2.6), charging-station side: the TxStopPoint options (E06).

Each case sets TxCtrlr.TxStopPoint (and the other variables of its Configuration State) with
:func:`~chargeplane.tools.conformance.cases.cs.e_start_options.tx_configuration`, which puts the previous
values back at the end; the station's TxStartPoint is left as it is.

Readings:
* Conditions as in ``e_start_options`` (local authorization options held, "Mode 1/2-only" false); TC_E_20's
  "C.06.1" is C-06.1; TC_E_54's "HFS-4 OR ISO15118 support" is read as HFS-4 (DC, high-level
  communication), the ISO 15118 profile not being a feature id.
* "TxStopPoint contains X" is read as TxStopPoint = X (the CSV asks that the other values can be left out);
  TC_E_17's "PowerPathClosed AND/OR Authorized" as Authorized.
* stoppedReason Local may be left out (Part 2: omitted means Local): "must be Local" accepts an absent one.
* EVConnectedPostSession step 1 (ChargingStateChanged, chargingState EVConnected) is required only while the
  transaction runs, and is met by the event that first reports chargingState EVConnected after the stop
  authorization (a message has one triggerReason: a station may report the change in the StopAuthorized
  event itself).
* TC_E_17's Reusable State row is empty in the document: read as EnergyTransferStarted (the case
  disconnects a charging EV). Its step 3 StatusNotification Available may already have come with the EV-side
  disconnect (a station that sees no cable at the connector any more). Its two manual actions for a
  detachable cable (present the token, unplug at the station) are always asked: a person at a station with
  a fixed cable confirms them without doing anything.
* TC_E_22's validation mixes two outcomes: an Ended event (chargingState EVConnected, stoppedReason
  StoppedByEV) or an Updated event with chargingState SuspendedEV; either passes.
* TC_E_39: the TransactionEvents of steps 1 and 3 are expected only when TxStartPoint (read from the
  station) contains Authorized or ParkingBayOccupancy; otherwise the tool waits the configured
  ev_connection_timeout and checks that no transaction starts, and that connecting the EV afterwards does
  not start charging.
* The NotifyEvent beside each StatusNotification is answered, not required (as in the reusable states).
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.e_start_options import (
    AUTH_ENABLED,
    REMOTE_AUTH_ALLOWED,
    TX_START,
    Setting,
    read_variable,
    stop_point,
    tx_configuration,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import (
    EvSuspends,
    LeaveParkingBay,
    PlugIn,
    PresentToken,
    Unplug,
    UnplugEvSide,
)
from chargeplane.tools.conformance.station_states import (
    Status,
    TxEvent,
    authorized_local,
    connector_status,
    energy_transfer_started,
    stop_authorized_local,
    transaction_ended,
    transaction_events,
    transaction_id,
)
from chargeplane.tools.conformance.station_steps import StationTool

TxType = en.TransactionEventEnumType
Trigger = en.TriggerReasonEnumType
STOP_ON_EV_SIDE = "StopTxOnEVSideDisconnect"


def stop_on_ev_side(value: bool) -> Setting:
    return Setting("TxCtrlr", STOP_ON_EV_SIDE, "true" if value else "false")


def unlock_on_ev_side(value: bool) -> Setting:
    return Setting("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "true" if value else "false")


def _ended(event: TxEvent) -> bool:
    return event.event_type is TxType.ENDED


async def ended_event(tool: StationTool, step: int | str, within: float = 10.0) -> TxEvent:
    """The Ended event of the running transaction (already received, or the next one)."""
    done = [e for e in transaction_events(tool) if _ended(e)]
    if done:
        return done[-1]
    return await tool.expect_answered(step, TxEvent, within, where=_ended)


def expect_local_reason(step: int | str, event: TxEvent) -> None:
    expect_field(step, event, "transactionInfo.stoppedReason", "Local", "absent")


async def energy_transfer(tool: StationTool) -> None:
    """Reusable State EnergyTransferStarted, entered with the local authorization (Authorized, then Part 1)."""
    await authorized_local(tool)
    await energy_transfer_started(tool)


async def energy_transfer_suspended(tool: StationTool) -> None:
    """Reusable State EnergyTransferSuspended: the EV suspends; the event that says so (or ends it)."""
    if "EnergyTransfer" not in tool.progress:
        await energy_transfer(tool)
    await tool.manual(EvSuspends(tool.configured.evse_id))
    step = "EnergyTransferSuspended/1"
    event = await tool.expect_answered(
        step,
        TxEvent,
        where=lambda e: (
            _ended(e) or field_value(e, "transactionInfo.chargingState") in ("EVConnected", "SuspendedEV")
        ),
    )
    expect_field(step, event, "transactionInfo.chargingState", "EVConnected", "SuspendedEV")
    expect_field(step, event, "eventType", "Ended", "Updated")
    if field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.SUSPENDED_EV:
        expect_field(step, event, "triggerReason", "ChargingStateChanged")
    if _ended(event):
        expect_field(step, event, "transactionInfo.stoppedReason", "StoppedByEV")
    tool.progress.add("EnergyTransferSuspended")


def _ev_connected_state(event: TxEvent) -> bool:
    return bool(field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.EV_CONNECTED)


async def ev_connected_post_session(tool: StationTool, stop_at: int) -> None:
    """Reusable State EVConnectedPostSession (after StopAuthorized): while the transaction runs, the event
    that reports chargingState EVConnected; ``stop_at`` is len(seen) when the stop was authorized."""
    if transaction_ended(tool):
        return
    if not any(_ev_connected_state(e) for e in seen_since(tool, stop_at)):
        await tool.expect_answered("EVConnectedPostSession/1", TxEvent, where=_ev_connected_state)
    tool.progress.add("EVConnectedPostSession")


def seen_since(tool: StationTool, mark: int) -> list[TxEvent]:
    return [m for m in tool.seen[mark:] if isinstance(m, TxEvent)]


async def status_since(tool: StationTool, mark: int, step: int | str, status: Status) -> None:
    """The connector's StatusNotification ``status``, received since ``tool.seen[mark]`` or still to come."""
    configured = tool.configured
    for m in tool.seen[mark:]:
        if (
            isinstance(m, msg.StatusNotificationRequest)
            and m.evse_id == configured.evse_id
            and m.connector_id == configured.connector_id
            and m.connector_status is status
        ):
            return
    await connector_status(tool, step, status)


async def parking_bay_unoccupied(tool: StationTool) -> None:
    """Reusable State ParkingBayUnoccupied: only a transaction still running (TxStopPoint
    ParkingBayOccupancy) needs the EV to drive away, and then ends with triggerReason EVDeparted."""
    if transaction_ended(tool) or not transaction_events(tool):
        return
    await tool.manual(LeaveParkingBay(tool.configured.evse_id))
    step = "ParkingBayUnoccupied/1"
    event = await ended_event(tool, step)
    expect_field(step, event, "triggerReason", "EVDeparted")
    expect_local_reason(step, event)


# -- EVConnected ----------------------------------------------------------------------------------------


@case(
    "TC_E_14_CS",
    "Stop transaction options - EVDisconnected - Charging Station side",
    use_cases=("E06",),
    requirements=("E06.FR.02", "E06.FR.15"),
    condition="HFS-1 and C-10.1 and (C-52 or not (C-10.2 or C-10.3 or C-10.4))",
    timeout=40.0,
)
async def tc_e_14_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("EVConnected")):
        await energy_transfer(tool)
        mark = len(tool.seen)
        await stop_authorized_local(tool)
        await ev_connected_post_session(tool, mark)
        configured = tool.configured
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))  # Manual Action
        await connector_status(tool, 1, Status.AVAILABLE)  # 1. / 2.
        event = await ended_event(tool, 3)  # 3. / 4.
        expect_field(3, event, "triggerReason", "EVCommunicationLost")
        expect_field(3, event, "transactionInfo.chargingState", "Idle")
        expect_field(3, event, "transactionInfo.stoppedReason", "Local", "EVDisconnected", "absent")
        expect_field(3, event, "eventType", "Ended")
        tool.progress.clear()


async def ev_side_disconnect_ends(tool: StationTool, *reasons: str) -> None:
    """Manual action "disconnect on the EV side", then step 1: the transaction ends as the EV left."""
    configured = tool.configured
    mark = len(tool.seen)
    await tool.manual(UnplugEvSide(configured.evse_id, configured.connector_id))
    event = await tool.expect_answered(1, TxEvent, where=_ended)  # 1. / 2.
    expect_field(1, event, "triggerReason", "EVCommunicationLost")
    expect_field(1, event, "transactionInfo.chargingState", "Idle")
    expect_field(1, event, "transactionInfo.stoppedReason", *reasons)
    expect_field(1, event, "eventType", "Ended")
    if any(_ended(e) for e in seen_since(tool, mark)[:-1]):
        raise StepFailed(1, "the station sent more than one Ended event")


@case(
    "TC_E_20_CS",
    "Stop transaction options - EVDisconnected - EV side (able to charge IEC 61851-1 EV)",
    use_cases=("E06", "E10"),
    requirements=("E06.FR.02", "E06.FR.15"),
    condition=(
        "C-10.1 and not (not C-52 and (C-10.3 or C-10.4)) and not (not C-06.1 and not C-52 and C-10.2)"
        " and AQ-9"
    ),
    timeout=40.0,
)
async def tc_e_20_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("EVConnected"), stop_on_ev_side(False)):
        await energy_transfer_suspended(tool)
        await ev_side_disconnect_ends(tool, "EVDisconnected")


@case(
    "TC_E_54_CS",
    "Stop transaction options - EVDisconnected - EV side (not able to charge IEC 61851-1 EV)",
    use_cases=("E06", "E10"),
    requirements=("E06.FR.02", "E06.FR.15"),
    condition="C-10.1 and not (not C-52 and (C-10.2 or C-10.3 or C-10.4)) and HFS-4",
    timeout=40.0,
)
async def tc_e_54_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("EVConnected"), stop_on_ev_side(False)):
        await energy_transfer_suspended(tool)
        await ev_side_disconnect_ends(tool, "StoppedByEV", "EVDisconnected")


# -- Authorized -----------------------------------------------------------------------------------------


@case(
    "TC_E_15_CS",
    "Stop transaction options - StopAuthorized - Local",
    use_cases=("E06",),
    requirements=("E06.FR.03", "E06.FR.15"),
    features=("C-10.2",),
    timeout=40.0,
)
async def tc_e_15_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("Authorized")):
        await energy_transfer(tool)
        configured = tool.configured
        await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
        event = await tool.expect_answered(  # 1. / 2.
            1, TxEvent, where=lambda e: e.trigger_reason is Trigger.STOP_AUTHORIZED
        )
        expect_field(1, event, "triggerReason", "StopAuthorized")
        expect_local_reason(1, event)
        expect_field(1, event, "eventType", "Ended")


async def remote_stop_ends(tool: StationTool) -> None:
    """Steps 1-4 of the remote stop cases: RequestStopTransaction, then the Ended event."""
    tx = transaction_id(tool, 1)
    request = msg.RequestStopTransactionRequest(transaction_id=tx)
    response = await tool.send_as(1, request, msg.RequestStopTransactionResponse)  # 1. / 2.
    expect_field(2, response, "status", "Accepted")
    event = await tool.expect_answered(  # 3. / 4.
        3, TxEvent, where=lambda e: e.trigger_reason is Trigger.REMOTE_STOP
    )
    expect_field(3, event, "triggerReason", "RemoteStop")
    expect_field(3, event, "transactionInfo.stoppedReason", "Remote")
    expect_field(3, event, "eventType", "Ended")


@case(
    "TC_E_21_CS",
    "Stop transaction options - StopAuthorized - Remote",
    use_cases=("E06", "F03"),
    requirements=("E06.FR.03", "E06.FR.15", "F03.FR.09"),
    features=("C-10.2",),
    timeout=40.0,
)
async def tc_e_21_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("Authorized")):
        await energy_transfer(tool)
        await remote_stop_ends(tool)


@case(
    "TC_E_17_CS",
    "Stop transaction options - Deauthorized - EV side disconnect",
    use_cases=("E06",),
    requirements=("E06.FR.04", "E06.FR.15"),
    condition="(C-10.2 or C-10.3) and C-06.2 and AQ-9",
    timeout=40.0,
)
async def tc_e_17_cs(tool: StationTool) -> None:
    settings = (
        stop_point("Authorized"),
        stop_on_ev_side(True),
        unlock_on_ev_side(False),
        AUTH_ENABLED,
        REMOTE_AUTH_ALLOWED,
    )
    async with tx_configuration(tool, *settings):
        await energy_transfer(tool)
        mark = len(tool.seen)
        await ev_side_disconnect_ends(tool, "EVDisconnected")  # Manual Action, 1. / 2.
        configured = tool.configured
        # a detachable cable stays locked in the station: the driver unlocks it with the token, unplugs it
        await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await tool.drain(0.5, 3.0)  # an AuthorizeRequest the token may bring is answered within the case
        await status_since(tool, mark, 3, Status.AVAILABLE)  # 3. / 4.
        tool.progress.add("Authorized")  # the token shown to unlock may have authorized a new session


@case(
    "TC_E_39_CS",
    "Stop transaction options - Deauthorized - timeout",
    use_cases=("E06",),
    requirements=("E06.FR.04", "E06.FR.15"),
    timeout=40.0,
)
async def tc_e_39_cs(tool: StationTool) -> None:
    timeout = tool.configured.ev_connection_timeout
    settings = (
        stop_point("Authorized"),
        Setting("TxCtrlr", "EVConnectionTimeOut", str(timeout)),
        AUTH_ENABLED,
        REMOTE_AUTH_ALLOWED,
    )
    async with tx_configuration(tool, *settings):
        starts = await read_start_points(tool)
        started_at_authorization = bool({"Authorized", "ParkingBayOccupancy"} & starts)
        await authorized_local(tool)
        if started_at_authorization:  # 1. / 2.
            event = await tool.expect_answered(
                1, TxEvent, timeout + 5.0, where=lambda e: e.trigger_reason is Trigger.EV_CONNECT_TIMEOUT
            )
            expect_field(1, event, "triggerReason", "EVConnectTimeout")
            expect_field(1, event, "eventType", "Updated" if "Authorized" not in starts else "Ended")
            expect_field(1, event, "transactionInfo.stoppedReason", "Timeout")
        else:
            await tool.drain(timeout + 1.0, timeout + 1.0)  # the timeout runs out; nothing starts
            if transaction_events(tool):
                raise StepFailed(1, "a TransactionEvent came though TxStartPoint has no start point reached")
        configured = tool.configured
        mark = len(tool.seen)
        await tool.manual(PlugIn(configured.evse_id, configured.connector_id))  # EV side and EVSE side
        await connector_status(tool, 3, Status.OCCUPIED)
        tool.progress.add("EVConnected")
        await tool.drain(1.0, 3.0)  # 3. / 4.: a cable-plugin event may come, charging must not start
        for event in seen_since(tool, mark):
            expect_field(3, event, "triggerReason", "CablePluggedIn")
            if field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING:
                raise StepFailed(3, "the station started charging after the authorization timed out")


async def read_start_points(tool: StationTool) -> set[str]:
    value = await read_variable(tool, Setting("TxCtrlr", TX_START, ""))
    return {v.strip() for v in (value or "").split(",") if v.strip()}


# -- PowerPathClosed ------------------------------------------------------------------------------------


@case(
    "TC_E_07_CS",
    "Stop transaction options - PowerPathClosed - Local stop",
    use_cases=("E06",),
    requirements=("E06.FR.06", "E06.FR.15"),
    condition="C-10.3 and (C-52 or not C-10.2)",
    timeout=40.0,
)
async def tc_e_07_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("PowerPathClosed")):
        await energy_transfer(tool)
        await stop_authorized_local(tool)  # Manual Action; 1. StopAuthorized (its steps 1-4)
        event = await ended_event(tool, "StopAuthorized/3")
        expect_local_reason("StopAuthorized/3", event)


@case(
    "TC_E_35_CS",
    "Stop transaction options - PowerPathClosed - Remote stop",
    use_cases=("E06",),
    requirements=("E06.FR.06", "E06.FR.15"),
    condition="C-10.3 and (C-52 or not C-10.2)",
    timeout=40.0,
)
async def tc_e_35_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("PowerPathClosed")):
        await energy_transfer(tool)
        await remote_stop_ends(tool)


@case(
    "TC_E_37_CS",
    "Stop transaction options - PowerPathClosed - EV side disconnect",
    use_cases=("E06",),
    requirements=("E06.FR.06", "E06.FR.15"),
    condition="C-10.3 and (C-52 or not (C-10.1 or C-10.4)) and AQ-9",
    timeout=40.0,
)
async def tc_e_37_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("PowerPathClosed"), stop_on_ev_side(False)):
        await energy_transfer_suspended(tool)
        await ev_side_disconnect_ends(tool, "EVDisconnected", "StoppedByEV")


# -- EnergyTransfer -------------------------------------------------------------------------------------


@case(
    "TC_E_08_CS",
    "Stop transaction options - EnergyTransfer stopped - StopAuthorized",
    use_cases=("E06",),
    requirements=("E06.FR.07", "E06.FR.15"),
    condition="C-10.4 and (C-52 or not (C-10.2 or C-10.3))",
    timeout=40.0,
)
async def tc_e_08_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("EnergyTransfer")):
        await energy_transfer(tool)
        await stop_authorized_local(tool)  # 1. State is StopAuthorized (its steps 1-4)
        event = await ended_event(tool, "StopAuthorized/3")
        expect_local_reason("StopAuthorized/3", event)


@case(
    "TC_E_22_CS",
    "Stop transaction options - EnergyTransfer stopped - SuspendedEV",
    use_cases=("E06",),
    requirements=("E06.FR.07", "E06.FR.15"),
    features=("C-10.4",),
    timeout=40.0,
)
async def tc_e_22_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("EnergyTransfer")):
        await energy_transfer(tool)
        await tool.manual(EvSuspends(tool.configured.evse_id))  # Manual Action
        event = await tool.expect_answered(  # 1. / 2.
            1, TxEvent, where=lambda e: e.trigger_reason is Trigger.CHARGING_STATE_CHANGED
        )
        expect_field(1, event, "triggerReason", "ChargingStateChanged")
        if _ended(event):
            expect_field(1, event, "transactionInfo.chargingState", "EVConnected")
            expect_field(1, event, "transactionInfo.stoppedReason", "StoppedByEV")
        else:
            expect_field(1, event, "transactionInfo.chargingState", "SuspendedEV")
            expect_field(1, event, "eventType", "Updated")


# -- ParkingBayOccupancy --------------------------------------------------------------------------------


@case(
    "TC_E_19_CS",
    "Stop transaction options - ParkingBayUnoccupied",
    use_cases=("E06",),
    requirements=("E06.FR.01", "E06.FR.15"),
    condition="C-10.5 and (C-52 or not (C-10.1 or C-10.2 or C-10.3 or C-10.4))",
    timeout=40.0,
)
async def tc_e_19_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, stop_point("ParkingBayOccupancy")):
        # Before: State is EVDisconnected (through EnergyTransferStarted, StopAuthorized, EVConnectedPostSession)
        await energy_transfer(tool)
        mark = len(tool.seen)
        await stop_authorized_local(tool)
        await ev_connected_post_session(tool, mark)
        configured = tool.configured
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await connector_status(tool, "EVDisconnected/1", Status.AVAILABLE)
        await tool.manual(LeaveParkingBay(configured.evse_id))  # Manual Action
        event = await ended_event(tool, 1)  # 1. / 2.
        expect_field(1, event, "triggerReason", "EVDeparted")
        expect_local_reason(1, event)
        expect_field(1, event, "eventType", "Ended")
        tool.progress.clear()
