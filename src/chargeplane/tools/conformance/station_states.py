"""The reusable states of Part 6 §2.18 (charging-station side), as shared async functions.

A station's messages depend on its TxStartPoint / TxStopPoint, which the tables cover with "this step needs
to be executed when ..." notes. The tool waits for what every configuration sends (the StatusNotification,
the event that shows charging) and checks the optional messages that did come (through
``StationTool.seen``) rather than requiring them.

How ambiguous rows were read:

* Booted: the tool sends ResetRequest Immediate (steps 1-2) instead of asking for a power cycle; the
  SecurityEventNotification of steps 7-8 is required (A04 asks for it at every boot).
* Authorized (remote), step 5 (StatusNotification Occupied with no EV connected) is not required.
* "All connectors": the configured EVSE and connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from msgspec import UNSET

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug
from chargeplane.tools.conformance.station_steps import StationTool, token_info

log = logging.getLogger(__name__)
Status = en.ConnectorStatusEnumType
TxEvent = msg.TransactionEventRequest
BOOT_WITHIN = 60.0  # a reboot, then the station's reconnect back-off


def valid_token(tool: StationTool) -> dt.IdTokenType:
    configured = tool.configured
    return dt.IdTokenType(
        id_token=configured.valid_idtoken, type=en.IdTokenEnumType(configured.valid_idtoken_type)
    )


def transaction_events(tool: StationTool) -> list[TxEvent]:
    return [m for m in tool.seen if isinstance(m, TxEvent)]


def transaction_id(tool: StationTool, step: int | str) -> str:
    """The id of the station's latest transaction, as its TransactionEvents gave it."""
    events = transaction_events(tool)
    if not events:
        raise StepFailed(step, "the station has sent no TransactionEventRequest")
    return events[-1].transaction_info.transaction_id


def transaction_ended(tool: StationTool) -> bool:
    events = transaction_events(tool)
    return bool(events) and events[-1].event_type is en.TransactionEventEnumType.ENDED


async def connector_status(tool: StationTool, step: int | str, status: Status, within: float = 10.0) -> None:
    """The StatusNotification of the configured connector with ``status`` (its NotifyEvent is answered on
    the way, if the station sends one)."""
    configured = tool.configured
    await tool.expect_answered(
        step,
        msg.StatusNotificationRequest,
        within,
        where=lambda r: (
            r.evse_id == configured.evse_id
            and r.connector_id == configured.connector_id
            and r.connector_status is status
        ),
    )


async def booted(tool: StationTool) -> None:
    response = await tool.send_as(
        "Booted/1", msg.ResetRequest(type=en.ResetEnumType.IMMEDIATE), msg.ResetResponse
    )
    expect_field("Booted/2", response, "status", "Accepted")
    await after_boot(tool, "Booted/3")


async def after_boot(tool: StationTool, step: str) -> None:
    """Booted steps 3-8: the BootNotification (answered Accepted), the connectors' state, the security event."""
    tool.answers.registration = en.RegistrationStatusEnumType.ACCEPTED
    await tool.expect_answered(step, msg.BootNotificationRequest, BOOT_WITHIN)
    await connector_status(tool, "Booted/5", Status.AVAILABLE)
    event = await tool.expect_answered("Booted/7", msg.SecurityEventNotificationRequest, 5.0)
    expect_field("Booted/7", event, "type", "StartupOfTheDevice", "ResetOrReboot")


async def ev_connected_pre_session(tool: StationTool) -> None:
    configured = tool.configured
    await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
    await connector_status(tool, "EVConnectedPreSession/1", Status.OCCUPIED)
    tool.progress.add("EVConnected")


async def authorized_local(tool: StationTool) -> None:
    configured = tool.configured
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
    incoming = await tool.expect("Authorized/1", msg.AuthorizeRequest)
    expect_field("Authorized/1", incoming.request, "idToken.idToken", configured.valid_idtoken)
    expect_field("Authorized/1", incoming.request, "idToken.type", configured.valid_idtoken_type)
    incoming.answer(msg.AuthorizeResponse(id_token_info=token_info(incoming.request.id_token, tool.answers)))
    tool.progress.add("Authorized")


async def authorized_remote(tool: StationTool, remote_start_id: int = 4711) -> None:
    configured = tool.configured
    request = msg.RequestStartTransactionRequest(
        id_token=valid_token(tool), evse_id=configured.evse_id, remote_start_id=remote_start_id
    )
    response = await tool.send_as("Authorized/1", request, msg.RequestStartTransactionResponse)
    expect_field("Authorized/2", response, "status", "Accepted")
    tool.progress.add("Authorized")
    tool.remote_start_id = remote_start_id
    tool.remote_started_at = len(tool.seen)


def first_event_after_remote_start(tool: StationTool, step: int | str) -> None:
    """General rule: the first TransactionEvent after a RequestStartTransaction has triggerReason RemoteStart
    and the remoteStartId."""
    after = [m for m in tool.seen[tool.remote_started_at :] if isinstance(m, TxEvent)]
    if not after:
        raise StepFailed(step, "no TransactionEventRequest after the RequestStartTransaction")
    expect_field(step, after[0], "triggerReason", "RemoteStart")
    expect_field(step, after[0], "transactionInfo.remoteStartId", tool.remote_start_id)


def _charging(event: TxEvent) -> bool:
    return bool(field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING)


async def energy_transfer_started(tool: StationTool) -> None:
    """Part 1 (connect the EV) when not connected yet; then the event that shows energy flowing."""
    if "EVConnected" not in tool.progress:
        configured = tool.configured
        await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
        await connector_status(tool, "EnergyTransferStarted/1", Status.OCCUPIED)
        tool.progress.add("EVConnected")
    if not any(_charging(e) for e in transaction_events(tool)):
        await tool.expect_answered("EnergyTransferStarted/9", TxEvent, where=_charging)
    tool.progress.add("EnergyTransfer")


async def stop_authorized_local(tool: StationTool) -> None:
    configured = tool.configured
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
    event = await tool.expect_answered(
        "StopAuthorized/1",
        TxEvent,
        where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.STOP_AUTHORIZED,
    )
    token = field_value(event, "idToken.idToken")
    if token != configured.valid_idtoken and str(token) != "absent":
        raise StepFailed("StopAuthorized/1", f"idToken.idToken is {token}, expected the one that started it")
    tool.progress.add("StopAuthorized")


async def stop_authorized_remote(tool: StationTool) -> None:
    tx = transaction_id(tool, "StopAuthorized/1")
    request = msg.RequestStopTransactionRequest(transaction_id=tx)
    response = await tool.send_as("StopAuthorized/1", request, msg.RequestStopTransactionResponse)
    expect_field("StopAuthorized/2", response, "status", "Accepted")
    await tool.expect_answered(
        "StopAuthorized/3", TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.REMOTE_STOP
    )
    tool.progress.add("StopAuthorized")


async def ev_disconnected(tool: StationTool) -> None:
    configured = tool.configured
    await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    await connector_status(tool, "EVDisconnected/1", Status.AVAILABLE)
    if not transaction_ended(tool):
        event = await tool.expect_answered(
            "EVDisconnected/3", TxEvent, where=lambda e: e.event_type is en.TransactionEventEnumType.ENDED
        )
        expect_field("EVDisconnected/3", event, "transactionInfo.chargingState", "Idle", "absent")
    tool.progress.clear()


def received(tool: StationTool, message_type: type[Payload]) -> list[Payload]:
    return [m for m in tool.seen if isinstance(m, message_type)]


# ---------------------------------------------------------------------- Reservation (block H)
def expiry_in(seconds: float) -> str:
    """An expiryDateTime ``seconds`` from now (wire form)."""
    return to_wire(datetime.now(UTC) + timedelta(seconds=seconds))


async def reserved(
    tool: StationTool,
    reservation_id: int,
    token: dt.IdTokenType | None = None,
    evse_id: int | None = None,
    expires_in: float = 3600.0,
    step: str = "Reserved",
) -> None:
    """Reusable State Reserved: ReserveNow for the specified EVSE (the configured one by default) and token
    (the valid one by default), then the connector's StatusNotification Reserved."""
    configured = tool.configured
    request = msg.ReserveNowRequest(
        id=reservation_id,
        expiry_date_time=expiry_in(expires_in),
        id_token=token if token is not None else valid_token(tool),
        evse_id=evse_id if evse_id is not None else configured.evse_id,
    )
    response = await tool.send_as(f"{step}/1", request, msg.ReserveNowResponse)
    expect_field(f"{step}/2", response, "status", "Accepted")
    await connector_status(tool, f"{step}/3", Status.RESERVED)


# ---------------------------------------------------------------------- configuration state (SetVariables)
# A case's "Configuration State": (component, variable, instance, value, required). A variable marked
# "(If implemented)" in a table is not required: the station may answer it as unknown.
Setting = tuple[str, str, str | None, str, bool]


def _variable(
    component: str, variable: str, instance: str | None
) -> tuple[dt.ComponentType, dt.VariableType]:
    return dt.ComponentType(name=component), dt.VariableType(
        name=variable, instance=UNSET if instance is None else instance
    )


async def get_variable(
    tool: StationTool, step: int | str, component: str, variable: str, instance: str | None = None
) -> str | None:
    """The Actual value of a variable (None when the station does not know it)."""
    comp, var = _variable(component, variable, instance)
    request = msg.GetVariablesRequest(
        get_variable_data=[dt.GetVariableDataType(component=comp, variable=var)]
    )
    response = await tool.send_as(step, request, msg.GetVariablesResponse)
    result = response.get_variable_result[0]
    if result.attribute_status is not en.GetVariableStatusEnumType.ACCEPTED:
        return None
    value = result.attribute_value
    return None if value is UNSET else str(value)


async def set_variables(tool: StationTool, step: int | str, settings: Sequence[Setting]) -> None:
    """SetVariables for a configuration state; a required value must be Accepted (RebootRequired fails:
    the cases here cannot reboot in their preparations)."""
    data = []
    for component, variable, instance, value, _ in settings:
        comp, var = _variable(component, variable, instance)
        data.append(dt.SetVariableDataType(attribute_value=value, component=comp, variable=var))
    response = await tool.send_as(
        step, msg.SetVariablesRequest(set_variable_data=data), msg.SetVariablesResponse
    )
    by_name = {(r.component.name, r.variable.name): r for r in response.set_variable_result}
    for component, variable, _, value, required in settings:
        result = by_name.get((component, variable))
        status = None if result is None else result.attribute_status
        if required and status is not en.SetVariableStatusEnumType.ACCEPTED:
            shown = "no result" if status is None else status.value
            raise StepFailed(step, f"setting {component}.{variable} to {value!r}: {shown}, expected Accepted")


@contextlib.asynccontextmanager
async def configuration(
    tool: StationTool, step: int | str, settings: Sequence[Setting]
) -> AsyncIterator[None]:
    """The configuration state of a case, put back as it was when the block is left (outside the verdict:
    the tool cleans up after itself, and a restore that fails is only logged)."""
    before: list[Setting] = []
    for component, variable, instance, _, _ in settings:
        value = await get_variable(tool, step, component, variable, instance)
        if value is not None:
            before.append((component, variable, instance, value, False))
    await set_variables(tool, step, settings)
    try:
        yield
    finally:
        if before:
            try:
                async with asyncio.timeout(10.0):
                    await tool.endpoint.wait_connected("restore", 10.0)
                    await set_variables(tool, "restore", before)
            except (StepFailed, TimeoutError) as error:
                log.warning("putting the configuration back: %s", error)


# ---------------------------------------------------------------------- after an offline period
def offline_events(tool: StationTool, reconnected_at: datetime) -> list[TxEvent]:
    """The TransactionEvents the station queued while offline: those it sent after the offline period began
    with a timestamp before the reconnection. A message already seen before (in flight when the connection
    closed, sent again as it was) is left out."""
    earlier = {(e.transaction_info.transaction_id, e.seq_no) for e in transaction_events_before(tool)}
    return [
        e
        for e in tool.seen[tool.offline_at :]
        if isinstance(e, TxEvent)
        and (e.transaction_info.transaction_id, e.seq_no) not in earlier
        and from_wire(e.timestamp) < reconnected_at
    ]


def transaction_events_before(tool: StationTool) -> list[TxEvent]:
    return [m for m in tool.seen[: tool.offline_at] if isinstance(m, TxEvent)]


def expect_all_offline(step: int | str, events: list[TxEvent]) -> None:
    """Every queued TransactionEvent carries offline true (E04.FR.03, E11.FR.06, E12.FR.06)."""
    if not events:
        raise StepFailed(step, "the station sent no TransactionEventRequest queued while offline")
    for event in events:
        expect_field(step, event, "offline", True)


def expect_seq_no_order(step: int | str, events: list[TxEvent]) -> None:
    """Per transaction, seqNo grows in the order the messages came (E01.FR.07; the queue keeps its order)."""
    last: dict[str, int] = {}
    for event in events:
        tx = event.transaction_info.transaction_id
        if tx in last and event.seq_no <= last[tx]:
            raise StepFailed(step, f"transaction {tx}: seqNo {event.seq_no} came after {last[tx]}")
        last[tx] = event.seq_no


async def receive_queue(tool: StationTool, step: int | str, quiet: float = 1.0, limit: float = 10.0) -> None:
    """Take what the station sends after reconnecting (its queue first) until ``quiet`` seconds without a
    message, ``limit`` seconds at most; everything is answered with the tool's default answer."""
    await tool.drain(within=quiet, limit=limit)


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def charging_from_idle(tool: StationTool) -> None:
    """Reusable State EnergyTransferStarted from an idle station, with what it needs first: the EV connected
    (EVConnectedPreSession) and the valid token presented (Authorized, local)."""
    await ev_connected_pre_session(tool)
    await authorized_local(tool)
    await energy_transfer_started(tool)


def offline_settings(tool: StationTool, extra_wait: int = 0) -> list[Setting]:
    """The configuration state the offline cases share: a reconnection wait of RetryBackOffWaitMinimum
    (+ ``extra_wait``) without random part, and an OfflineThreshold well above it."""
    wait = tool.configured.retry_backoff_wait_minimum + extra_wait
    comm = "OCPPCommCtrlr"
    return [
        (comm, "OfflineThreshold", None, str(wait + 60), True),
        (comm, "RetryBackOffWaitMinimum", None, str(wait), True),
        (comm, "RetryBackOffRandomRange", None, "0", True),
    ]


def sampled_settings(tool: StationTool) -> list[Setting]:
    """Periodic meter values during a transaction every ``station_sampled_interval`` seconds."""
    interval = str(tool.configured.station_sampled_interval)
    return [
        ("SampledDataCtrlr", "Enabled", None, "true", False),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", None, "Energy.Active.Import.Register", True),
        ("SampledDataCtrlr", "TxUpdatedInterval", None, interval, True),
    ]
