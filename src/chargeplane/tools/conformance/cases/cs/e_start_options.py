"""Block E, Transactions (Part 6 §2.6), charging-station side: the TxStartPoint options (E01).

Each case sets TxCtrlr.TxStartPoint to its one start point (the CSV asks that the others can be left out),
and puts the station's previous values back at its end; :func:`tx_configuration` does that for the
start / stop option cases of the other modules too.

Readings:
* Conditions: the CSV's formulas are declared as ``condition=``; their terms on local authorization options
  (C-30..C-35) are taken as held (every station of this tool reads the configured card, as in the other
  modules), and with them TC_E_10's "(C-30 - C-35 or ISO 15118 support)"; a "Product Subtype Mode
  1/2-only" term is taken as false.
* "TxStartPoint contains X" (Configuration State) is read as TxStartPoint = X, which is what makes the start
  point under test the one that starts the transaction.
* "AuthCtrl.AuthEnabled true (if implemented and ReadWrite)" / "DisableRemoteAuthorization false (if
  implemented)": set when the station reports the variable (AuthCtrlr.Enabled), left alone otherwise.
* The optional Reusable State ParkingBayOccupied (TC_E_09's Before) is not run: it only matters when
  TxStartPoint contains ParkingBayOccupancy, which the case does not set.
* TC_E_01 has no tool validation of its own: its EVConnectedPreSession step 3 is checked (a Started event,
  PowerPathClosed with the state Authorized), and no TransactionEvent may come before the EV is connected.
* TC_E_11's damaged field paths (``sampledValue-signedMeterValue_encodingMethod``) are read as
  ``meterValue[0].sampledValue[0].signedMeterValue.{encodingMethod,publicKey,signedMeterData,signingMethod}``.
* TC_E_13 step 3 (AuthorizeRequest) is optional (the station sends it when AuthorizeRemoteStart is true);
  when it comes its token is checked.
* The NotifyEvent (AvailabilityState) listed beside each StatusNotification is answered, not required, as
  in the reusable states.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, expect_present, field_value
from chargeplane.tools.conformance.station_adapter import EnterParkingBay, PlugIn
from chargeplane.tools.conformance.station_states import (
    Status,
    TxEvent,
    authorized_local,
    configuration,
    connector_status,
    valid_token,
)
from chargeplane.tools.conformance.station_steps import StationTool

log = logging.getLogger(__name__)
TxType = en.TransactionEventEnumType


@dataclass(frozen=True)
class Setting:
    component: str
    variable: str
    value: str
    optional: bool = False  # "(if implemented)": skipped when the station does not report the variable


TX_START = "TxStartPoint"
TX_STOP = "TxStopPoint"


def start_point(value: str) -> Setting:
    return Setting("TxCtrlr", TX_START, value)


def stop_point(value: str) -> Setting:
    return Setting("TxCtrlr", TX_STOP, value)


AUTH_ENABLED = Setting("AuthCtrlr", "Enabled", "true", optional=True)
REMOTE_AUTH_ALLOWED = Setting("AuthCtrlr", "DisableRemoteAuthorization", "false", optional=True)


async def read_variable(tool: StationTool, setting: Setting) -> str | None:
    data = dt.GetVariableDataType(
        component=dt.ComponentType(name=setting.component), variable=dt.VariableType(name=setting.variable)
    )
    response = await tool.send_as(
        "before", msg.GetVariablesRequest(get_variable_data=[data]), msg.GetVariablesResponse
    )
    result = response.get_variable_result[0]
    if result.attribute_status is not en.GetVariableStatusEnumType.ACCEPTED:
        if setting.optional:
            return None
        raise StepFailed(
            "before", f"GetVariables {setting.component}.{setting.variable}: {result.attribute_status.value}"
        )
    return str(field_value(result, "attributeValue"))


def tx_configuration(tool: StationTool, *settings: Setting) -> AbstractAsyncContextManager[None]:
    """The Configuration State of a case: ``settings`` applied before, the previous values put back after
    (outside the verdict: a failed restore is logged); a setting "(if implemented)" may be unknown."""
    rows = [(s.component, s.variable, None, s.value, not s.optional) for s in settings]
    return configuration(tool, "before", rows)


def no_transaction_event(tool: StationTool, step: int | str) -> None:
    if any(isinstance(m, TxEvent) for m in tool.seen):
        raise StepFailed(step, "the station sent a TransactionEventRequest before its start point held")


def _started(event: TxEvent) -> bool:
    return event.event_type is TxType.STARTED


async def started_event(tool: StationTool, step: int | str, within: float = 10.0) -> TxEvent:
    """The Started event: already received (a station may send it before the connector's status), or the
    next one."""
    done = [m for m in tool.seen if isinstance(m, TxEvent) and _started(m)]
    if done:
        return done[-1]
    return await tool.expect_answered(step, TxEvent, within, where=_started)


def expect_valid_token(step: int | str, tool: StationTool, payload: TxEvent | msg.AuthorizeRequest) -> None:
    expect_field(step, payload, "idToken.idToken", tool.configured.valid_idtoken)
    expect_field(step, payload, "idToken.type", tool.configured.valid_idtoken_type)


def expect_evse(step: int | str, tool: StationTool, event: TxEvent) -> None:
    expect_field(step, event, "evse.id", tool.configured.evse_id)
    expect_field(step, event, "evse.connectorId", tool.configured.connector_id)


async def plug_in(tool: StationTool, step: int | str) -> None:
    """Manual action "connect the EV and EVSE", then the connector's StatusNotification Occupied."""
    configured = tool.configured
    await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
    await connector_status(tool, step, Status.OCCUPIED)
    tool.progress.add("EVConnected")


@case(
    "TC_E_01_CS",
    "Start transaction options - PowerPathClosed",
    use_cases=("E01",),
    requirements=("E01.FR.05", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16"),
    condition="C-09.4 and (C-51 or not (C-09.1 or C-09.2 or C-09.3 or C-09.6))",
    timeout=40.0,
)
async def tc_e_01_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("PowerPathClosed")):
        await authorized_local(tool)
        await tool.drain(0.5, 2.0)  # what the authorization brings (a StatusNotification), no transaction yet
        no_transaction_event(tool, "Authorized/3")
        await plug_in(tool, "EVConnectedPreSession/1")  # 1. EVConnectedPreSession
        event = await started_event(tool, "EVConnectedPreSession/3")
        expect_field(
            "EVConnectedPreSession/3",
            event,
            "triggerReason",
            "CablePluggedIn",
            "ChargingStateChanged",
            "RemoteStart",
        )
        expect_field(
            "EVConnectedPreSession/3",
            event,
            "transactionInfo.chargingState",
            "EVConnected",
            "SuspendedEVSE",
            "Charging",
        )
        expect_evse("EVConnectedPreSession/3", tool, event)


@case(
    "TC_E_02_CS",
    "Start transaction options - EnergyTransfer",
    use_cases=("E01",),
    requirements=("E01.FR.06", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16"),
    condition="C-09.5 and (C-51 or not (C-09.1 or C-09.2 or C-09.3 or C-09.4 or C-09.6))",
    timeout=40.0,
)
async def tc_e_02_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("EnergyTransfer")):
        await authorized_local(tool)
        await plug_in(tool, 1)  # Manual Action, 1. / 2.
        event = await started_event(tool, 3)  # 3. / 4.
        expect_field(3, event, "triggerReason", "ChargingStateChanged", "Authorized")
        expect_valid_token(3, tool, event)
        expect_evse(3, tool, event)
        expect_field(3, event, "transactionInfo.chargingState", "Charging")


@case(
    "TC_E_09_CS",
    "Start transaction options - EVConnected",
    use_cases=("E01",),
    requirements=("E01.FR.02", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16"),
    condition="C-09.1 and (C-51 or not C-09.6)",
)
async def tc_e_09_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("EVConnected")):
        await plug_in(tool, 1)  # Manual Action, 1. / 2.
        event = await started_event(tool, 3)  # 3. / 4.
        expect_field(3, event, "triggerReason", "CablePluggedIn", "ChargingStateChanged")
        expect_evse(3, tool, event)
        expect_field(3, event, "transactionInfo.chargingState", "EVConnected")


@case(
    "TC_E_10_CS",
    "Start transaction options - Authorized - Local",
    use_cases=("E01", "C01"),
    requirements=("E01.FR.03", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16", "C01.FR.02"),
    features=("C-09.2",),
)
async def tc_e_10_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("Authorized"), AUTH_ENABLED, REMOTE_AUTH_ALLOWED):
        await authorized_local(tool)  # Manual Action, 1. / 2. (AuthorizeRequest, answered Accepted)
        event = await started_event(tool, 3)  # 3. / 4.
        expect_field(3, event, "triggerReason", "Authorized")
        expect_valid_token(3, tool, event)


@case(
    "TC_E_11_CS",
    "Start transaction options - DataSigned",
    use_cases=("E01",),
    requirements=("E01.FR.04", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16"),
    condition="C-09.3 and (C-51 or not (C-09.1 or C-09.2 or C-09.6))",
    timeout=40.0,
)
async def tc_e_11_cs(tool: StationTool) -> None:
    signing = Setting("SampledDataCtrlr", "SignReadings", "true")
    async with tx_configuration(tool, start_point("DataSigned"), signing):
        await authorized_local(tool)
        await plug_in(tool, 1)  # Manual Action, 1. / 2.
        event = await started_event(tool, 3)  # 3. / 4.
        expect_field(3, event, "triggerReason", "SignedDataReceived")
        expect_valid_token(3, tool, event)
        expect_evse(3, tool, event)
        sampled = "meterValue[0].sampledValue[0]"
        expect_field(3, event, f"{sampled}.context", "Transaction.Begin")
        for part in ("encodingMethod", "publicKey", "signedMeterData", "signingMethod"):
            expect_present(3, event, f"{sampled}.signedMeterValue.{part}")
        updated = await tool.expect_answered(  # 5. / 6.
            5,
            TxEvent,
            where=lambda e: e.event_type is TxType.UPDATED and e.trigger_reason.value != "MeterValuePeriodic",
        )
        expect_field(5, updated, "triggerReason", "ChargingStateChanged")
        expect_field(5, updated, "transactionInfo.chargingState", "Charging")


@case(
    "TC_E_12_CS",
    "Start transaction options - ParkingBayOccupied",
    use_cases=("E01",),
    requirements=("E01.FR.01", "E01.FR.07", "E01.FR.10", "E01.FR.15", "E01.FR.16"),
    features=("C-09.6",),
)
async def tc_e_12_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("ParkingBayOccupancy")):
        await tool.manual(EnterParkingBay(tool.configured.evse_id))
        tool.progress.add("ParkingBayOccupied")
        event = await started_event(tool, 1)  # 1. / 2.
        expect_field(1, event, "triggerReason", "EVDetected")


@case(
    "TC_E_13_CS",
    "Start transaction options - Authorized - Remote",
    use_cases=("E01", "F02"),
    requirements=("E01.FR.03", "F01.FR.03", "F01.FR.04", "F01.FR.06", "F01.FR.19", "F02.FR.01"),
    features=("C-09.2",),
)
async def tc_e_13_cs(tool: StationTool) -> None:
    async with tx_configuration(tool, start_point("Authorized"), AUTH_ENABLED, REMOTE_AUTH_ALLOWED):
        request = msg.RequestStartTransactionRequest(
            id_token=valid_token(tool), evse_id=tool.configured.evse_id, remote_start_id=4713
        )
        response = await tool.send_as(1, request, msg.RequestStartTransactionResponse)  # 1. / 2.
        expect_field(2, response, "status", "Accepted")
        tool.progress.add("Authorized")
        event = await started_event(tool, 5)  # (3. / 4.) 5. / 6.
        for authorize in (m for m in tool.seen if isinstance(m, msg.AuthorizeRequest)):
            expect_valid_token(3, tool, authorize)
        expect_field(5, event, "triggerReason", "RemoteStart")
        expect_valid_token(5, tool, event)
        expect_present(5, event, "transactionInfo.remoteStartId")
