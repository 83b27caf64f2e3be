"""Block J, Meter values (Part 6 §2.11), charging-station side: clock-aligned (J01) and sampled (J02) values.

The intervals the cases set are the declaration's short ``station_aligned_interval`` and
``station_sampled_interval``; a transaction runs ``transaction_duration`` seconds where a table lets it run
"until the configured transaction duration".

Readings:
* "sampledValue must contain an element per configured measurand": the tool reads the measurand list the
  case depends on from the station (GetVariables) and requires each in every MeterValue it checks; an
  element without measurand counts as Energy.Active.Import.Register.
* Timestamps "must equal the configured interval": the distinct timestamps of the checked MeterValues, in
  order, are spaced by the interval (three quarters of a second of slack; several messages may share one
  timestamp).
* Damaged names: "Sample.Circle" is Sample.Clock; "Energy.Active.Importantly" is
  Energy.Active.Import.Register; SampleData* / SampledData* are SampledDataCtrlr variables and AlignedData*
  AlignedDataCtrlr ones (TxEndInterval = TxEndedInterval, TxEndMeasuredMeasurands = TxEndedMeasurands);
  TC_J_03's "SampledDataTxEnabledMeasurands is empty" is SampledDataCtrlr.TxEndedMeasurands (so that the
  Ended event's values are the clock-aligned ones) and TC_J_10's "AlignedDataTxEndMeasuredurands" is
  AlignedDataCtrlr.TxEndedMeasurands.
* ParkingBayUnoccupied (J_03, J_04, J_06, J_10, J_11) is entered by disconnecting the EV (Reusable State
  EVDisconnected; no parking bay detector is assumed); ParkingBayOccupied (J_07) is skipped for the same
  reason. EnergyTransferStarted starts from an idle station: EV connected, token presented.
* TC_J_02_CS: steps 1-2 (MeterValues) concern idle EVSEs and the main meter only: with the one configured
  EVSE in a transaction the tool requires steps 3-4 (at least one TransactionEvent MeterValueClock).
* TC_J_06_CS: "no message to report meter values during the transaction" is read as no clock-aligned values
  (MeterValues, or TransactionEvents with triggerReason MeterValueClock): the Started and Ended events carry
  their Transaction.Begin / Transaction.End values by other requirements.
* TC_J_07_CS sets TxStartPoint to EVConnected and TC_J_08_CS to Authorized (put back afterwards); J_08
  requires C-09.2 (its "C-09.2 or C-09.6": this tool sets Authorized), AQ-8 is not asked.
* Signed values (TC_J_04 / TC_J_11, C-42): every sampled value of the Ended event's readings carries
  signedMeterValue with a publicKey field (possibly empty).
"""

from __future__ import annotations

import asyncio
import itertools

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, field_value, show
from chargeplane.tools.conformance.station_states import (
    Setting,
    TxEvent,
    authorized_local,
    charging_from_idle,
    configuration,
    energy_transfer_started,
    ev_disconnected,
    get_variable,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool

ALIGNED = "AlignedDataCtrlr"
SAMPLED = "SampledDataCtrlr"
ENERGY = "Energy.Active.Import.Register"
SLACK = 0.75  # seconds: a reading taken late on a loaded machine
Trigger = en.TriggerReasonEnumType


async def measurands(tool: StationTool, step: int | str, component: str, variable: str) -> list[str]:
    value = await get_variable(tool, step, component, variable) or ""
    return [m.strip() for m in value.split(",") if m.strip()]


def expect_values(
    step: int | str, what: str, values: list[dt.MeterValueType], context: str, wanted: list[str]
) -> None:
    """Each MeterValue: its first sampled value has ``context``, and every measurand of ``wanted`` is there."""
    if not values:
        raise StepFailed(step, f"{what}: no meterValue")
    for value in values:
        first = show(value.sampled_value[0].context)
        if first != context:
            raise StepFailed(step, f"{what}: sampledValue[0].context is {first}, expected {context}")
        present = {
            ENERGY if field_value(v, "measurand") is ABSENT else show(v.measurand)
            for v in value.sampled_value
        }
        missing = [m for m in wanted if m not in present]
        if missing:
            raise StepFailed(step, f"{what}: no sampled value of {', '.join(missing)}")


def expect_spacing(step: int | str, what: str, stamps: list[str], interval: int) -> None:
    """The distinct timestamps, in order, are ``interval`` seconds apart."""
    times = sorted({from_wire(s) for s in stamps})
    for earlier, later in itertools.pairwise(times):
        gap = (later - earlier).total_seconds()
        if abs(gap - interval) > SLACK:
            raise StepFailed(step, f"{what}: timestamps {gap:.1f} s apart, expected {interval} s")


def meter_values_of(event: TxEvent) -> list[dt.MeterValueType]:
    values = field_value(event, "meterValue")
    return [] if values is ABSENT else list(values)


def ended_event(tool: StationTool, step: int | str) -> TxEvent:
    ended = [e for e in transaction_events(tool) if e.event_type is en.TransactionEventEnumType.ENDED]
    if not ended:
        raise StepFailed(step, "no TransactionEventRequest with eventType Ended")
    return ended[-1]


async def run_for(tool: StationTool, seconds: float) -> None:
    """Let the transaction run, answering what the station sends."""
    await tool.drain(within=seconds, limit=seconds)
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        await tool.drain(within=left, limit=left)


def _clock_event(event: TxEvent) -> bool:
    return event.trigger_reason is Trigger.METER_VALUE_CLOCK


@case(
    "TC_J_01_CS",
    "Clock-aligned Meter Values - No transaction ongoing",
    use_cases=("J01",),
    requirements=(
        "J01.FR.01",
        "J01.FR.02",
        "J01.FR.03",
        "J01.FR.06",
        "J01.FR.07",
        "J01.FR.08",
        "J01.FR.14",
        "J01.FR.15",
    ),
    timeout=40.0,
)
async def tc_j_01_cs(tool: StationTool) -> None:
    interval = tool.configured.station_aligned_interval
    settings: list[Setting] = [(ALIGNED, "Interval", None, str(interval), True)]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", ALIGNED, "Measurands")
        received: list[msg.MeterValuesRequest] = []
        for _ in range(3):  # 1. / 2. until three MeterValues
            request = await tool.expect_answered(1, msg.MeterValuesRequest, within=interval * 2 + 5.0)
            expect_values(1, "MeterValuesRequest", request.meter_value, "Sample.Clock", wanted)
            received.append(request)
        stamps = [v.timestamp for r in received for v in r.meter_value]
        expect_spacing("post", "MeterValuesRequest", stamps, interval)


@case(
    "TC_J_02_CS",
    "Clock-aligned Meter Values - Transaction ongoing",
    use_cases=("J01",),
    requirements=(
        "J01.FR.01",
        "J01.FR.02",
        "J01.FR.03",
        "J01.FR.06",
        "J01.FR.07",
        "J01.FR.08",
        "J01.FR.14",
        "J01.FR.15",
    ),
    timeout=40.0,
)
async def tc_j_02_cs(tool: StationTool) -> None:
    configured = tool.configured
    interval = configured.station_aligned_interval
    settings: list[Setting] = [
        (ALIGNED, "Interval", None, str(interval), True),
        (ALIGNED, "SendDuringIdle", None, "false", False),
    ]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", ALIGNED, "Measurands")
        await charging_from_idle(tool)
        started = len(tool.seen)
        await tool.expect_answered(3, TxEvent, within=interval * 2 + 5.0, where=_clock_event)  # 3. / 4.
        await run_for(tool, configured.transaction_duration)
        events = [e for e in tool.seen[started:] if isinstance(e, TxEvent) and _clock_event(e)]
        for event in events:
            expect_values(3, "TransactionEventRequest", meter_values_of(event), "Sample.Clock", wanted)
        stamps = [v.timestamp for e in events for v in meter_values_of(e)]
        expect_spacing("post", "TransactionEventRequest", stamps, interval)
        meter_values = [m for m in tool.seen[started:] if isinstance(m, msg.MeterValuesRequest)]
        for request in meter_values:  # 1. / 2. (idle EVSEs, main meter), when sent
            expect_values(1, "MeterValuesRequest", request.meter_value, "Sample.Clock", wanted)
        expect_spacing(
            "post", "MeterValuesRequest", [v.timestamp for r in meter_values for v in r.meter_value], interval
        )


async def ended_readings(
    tool: StationTool, settings: list[Setting], component: str
) -> tuple[TxEvent, list[str]]:
    """J_03 / J_04 / J_10 / J_11: a transaction of ``transaction_duration`` seconds, ended by disconnecting;
    the Ended event and the TxEndedMeasurands of ``component``."""
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", component, "TxEndedMeasurands")
        await charging_from_idle(tool)
        await run_for(tool, tool.configured.transaction_duration)
        await ev_disconnected(tool)  # 1. ParkingBayUnoccupied
        return ended_event(tool, "post"), wanted


def expect_signed(step: int | str, values: list[dt.MeterValueType]) -> None:
    for value in values:
        for sampled in value.sampled_value:
            if field_value(sampled, "signedMeterValue") is ABSENT:
                raise StepFailed(step, "a sampled value of the Ended event has no signedMeterValue")
            if field_value(sampled, "signedMeterValue.publicKey") is ABSENT:
                raise StepFailed(step, "signedMeterValue.publicKey is absent")


def aligned_ended_settings(tool: StationTool) -> list[Setting]:
    interval = str(tool.configured.station_aligned_interval)
    return [
        (ALIGNED, "TxEndedInterval", None, interval, True),
        (SAMPLED, "TxEndedMeasurands", None, "", True),
        (ALIGNED, "SendDuringIdle", None, "false", False),
    ]


@case(
    "TC_J_03_CS",
    "Clock-aligned Meter Values - EventType Ended",
    use_cases=("J01", "E06", "E07", "E08", "E09", "E10", "E12"),
    requirements=(
        "J01.FR.01",
        "J01.FR.02",
        "J01.FR.03",
        "J01.FR.06",
        "J01.FR.07",
        "J01.FR.08",
        "J01.FR.14",
        "J01.FR.15",
        "E06.FR.11",
        "E06.FR.17",
        "E07.FR.08",
        "E07.FR.13",
        "E08.FR.09",
        "E09.FR.05",
        "E10.FR.04",
        "E12.FR.07",
    ),
    timeout=40.0,
)
async def tc_j_03_cs(tool: StationTool) -> None:
    interval = tool.configured.station_aligned_interval
    ended, wanted = await ended_readings(tool, aligned_ended_settings(tool), ALIGNED)
    values = meter_values_of(ended)
    expect_values("post", "the Ended event", values, "Sample.Clock", wanted)
    expect_spacing("post", "the Ended event", [v.timestamp for v in values], interval)


@case(
    "TC_J_04_CS",
    "Clock-aligned Meter Values - Signed",
    use_cases=("J01",),
    requirements=("J01.FR.21",),
    features=("C-42",),
    timeout=40.0,
)
async def tc_j_04_cs(tool: StationTool) -> None:
    interval = tool.configured.station_aligned_interval
    settings = [*aligned_ended_settings(tool)[::2], (ALIGNED, "SignReadings", None, "true", True)]
    ended, wanted = await ended_readings(tool, settings, ALIGNED)
    values = meter_values_of(ended)
    expect_values("post", "the Ended event", values, "Sample.Clock", wanted)
    expect_spacing("post", "the Ended event", [v.timestamp for v in values], interval)
    expect_signed("post", values)


@case(
    "TC_J_06_CS",
    "Clock-aligned Meter Values - No Meter Values during transaction",
    use_cases=("J01",),
    features=("C-28",),
    timeout=60.0,
)
async def tc_j_06_cs(tool: StationTool) -> None:
    interval = tool.configured.station_aligned_interval
    settings: list[Setting] = [
        (ALIGNED, "Interval", None, str(interval), True),
        (ALIGNED, "SendDuringIdle", None, "true", True),
    ]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", ALIGNED, "Measurands")
        first = await tool.expect_answered(1, msg.MeterValuesRequest, within=interval * 2 + 5.0)  # 1. / 2.
        expect_values(1, "MeterValuesRequest", first.meter_value, "Sample.Clock", wanted)
        started = len(tool.seen)
        await charging_from_idle(tool)  # 3.
        await run_for(tool, interval + 5)  # 4. / 5.: nothing clock-aligned may come
        during = tool.seen[started:]
        await ev_disconnected(tool)  # 6.
        last = await tool.expect_answered(7, msg.MeterValuesRequest, within=interval * 2 + 5.0)  # 7. / 8.
        expect_values(7, "MeterValuesRequest", last.meter_value, "Sample.Clock", wanted)
        clock = [
            m
            for m in during
            if isinstance(m, msg.MeterValuesRequest) or (isinstance(m, TxEvent) and _clock_event(m))
        ]
        if clock:
            raise StepFailed(
                "post",
                f"the station sent clock-aligned values during the transaction: {type(clock[0]).__name__}",
            )


@case(
    "TC_J_07_CS",
    "Sampled Meter Values - EventType Started - EVSE known",
    use_cases=("J02", "E01", "E02", "E03", "E09", "E04", "E05"),
    requirements=(
        "J02.FR.01",
        "J02.FR.02",
        "J02.FR.03",
        "J02.FR.04",
        "J02.FR.10",
        "E01.FR.09",
        "E02.FR.09",
        "E03.FR.07",
        "E04.FR.05",
        "E05.FR.05",
    ),
    timeout=40.0,
)
async def tc_j_07_cs(tool: StationTool) -> None:
    settings: list[Setting] = [("TxCtrlr", "TxStartPoint", None, "EVConnected", True)]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", SAMPLED, "TxStartedMeasurands")
        await charging_from_idle(tool)  # 1. EVConnectedPreSession, 2. EnergyTransferStarted
    started = [e for e in transaction_events(tool) if e.event_type is en.TransactionEventEnumType.STARTED]
    if not started:
        raise StepFailed("post", "no TransactionEventRequest with eventType Started")
    expect_values("post", "the Started event", meter_values_of(started[0]), "Transaction.Begin", wanted)


@case(
    "TC_J_08_CS",
    "Sampled Meter Values - Context Transaction.Start - EVSE not known",
    use_cases=("J02", "E01", "E02", "E03", "E09", "E04", "E05"),
    requirements=(
        "J02.FR.01",
        "J02.FR.02",
        "J02.FR.03",
        "J02.FR.04",
        "J02.FR.10",
        "E01.FR.16",
        "E01.FR.17",
        "E03.FR.11",
        "E04.FR.11",
        "E05.FR.08",
    ),
    features=("C-09.2",),
    timeout=40.0,
)
async def tc_j_08_cs(tool: StationTool) -> None:
    settings: list[Setting] = [("TxCtrlr", "TxStartPoint", None, "Authorized", True)]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", SAMPLED, "TxStartedMeasurands")
        await authorized_local(tool)  # 1. EnergyTransferStarted: authorized first, then the EV
        await energy_transfer_started(tool)
    with_evse = [e for e in transaction_events(tool) if field_value(e, "evse") is not ABSENT]
    if not with_evse:
        raise StepFailed("post", "no TransactionEventRequest with an evse")
    expect_values(
        "post", "the first event with an evse", meter_values_of(with_evse[0]), "Transaction.Begin", wanted
    )


@case(
    "TC_J_09_CS",
    "Sampled Meter Values - EventType Updated",
    use_cases=("J02", "E01", "E02", "E03", "E09", "E04", "E05"),
    requirements=(
        "J02.FR.01",
        "J02.FR.02",
        "J02.FR.03",
        "J02.FR.04",
        "J02.FR.10",
        "J02.FR.11",
        "J02.FR.14",
        "E02.FR.10",
        "E02.FR.11",
        "E03.FR.08",
        "E03.FR.09",
        "E04.FR.06",
        "E04.FR.09",
        "E11.FR.03",
        "E11.FR.06",
        "E12.FR.03",
        "E12.FR.06",
    ),
    timeout=40.0,
)
async def tc_j_09_cs(tool: StationTool) -> None:
    configured = tool.configured
    interval = configured.station_sampled_interval
    settings: list[Setting] = [(SAMPLED, "TxUpdatedInterval", None, str(interval), True)]
    async with configuration(tool, "before", settings):
        wanted = await measurands(tool, "before", SAMPLED, "TxUpdatedMeasurands")
        await charging_from_idle(tool)
        started = len(tool.seen)

        def periodic(event: TxEvent) -> bool:
            return event.trigger_reason is Trigger.METER_VALUE_PERIODIC

        await tool.expect_answered(1, TxEvent, within=interval * 2 + 5.0, where=periodic)
        await run_for(tool, configured.transaction_duration)
        events = [e for e in tool.seen[started:] if isinstance(e, TxEvent) and periodic(e)]
        for event in events:
            expect_values(1, "TransactionEventRequest", meter_values_of(event), "Sample.Periodic", wanted)
        expect_spacing(
            "post",
            "TransactionEventRequest",
            [v.timestamp for e in events for v in meter_values_of(e)],
            interval,
        )


def sampled_ended_settings(tool: StationTool) -> list[Setting]:
    return [
        (SAMPLED, "TxEndedInterval", None, str(tool.configured.station_sampled_interval), True),
        (ALIGNED, "TxEndedMeasurands", None, "", True),
    ]


def expect_sampled_ended(tool: StationTool, values: list[dt.MeterValueType], wanted: list[str]) -> None:
    """J_10 / J_11: Sample.Periodic readings and one Transaction.End, spaced by TxEndedInterval."""
    periodic = [v for v in values if show(v.sampled_value[0].context) == "Sample.Periodic"]
    end = [v for v in values if show(v.sampled_value[0].context) == "Transaction.End"]
    expect_values("post", "the Ended event's periodic readings", periodic, "Sample.Periodic", wanted)
    if not end:
        raise StepFailed("post", "the Ended event has no Transaction.End reading")
    expect_spacing(
        "post", "the Ended event", [v.timestamp for v in periodic], tool.configured.station_sampled_interval
    )


@case(
    "TC_J_10_CS",
    "Sampled Meter Values - EventType Ended",
    use_cases=("J02", "E06", "E07", "E08", "E09", "E10", "E12"),
    requirements=(
        "J02.FR.01",
        "J02.FR.02",
        "J02.FR.03",
        "J02.FR.04",
        "J02.FR.10",
        "E06.FR.11",
        "E06.FR.17",
        "E07.FR.08",
        "E07.FR.13",
        "E08.FR.09",
        "E09.FR.05",
        "E10.FR.04",
        "E12.FR.07",
    ),
    timeout=40.0,
)
async def tc_j_10_cs(tool: StationTool) -> None:
    ended, wanted = await ended_readings(tool, sampled_ended_settings(tool), SAMPLED)
    expect_sampled_ended(tool, meter_values_of(ended), wanted)


@case(
    "TC_J_11_CS",
    "Sampled Meter Values - Signed",
    use_cases=("J02",),
    requirements=("J02.FR.21",),
    features=("C-42",),
    timeout=40.0,
)
async def tc_j_11_cs(tool: StationTool) -> None:
    settings = [*sampled_ended_settings(tool)[:1], (SAMPLED, "SignReadings", None, "true", True)]
    ended, wanted = await ended_readings(tool, settings, SAMPLED)
    values = meter_values_of(ended)
    expect_sampled_ended(tool, values, wanted)
    expect_signed("post", values)
