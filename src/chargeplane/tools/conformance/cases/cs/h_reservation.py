"""Block H, Reservation (Part 6 §2.9), charging-station side.

Readings:
* ReservationCtrlr.ReservationAvailable / ReservationEnabled of the prerequisites are the Part 2 variables
  ReservationCtrlr.Available / Enabled; "ReservationCtrl" is the same component. Enabled is set true by no
  case (the station's default), false by TC_H_22 (R-3), which puts it back.
* A connector's change is required as a StatusNotification; the NotifyEvent AvailabilityState the tables also
  list is optional (H01.FR.20/23 accept either), as is the EVSE-level one they mark optional.
* "<Configured valid_idtoken2>" is a second valid token (another driver); the tool accepts it. "<Configured
  groupIdToken>" is the group the tool gives the valid token 2 in its Authorize answer (H03.FR.07/08).
* "<Generated reservationId>": ids the tool picks per case. Every case cancels what it reserved at its end,
  outside the verdict (general precondition: no reservation left), and puts availability back.
* Memory states "<evse> is Reserved" / "Unavailable" are entered with Reusable States Reserved / Unavailable.
* "Authorized" then "EnergyTransferStarted" means: present the token, answer its Authorize, connect the EV,
  wait for the event that shows charging. Where H01.FR.15 is cited, the event that started the transaction
  must carry the reservationId.
* TC_H_01 step 2 (the connector goes from Reserved to Available after the authorization, H03.FR.10): checked
  as a StatusNotification Available before the EV is connected.
* TC_H_02 runs both variants: A (EV connected, the other token presented: no TransactionEvent showing Charging
  within 5 s) then B (RequestStartTransaction with the other token: Rejected).
* TC_H_07: the reservation expires after <Configured reservation_expiry> seconds (60 in the table); the tool
  waits that long plus 10 s for the StatusNotification Available.
* TC_H_08 names the valid token 2 for the authorization of a reservation made for the valid token: read as
  the reserving token (H03.FR.03; token 2 would be refused).
* TC_H_13 is for stations without unspecified-EVSE reservations: the tool sets
  ReservationCtrlr.NonEvseSpecific false first (a station without the variable rejects anyway) and puts it
  back; it needs no feature.
* TC_H_15 / H_16 reserve <Configured connector_type> (the configured connector's type); Part 5 asks R-2 of
  the station for both. TC_H_23 step 3's validation (StatusNotification Reserved) repeats step 2's state: the
  connector stays Reserved, no new notification is required.
* TC_H_09 / H_10 / H_14 / H_16 "all EVSE": the configured EVSE (the tool knows only that one).
"""

from __future__ import annotations

import contextlib
import itertools

from msgspec import UNSET

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import PresentToken
from chargeplane.tools.conformance.station_states import (
    Status,
    TxEvent,
    authorized_local,
    connector_status,
    energy_transfer_started,
    ev_connected_pre_session,
    expiry_in,
    reserved,
    valid_token,
)
from chargeplane.tools.conformance.station_steps import StationTool

PROFILE = ("Reservation",)
Operational = en.OperationalStatusEnumType
_ids = itertools.count(101)  # <Generated reservationId>; TC_H_18 cancels id 1, never generated


def token2(tool: StationTool) -> dt.IdTokenType:
    """<Configured valid_idtoken2>, which the tool accepts from now on."""
    configured = tool.configured
    tool.answers.valid_tokens.add(configured.valid_idtoken2)
    return dt.IdTokenType(
        id_token=configured.valid_idtoken2, type=en.IdTokenEnumType(configured.valid_idtoken2_type)
    )


def group_token(tool: StationTool) -> dt.IdTokenType:
    return dt.IdTokenType(id_token=tool.configured.group_idtoken, type=en.IdTokenEnumType.CENTRAL)


async def expect_reserve(
    tool: StationTool,
    step: int,
    status: str,
    reservation_id: int,
    token: dt.IdTokenType,
    *,
    evse_id: int | None = None,
    connector_type: str | None = None,
    group: dt.IdTokenType | None = None,
) -> None:
    """ReserveNow (``step``) for an EVSE, a connector type or neither, and the status its response must have
    (``step`` + 1)."""
    request = msg.ReserveNowRequest(
        id=reservation_id,
        expiry_date_time=expiry_in(3600),
        id_token=token,
        evse_id=evse_id if evse_id is not None else UNSET,
        connector_type=en.ConnectorEnumType(connector_type) if connector_type is not None else UNSET,
        group_id_token=group if group is not None else UNSET,
    )
    response = await tool.send_as(step, request, msg.ReserveNowResponse)
    expect_field(step + 1, response, "status", status)


async def authorized_with(tool: StationTool, step: int | str, token: dt.IdTokenType) -> None:
    """Reusable State Authorized (local) with ``token``: presented, its Authorize answered."""
    await tool.manual(PresentToken(token.id_token, str(token.type)))
    incoming = await tool.expect(step, msg.AuthorizeRequest)
    expect_field(step, incoming.request, "idToken.idToken", token.id_token)
    tool.answer_default(incoming)
    tool.progress.add("Authorized")


async def charging_with_reservation(tool: StationTool, step: int | str, reservation_id: int | None) -> None:
    """Reusable State EnergyTransferStarted; with ``reservation_id`` the transaction's first event carries it
    (H01.FR.15)."""
    await energy_transfer_started(tool)
    if reservation_id is None:
        return
    started = [
        m for m in tool.seen if isinstance(m, TxEvent) and m.event_type is en.TransactionEventEnumType.STARTED
    ]
    if not started:
        raise StepFailed(step, "no TransactionEventRequest with eventType Started")
    expect_field(step, started[-1], "reservationId", reservation_id)


async def status_update(tool: StationTool, step: int, reservation_id: int, status: str) -> None:
    """The ReservationStatusUpdate of ``reservation_id``, whether it came before the connector's
    StatusNotification (then it is in ``tool.seen``) or comes now (Part 6 allows either order)."""
    came = [
        m
        for m in tool.seen
        if isinstance(m, msg.ReservationStatusUpdateRequest) and m.reservation_id == reservation_id
    ]
    update = (
        came[-1]
        if came
        else await tool.expect_answered(
            step, msg.ReservationStatusUpdateRequest, where=lambda r: r.reservation_id == reservation_id
        )
    )
    expect_field(step, update, "reservationUpdateStatus", status)


async def set_reservation_variable(tool: StationTool, step: str, name: str, value: str) -> str:
    """SetVariables ReservationCtrlr.<name>; returns the station's attributeStatus."""
    data = dt.SetVariableDataType(
        attribute_value=value,
        component=dt.ComponentType(name="ReservationCtrlr"),
        variable=dt.VariableType(name=name),
    )
    response = await tool.send_as(
        step, msg.SetVariablesRequest(set_variable_data=[data]), msg.SetVariablesResponse
    )
    return str(response.set_variable_result[0].attribute_status)


async def availability(
    tool: StationTool, step: int | str, status: Operational, *, station: bool = False
) -> None:
    """ChangeAvailability of the configured EVSE (or the whole station) at ``step``, Accepted (``step`` + 1)."""
    configured = tool.configured
    request = (
        msg.ChangeAvailabilityRequest(operational_status=status)
        if station
        else msg.ChangeAvailabilityRequest(operational_status=status, evse=dt.EVSEType(id=configured.evse_id))
    )
    response = await tool.send_as(step, request, msg.ChangeAvailabilityResponse)
    expect_field(step + 1 if isinstance(step, int) else step, response, "status", "Accepted")


async def unavailable(tool: StationTool, *, station: bool = False) -> None:
    """Reusable State Unavailable (the configured EVSE, or the station)."""
    await availability(tool, "Unavailable/1", Operational.INOPERATIVE, station=station)
    await connector_status(tool, "Unavailable/3", Status.UNAVAILABLE)


async def clean_up(tool: StationTool, *reservation_ids: int, operative: bool = False) -> None:
    """Outside the verdict: cancel what the case reserved, put availability back."""
    with contextlib.suppress(StepFailed):
        for reservation_id in reservation_ids:
            await tool.send("after", msg.CancelReservationRequest(reservation_id=reservation_id))
        if operative:
            await tool.send("after", msg.ChangeAvailabilityRequest(operational_status=Operational.OPERATIVE))
    await tool.drain()


# ---------------------------------------------------------------------- reserve a specific EVSE
@case(
    "TC_H_01_CS",
    "Reserve a specific EVSE - Accepted - Valid idToken",
    use_cases=("H01", "H03"),
    requirements=("H01.FR.15", "H03.FR.01", "H03.FR.09", "H03.FR.10"),
    profiles=PROFILE,
)
async def tc_h_01_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await reserved(tool, reservation_id)  # 1.
        await authorized_local(tool)  # 2.
        await connector_status(tool, 2, Status.AVAILABLE)  # H03.FR.10: consumed, no cable yet
        await charging_with_reservation(tool, 3, reservation_id)  # 3.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_02_CS",
    "Reserve a specific EVSE - Accepted - Different idToken",
    use_cases=("H01", "H03"),
    requirements=("H03.FR.01", "F01.FR.22"),
    profiles=PROFILE,
)
async def tc_h_02_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    other = token2(tool)
    try:
        await reserved(tool, reservation_id, valid_token(tool))
        await ev_connected_pre_session(tool)
        # Main A: the other driver presents a token; the EVSE must not start charging for them.
        await authorized_with(tool, "A", other)
        try:
            await tool.expect(
                "A",
                TxEvent,
                5.0,
                where=lambda e: e.transaction_info.charging_state is en.ChargingStateEnumType.CHARGING,
            )
        except StepFailed:
            pass
        else:
            raise StepFailed("A", "the station started charging for a token the EVSE is not reserved for")
        # Main B: a remote start for the other token.
        request = msg.RequestStartTransactionRequest(
            id_token=other, evse_id=tool.configured.evse_id, remote_start_id=4712
        )
        response = await tool.send_as(1, request, msg.RequestStartTransactionResponse)
        expect_field(2, response, "status", "Rejected")
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_03_CS",
    "Reserve a specific EVSE - Occupied - EVSE Reserved",
    use_cases=("H01",),
    requirements=("H01.FR.11",),
    profiles=PROFILE,
)
async def tc_h_03_cs(tool: StationTool) -> None:
    first, second = next(_ids), next(_ids)
    try:
        await reserved(tool, first)
        await expect_reserve(tool, 1, "Occupied", second, token2(tool), evse_id=tool.configured.evse_id)
    finally:
        await clean_up(tool, first, second)


@case(
    "TC_H_04_CS",
    "Reserve a specific EVSE - Occupied - EVSE Occupied",
    use_cases=("H01",),
    requirements=("H01.FR.13",),
    profiles=PROFILE,
)
async def tc_h_04_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await ev_connected_pre_session(tool)
        await authorized_local(tool)
        await energy_transfer_started(tool)
        await expect_reserve(
            tool, 1, "Occupied", reservation_id, token2(tool), evse_id=tool.configured.evse_id
        )
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_06_CS",
    "Reserve a specific EVSE - Unavailable",
    use_cases=("H01",),
    requirements=("H01.FR.14",),
    profiles=PROFILE,
)
async def tc_h_06_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await unavailable(tool)
        await expect_reserve(
            tool, 1, "Unavailable", reservation_id, token2(tool), evse_id=tool.configured.evse_id
        )
    finally:
        with contextlib.suppress(StepFailed):
            await availability(tool, "after", Operational.OPERATIVE)
        await clean_up(tool, reservation_id)


@case(
    "TC_H_07_CS",
    "Reserve a specific EVSE - Reservation Ended / not used",
    use_cases=("H01", "H04"),
    requirements=("H04.FR.01", "H04.FR.02", "H04.FR.03"),
    profiles=PROFILE,
    timeout=120.0,
)
async def tc_h_07_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    expiry = tool.configured.reservation_expiry
    try:
        await reserved(tool, reservation_id, expires_in=expiry)
        await connector_status(tool, 1, Status.AVAILABLE, within=expiry + 10.0)  # 1. / 2.
        await status_update(tool, 3, reservation_id, "Expired")  # 3. / 4.
        await authorized_with(tool, 5, token2(tool))  # 5. another driver may use the EVSE now
        await charging_with_reservation(tool, 6, None)  # 6.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_22_CS",
    "Reserve a specific EVSE - Configured to Reject",
    use_cases=("H01",),
    requirements=("H01.FR.01",),
    profiles=PROFILE,
    features=("R-3",),
)
async def tc_h_22_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        set_to = await set_reservation_variable(tool, "before", "Enabled", "false")
        if set_to != "Accepted":
            raise StepFailed("before", f"setting ReservationCtrlr.Enabled false: {set_to}")
        await expect_reserve(
            tool, 1, "Rejected", reservation_id, valid_token(tool), evse_id=tool.configured.evse_id
        )
    finally:
        with contextlib.suppress(StepFailed):
            await set_reservation_variable(tool, "after", "Enabled", "true")
        await clean_up(tool, reservation_id)


@case(
    "TC_H_23_CS",
    "Reserve a specific EVSE - Replace reservation",
    use_cases=("H01",),
    requirements=("H01.FR.02",),
    profiles=PROFILE,
)
async def tc_h_23_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await reserved(tool, reservation_id)  # memory state: a reservation for the valid token
        other = token2(tool)
        await expect_reserve(tool, 1, "Accepted", reservation_id, other, evse_id=tool.configured.evse_id)
        await authorized_with(tool, 3, other)  # 3. the replacing reservation's token may charge
        await charging_with_reservation(tool, 4, reservation_id)  # 4.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_19_CS",
    "Reserve a specific EVSE - Use a reserved EVSE with GroupId",
    use_cases=("H01", "H03"),
    requirements=("H01.FR.15", "H03.FR.04", "H03.FR.08"),
    profiles=PROFILE,
)
async def tc_h_19_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    group = group_token(tool)
    try:
        await expect_reserve(
            tool,
            1,
            "Accepted",
            reservation_id,
            valid_token(tool),
            evse_id=tool.configured.evse_id,
            group=group,
        )
        await connector_status(tool, 3, Status.RESERVED)  # 3. / 4.
        other = token2(tool)
        tool.answers.groups[other.id_token] = group  # the Authorize answer tells its group
        await authorized_with(tool, 5, other)  # 5.
        await charging_with_reservation(tool, 6, reservation_id)  # 6.
    finally:
        await clean_up(tool, reservation_id)


# ---------------------------------------------------------------------- reserve an unspecified EVSE
@case(
    "TC_H_08_CS",
    "Reserve an unspecified EVSE - Accepted",
    use_cases=("H01", "H03"),
    requirements=("H01.FR.04", "H01.FR.07", "H01.FR.15", "H03.FR.03"),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_08_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await expect_reserve(tool, 1, "Accepted", reservation_id, valid_token(tool))  # 1. / 2.
        await connector_status(tool, 3, Status.RESERVED)  # 3. / 4. (one EVSE: it is reserved)
        await authorized_local(tool)  # 5.
        await charging_with_reservation(tool, 6, reservation_id)  # 6.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_09_CS",
    "Reserve an unspecified EVSE - Occupied - EVSE Reserved",
    use_cases=("H01",),
    requirements=("H01.FR.11",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_09_cs(tool: StationTool) -> None:
    first, second = next(_ids), next(_ids)
    try:
        await reserved(tool, first, token2(tool))  # all EVSE reserved (for another driver)
        await expect_reserve(tool, 1, "Occupied", second, valid_token(tool))
    finally:
        await clean_up(tool, first, second)


@case(
    "TC_H_10_CS",
    "Reserve an unspecified EVSE - Occupied - EVSE Occupied",
    use_cases=("H01",),
    requirements=("H01.FR.13",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_10_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await ev_connected_pre_session(tool)
        await authorized_local(tool)
        await energy_transfer_started(tool)
        await expect_reserve(tool, 1, "Occupied", reservation_id, token2(tool))
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_12_CS",
    "Reserve an unspecified EVSE - Unavailable",
    use_cases=("H01",),
    requirements=("H01.FR.14",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_12_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await unavailable(tool, station=True)
        await expect_reserve(tool, 1, "Unavailable", reservation_id, valid_token(tool))
    finally:
        await clean_up(tool, reservation_id, operative=True)


@case(
    "TC_H_13_CS",
    "Reserve an unspecified EVSE - Rejected",
    use_cases=("H01",),
    requirements=("H01.FR.19",),
    profiles=PROFILE,
)
async def tc_h_13_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        # Whatever the answer (a station without the variable rejects anyway): see the readings.
        await set_reservation_variable(tool, "before", "NonEvseSpecific", "false")
        await expect_reserve(tool, 1, "Rejected", reservation_id, valid_token(tool))
    finally:
        with contextlib.suppress(StepFailed):
            await set_reservation_variable(tool, "after", "NonEvseSpecific", "true")
        await clean_up(tool, reservation_id)


@case(
    "TC_H_14_CS",
    "Reserve an unspecified EVSE - Amount of EVSEs available equals the amount of reservations",
    use_cases=("H01",),
    requirements=("H01.FR.20",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_14_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)  # one EVSE: one reservation, one token
    try:
        await expect_reserve(tool, 1, "Accepted", reservation_id, valid_token(tool))  # 1. / 2.
        await connector_status(tool, 3, Status.RESERVED)  # 3. / 4.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_24_CS",
    "Reserve an unspecified EVSE - GroupIdToken",
    use_cases=("H03",),
    requirements=("H03.FR.06",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_24_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    group = group_token(tool)
    try:
        await expect_reserve(tool, 1, "Accepted", reservation_id, valid_token(tool), group=group)  # 1. / 2.
        await connector_status(tool, 3, Status.RESERVED)  # 3. / 4.
        other = token2(tool)
        tool.answers.groups[other.id_token] = group
        await authorized_with(tool, 5, other)  # 5. a member of the group
        await charging_with_reservation(tool, 6, reservation_id)  # 6.
    finally:
        await clean_up(tool, reservation_id)


# ---------------------------------------------------------------------- reserve a connector type
@case(
    "TC_H_15_CS",
    "Reserve a connector with a specific type - Success",
    use_cases=("H01", "H03"),
    requirements=("H01.FR.06", "H01.FR.09", "H01.FR.15", "H03.FR.02"),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_15_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    kind = tool.configured.connector_type
    try:
        await expect_reserve(tool, 1, "Accepted", reservation_id, valid_token(tool), connector_type=kind)
        await connector_status(tool, 3, Status.RESERVED)  # 3. / 4.
        await authorized_local(tool)  # 5.
        await charging_with_reservation(tool, 6, reservation_id)  # 6.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_16_CS",
    "Reserve a connector with a specific type - Amount of available connectors of a type equals the amount "
    "of reservations",
    use_cases=("H01",),
    requirements=("H01.FR.11",),
    profiles=PROFILE,
    features=("R-2",),
)
async def tc_h_16_cs(tool: StationTool) -> None:
    first, second = next(_ids), next(_ids)
    kind = tool.configured.connector_type
    try:
        await reserved(tool, first, token2(tool))  # all EVSEs reserved
        await expect_reserve(tool, 1, "Occupied", second, valid_token(tool), connector_type=kind)
    finally:
        await clean_up(tool, first, second)


# ---------------------------------------------------------------------- cancel a reservation
@case(
    "TC_H_17_CS",
    "Cancel reservation of an EVSE - Success",
    use_cases=("H02",),
    requirements=("H02.FR.02",),
    profiles=PROFILE,
)
async def tc_h_17_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await reserved(tool, reservation_id)
        request = msg.CancelReservationRequest(reservation_id=reservation_id)
        response = await tool.send_as(1, request, msg.CancelReservationResponse)
        expect_field(2, response, "status", "Accepted")
        await connector_status(tool, 3, Status.AVAILABLE)  # 3. / 4.
    finally:
        await clean_up(tool, reservation_id)


@case(
    "TC_H_18_CS",
    "Cancel reservation of an EVSE - Rejected",
    use_cases=("H02",),
    requirements=("H02.FR.01",),
    profiles=PROFILE,
)
async def tc_h_18_cs(tool: StationTool) -> None:
    request = msg.CancelReservationRequest(reservation_id=1)  # no reservation has that id
    response = await tool.send_as(1, request, msg.CancelReservationResponse)
    expect_field(2, response, "status", "Rejected")


@case(
    "TC_H_21_CS",
    "Cancel reservation of an EVSE - Charging Station cancels reservation when Unavailable",
    use_cases=("H01",),
    requirements=("H01.FR.17",),
    profiles=PROFILE,
)
async def tc_h_21_cs(tool: StationTool) -> None:
    reservation_id = next(_ids)
    try:
        await reserved(tool, reservation_id)
        await availability(tool, 1, Operational.INOPERATIVE)  # 1. / 2.
        await connector_status(tool, 3, Status.UNAVAILABLE)  # 3. / 4.
        await status_update(tool, 5, reservation_id, "Removed")  # 5. / 6.
        await availability(tool, 7, Operational.OPERATIVE)  # 7. / 8.
        await connector_status(tool, 9, Status.AVAILABLE)  # 9. / 10.
        await authorized_with(tool, 11, token2(tool))  # 11. the EVSE is free for anyone
        await charging_with_reservation(tool, 12, None)  # 12.
    finally:
        with contextlib.suppress(StepFailed):
            await availability(tool, "after", Operational.OPERATIVE)
        await clean_up(tool, reservation_id)
