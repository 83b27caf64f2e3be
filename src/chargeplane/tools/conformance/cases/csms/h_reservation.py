"""Block H, Reservation (Part 6 §3.9), CSMS side.

Readings:
* Reusable State Reserved (CSMS side): the CSMS sends ReserveNow for the configured EVSE (a manual action,
  valid token, an hour ahead); the tool accepts and reports the connector Reserved.
* TC_H_17: the manual action cancels "the reservation created at step 1": the id the CSMS put in its
  ReserveNowRequest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.adapter import CancelReservation, ReserveNow
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.states import Status, notify_connector
from chargeplane.tools.conformance.steps import CsmsTool

PROFILE = ("Reservation",)


async def reserved(tool: CsmsTool) -> int:
    """Reusable State Reserved: returns the reservation id the CSMS gave."""
    configured = tool.configured
    expires = to_wire(datetime.now(UTC) + timedelta(hours=1))
    tool.manual(
        ReserveNow(configured.valid_idtoken, configured.valid_idtoken_type, configured.evse_id, expires)
    )
    incoming = await tool.expect("Reserved/1", msg.ReserveNowRequest)
    request = incoming.request
    expect_field("Reserved/1", request, "idToken.idToken", configured.valid_idtoken)
    expect_field("Reserved/1", request, "evseId", configured.evse_id)
    incoming.answer(msg.ReserveNowResponse(status=en.ReserveNowStatusEnumType.ACCEPTED))
    await tool.settle()
    await notify_connector(tool, "Reserved/3", Status.RESERVED)
    return request.id


@case(
    "TC_H_01_CSMS",
    "Reserve a specific EVSE - Accepted - Valid idToken",
    use_cases=("H01",),
    requirements=("H01.FR.01",),
    profiles=PROFILE,
)
async def tc_h_01(tool: CsmsTool) -> None:
    await reserved(tool)


@case(
    "TC_H_17_CSMS",
    "Cancel reservation of an EVSE - Success",
    use_cases=("H02",),
    requirements=("H02.FR.01",),
    profiles=PROFILE,
)
async def tc_h_17(tool: CsmsTool) -> None:
    reservation_id = await reserved(tool)
    tool.manual(CancelReservation(reservation_id))
    incoming = await tool.expect(5, msg.CancelReservationRequest)
    expect_field(5, incoming.request, "reservationId", reservation_id)
    incoming.answer(msg.CancelReservationResponse(status=en.CancelReservationStatusEnumType.ACCEPTED))
    await tool.settle()
    await notify_connector(tool, 7, Status.AVAILABLE)
