"""Block B, Provisioning: Reset of the station and of an EVSE (B11, B12; Part 6 §2.3), charging-station side.

Readings:
* "The Charging Station notifies the CSMS about the current state of all connectors" is the
  StatusNotification of the configured connector (the NotifyEvent alternative is answered, not required);
  in TC_B_41 of connector 1 of both EVSEs.
* TC_B_21 / B_41: the notes after StopAuthorized say TxStartPoint where TxStopPoint is meant (TC_B_41 says
  TxStopPoint): when the transaction has not ended with StopAuthorized, the EV is disconnected
  (EVDisconnected). EVConnectedPostSession asks nothing of the tool (the station's TransactionEvent, if
  any, is answered). ParkingBayUnoccupied has no manual action in this tool: a station whose transaction
  only ends there fails the case. Step 9's connector status: Occupied when the transaction ended at
  StopAuthorized (the EV still plugged in), else Available.
* TC_B_21's SecurityEventNotification (step 11) may come before the connector statuses.
* TC_B_22's BootNotification reason RemoteReset and TC_B_21 / B_41's ScheduledReset (an OnIdle reset that
  waited for the transactions) are checked as the tables say; TC_B_20 and TC_B_23 give no reason for an
  OnIdle reset without transactions (TC_B_23's validation asks RemoteReset: checked there only).
* TC_B_41 (Part 5: HFS-8, the number of EVSEs, above 1) is declared with the feature HFS-8; it uses EVSE 1
  and 2, connector 1 each, and the valid id token on both. Each transaction is told apart by its id.
* TC_B_25 / B_26 / B_27 need C-13 (reset of one EVSE); TC_B_28 / B_29 are for a station without it
  (NOT C-13) and are N/A for one that declares it. TC_B_25 "<Configured evseId> reboots": nothing further
  is checked (the table has no step after the response). TC_B_26 leaves no transaction behind (the EV is
  unplugged after StopAuthorized when needed).
* TC_B_23's Unavailable connector is put back to Operative after the case, outside the verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.g_availability import change_availability
from chargeplane.tools.conformance.checks import expect_field, field_value
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug
from chargeplane.tools.conformance.station_states import (
    BOOT_WITHIN,
    Status,
    TxEvent,
    authorized_local,
    connector_status,
    energy_transfer_started,
    stop_authorized_local,
    transaction_ended,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool

Reset = en.ResetEnumType
Registration = en.RegistrationStatusEnumType
Trigger = en.TriggerReasonEnumType


async def reset(
    tool: StationTool, step: int, kind: en.ResetEnumType, evse_id: int | None = None
) -> msg.ResetResponse:
    request = msg.ResetRequest(type=kind) if evse_id is None else msg.ResetRequest(type=kind, evse_id=evse_id)
    return await tool.send_as(step, request, msg.ResetResponse)


async def boot_again(tool: StationTool, step: int, *reasons: str) -> None:
    """The station's BootNotification after the reset (answered Accepted); ``reasons``: the allowed ones."""
    tool.answers.registration = Registration.ACCEPTED
    boot = await tool.expect_answered(step, msg.BootNotificationRequest, BOOT_WITHIN)
    if reasons:
        expect_field(step, boot, "reason", *reasons)


async def charging(tool: StationTool) -> None:
    """Reusable State EnergyTransferStarted, locally authorized (the Before of TC_B_21, B_22, ...)."""
    await authorized_local(tool)
    await energy_transfer_started(tool)


async def end_after_stop(tool: StationTool, step: int) -> bool:
    """Steps StopAuthorized / EVConnectedPostSession / EVDisconnected of the configured EVSE. Returns whether
    the transaction ended at StopAuthorized (the EV is still connected then)."""
    await stop_authorized_local(tool)
    if transaction_ended(tool):
        return True
    configured = tool.configured
    await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    await tool.expect_answered(
        step, TxEvent, BOOT_WITHIN, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
    )
    tool.progress.clear()
    return False


@case(
    "TC_B_20_CS",
    "Reset Charging Station - Without ongoing transaction - OnIdle",
    use_cases=("B11",),
    requirements=("B11.FR.01", "B11.FR.03", "B11.FR.04", "B01.FR.03"),
    timeout=90.0,
)
async def tc_b_20_cs(tool: StationTool) -> None:
    response = await reset(tool, 1, Reset.ON_IDLE)
    expect_field(2, response, "status", "Accepted")
    await boot_again(tool, 3)  # 3. / 4.
    await connector_status(tool, 5, Status.AVAILABLE)  # 5. / 6.


@case(
    "TC_B_21_CS",
    "Reset Charging Station - With Ongoing Transaction - OnIdle",
    use_cases=("B12",),
    requirements=("B12.FR.01", "B12.FR.03"),
    timeout=120.0,
)
async def tc_b_21_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await reset(tool, 1, Reset.ON_IDLE)
    expect_field(2, response, "status", "Scheduled")
    stopped_at_3 = await end_after_stop(tool, 5)  # 3.-6.
    await boot_again(tool, 7, "ScheduledReset")  # 7. / 8.
    booted_at = len(tool.seen)
    await connector_status(tool, 9, Status.OCCUPIED if stopped_at_3 else Status.AVAILABLE)  # 9. / 10.
    early = [m for m in tool.seen[booted_at:] if isinstance(m, msg.SecurityEventNotificationRequest)]
    event = early[0] if early else await tool.expect_answered(11, msg.SecurityEventNotificationRequest)
    expect_field(11, event, "type", "StartupOfTheDevice", "ResetOrReboot")  # 11. / 12.


@case(
    "TC_B_22_CS",
    "Reset Charging Station - With Ongoing Transaction - Immediate",
    use_cases=("B12",),
    requirements=("B12.FR.02", "B12.FR.04", "E07.FR.03", "B01.FR.03"),
    timeout=120.0,
)
async def tc_b_22_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await reset(tool, 1, Reset.IMMEDIATE)
    expect_field(2, response, "status", "Accepted")
    ended = await tool.expect_answered(
        3, TxEvent, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
    )  # 3. / 4.
    expect_field(3, ended, "triggerReason", "ResetCommand")
    expect_field(3, ended, "transactionInfo.chargingState", "EVConnected")
    expect_field(3, ended, "transactionInfo.stoppedReason", "ImmediateReset")
    expect_field(3, ended, "idToken", "absent")
    await boot_again(tool, 5, "RemoteReset")  # 5. / 6.
    await connector_status(tool, 7, Status.OCCUPIED)  # 7. / 8.: the EV is still plugged in


@case(
    "TC_B_23_CS",
    "Reset Charging Station - Unavailable persists reset",
    use_cases=("B11",),
    requirements=("B11.FR.01", "B11.FR.02", "B11.FR.03", "B11.FR.04", "B01.FR.03"),
    timeout=90.0,
)
async def tc_b_23_cs(tool: StationTool) -> None:
    inoperative = en.OperationalStatusEnumType.INOPERATIVE
    await change_availability(tool, "before", inoperative, "connector")  # Memory State Unavailable
    try:
        response = await reset(tool, 1, Reset.ON_IDLE)
        expect_field(2, response, "status", "Accepted")
        await boot_again(tool, 3, "RemoteReset")  # 3. / 4.
        await connector_status(tool, 5, Status.UNAVAILABLE)  # 5. / 6.
    finally:
        operative = en.OperationalStatusEnumType.OPERATIVE
        await change_availability(tool, "after", operative, "connector", check=False)


# ------------------------------------------------------------------ TC_B_41: two EVSEs (HFS-8 above 1)
MULTI_EVSES = (1, 2)


async def charging_on(tool: StationTool, evse_id: int, step: str) -> str:
    """EnergyTransferStarted on ``evse_id`` (connector 1): plug in, present the valid token, the event
    that shows Charging. Returns the transaction id."""
    configured = tool.configured
    await tool.manual(PlugIn(evse_id, 1))
    await tool.expect_answered(
        step,
        msg.StatusNotificationRequest,
        where=lambda r: r.evse_id == evse_id and r.connector_status is Status.OCCUPIED,
    )
    tool.progress.add("EVConnected")
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type, evse_id))
    # the EVSE is named in the transaction's first event only: its id tells the later ones apart
    on_evse = [e for e in transaction_events(tool) if field_value(e, "evse.id") == evse_id]
    first = on_evse[-1] if on_evse else None
    if first is None:
        first = await tool.expect_answered(
            step, TxEvent, where=lambda e: field_value(e, "evse.id") == evse_id
        )
    tx_id = first.transaction_info.transaction_id
    if not any(e.transaction_info.transaction_id == tx_id and _charging(e) for e in transaction_events(tool)):
        await tool.expect_answered(
            step, TxEvent, where=lambda e: e.transaction_info.transaction_id == tx_id and _charging(e)
        )
    return tx_id


def _charging(event: TxEvent) -> bool:
    return bool(field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING)


def connector_is(evse_id: int, status: Status) -> Callable[[msg.StatusNotificationRequest], bool]:
    return lambda r: r.evse_id == evse_id and r.connector_id == 1 and r.connector_status is status


async def stop_on(tool: StationTool, evse_id: int, tx_id: str, step: int) -> bool:
    """StopAuthorized, then EVDisconnected when still needed, on ``evse_id``; whether it ended at once."""
    configured = tool.configured
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type, evse_id))
    stop = await tool.expect_answered(
        step,
        TxEvent,
        where=lambda e: (
            e.transaction_info.transaction_id == tx_id and e.trigger_reason is Trigger.STOP_AUTHORIZED
        ),
    )
    if stop.event_type is en.TransactionEventEnumType.ENDED:
        return True
    await tool.manual(Unplug(evse_id, 1))
    await tool.expect_answered(
        step + 2,
        TxEvent,
        where=lambda e: (
            e.transaction_info.transaction_id == tx_id and e.event_type is en.TransactionEventEnumType.ENDED
        ),
    )
    return False


@case(
    "TC_B_41_CS",
    "Reset Charging Station - With multiple ongoing transactions - OnIdle",
    use_cases=("B12",),
    requirements=("B12.FR.01", "B12.FR.03", "E07.FR.03"),
    features=("HFS-8",),
    timeout=150.0,
)
async def tc_b_41_cs(tool: StationTool) -> None:
    transactions = {
        evse: await charging_on(tool, evse, f"EnergyTransferStarted(EVSE {evse})") for evse in MULTI_EVSES
    }
    response = await reset(tool, 1, Reset.ON_IDLE)
    expect_field(2, response, "status", "Scheduled")
    still_plugged = {}
    for evse, first_step in zip(MULTI_EVSES, (3, 7), strict=True):
        still_plugged[evse] = await stop_on(tool, evse, transactions[evse], first_step)
    await boot_again(tool, 11, "ScheduledReset")  # 11. / 12.
    for evse in MULTI_EVSES:  # 13. / 14.
        status = Status.OCCUPIED if still_plugged[evse] else Status.AVAILABLE
        await tool.expect_answered(13, msg.StatusNotificationRequest, where=connector_is(evse, status))
    if not any(still_plugged.values()):
        tool.progress.clear()


# ------------------------------------------------------------------ reset of one EVSE (C-13 / NOT C-13)
@case(
    "TC_B_25_CS",
    "Reset EVSE - Without ongoing transaction",
    use_cases=("B11",),
    requirements=("B11.FR.01", "B11.FR.08", "B11.FR.10"),
    features=("C-13",),
)
async def tc_b_25_cs(tool: StationTool) -> None:
    response = await reset(tool, 1, Reset.ON_IDLE, tool.configured.evse_id)
    expect_field(2, response, "status", "Accepted")


@case(
    "TC_B_26_CS",
    "Reset EVSE - With Ongoing Transaction - OnIdle",
    use_cases=("B12",),
    requirements=("B12.FR.01", "B12.FR.07"),
    features=("C-13",),
    timeout=90.0,
)
async def tc_b_26_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await reset(tool, 1, Reset.ON_IDLE, tool.configured.evse_id)
    expect_field(2, response, "status", "Scheduled")
    await end_after_stop(tool, 5)  # 3.-6.


@case(
    "TC_B_27_CS",
    "Reset EVSE - With Ongoing Transaction - Immediate",
    use_cases=("B12",),
    requirements=("B12.FR.02", "B12.FR.08", "E07.FR.03"),
    features=("C-13",),
    timeout=90.0,
)
async def tc_b_27_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await reset(tool, 1, Reset.IMMEDIATE, tool.configured.evse_id)
    expect_field(2, response, "status", "Accepted")
    ended = await tool.expect_answered(
        3, TxEvent, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
    )  # 3. / 4.
    expect_field(3, ended, "triggerReason", "ResetCommand")
    expect_field(3, ended, "transactionInfo.chargingState", "EVConnected")
    expect_field(3, ended, "transactionInfo.stoppedReason", "ImmediateReset")


@case(
    "TC_B_28_CS",
    "Reset EVSE - Not Supported",
    use_cases=("B11", "B12"),
    requirements=("B11.FR.01", "B11.FR.09", "B12.FR.01", "B12.FR.09"),
    condition="not C-13",
)
async def tc_b_28_cs(tool: StationTool) -> None:
    response = await reset(tool, 1, Reset.ON_IDLE, tool.configured.evse_id)
    expect_field(2, response, "status", "Rejected")


@case(
    "TC_B_29_CS",
    "Reset EVSE - With ongoing transaction - Not Supported",
    use_cases=("B11",),
    requirements=("B12.FR.01", "B12.FR.09"),
    condition="not C-13",
    timeout=60.0,
)
async def tc_b_29_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await reset(tool, 1, Reset.ON_IDLE, tool.configured.evse_id)
    expect_field(2, response, "status", "Rejected")
