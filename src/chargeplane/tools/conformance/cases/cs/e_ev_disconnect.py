"""Block E, Transactions (Part 6 §2.6), charging-station side: the cable disconnected on the EV side (E09, E10).

Readings:
* Conditions as in ``e_start_options`` ("Mode 1/2-only" false); HFS-1 / HFS-2 say a detachable / fixed
  cable at the station.
* "StopTxDvSideDisconnect" / "UnlockEVSideDisconnect" (TC_E_24) are TxCtrlr.StopTxOnEVSideDisconnect and
  OCPPCommCtrlr.UnlockOnEVSideDisconnect.
* TC_E_26_CS's Reusable State row is empty in the document: read as EnergyTransferSuspended, as its siblings
  TC_E_24, E_25 and E_27. "TxStopPoint contains Authorized (if supported) and/or ParkingBayOccupancy (if
  supported)" (TC_E_26, E_27) is read as TxStopPoint = Authorized.
* The manual actions for a detachable cable (present the token, unplug at the station) are always asked: a
  person at a station with a fixed cable confirms them without doing anything. A StatusNotification
  Available they lead to may already have come with the EV-side disconnect.
* TC_E_26 step 3 (StatusNotification Available, for a fixed cable only) is not required; "reconnect on the EV
  side" is the plug-in action.
* TC_E_27 is the timeout case: the EV is not reconnected (its "reconnect before the timeout" note belongs to
  TC_E_26); the tool sets TxCtrlr.EVConnectionTimeOut to the configured ev_connection_timeout and waits for
  the EVConnectTimeout event.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.e_start_options import Setting, stop_point, tx_configuration
from chargeplane.tools.conformance.cases.cs.e_stop_options import (
    energy_transfer_suspended,
    status_since,
    stop_on_ev_side,
    unlock_on_ev_side,
)
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug, UnplugEvSide
from chargeplane.tools.conformance.station_states import Status, TxEvent, connector_status
from chargeplane.tools.conformance.station_steps import StationTool

Trigger = en.TriggerReasonEnumType


async def ev_side_disconnect(tool: StationTool) -> TxEvent:
    """Manual action "disconnect on the EV side", then step 1: the event with EVCommunicationLost."""
    configured = tool.configured
    await tool.manual(UnplugEvSide(configured.evse_id, configured.connector_id))
    event = await tool.expect_answered(
        1, TxEvent, where=lambda e: e.trigger_reason is Trigger.EV_COMMUNICATION_LOST
    )  # 1. / 2.
    expect_field(1, event, "triggerReason", "EVCommunicationLost")
    expect_field(1, event, "transactionInfo.chargingState", "Idle")
    return event


async def deauthorized_on_ev_side(tool: StationTool, *, unlocks: bool) -> None:
    async with tx_configuration(tool, stop_on_ev_side(True), unlock_on_ev_side(unlocks)):
        await energy_transfer_suspended(tool)
        mark = len(tool.seen)
        await ev_side_disconnect(tool)
        configured = tool.configured
        if not unlocks:  # the connector stays locked until the driver shows the token again
            await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
            tool.progress.add("Authorized")  # the token may have authorized a new session: clean-up ends it
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await tool.drain(0.5, 3.0)  # an AuthorizeRequest the token may bring is answered within the case
        await status_since(tool, mark, 3, Status.AVAILABLE)  # 3. / 4.
        tool.progress.discard("EVConnected")


@case(
    "TC_E_24_CS",
    "Disconnect cable on EV-side - Deauthorize transaction - UnlockOnEVSideDisconnect is true",
    use_cases=("E09",),
    requirements=("E09.FR.01", "E09.FR.02", "E09.FR.04"),
    condition="HFS-1 and C-06.2 and C-12.1 and AQ-9",
    timeout=40.0,
)
async def tc_e_24_cs(tool: StationTool) -> None:
    await deauthorized_on_ev_side(tool, unlocks=True)


@case(
    "TC_E_25_CS",
    "Disconnect cable on EV-side - Deauthorize transaction - UnlockOnEVSideDisconnect is false",
    use_cases=("E09",),
    requirements=("E09.FR.01", "E09.FR.03", "E09.FR.04"),
    condition="C-06.2 and C-12.2 and AQ-9",
    timeout=40.0,
)
async def tc_e_25_cs(tool: StationTool) -> None:
    await deauthorized_on_ev_side(tool, unlocks=False)


SUSPEND_SETTINGS = (stop_point("Authorized"), unlock_on_ev_side(False), stop_on_ev_side(False))


@case(
    "TC_E_26_CS",
    "Disconnect cable on EV-side - Suspend transaction",
    use_cases=("E10",),
    requirements=("E10.FR.01", "E10.FR.03"),
    condition="(C-10.2 or C-10.5) and (C-52 or not (C-10.1 or C-10.3 or C-10.4)) and C-06.1 and C-12.2 and AQ-9",
    timeout=40.0,
)
async def tc_e_26_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, *SUSPEND_SETTINGS):
        await energy_transfer_suspended(tool)
        event = await ev_side_disconnect(tool)
        expect_field(1, event, "eventType", "Updated")
        configured = tool.configured
        await tool.manual(PlugIn(configured.evse_id, configured.connector_id))  # reconnect on the EV side
        plugged = await tool.expect_answered(
            5, TxEvent, where=lambda e: e.trigger_reason is not Trigger.METER_VALUE_PERIODIC
        )  # 5. / 6.
        expect_field(5, plugged, "triggerReason", "CablePluggedIn")
        expect_field(5, plugged, "transactionInfo.chargingState", "EVConnected")
        expect_field(5, plugged, "eventType", "Updated")
        charging = await tool.expect_answered(
            7, TxEvent, where=lambda e: e.trigger_reason is not Trigger.METER_VALUE_PERIODIC
        )  # 7. / 8.
        expect_field(7, charging, "triggerReason", "ChargingStateChanged")
        expect_field(7, charging, "transactionInfo.chargingState", "Charging")
        expect_field(7, charging, "eventType", "Updated")


@case(
    "TC_E_27_CS",
    "Disconnect cable on EV-side - Suspend transaction - Fixed cable connection timeout",
    use_cases=("E10",),
    requirements=("E10.FR.02", "E10.FR.03"),
    condition=(
        "(C-10.2 or C-10.5) and (C-52 or not (C-10.1 or C-10.3 or C-10.4)) and C-06.1 and C-12.2 and HFS-2"
        " and AQ-9"
    ),
    timeout=40.0,
)
async def tc_e_27_cs(tool: StationTool) -> None:
    timeout = tool.configured.ev_connection_timeout
    connection = Setting("TxCtrlr", "EVConnectionTimeOut", str(timeout))
    async with tx_configuration(tool, *SUSPEND_SETTINGS, connection):
        await energy_transfer_suspended(tool)
        event = await ev_side_disconnect(tool)
        expect_field(1, event, "eventType", "Updated")
        await connector_status(tool, 3, Status.AVAILABLE)  # 3. / 4. (a fixed cable: required)
        ended = await tool.expect_answered(  # 5. / 6.
            5, TxEvent, timeout + 5.0, where=lambda e: e.trigger_reason is Trigger.EV_CONNECT_TIMEOUT
        )
        expect_field(5, ended, "triggerReason", "EVConnectTimeout")
        expect_field(5, ended, "eventType", "Ended")  # TxStopPoint is Authorized
        expect_field(5, ended, "transactionInfo.stoppedReason", "Timeout")
        tool.progress.clear()
