"""The reusable states of Part 6 §3.18 (CSMS side), as shared async functions.

Each one brings the tool from wherever it is to the state's post condition, running the states it depends
on first, as the tables say ("If State is NOT Authorized then execute Reusable State Authorized"). Steps are
labelled ``<State>/<n>`` so that a failure says which state and which of its steps.

How ambiguous rows were read:

* StopAuthorized checks ``idTokenInfo.status`` in the response, which a CSMS only sends for an event that
  carries an ``idToken``: the tool sends the configured valid token with the StopAuthorized event.
* Booted, EVConnectedPreSession and the others notify "all connectors": the tool has one EVSE with one
  connector, the configured ones.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import ChangeAvailability
from chargeplane.tools.conformance.checks import expect_absent, expect_field
from chargeplane.tools.conformance.messages import (
    authorize,
    availability_event,
    boot_notification,
    send_as,
    status_notification,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.steps import CsmsTool

Event = en.TransactionEventEnumType
Trigger = en.TriggerReasonEnumType
Charging = en.ChargingStateEnumType
Status = en.ConnectorStatusEnumType


async def notify_connector(tool: CsmsTool, step: int | str, status: Status) -> None:
    """StatusNotification of the configured connector and the matching AvailabilityState NotifyEvent."""
    configured = tool.configured
    await tool.send(step, status_notification(status, configured.evse_id, configured.connector_id))
    await tool.send(
        step, availability_event(status.value, "Connector", configured.evse_id, configured.connector_id)
    )


async def booted(tool: CsmsTool, reason: en.BootReasonEnumType = en.BootReasonEnumType.POWER_UP) -> None:
    response = await send_as(
        "Booted/1", tool, boot_notification(tool.configured, reason), msg.BootNotificationResponse
    )
    expect_field("Booted/2", response, "status", "Accepted")
    await notify_connector(tool, "Booted/3", Status.AVAILABLE)


async def ev_connected_pre_session(
    tool: CsmsTool, *, meter_value: list[dt.MeterValueType] | None = None
) -> None:
    await notify_connector(tool, "EVConnectedPreSession/1", Status.OCCUPIED)
    event = Event.UPDATED if tool.progress.authorized else Event.STARTED
    await transaction_event(
        tool,
        "EVConnectedPreSession/3",
        event,
        Trigger.CABLE_PLUGGED_IN,
        charging_state=Charging.EV_CONNECTED,
        meter_value=meter_value,
    )
    tool.progress.ev_connected = True


async def authorized(tool: CsmsTool) -> None:
    token = valid_token(tool.configured)
    response = await send_as("Authorized/1", tool, authorize(token), msg.AuthorizeResponse)
    expect_field("Authorized/2", response, "idTokenInfo.status", "Accepted")
    event = Event.UPDATED if tool.progress.ev_connected else Event.STARTED
    answer = await transaction_event(tool, "Authorized/3", event, Trigger.AUTHORIZED, token=token)
    expect_field("Authorized/4", answer, "idTokenInfo.status", "Accepted")
    tool.progress.authorized = True


async def energy_transfer_started(tool: CsmsTool) -> None:
    if not tool.progress.authorized:
        await authorized(tool)
    if not tool.progress.ev_connected:  # part 1
        await notify_connector(tool, "EnergyTransferStarted/1", Status.OCCUPIED)
        await transaction_event(
            tool,
            "EnergyTransferStarted/3",
            Event.UPDATED,
            Trigger.CABLE_PLUGGED_IN,
            charging_state=Charging.EV_CONNECTED,
        )
        tool.progress.ev_connected = True
    await transaction_event(  # part 2
        tool,
        "EnergyTransferStarted/5",
        Event.UPDATED,
        Trigger.CHARGING_STATE_CHANGED,
        charging_state=Charging.CHARGING,
    )
    tool.progress.energy_transfer = True


async def energy_transfer_suspended(tool: CsmsTool) -> None:
    """Reusable State EnergyTransferSuspended: the EV suspends the energy transfer. The state's wait of
    <Configured Transaction Duration> is left out (nothing is checked during it)."""
    if not tool.progress.energy_transfer:
        await energy_transfer_started(tool)
    await transaction_event(
        tool,
        "EnergyTransferSuspended/1",
        Event.UPDATED,
        Trigger.CHARGING_STATE_CHANGED,
        charging_state=Charging.SUSPENDED_EV,
    )


async def stop_authorized(tool: CsmsTool) -> None:
    if not tool.progress.energy_transfer:
        await energy_transfer_started(tool)
    answer = await transaction_event(
        tool, "StopAuthorized/1", Event.UPDATED, Trigger.STOP_AUTHORIZED, token=valid_token(tool.configured)
    )
    expect_field("StopAuthorized/2", answer, "idTokenInfo.status", "Accepted")
    tool.progress.stop_authorized = True


async def ev_connected_post_session(tool: CsmsTool) -> None:
    if not tool.progress.stop_authorized:
        await stop_authorized(tool)
    await transaction_event(
        tool,
        "EVConnectedPostSession/1",
        Event.UPDATED,
        Trigger.CHARGING_STATE_CHANGED,
        charging_state=Charging.EV_CONNECTED,
    )
    tool.progress.energy_transfer = False


async def ev_disconnected(tool: CsmsTool, *, meter_value: list[dt.MeterValueType] | None = None) -> None:
    if not tool.progress.stop_authorized:
        await ev_connected_post_session(tool)
    await notify_connector(tool, "EVDisconnected/1", Status.AVAILABLE)
    await ev_gone(tool, "EVDisconnected/3", meter_value=meter_value)


async def ev_gone(
    tool: CsmsTool, step: int | str, *, meter_value: list[dt.MeterValueType] | None = None
) -> None:
    """The event that ends a transaction when the EV is unplugged (Reusable State EVDisconnected step 3)."""
    await transaction_event(
        tool,
        step,
        Event.ENDED,
        Trigger.EV_COMMUNICATION_LOST,
        charging_state=Charging.IDLE,
        stopped_reason=en.ReasonEnumType.EV_DISCONNECTED,
        meter_value=meter_value,
    )
    tool.progress = type(tool.progress)()


async def unavailable(tool: CsmsTool, evse_id: int) -> None:
    """Reusable State Unavailable for one EVSE: the CSMS makes it Inoperative (a manual action)."""
    tool.manual(ChangeAvailability(operational=False, evse_id=evse_id))
    incoming = await tool.expect("Unavailable/1", msg.ChangeAvailabilityRequest)
    request = incoming.request
    expect_field("Unavailable/1", request, "operationalStatus", "Inoperative")
    expect_field("Unavailable/1", request, "evse.id", evse_id)
    expect_absent("Unavailable/1", request, "evse.connectorId")
    incoming.answer(msg.ChangeAvailabilityResponse(status=en.ChangeAvailabilityStatusEnumType.ACCEPTED))
    await tool.settle()
    await notify_connector(tool, "Unavailable/3", Status.UNAVAILABLE)


async def clean_up(tool: CsmsTool) -> None:
    """After a case, outside its verdict: end the tool's transaction still open, so that the next case's
    token is not refused as ConcurrentTx (the OCTT too resets the station between cases)."""
    if tool.transaction is None or not tool.link.connected:
        return
    await notify_connector(tool, "clean-up", Status.AVAILABLE)
    await ev_gone(tool, "clean-up")
