"""Block H, Reservation (Part 6 §3.9), CSMS side.

Readings:
* Reusable State Reserved (CSMS side): the CSMS sends ReserveNow for the configured EVSE (a manual action,
  valid token, an hour ahead); the tool accepts and reports the connector Reserved.
* TC_H_17: the manual action cancels "the reservation created at step 1": the id the CSMS put in its
  ReserveNowRequest.
* TC_H_07: "<configured transaction duration>" is <Configured reservation_expiry>: the manual action asks
  for a reservation that long; the tool waits until the expiryDateTime the CSMS sent has passed (capped at
  that duration plus 5 s) before reporting the connector Available and the reservation Expired.
* TC_H_08 / H_14 / H_15: the tool plays one EVSE, so TC_H_14's ReserveNow is taken once (the "amount of EVSE
  configured for the OCTT") and both end with the connector Reserved, as TC_H_08 does with one EVSE.
* TC_H_19: the group is <Configured group_idtoken>; "groupIdToken must be provided" is checked as present.
* TC_H_20: the tool makes the connector Faulted itself (a StatusNotification and its NotifyEvent), then
  reports the reservation Removed; the connector is reported Available at the next case's boot.
* TC_H_22: the tool answers Rejected; the table validates nothing else, the CSMS has only to take it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.tools.conformance.adapter import CancelReservation, ReserveNow
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_absent, expect_field, expect_present
from chargeplane.tools.conformance.messages import send_as
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


async def reserve_now(
    tool: CsmsTool,
    *,
    evse_id: int | None,
    expires_in: float = 3600.0,
    connector_type: str | None = None,
    group: str | None = None,
    status: en.ReserveNowStatusEnumType = en.ReserveNowStatusEnumType.ACCEPTED,
) -> msg.ReserveNowRequest:
    """Manual action, step 1 (the CSMS's ReserveNow, its token and what it targets checked), step 2 (the
    tool's answer ``status``)."""
    configured = tool.configured
    expires = to_wire(datetime.now(UTC) + timedelta(seconds=expires_in))
    tool.manual(
        ReserveNow(
            configured.valid_idtoken,
            configured.valid_idtoken_type,
            evse_id,
            expires,
            connector_type=connector_type,
            group_id_token=group,
        )
    )
    incoming = await tool.expect(1, msg.ReserveNowRequest)
    request = incoming.request
    if status is en.ReserveNowStatusEnumType.ACCEPTED:  # TC_H_22 validates nothing
        if evse_id is None:
            expect_absent(1, request, "evseId")
        else:
            expect_field(1, request, "evseId", evse_id)
        if connector_type is None:
            expect_absent(1, request, "connectorType")
        else:
            expect_field(1, request, "connectorType", connector_type)
        expect_field(1, request, "idToken.idToken", configured.valid_idtoken)
        expect_field(1, request, "idToken.type", configured.valid_idtoken_type)
    incoming.answer(msg.ReserveNowResponse(status=status))
    await tool.settle()
    return request


@case(
    "TC_H_07_CSMS",
    "Reserve a specific EVSE - Reservation Ended / not used",
    use_cases=("H01", "H04"),
    profiles=PROFILE,
    timeout=30.0,
)
async def tc_h_07(tool: CsmsTool) -> None:
    duration = tool.configured.reservation_expiry
    request = await reserve_now(tool, evse_id=tool.configured.evse_id, expires_in=duration)  # 1. / 2.
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4.
    left = (from_wire(request.expiry_date_time) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(min(max(left, 0.0) + 0.5, duration + 5.0))  # the reservation expires
    await notify_connector(tool, 5, Status.AVAILABLE)  # 5. / 6.
    update = msg.ReservationStatusUpdateRequest(
        reservation_id=request.id, reservation_update_status=en.ReservationUpdateStatusEnumType.EXPIRED
    )
    await send_as(7, tool, update, msg.ReservationStatusUpdateResponse)  # 7. / 8.


@case(
    "TC_H_22_CSMS",
    "Reserve a specific EVSE - Configured to Reject",
    use_cases=("H01",),
    profiles=PROFILE,
)
async def tc_h_22(tool: CsmsTool) -> None:
    await reserve_now(
        tool, evse_id=tool.configured.evse_id, status=en.ReserveNowStatusEnumType.REJECTED
    )  # 1. / 2.


@case(
    "TC_H_19_CSMS",
    "Reserve a specific EVSE - Use a reserved EVSE with GroupId",
    use_cases=("H01", "H03"),
    profiles=PROFILE,
)
async def tc_h_19(tool: CsmsTool) -> None:
    configured = tool.configured
    request = await reserve_now(tool, evse_id=configured.evse_id, group=configured.group_idtoken)  # 1. / 2.
    expect_present(1, request, "groupIdToken.idToken")
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4.


@case(
    "TC_H_08_CSMS",
    "Reserve an unspecified EVSE - Accepted",
    use_cases=("H01", "H03"),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_08(tool: CsmsTool) -> None:
    await reserve_now(tool, evse_id=None)  # 1. / 2.
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4. (the tool has one EVSE)


@case(
    "TC_H_14_CSMS",
    "Reserve an unspecified EVSE - Amount of EVSEs available equals the amount of reservations",
    use_cases=("H01",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_14(tool: CsmsTool) -> None:
    await reserve_now(tool, evse_id=None)  # 1. / 2. once per EVSE of the tool: one
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4. after the last reservation


@case(
    "TC_H_15_CSMS",
    "Reserve a connector with a specific type - Success",
    use_cases=("H01", "H03"),
    profiles=PROFILE,
    features=("R-1",),
)
async def tc_h_15(tool: CsmsTool) -> None:
    await reserve_now(tool, evse_id=None, connector_type=tool.configured.connector_type)  # 1. / 2.
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4.


@case(
    "TC_H_20_CSMS",
    "Cancel reservation of an EVSE - Charging Station cancels reservation when Faulted",
    use_cases=("H01",),
    profiles=PROFILE,
)
async def tc_h_20(tool: CsmsTool) -> None:
    request = await reserve_now(tool, evse_id=tool.configured.evse_id)  # 1. / 2.
    await notify_connector(tool, 3, Status.RESERVED)  # 3. / 4.
    await notify_connector(tool, 5, Status.FAULTED)  # 5. / 6.
    update = msg.ReservationStatusUpdateRequest(
        reservation_id=request.id, reservation_update_status=en.ReservationUpdateStatusEnumType.REMOVED
    )
    await send_as(7, tool, update, msg.ReservationStatusUpdateResponse)  # 7. / 8.
