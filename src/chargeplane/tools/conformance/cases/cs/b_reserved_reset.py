"""Block B, Reset Charging Station with a reservation (Part 6 §2.2, Reservation profile), charging-station side.

Readings:
* Memory State "Reserved for <Configured connectorId>": Reusable State Reserved for the configured EVSE (a
  reservation is made per EVSE in 2.0.1), an hour ahead, so that it is still valid after the reboot.
* Step 5 requires the configured connector's StatusNotification Reserved after the boot; its NotifyEvent
  AvailabilityState is optional (either reports the state, B01.FR.05 / H01.FR.23), and the tool's only
  connector is the configured one (no "other connectors" to check).
* The security event a boot also sends (A04) is answered on the way, not required here.
* The reservation is cancelled at the end, outside the verdict.
"""

from __future__ import annotations

import contextlib
import itertools

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_states import BOOT_WITHIN, Status, connector_status, reserved
from chargeplane.tools.conformance.station_steps import StationTool

_ids = itertools.count(201)  # <Generated reservationId>


@case(
    "TC_B_24_CS",
    "Reset Charging Station - Reserved persists reset",
    use_cases=("B11",),
    requirements=("B11.FR.01", "B11.FR.03", "B11.FR.04", "B11.FR.05", "B01.FR.03"),
    profiles=("Reservation",),
    timeout=90.0,
)
async def tc_b_24_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await reserved(tool, reservation_id)  # memory state
        request = msg.ResetRequest(type=en.ResetEnumType.ON_IDLE)
        response = await tool.send_as(1, request, msg.ResetResponse)  # 1. / 2.
        expect_field(2, response, "status", "Accepted")
        tool.answers.registration = en.RegistrationStatusEnumType.ACCEPTED  # 4.
        boot = await tool.expect_answered(3, msg.BootNotificationRequest, BOOT_WITHIN)  # 3. / 4.
        expect_field(3, boot, "reason", "RemoteReset")
        await connector_status(tool, 5, Status.RESERVED)  # 5. / 6.
    finally:
        with contextlib.suppress(StepFailed):
            await tool.endpoint.wait_connected("after", BOOT_WITHIN)
            await tool.send("after", msg.CancelReservationRequest(reservation_id=reservation_id))
        await tool.drain()
