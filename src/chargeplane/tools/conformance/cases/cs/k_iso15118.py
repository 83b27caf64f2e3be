"""Block K, ISO 15118 smart charging (Part 6 §2.11, K15-K17), charging-station side: the EV's charging needs,
the TxProfile the tool answers them with, the EV's schedule, and renegotiation by the EV and by the CSMS.

Readings:
* Manual Action "Renegotiate EV Charging Limits" is :class:`RenegotiateChargingLimits`: the ISO 15118 EV at the
  configured EVSE states (new) charging needs.
* The tool's TxProfile of Reusable State RenegotiateChargingLimits (and of TC_K_57 / TC_K_58) is Absolute, id 1,
  stack level 0, startSchedule now minus the configured time deviation, duration 300 s, one period from 0 s
  with the table's limit (times 1000 in W) and the configured numberPhases; the kind and id are not given.
* Steps "NotifyEVChargingScheduleRequest" are optional (a station sends one only when its EV returns a
  profile): the tool waits ``SCHEDULE_WITHIN`` seconds for it and validates it when it comes.
* Steps 7 / 8 of RenegotiateChargingLimits (optional, "until chargingState is Charging") and TC_K_54's step 5:
  the station's event with triggerReason ChargingStateChanged and chargingState Charging, since the case
  began: a station may start the energy transfer before the EV's needs (a simulated EV that draws power as
  soon as the contactor closes does).
* TC_K_56 (offline): the EV is an ISO 15118 one (:class:`NextEvIso15118`: it takes energy once a schedule is
  agreed) and states its needs (the manual action of RenegotiateChargingLimits) once the station is offline,
  RetryBackOffWaitMinimum seconds before the tool accepts it again (the table's 90 s is the configured
  wait); the Memory State's TxDefaultProfile is 6 A (6000 W) for 400 s. Step 5 is an event of the queue the
  station sends after reconnecting (ChargingStateChanged, Charging, offline).
* TC_K_57 / TC_K_58 step 7 (optional in the table, expected "probably" / "when it was charging above the new
  limit"): required here, the renegotiation changing the rate both times (10 to 15, 10 to 8).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.k_smart_charging import (
    MAX_TIME_DEVIATION,
    Purpose,
    charging_profile,
    clear_all,
    set_profile,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field, expect_present, field_value
from chargeplane.tools.conformance.station_adapter import NextEvIso15118, RenegotiateChargingLimits
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    authorized_local,
    configuration,
    ev_connected_pre_session,
    offline_events,
    offline_settings,
    receive_queue,
    transaction_events,
    transaction_id,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool

NEEDS_WITHIN = 15.0
SCHEDULE_WITHIN = 5.0
STATE = "RenegotiateChargingLimits"
Needs = msg.NotifyEVChargingNeedsRequest
Schedule = msg.NotifyEVChargingScheduleRequest


async def before(tool: StationTool) -> None:
    """Reusable States Authorized (local) and EVConnectedPreSession: a transaction runs."""
    await authorized_local(tool)
    await ev_connected_pre_session(tool)
    if not transaction_events(tool):
        await tool.expect_answered("EVConnectedPreSession/3", TxEvent)


def expect_needs(step: int | str, tool: StationTool, request: Needs) -> None:
    """evseId the configured one; AC or DC parameters after the requested energy transfer (K15.FR.06)."""
    expect_field(step, request, "evseId", tool.configured.evse_id)
    mode = field_value(request, "chargingNeeds.requestedEnergyTransfer")
    dc = mode == en.EnergyTransferModeEnumType.DC
    expect_present(
        step, request, "chargingNeeds.dcChargingParameters" if dc else "chargingNeeds.acChargingParameters"
    )


async def ev_needs(
    tool: StationTool, step: int | str, status: en.NotifyEVChargingNeedsStatusEnumType
) -> Needs:
    incoming = await tool.expect(step, Needs, NEEDS_WITHIN)
    expect_needs(step, tool, incoming.request)
    incoming.answer(msg.NotifyEVChargingNeedsResponse(status=status))
    return incoming.request


async def optional_schedule(tool: StationTool, step: int | str) -> Schedule | None:
    """An optional NotifyEVChargingSchedule (answered Accepted), with the configured evseId when it comes."""
    try:
        schedule = await tool.expect_answered(step, Schedule, SCHEDULE_WITHIN)
    except StepFailed:
        return None
    expect_field(step, schedule, "evseId", tool.configured.evse_id)
    return schedule


def _charging(event: Payload) -> bool:
    return (
        isinstance(event, TxEvent)
        and event.trigger_reason is en.TriggerReasonEnumType.CHARGING_STATE_CHANGED
        and field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING
    )


async def charging(tool: StationTool, step: int | str) -> None:
    """The event that shows the energy transfer (ChargingStateChanged, Charging), seen or still to come."""
    if not any(_charging(m) for m in tool.seen):
        await tool.expect_answered(step, TxEvent, where=_charging)


async def rate_changed(tool: StationTool, step: int | str) -> None:
    await tool.expect_answered(
        step, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.CHARGING_RATE_CHANGED
    )


async def tx_profile(tool: StationTool, step: int | str, amps: float) -> None:
    """The tool's TxProfile for the running transaction (answered Accepted: the step after ``step``)."""
    profile = charging_profile(tool, Purpose.TX_PROFILE, amps=amps, transaction_id=transaction_id(tool, step))
    await set_profile(tool, step, tool.configured.evse_id, profile)


async def renegotiate_charging_limits(tool: StationTool) -> None:
    """Reusable State RenegotiateChargingLimits: the EV's needs (Accepted), a 10 A / 10 kW TxProfile, the
    EV's schedule, the energy transfer."""
    await tool.manual(RenegotiateChargingLimits(tool.configured.evse_id))
    await ev_needs(tool, f"{STATE}/1", en.NotifyEVChargingNeedsStatusEnumType.ACCEPTED)
    await tx_profile(tool, f"{STATE}/3", 10.0)
    await optional_schedule(tool, f"{STATE}/5")
    await charging(tool, f"{STATE}/7")


@case(
    "TC_K_53_CS",
    "Charging with load leveling based on High Level Communication - Success",
    use_cases=("K15",),
    requirements=("K15.FR.01", "K15.FR.06", "K15.FR.09", "K15.FR.10"),
    timeout=60.0,
)
async def tc_k_53_cs(tool: StationTool) -> None:
    await before(tool)
    await renegotiate_charging_limits(tool)


@case(
    "TC_K_54_CS",
    "Charging with load leveling based on High Level Communication - No SASchedule (rejected)",
    use_cases=("K15", "K17"),
    requirements=("K15.FR.01", "K17.FR.04"),
    timeout=60.0,
)
async def tc_k_54_cs(tool: StationTool) -> None:
    await before(tool)
    await tool.manual(RenegotiateChargingLimits(tool.configured.evse_id))
    await ev_needs(tool, 1, en.NotifyEVChargingNeedsStatusEnumType.REJECTED)
    await optional_schedule(tool, 3)
    await charging(tool, 5)


@case(
    "TC_K_56_CS",
    "Charging with load leveling based on High Level Communication - Offline",
    use_cases=("K15", "K17"),
    requirements=("K15.FR.15", "K17.FR.15"),
    timeout=90.0,
)
async def tc_k_56_cs(tool: StationTool) -> None:
    c = tool.configured
    wait = c.retry_backoff_wait_minimum
    async with configuration(tool, "before", offline_settings(tool)):
        await clear_all(tool)
        now = wall_clock()
        default = charging_profile(tool, Purpose.TX_DEFAULT_PROFILE, amps=6.0)
        schedule = msgspec.structs.replace(
            default.charging_schedule[0], start_schedule=to_wire(now - MAX_TIME_DEVIATION), duration=400
        )
        default = msgspec.structs.replace(
            default,
            valid_from=to_wire(now - MAX_TIME_DEVIATION),
            valid_to=to_wire(now + MAX_TIME_DEVIATION + timedelta(seconds=401)),
            charging_schedule=[schedule],
        )
        await set_profile(tool, "memory", c.evse_id, default)
        await tool.manual(NextEvIso15118(c.evse_id))
        await before(tool)
        await tool.drain()
        async with tool.offline(1):
            await tool.manual(RenegotiateChargingLimits(c.evse_id))  # K15.FR.15: no CSMS to ask
            await asyncio.sleep(wait)
        reconnected_at = wall_clock()
        await tool.come_online(2, wait * 4 + 10)
        await receive_queue(tool, 5)
        queued = offline_events(tool, reconnected_at)
        if not any(_charging(e) and e.offline is True for e in queued):
            raise StepFailed(
                5, "no queued ChargingStateChanged event (Charging, offline) after the reconnection"
            )
        schedules = [m for m in tool.seen if isinstance(m, Schedule)]
        for notify in schedules:  # step 3 (optional)
            expect_field(3, notify, "evseId", c.evse_id)


@case(
    "TC_K_57_CS",
    "Renegotiating a Charging Schedule - Initiated by EV",
    use_cases=("K17",),
    requirements=("K17.FR.01", "K17.FR.06", "K17.FR.09", "K17.FR.10"),
    timeout=60.0,
)
async def tc_k_57_cs(tool: StationTool) -> None:
    await before(tool)
    await renegotiate_charging_limits(tool)
    await tool.manual(RenegotiateChargingLimits(tool.configured.evse_id))
    await ev_needs(tool, 1, en.NotifyEVChargingNeedsStatusEnumType.ACCEPTED)
    await tx_profile(tool, 3, 15.0)
    await optional_schedule(tool, 5)
    await rate_changed(tool, 7)


@case(
    "TC_K_58_CS",
    "Renegotiating a Charging Schedule - Initiated by CSMS",
    use_cases=("K17",),
    requirements=("K17.FR.01", "K17.FR.06", "K17.FR.09", "K17.FR.10"),
    timeout=60.0,
)
async def tc_k_58_cs(tool: StationTool) -> None:
    await before(tool)
    await renegotiate_charging_limits(tool)
    await tx_profile(tool, 1, 8.0)
    await optional_schedule(tool, 3)
    await rate_changed(tool, 5)
