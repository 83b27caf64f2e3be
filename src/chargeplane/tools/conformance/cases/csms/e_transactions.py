"""Block E, Transactions (Part 6 §3.6).

The CSMS side of every E case is mandatory in Core; the C-09.x / C-10.x conditions of Part 5 are about which
start and stop points a charging station supports, so these cases declare no feature.

Readings:
* A case whose Before section names a reusable state ("State is EnergyTransferStarted") runs that state
  first, after the general Booted.
* TC_E_07 and TC_E_15 have the same steps (a local stop ending the transaction); they check different
  stop points of a charging station (PowerPathClosed, Authorized), which is no difference for a CSMS.
* TC_E_10's steps are those of Reusable State Authorized, run as such.
* TC_E_16 ends with stoppedReason DeAuthorized.
* TC_E_19 (ParkingBayUnoccupied): its Before state EVDisconnected would end the transaction, and its step 1
  ends it again. With the stop point ParkingBayOccupancy unplugging does not end a transaction, so the tool
  runs EVDisconnected with an Updated event (trigger EVCommunicationLost, Idle), then the Ended of step 1.
* TC_E_20 (EV side disconnect) runs the steps of EVDisconnected from EnergyTransferSuspended, not its Before
  (EVConnectedPostSession would stop-authorize the transaction, which the EV's disconnection does here).
* The state EnergyTransferSuspended (TC_E_17, E_20, E_26) does not wait <Configured Transaction Duration>.
* The transaction status cases (E14: TC_E_29..E_34) are in ``e_transaction_status``.
* TC_E_11 (DataSigned) sends an OCMF container signed with a fresh key (the CSMS must take it, not read
  it), energy 0.0 Wh, and the token in the Started event.
* TC_E_53 checks that the CSMS accepts seqNo 0 at the start of each new transaction: the tool numbers every
  transaction from 0, and the case fails if either Started event is refused.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import RequestStop
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import (
    authorize,
    id_token,
    send_as,
    signed_energy_reading,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import (
    Charging,
    Event,
    Status,
    Trigger,
    authorized,
    energy_transfer_started,
    energy_transfer_suspended,
    ev_connected_post_session,
    ev_connected_pre_session,
    ev_disconnected,
    ev_gone,
    notify_connector,
    stop_authorized,
)
from chargeplane.tools.conformance.steps import CsmsTool


async def start_on_charging_state(tool: CsmsTool, state: en.ChargingStateEnumType) -> None:
    """TC_E_01 / TC_E_02: authorize, plug in, then a Started event whose trigger is the charging state."""
    token = valid_token(tool.configured)
    response = await send_as(1, tool, authorize(token), msg.AuthorizeResponse)
    expect_field(2, response, "idTokenInfo.status", "Accepted")
    await notify_connector(tool, 3, Status.OCCUPIED)
    answer = await transaction_event(
        tool, 5, Event.STARTED, Trigger.CHARGING_STATE_CHANGED, charging_state=state, token=token
    )
    expect_field(6, answer, "idTokenInfo.status", "Accepted")


@case(
    "TC_E_01_CSMS",
    "Start transaction options - PowerPathClosed",
    use_cases=("E01",),
    requirements=("E01.FR.05",),
)
async def tc_e_01(tool: CsmsTool) -> None:
    await start_on_charging_state(tool, Charging.SUSPENDED_EVSE)
    await transaction_event(
        tool, 7, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.CHARGING
    )


@case(
    "TC_E_02_CSMS",
    "Start transaction options - EnergyTransfer",
    use_cases=("E01",),
    requirements=("E01.FR.06",),
)
async def tc_e_02(tool: CsmsTool) -> None:
    await start_on_charging_state(tool, Charging.CHARGING)


@case(
    "TC_E_03_CSMS",
    "Local start transaction - Cable plugin first - Success",
    use_cases=("E02",),
    requirements=("E02.FR.02",),
)
async def tc_e_03(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    await authorized(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_04_CSMS",
    "Local start transaction - Authorization first - Success",
    use_cases=("E03",),
    requirements=("E03.FR.02",),
)
async def tc_e_04(tool: CsmsTool) -> None:
    await authorized(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_09_CSMS", "Start transaction options - EVConnected", use_cases=("E01",), requirements=("E01.FR.02",)
)
async def tc_e_09(tool: CsmsTool) -> None:
    await notify_connector(tool, 1, Status.OCCUPIED)
    await transaction_event(
        tool, 3, Event.STARTED, Trigger.CABLE_PLUGGED_IN, charging_state=Charging.EV_CONNECTED
    )


async def local_stop(tool: CsmsTool) -> None:
    """TC_E_07 / TC_E_15: from EnergyTransferStarted, a StopAuthorized event that ends the transaction."""
    await energy_transfer_started(tool)  # before
    await transaction_event(
        tool, 1, Event.ENDED, Trigger.STOP_AUTHORIZED, stopped_reason=en.ReasonEnumType.LOCAL
    )


@case(
    "TC_E_07_CSMS",
    "Stop transaction options - PowerPathClosed - Local stop",
    use_cases=("E06",),
    requirements=("E06.FR.06",),
)
async def tc_e_07(tool: CsmsTool) -> None:
    await local_stop(tool)


@case(
    "TC_E_08_CSMS",
    "Stop transaction options - EnergyTransfer stopped - StopAuthorized",
    use_cases=("E06",),
    requirements=("E06.FR.07",),
)
async def tc_e_08(tool: CsmsTool) -> None:
    await stop_authorized(tool)  # before
    await transaction_event(
        tool,
        1,
        Event.ENDED,
        Trigger.CHARGING_STATE_CHANGED,
        charging_state=Charging.EV_CONNECTED,
        stopped_reason=en.ReasonEnumType.LOCAL,
    )


@case(
    "TC_E_10_CSMS",
    "Start transaction options - Authorized - Local",
    use_cases=("E01",),
    requirements=("E01.FR.03",),
)
async def tc_e_10(tool: CsmsTool) -> None:
    await authorized(tool)


@case(
    "TC_E_12_CSMS",
    "Start transaction options - ParkingBayOccupied",
    use_cases=("E01",),
    requirements=("E01.FR.01",),
)
async def tc_e_12(tool: CsmsTool) -> None:
    await transaction_event(tool, 1, Event.STARTED, Trigger.EV_DETECTED)


@case(
    "TC_E_14_CSMS",
    "Stop transaction options - EVDisconnected - Charging Station side",
    use_cases=("E06",),
    requirements=("E06.FR.02",),
)
async def tc_e_14(tool: CsmsTool) -> None:
    await ev_connected_post_session(tool)  # before
    await ev_disconnected(tool)


@case(
    "TC_E_15_CSMS",
    "Stop transaction options - StopAuthorized - Local",
    use_cases=("E06",),
    requirements=("E06.FR.03",),
)
async def tc_e_15(tool: CsmsTool) -> None:
    await local_stop(tool)


@case(
    "TC_E_21_CSMS",
    "Stop transaction options - StopAuthorized - Remote",
    use_cases=("E06", "F03"),
    requirements=("E06.FR.03", "F03.FR.01", "F03.FR.09", "F03.FR.10"),
)
async def tc_e_21(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    transaction = tool.transaction
    if transaction is None:
        raise StepFailed("before", "no transaction after EnergyTransferStarted")
    tool.manual(RequestStop(transaction.id))
    incoming = await tool.expect(1, msg.RequestStopTransactionRequest)
    expect_field(1, incoming.request, "transactionId", transaction.id)
    incoming.answer(msg.RequestStopTransactionResponse(status=en.RequestStartStopStatusEnumType.ACCEPTED))
    await tool.settle()
    await transaction_event(
        tool, 3, Event.ENDED, Trigger.REMOTE_STOP, stopped_reason=en.ReasonEnumType.REMOTE
    )


@case(
    "TC_E_39_CSMS",
    "Stop transaction options - Deauthorized - timeout",
    use_cases=("E03", "E06"),
    requirements=("E03.FR.04", "E03.FR.05", "E06.FR.04"),
)
async def tc_e_39(tool: CsmsTool) -> None:
    await authorized(tool)  # before
    await transaction_event(
        tool, 1, Event.ENDED, Trigger.EV_CONNECT_TIMEOUT, stopped_reason=en.ReasonEnumType.TIMEOUT
    )


@case(
    "TC_E_53_CSMS",
    "Reset Sequence Number - CSMS accepting seqNo = 0 at start of transaction",
    use_cases=("E01",),
    requirements=("E01.FR.07",),
)
async def tc_e_53(tool: CsmsTool) -> None:
    for _ in range(2):  # steps 1-2, then 3-4
        await energy_transfer_started(tool)
        await ev_disconnected(tool)


@case(
    "TC_E_16_CSMS",
    "Stop transaction options - Deauthorized - Invalid idToken",
    use_cases=("E06",),
    requirements=("E06.FR.04", "E01.FR.11", "E01.FR.12"),
)
async def tc_e_16(tool: CsmsTool) -> None:
    c = tool.configured
    token = id_token(c.invalid_idtoken, c.invalid_idtoken_type)
    answer = await transaction_event(tool, 1, Event.STARTED, Trigger.AUTHORIZED, token=token)
    expect_field(2, answer, "idTokenInfo.status", "Invalid", "Unknown")
    await transaction_event(
        tool, 3, Event.ENDED, Trigger.DEAUTHORIZED, stopped_reason=en.ReasonEnumType.DE_AUTHORIZED
    )


@case(
    "TC_E_22_CSMS",
    "Stop transaction options - EnergyTransfer stopped - SuspendedEV",
    use_cases=("E06",),
    requirements=("E06.FR.07",),
)
async def tc_e_22(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await transaction_event(
        tool,
        1,
        Event.ENDED,
        Trigger.CHARGING_STATE_CHANGED,
        charging_state=Charging.SUSPENDED_EV,
        stopped_reason=en.ReasonEnumType.STOPPED_BY_EV,
    )


@case("TC_E_38_CSMS", "Local start transaction - EV not ready", use_cases=("E03",))
async def tc_e_38(tool: CsmsTool) -> None:
    await authorized(tool)  # before
    await ev_connected_pre_session(tool)
    await transaction_event(
        tool, 2, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.SUSPENDED_EV
    )


@case(
    "TC_E_11_CSMS",
    "Start transaction options - DataSigned",
    use_cases=("E01",),
    requirements=("E01.FR.04",),
)
async def tc_e_11(tool: CsmsTool) -> None:
    token = valid_token(tool.configured)
    response = await send_as(1, tool, authorize(token), msg.AuthorizeResponse)
    expect_field(2, response, "idTokenInfo.status", "Accepted")
    await notify_connector(tool, 3, Status.OCCUPIED)
    answer = await transaction_event(
        tool,
        5,
        Event.STARTED,
        Trigger.SIGNED_DATA_RECEIVED,
        token=token,
        meter_value=[signed_energy_reading(en.ReadingContextEnumType.TRANSACTION_BEGIN, 0.0)],
    )
    expect_field(6, answer, "idTokenInfo.status", "Accepted")
    await transaction_event(
        tool, 7, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.CHARGING
    )
    tool.progress.authorized = tool.progress.ev_connected = tool.progress.energy_transfer = True


@case(
    "TC_E_17_CSMS",
    "Stop transaction options - Deauthorized - EV side disconnect",
    use_cases=("E06",),
    requirements=("E06.FR.04",),
)
async def tc_e_17(tool: CsmsTool) -> None:
    await energy_transfer_suspended(tool)  # before
    await ev_gone(tool, 1)


@case(
    "TC_E_19_CSMS",
    "Stop transaction options - ParkingBayUnoccupied",
    use_cases=("E06",),
    requirements=("E06.FR.01",),
)
async def tc_e_19(tool: CsmsTool) -> None:
    await ev_connected_post_session(tool)  # before: EVDisconnected, the transaction going on
    await notify_connector(tool, "EVDisconnected/1", Status.AVAILABLE)
    await transaction_event(
        tool, "EVDisconnected/3", Event.UPDATED, Trigger.EV_COMMUNICATION_LOST, charging_state=Charging.IDLE
    )
    await transaction_event(tool, 1, Event.ENDED, Trigger.EV_DEPARTED, stopped_reason=en.ReasonEnumType.LOCAL)
    tool.progress = type(tool.progress)()


@case(
    "TC_E_20_CSMS",
    "Stop transaction options - EVDisconnected - EV side (able to charge IEC 61851-1 EV)",
    use_cases=("E06", "E10"),
    requirements=("E06.FR.02",),
)
async def tc_e_20(tool: CsmsTool) -> None:
    await energy_transfer_suspended(tool)  # before
    await notify_connector(tool, "EVDisconnected/1", Status.AVAILABLE)  # 1: EVDisconnected, its steps
    await ev_gone(tool, "EVDisconnected/3")


@case(
    "TC_E_26_CSMS",
    "Disconnect cable on EV-side - Suspend transaction",
    use_cases=("E10",),
    requirements=("E10.FR.01",),
)
async def tc_e_26(tool: CsmsTool) -> None:
    await energy_transfer_suspended(tool)  # before
    await transaction_event(
        tool, 1, Event.UPDATED, Trigger.EV_COMMUNICATION_LOST, charging_state=Charging.IDLE
    )
    await notify_connector(tool, 3, Status.AVAILABLE)
    await transaction_event(
        tool, 5, Event.UPDATED, Trigger.CABLE_PLUGGED_IN, charging_state=Charging.EV_CONNECTED
    )
    await transaction_event(
        tool, 7, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.CHARGING
    )
