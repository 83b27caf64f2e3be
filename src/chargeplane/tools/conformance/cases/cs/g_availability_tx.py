"""Block G, Availability (Part 6 §2.8), charging-station side: a change of availability during a
transaction (Scheduled, Unavailable once it ends), and the Unavailable state across a reboot.

Readings:
* TC_G_11 / G_14 / G_17: "Charging State" in Before is the Reusable State EnergyTransferStarted (entered with
  the local authorization). After each state of the stop sequence (StopAuthorized, EVConnectedPostSession,
  EVDisconnected, ParkingBayUnoccupied), the StatusNotification Unavailable is required once the transaction
  has ended, then the sequence stops: the EVSE is out of service, so EVDisconnected's StatusNotification
  Available of the reusable state is not asked for (Unavailable takes its place).
* TC_G_14's validation "Step 7" (StatusNotification Unavailable, evseId and connectorId not 0) is read as
  the station-scope counterpart of TC_G_11's steps 4, 7, 10, 13 (its steps 6, 9, 12, 15); its step 3 (the
  EVSEs without a transaction) has nothing to report with the one configured EVSE.
* TC_G_18: its Before state Unavailable and its main steps 1-4 are the same request (ChangeAvailability
  Inoperative for the configured EVSE): sent once. Its Booted (step 5) uses ResetRequest Immediate, as the
  Booted state of this tool does, and expects the connector Unavailable instead of Available after the boot.
* TC_G_19 / G_21: "Reusable State Booting" is a ResetRequest Immediate answered Accepted.
* Every case puts the station back to Operative at its end, outside the verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.e_stop_options import (
    energy_transfer,
    ev_connected_post_session,
    parking_bay_unoccupied,
    status_since,
)
from chargeplane.tools.conformance.cases.cs.g_availability import change_availability, send_availability
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import Unplug
from chargeplane.tools.conformance.station_states import (
    BOOT_WITHIN,
    Status,
    connector_status,
    stop_authorized_local,
    transaction_ended,
)
from chargeplane.tools.conformance.station_steps import StationTool

log = logging.getLogger(__name__)
Operational = en.OperationalStatusEnumType


async def back_to_operative(tool: StationTool, scope: str) -> None:
    """Outside the verdict: the station back in service for the next case."""
    try:
        await tool.endpoint.wait_connected("after", BOOT_WITHIN)
        await send_availability(tool, "after", Operational.OPERATIVE, scope)
    except StepFailed as failed:
        log.warning("putting the station back to Operative: %s", failed)


async def inoperative_during_transaction(tool: StationTool, scope: str, first: int) -> None:
    """ChangeAvailability Inoperative while charging (Scheduled), then the stop sequence; ``first`` is the
    step number of StopAuthorized (3 for an EVSE or connector, 5 for the station)."""
    await energy_transfer(tool)  # Before: EnergyTransferStarted
    try:
        response = await send_availability(tool, 1, Operational.INOPERATIVE, scope)  # 1. / 2.
        expect_field(2, response, "status", "Scheduled")
        mark = len(tool.seen)
        sequence: tuple[Callable[[], Awaitable[None]], ...] = (
            lambda: stop_authorized_local(tool),
            lambda: ev_connected_post_session(tool, mark),
            lambda: unplug(tool),
            lambda: parking_bay_unoccupied(tool),
        )
        for index, state in enumerate(sequence):
            await state()  # StopAuthorized, EVConnectedPostSession, EVDisconnected, ParkingBayUnoccupied
            if transaction_ended(tool):
                await status_since(tool, mark, first + 3 * index + 1, Status.UNAVAILABLE)
                return
        raise StepFailed(first + 9, "the transaction did not end")
    finally:
        await back_to_operative(tool, scope)


async def unplug(tool: StationTool) -> None:
    """Reusable State EVDisconnected without its StatusNotification Available (the EVSE is out of
    service; the caller checks Unavailable once the transaction ended)."""
    configured = tool.configured
    await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    tool.progress.discard("EVConnected")
    await tool.drain(0.5, 3.0)  # the station's messages on the unplug (an Ended event when it ends there)


@case(
    "TC_G_11_CS",
    "Change Availability EVSE - With ongoing transaction",
    use_cases=("G03",),
    requirements=("G03.FR.01", "G03.FR.02", "G03.FR.04", "G03.FR.05"),
    timeout=40.0,
)
async def tc_g_11_cs(tool: StationTool) -> None:
    await inoperative_during_transaction(tool, "evse", 3)


@case(
    "TC_G_14_CS",
    "Change Availability Charging Station - With ongoing transaction",
    use_cases=("G04",),
    requirements=("G04.FR.01", "G04.FR.02", "G04.FR.03", "G04.FR.05", "G04.FR.06"),
    timeout=40.0,
)
async def tc_g_14_cs(tool: StationTool) -> None:
    await inoperative_during_transaction(tool, "station", 5)


@case(
    "TC_G_17_CS",
    "Change Availability Connector - With ongoing transaction",
    use_cases=("G03",),
    requirements=("G03.FR.01", "G03.FR.02", "G03.FR.04", "G03.FR.05"),
    timeout=40.0,
)
async def tc_g_17_cs(tool: StationTool) -> None:
    await inoperative_during_transaction(tool, "connector", 3)


async def reset_and_boot_unavailable(
    tool: StationTool, reset: int | str, boot: int | str, status: int | str, event: int | str
) -> None:
    """ResetRequest Immediate (Accepted), then the BootNotification (Accepted), the configured connector
    Unavailable, and the SecurityEventNotification of the boot."""
    response = await tool.send_as(reset, msg.ResetRequest(type=en.ResetEnumType.IMMEDIATE), msg.ResetResponse)
    expect_field(reset, response, "status", "Accepted")
    tool.answers.registration = en.RegistrationStatusEnumType.ACCEPTED
    await tool.expect_answered(boot, msg.BootNotificationRequest, BOOT_WITHIN)
    await connector_status(tool, status, Status.UNAVAILABLE)
    security = await tool.expect_answered(event, msg.SecurityEventNotificationRequest, 5.0)
    expect_field(event, security, "type", "StartupOfTheDevice", "ResetOrReboot")


@case(
    "TC_G_18_CS",
    "Change Availability EVSE - state persists across reboot",
    use_cases=("G03", "G01"),
    requirements=("G03.FR.08", "G01.FR.01"),
    timeout=90.0,
)
async def tc_g_18_cs(tool: StationTool) -> None:
    try:
        await change_availability(tool, 1, Operational.INOPERATIVE, "evse")  # Unavailable; 1.-4.
        await reset_and_boot_unavailable(tool, "Booted/1", "Booted/3", "Booted/5", "Booted/7")  # 5.
    finally:
        await back_to_operative(tool, "evse")


async def unavailable_across_reboot(tool: StationTool, scope: str) -> None:
    try:
        await change_availability(tool, "Unavailable/1", Operational.INOPERATIVE, scope)  # Before
        await reset_and_boot_unavailable(tool, 1, 2, 4, 6)  # 1. Booting, 2.-7.
    finally:
        await back_to_operative(tool, scope)


@case(
    "TC_G_19_CS",
    "Change Availability Connector - state persists across reboot",
    use_cases=("G03",),
    requirements=("G03.FR.08",),
    timeout=90.0,
)
async def tc_g_19_cs(tool: StationTool) -> None:
    await unavailable_across_reboot(tool, "connector")


@case(
    "TC_G_21_CS",
    "Change Availability Charging Station - state persists across reboot",
    use_cases=("G04",),
    requirements=("G04.FR.09",),
    timeout=90.0,
)
async def tc_g_21_cs(tool: StationTool) -> None:
    await unavailable_across_reboot(tool, "station")
