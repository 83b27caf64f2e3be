"""Block K, ISO 15118 smart charging (Part 6 §3.11, K15-K17), CSMS side: the CSMS answers an EV's charging
needs with a TxProfile, checks the EV's schedule against it, and renegotiates.

Readings:
* <Configured values from mock EV>: an AC EV (three phases) wanting 20 kWh at 6 to 32 A and 400 V, leaving in
  two hours, maxScheduleTuples 3 (``mock_needs``; TC_K_57's / TC_K_59's renewed needs want 15 kWh).
* "ChargingSchedule provided at step N": the first chargingSchedule of that step's profile, sent as the EV's
  schedule with timeBase its startSchedule (now for a profile without one).
* TC_K_55 step 5: that schedule with every limit doubled plus one, beyond the profile's limits.
* TC_K_58 / TC_K_59 step 1, "The CSMS sends a SetChargingProfileRequest": the operator's manual action replaces
  the CSMS's TxProfile of the ISO15118SmartCharging state (its id and stack level) with one period of 6 A
  (6000 W), lower than what the EV was given.
* A CostUpdated the CSMS sends while the tool waits for a SetChargingProfile (I02, on its own schedule) is
  answered and passed over.
* "If the status was Processing, the OCTT waits 60 seconds": ``PROCESSING_WITHIN``; otherwise the usual wait.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import msgspec

from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.adapter import SetChargingProfile
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import send_as, transaction_event
from chargeplane.tools.conformance.states import (
    Charging,
    Event,
    Trigger,
    authorized,
    ev_connected_pre_session,
)
from chargeplane.tools.conformance.steps import DEFAULT_WITHIN, CsmsTool, Incoming

PROCESSING_WITHIN = 60.0
MAX_TUPLES = 3
NeedsStatus = en.NotifyEVChargingNeedsStatusEnumType


def mock_needs(tool: CsmsTool, energy_wh: int = 20_000) -> msg.NotifyEVChargingNeedsRequest:
    departure = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return msg.NotifyEVChargingNeedsRequest(
        evse_id=tool.configured.evse_id,
        max_schedule_tuples=MAX_TUPLES,
        charging_needs=dt.ChargingNeedsType(
            requested_energy_transfer=en.EnergyTransferModeEnumType.AC_THREE_PHASE,
            departure_time=to_wire(departure),
            ac_charging_parameters=dt.ACChargingParametersType(
                energy_amount=energy_wh, ev_min_current=6, ev_max_current=32, ev_max_voltage=400
            ),
        ),
    )


async def send_needs(tool: CsmsTool, step: int, energy_wh: int = 20_000) -> float:
    """The EV's needs; the answer (step + 1) Accepted or Processing; how long the TxProfile may take."""
    response = await send_as(step, tool, mock_needs(tool, energy_wh), msg.NotifyEVChargingNeedsResponse)
    expect_field(step + 1, response, "status", "Accepted", "Processing")
    return PROCESSING_WITHIN if response.status is NeedsStatus.PROCESSING else DEFAULT_WITHIN


async def next_profile(tool: CsmsTool, step: int, within: float) -> Incoming[msg.SetChargingProfileRequest]:
    """The CSMS's next SetChargingProfile; a CostUpdated it sends meanwhile (I02: the running cost of the
    transaction, on the tariffs block's own schedule) is answered and passed over."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = max(0.1, deadline - asyncio.get_running_loop().time())
        incoming: Incoming[Payload] = await tool.expect(step, Payload, left)
        if isinstance(incoming.request, msg.CostUpdatedRequest):
            incoming.answer(msg.CostUpdatedResponse())
            continue
        if not isinstance(incoming.request, msg.SetChargingProfileRequest):
            incoming.refuse(InternalError("the test case expected SetChargingProfileRequest"))
            raise StepFailed(
                step, f"expected a SetChargingProfileRequest, the CSMS sent {type(incoming.request).__name__}"
            )
        return cast("Incoming[msg.SetChargingProfileRequest]", incoming)


async def tx_profile(
    tool: CsmsTool, step: int, within: float = DEFAULT_WITHIN
) -> msg.SetChargingProfileRequest:
    """The CSMS's TxProfile for the tool's transaction (K15.FR.07: at most three schedules, each within
    maxScheduleTuples periods), answered Accepted."""
    assert tool.transaction is not None
    incoming = await next_profile(tool, step, within)
    request = incoming.request
    expect_field(step, request, "evseId", tool.configured.evse_id)
    expect_field(step, request, "chargingProfile.chargingProfilePurpose", "TxProfile")
    expect_field(step, request, "chargingProfile.transactionId", tool.transaction.id)
    schedules = request.charging_profile.charging_schedule
    if len(schedules) > 3 or any(len(s.charging_schedule_period) > MAX_TUPLES for s in schedules):
        raise StepFailed(step, f"more than 3 schedules or {MAX_TUPLES} periods (maxScheduleTuples)")
    incoming.answer(msg.SetChargingProfileResponse(status=en.ChargingProfileStatusEnumType.ACCEPTED))
    return request


def ev_schedule(
    tool: CsmsTool, given: msg.SetChargingProfileRequest, *, beyond: bool = False
) -> msg.NotifyEVChargingScheduleRequest:
    """The EV's schedule: the first one of ``given`` (``beyond``: every limit doubled plus one)."""
    schedule = given.charging_profile.charging_schedule[0]
    if beyond:
        periods = [
            msgspec.structs.replace(p, limit=(p.limit or 0.0) * 2 + 1)
            for p in schedule.charging_schedule_period
        ]
        schedule = msgspec.structs.replace(schedule, charging_schedule_period=periods)
    start = (
        schedule.start_schedule if isinstance(schedule.start_schedule, str) else to_wire(datetime.now(UTC))
    )
    return msg.NotifyEVChargingScheduleRequest(
        time_base=start, charging_schedule=schedule, evse_id=tool.configured.evse_id
    )


async def send_schedule(
    tool: CsmsTool,
    step: int,
    given: msg.SetChargingProfileRequest,
    status: str = "Accepted",
    *,
    beyond: bool = False,
) -> None:
    request = ev_schedule(tool, given, beyond=beyond)
    response = await send_as(step, tool, request, msg.NotifyEVChargingScheduleResponse)
    expect_field(step + 1, response, "status", status)


async def iso15118_smart_charging(tool: CsmsTool) -> msg.SetChargingProfileRequest:
    """Reusable State ISO15118SmartCharging (after Authorized and EVConnectedPreSession): needs, TxProfile, the
    EV's schedule within it, the energy transfer."""
    await authorized(tool)
    await ev_connected_pre_session(tool)
    within = await send_needs(tool, 1)
    given = await tx_profile(tool, 3, within)
    await send_schedule(tool, 5, given)
    await transaction_event(
        tool, 7, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.CHARGING
    )
    return given


async def operator_profile(
    tool: CsmsTool, step: int, given: msg.SetChargingProfileRequest
) -> msg.SetChargingProfileRequest:
    """K16: the operator replaces the EV's TxProfile with a lower one (through the CSMS's API)."""
    assert tool.transaction is not None
    earlier = given.charging_profile
    unit = tool.configured.charging_rate_unit
    body: dict[str, Any] = {
        "id": earlier.id,
        "stackLevel": earlier.stack_level,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "transactionId": tool.transaction.id,
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6000.0 if unit == "W" else 6.0}],
            }
        ],
    }
    tool.manual(SetChargingProfile(tool.configured.evse_id, body))
    request = await tx_profile(tool, step)
    await tool.settle()
    return request


@case(
    "TC_K_53_CSMS",
    "Charging with load leveling based on High Level Communication - Success",
    use_cases=("K15",),
    requirements=("K15.FR.02", "K15.FR.03", "K15.FR.05", "K15.FR.07", "K15.FR.11"),
    timeout=90.0,
)
async def tc_k_53_csms(tool: CsmsTool) -> None:
    await iso15118_smart_charging(tool)


@case(
    "TC_K_55_CSMS",
    "Charging with load leveling based on High Level Communication - EV charging profile exceeds limits",
    use_cases=("K15", "K16", "K17"),
    requirements=("K15.FR.12", "K15.FR.13", "K16.FR.07", "K16.FR.08", "K17.FR.12", "K17.FR.13"),
    timeout=90.0,
)
async def tc_k_55_csms(tool: CsmsTool) -> None:
    await authorized(tool)
    await ev_connected_pre_session(tool)
    response = await send_as(1, tool, mock_needs(tool), msg.NotifyEVChargingNeedsResponse)
    expect_field(2, response, "status", "Accepted")
    given = await tx_profile(tool, 3)
    await send_schedule(tool, 5, given, "Rejected", beyond=True)
    await transaction_event(
        tool, 7, Event.UPDATED, Trigger.CHARGING_STATE_CHANGED, charging_state=Charging.CHARGING
    )
    again = await tx_profile(tool, 9)  # K15.FR.13: the CSMS renegotiates
    await send_schedule(tool, 11, again)
    await transaction_event(tool, 13, Event.UPDATED, Trigger.CHARGING_RATE_CHANGED)


@case(
    "TC_K_57_CSMS",
    "Renegotiating a Charging Schedule - Initiated by EV",
    use_cases=("K17",),
    requirements=("K17.FR.02", "K17.FR.03", "K17.FR.05", "K17.FR.07", "K17.FR.11"),
    timeout=120.0,
)
async def tc_k_57_csms(tool: CsmsTool) -> None:
    await iso15118_smart_charging(tool)
    within = await send_needs(tool, 1, 15_000)
    await transaction_event(tool, 3, Event.UPDATED, Trigger.CHARGING_RATE_CHANGED)
    given = await tx_profile(tool, 5, within)
    await send_schedule(tool, 7, given)
    await transaction_event(tool, 9, Event.UPDATED, Trigger.CHARGING_RATE_CHANGED)


@case(
    "TC_K_58_CSMS",
    "Renegotiating a Charging Schedule - Initiated by CSMS",
    use_cases=("K16",),
    requirements=("K16.FR.06",),
    timeout=90.0,
)
async def tc_k_58_csms(tool: CsmsTool) -> None:
    given = await iso15118_smart_charging(tool)
    lower = await operator_profile(tool, 1, given)
    await send_schedule(tool, 3, lower)
    await transaction_event(tool, 5, Event.UPDATED, Trigger.CHARGING_RATE_CHANGED)


@case(
    "TC_K_59_CSMS",
    "Renegotiating a Charging Schedule - Initiated by CSMS - Send NotifyEVChargingNeeds",
    use_cases=("K16",),
    requirements=("K16.FR.12",),
    timeout=120.0,
)
async def tc_k_59_csms(tool: CsmsTool) -> None:
    given = await iso15118_smart_charging(tool)
    await operator_profile(tool, 1, given)
    within = await send_needs(tool, 3, 15_000)  # K16.FR.12: the station sends the needs anyway
    again = await tx_profile(tool, 5, within)
    await send_schedule(tool, 7, again)
    await transaction_event(tool, 9, Event.UPDATED, Trigger.CHARGING_RATE_CHANGED)
