"""Block F, Remote Control (Part 6 §2.7), charging-station side.

Readings:
* Part 5 conditions on a station's hardware and options are features the declaration states: C-48.1 / C-48.2
  (AuthorizeRemoteStart can be set true / false), C-29.5 (TriggerMessage StatusNotification), HFS-1
  (a detachable cable: UnlockConnector). TC_F_01's "NOT AQ-2 and (C-36 or C-39)" is taken as mandatory.
* TC_F_02_CS / TC_F_03_CS set AuthCtrlr.AuthorizeRemoteStart in their configuration state with SetVariables
  (a station where it is ReadOnly with the other value declares only one of C-48.1 / C-48.2).
* TC_F_04_CS sets TxCtrlr.EVConnectionTimeOut to the declaration's ``ev_connection_timeout`` first, and
  puts the station's previous value back at the end.
* TC_F_05 / F_07 / F_10 (UnlockConnector) share TC_F_06's condition (HFS-1, a detachable cable). TC_F_05's
  "Transaction is ongoing ... EnergyTransferStarted" is entered with a local authorization (Authorized, then
  EnergyTransferStarted); TC_F_07's "no cable connected" is the idle state every case starts from.
  TC_F_10's "evseld" is read as evseId (the configured EVSE, connector 999).
"""

from __future__ import annotations

import uuid

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_states import (
    Status,
    TxEvent,
    authorized_local,
    authorized_remote,
    connector_status,
    energy_transfer_started,
    ev_connected_pre_session,
    first_event_after_remote_start,
    stop_authorized_remote,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool


async def set_variable(tool: StationTool, step: int | str, component: str, variable: str, value: str) -> None:
    data = dt.SetVariableDataType(
        attribute_value=value,
        component=dt.ComponentType(name=component),
        variable=dt.VariableType(name=variable),
    )
    response = await tool.send_as(
        step, msg.SetVariablesRequest(set_variable_data=[data]), msg.SetVariablesResponse
    )
    expect_field(step, response, "setVariableResult[0].attributeStatus", "Accepted")


async def get_variable(tool: StationTool, step: int | str, component: str, variable: str) -> str:
    data = dt.GetVariableDataType(
        component=dt.ComponentType(name=component), variable=dt.VariableType(name=variable)
    )
    response = await tool.send_as(
        step, msg.GetVariablesRequest(get_variable_data=[data]), msg.GetVariablesResponse
    )
    expect_field(step, response, "getVariableResult[0].attributeStatus", "Accepted")
    return str(response.get_variable_result[0].attribute_value)


async def remote_start_then_charge(tool: StationTool) -> None:
    await authorized_remote(tool)
    await energy_transfer_started(tool)
    first_event_after_remote_start(tool, "EnergyTransferStarted")


@case(
    "TC_F_01_CS",
    "Remote start transaction - Cable plugin first",
    use_cases=("F01",),
    requirements=("F01.FR.01", "F01.FR.19"),
    timeout=40.0,
)
async def tc_f_01_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await remote_start_then_charge(tool)


@case(
    "TC_F_02_CS",
    "Remote start transaction - Remote start first - AuthorizationRemoteStart is true",
    use_cases=("F02",),
    requirements=("F02.FR.01",),
    features=("C-48.1",),
    timeout=40.0,
)
async def tc_f_02_cs(tool: StationTool) -> None:
    await set_variable(tool, "before", "AuthCtrlr", "AuthorizeRemoteStart", "true")
    try:
        await authorized_remote(tool)
        incoming = await tool.expect("Authorized/3", msg.AuthorizeRequest)
        expect_field("Authorized/3", incoming.request, "idToken.idToken", tool.configured.valid_idtoken)
        tool.answer_default(incoming)
        await energy_transfer_started(tool)
        first_event_after_remote_start(tool, "EnergyTransferStarted")
    finally:
        await set_variable(tool, "after", "AuthCtrlr", "AuthorizeRemoteStart", "false")


@case(
    "TC_F_03_CS",
    "Remote start transaction - Remote start first - AuthorizationRemoteStart is false",
    use_cases=("F02",),
    requirements=("F02.FR.01",),
    features=("C-48.2",),
    timeout=40.0,
)
async def tc_f_03_cs(tool: StationTool) -> None:
    await set_variable(tool, "before", "AuthCtrlr", "AuthorizeRemoteStart", "false")
    await remote_start_then_charge(tool)
    if any(isinstance(m, msg.AuthorizeRequest) for m in tool.seen):
        raise StepFailed(
            "Authorized/3", "the station sent an AuthorizeRequest, AuthorizeRemoteStart is false"
        )


@case(
    "TC_F_04_CS",
    "Remote start transaction - Remote start first - Cable plugin timeout",
    use_cases=("F02", "E03"),
    requirements=("E03.FR.05",),
    timeout=60.0,
)
async def tc_f_04_cs(tool: StationTool) -> None:
    timeout = tool.configured.ev_connection_timeout
    previous = await get_variable(tool, "before", "TxCtrlr", "EVConnectionTimeOut")
    await set_variable(tool, "before", "TxCtrlr", "EVConnectionTimeOut", str(timeout))
    try:
        await authorized_remote(tool)
        started = bool(transaction_events(tool))
        if not started:  # a start point other than Authorized: the transaction may open now
            await tool.drain(0.5)
            started = bool(transaction_events(tool))
        if started:
            event = await tool.expect_answered(
                1, TxEvent, timeout + 10.0, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
            )
            expect_field(1, event, "triggerReason", "EVConnectTimeout")
        else:
            await tool.drain(timeout + 1.0)
        await authorized_remote(tool, remote_start_id=4712)  # 3. ready for another session
    finally:
        await set_variable(tool, "after", "TxCtrlr", "EVConnectionTimeOut", previous)
        await tool.drain(timeout + 1.0)  # the second authorization times out too


@case(
    "TC_F_06_CS",
    "Remote unlock Connector - Without ongoing transaction - Accepted",
    use_cases=("F05",),
    requirements=("F05.FR.02",),
    features=("HFS-1",),
)
async def tc_f_06_cs(tool: StationTool) -> None:
    configured = tool.configured
    request = msg.UnlockConnectorRequest(evse_id=configured.evse_id, connector_id=configured.connector_id)
    response = await tool.send_as(1, request, msg.UnlockConnectorResponse)
    expect_field(2, response, "status", "Unlocked")


async def unlock(tool: StationTool, connector_id: int | None = None) -> msg.UnlockConnectorResponse:
    configured = tool.configured
    connector = configured.connector_id if connector_id is None else connector_id
    request = msg.UnlockConnectorRequest(evse_id=configured.evse_id, connector_id=connector)
    return await tool.send_as(1, request, msg.UnlockConnectorResponse)


@case(
    "TC_F_05_CS",
    "Remote unlock Connector - With ongoing transaction",
    use_cases=("F05",),
    requirements=("F05.FR.01", "F05.FR.02"),
    features=("HFS-1",),
    timeout=40.0,
)
async def tc_f_05_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    response = await unlock(tool)
    expect_field(2, response, "status", "OngoingAuthorizedTransaction")


@case(
    "TC_F_07_CS",
    "Remote unlock Connector - Without ongoing transaction - No cable connected",
    use_cases=("F05",),
    requirements=("F05.FR.01", "F05.FR.06"),
    features=("HFS-1",),
)
async def tc_f_07_cs(tool: StationTool) -> None:
    response = await unlock(tool)
    expect_field(2, response, "status", "Unlocked")


@case(
    "TC_F_08_CS",
    "Remote stop transaction - Success",
    use_cases=("F03",),
    requirements=("F03.FR.01", "F03.FR.02"),
    timeout=40.0,
)
async def tc_f_08_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    await stop_authorized_remote(tool)


@case(
    "TC_F_09_CS",
    "Remote stop transaction - Rejected",
    use_cases=("F03",),
    requirements=("F03.FR.08",),
    timeout=40.0,
)
async def tc_f_09_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    request = msg.RequestStopTransactionRequest(transaction_id=str(uuid.uuid4()))
    response = await tool.send_as(1, request, msg.RequestStopTransactionResponse)
    expect_field(2, response, "status", "Rejected")


async def trigger(tool: StationTool, message: str, *, evse: dt.EVSEType | None = None) -> None:
    request = msg.TriggerMessageRequest(requested_message=en.MessageTriggerEnumType(message))
    if evse is not None:
        request = msg.TriggerMessageRequest(requested_message=en.MessageTriggerEnumType(message), evse=evse)
    response = await tool.send_as(1, request, msg.TriggerMessageResponse)
    expect_field(2, response, "status", "Accepted")


def configured_evse(tool: StationTool) -> dt.EVSEType:
    return dt.EVSEType(id=tool.configured.evse_id, connector_id=tool.configured.connector_id)


@case(
    "TC_F_10_CS",
    "Remote unlock Connector - Without ongoing transaction - UnknownConnector",
    use_cases=("F05",),
    requirements=("F05.FR.03",),
    features=("HFS-1",),
)
async def tc_f_10_cs(tool: StationTool) -> None:
    response = await unlock(tool, connector_id=999)
    expect_field(2, response, "status", "UnknownConnector")


@case("TC_F_20_CS", "Trigger message - Heartbeat", use_cases=("F06",), requirements=("F06.FR.04",))
async def tc_f_20_cs(tool: StationTool) -> None:
    await trigger(tool, "Heartbeat")
    await tool.expect_answered(3, msg.HeartbeatRequest)


@case(
    "TC_F_23_CS",
    "Trigger message - StatusNotification - Specific EVSE - Available",
    use_cases=("F06",),
    requirements=("F06.FR.12",),
    features=("C-29.5",),
)
async def tc_f_23_cs(tool: StationTool) -> None:
    await trigger(tool, "StatusNotification", evse=configured_evse(tool))
    await connector_status(tool, 3, Status.AVAILABLE)


@case(
    "TC_F_24_CS",
    "Trigger message - StatusNotification - Specific EVSE - Occupied",
    use_cases=("F06",),
    requirements=("F06.FR.12",),
    features=("C-29.5",),
)
async def tc_f_24_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await trigger(tool, "StatusNotification", evse=configured_evse(tool))
    await connector_status(tool, 3, Status.OCCUPIED)
