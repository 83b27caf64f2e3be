"""Block J, Meter values (Part 6 §3.11).

Readings:
* The CSMS-side rows are marked C-40 in the CSV, a charging-station feature (which measurands it samples);
  for a CSMS they are mandatory, so no feature is declared.
* "Executed every <Configured ... interval>": the tool does not wait the interval in real time; it sends the
  readings at once with timestamps spaced by the configured interval (clock-aligned ones on the interval's
  boundaries), which is what the CSMS can check.
* TC_J_01 / TC_J_02 also mention a NotifyEvent (trigger Periodic, component FiscalMetering) whose variable
  the table leaves out; the tool sends the MeterValues only.
* TC_J_02 says context "Sample.Circle": read as Sample.Clock (converted text).
* TC_J_04 / J_11 (signed): the readings of the Ended event each carry a signedMeterValue (an OCMF container
  signed with a fresh key; the CSMS must take it, not read it). TC_J_11 speaks of the "clock-aligned Tx
  ended interval" for sampled readings: read as the sampled interval.
* TC_J_08 (EVSE not known): the transaction starts at Authorized without an EVSE; the EVSE comes in the
  EVConnectedPreSession event, which carries the Transaction.Begin reading (the CSV's name says
  "Transaction.Start", the table Transaction.Begin, the only such context).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.messages import (
    authorize,
    energy_reading,
    send_as,
    signed_energy_reading,
    start_transaction,
    transaction_event,
    valid_token,
)
from chargeplane.tools.conformance.states import (
    Charging,
    Event,
    Status,
    Trigger,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    notify_connector,
)
from chargeplane.tools.conformance.steps import CsmsTool

Context = en.ReadingContextEnumType
READINGS = 3  # "the OCTT will end the testcase after three Meter Value messages"


def spaced_times(interval: int, count: int = READINGS, aligned: bool = False) -> list[str]:
    """``count`` past timestamps ``interval`` seconds apart, the last one now (or on the last boundary)."""
    now = datetime.now(UTC).replace(microsecond=0)
    if aligned:
        now -= timedelta(seconds=int(now.timestamp()) % max(interval, 1))
    return [to_wire(now - timedelta(seconds=interval * (count - 1 - i))) for i in range(count)]


def readings(context: Context, times: list[str], last: Context | None = None) -> list[dt.MeterValueType]:
    values = [energy_reading(context, 1000.0 + 100 * i, t) for i, t in enumerate(times)]
    if last is not None:
        values.append(energy_reading(last, 1000.0 + 100 * len(times), times[-1]))
    return values


async def clock_aligned_meter_values(tool: CsmsTool, step: int, evse_ids: list[int]) -> None:
    for timestamp in spaced_times(tool.configured.aligned_interval, aligned=True):
        for evse_id in evse_ids:
            request = msg.MeterValuesRequest(
                evse_id=evse_id, meter_value=[energy_reading(Context.SAMPLE_CLOCK, timestamp=timestamp)]
            )
            await send_as(step, tool, request, msg.MeterValuesResponse)


@case(
    "TC_J_01_CSMS",
    "Clock-aligned Meter Values - No transaction ongoing",
    use_cases=("J01",),
    requirements=("J01.FR.18",),
)
async def tc_j_01(tool: CsmsTool) -> None:
    await clock_aligned_meter_values(tool, 1, [0, tool.configured.evse_id])


@case(
    "TC_J_02_CSMS",
    "Clock-aligned Meter Values - Transaction ongoing",
    use_cases=("J01",),
    requirements=("J01.FR.18",),
)
async def tc_j_02(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    await clock_aligned_meter_values(tool, 1, [0])  # the tool's only EVSE is busy: just the station's meter
    for timestamp in spaced_times(tool.configured.aligned_interval, aligned=True):
        reading = [energy_reading(Context.SAMPLE_CLOCK, timestamp=timestamp)]
        await transaction_event(
            tool, 3, Event.UPDATED, Trigger.METER_VALUE_CLOCK, meter_value=reading, timestamp=timestamp
        )


@case(
    "TC_J_03_CSMS",
    "Clock-aligned Meter Values - EventType Ended",
    use_cases=("J01",),
    requirements=("J01.FR.18",),
)
async def tc_j_03(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    times = spaced_times(tool.configured.aligned_interval, aligned=True)
    await ev_disconnected(
        tool, meter_value=readings(Context.SAMPLE_CLOCK, times, last=Context.TRANSACTION_END)
    )


@case(
    "TC_J_07_CSMS",
    "Sampled Meter Values - EventType Started - EVSE known",
    use_cases=("J02",),
    requirements=("J02.FR.19",),
)
async def tc_j_07(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool, meter_value=[energy_reading(Context.TRANSACTION_BEGIN)])


@case(
    "TC_J_09_CSMS",
    "Sampled Meter Values - EventType Updated",
    use_cases=("J02",),
    requirements=("J02.FR.19",),
)
async def tc_j_09(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    for timestamp in spaced_times(tool.configured.sampled_interval):
        reading = [energy_reading(Context.SAMPLE_PERIODIC, timestamp=timestamp)]
        await transaction_event(
            tool, 1, Event.UPDATED, Trigger.METER_VALUE_PERIODIC, meter_value=reading, timestamp=timestamp
        )


@case(
    "TC_J_10_CSMS", "Sampled Meter Values - EventType Ended", use_cases=("J02",), requirements=("J02.FR.19",)
)
async def tc_j_10(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    times = spaced_times(tool.configured.sampled_interval)
    await ev_disconnected(
        tool, meter_value=readings(Context.SAMPLE_PERIODIC, times, last=Context.TRANSACTION_END)
    )


def signed_readings(context: Context, times: list[str]) -> list[dt.MeterValueType]:
    """``readings`` with their signatures, the last one Transaction.End."""
    values = [signed_energy_reading(context, 1000.0 + 100 * i, t) for i, t in enumerate(times)]
    end = signed_energy_reading(Context.TRANSACTION_END, 1000.0 + 100 * len(times), times[-1])
    return [*values, end]


@case("TC_J_04_CSMS", "Clock-aligned Meter Values - Signed", use_cases=("J01",), requirements=("J01.FR.21",))
async def tc_j_04(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    times = spaced_times(tool.configured.aligned_interval, aligned=True)
    await ev_disconnected(tool, meter_value=signed_readings(Context.SAMPLE_CLOCK, times))  # 1


@case(
    "TC_J_08_CSMS",
    "Sampled Meter Values - Context Transaction.Start - EVSE not known",
    use_cases=("J02",),
    requirements=("J02.FR.19",),
)
async def tc_j_08(tool: CsmsTool) -> None:
    token = valid_token(tool.configured)  # 1: Authorized, the EVSE not known yet
    response = await send_as("Authorized/1", tool, authorize(token), msg.AuthorizeResponse)
    expect_field("Authorized/2", response, "idTokenInfo.status", "Accepted")
    start_transaction(tool).evse_sent = True  # the Started event goes without an EVSE
    answer = await transaction_event(tool, "Authorized/3", Event.STARTED, Trigger.AUTHORIZED, token=token)
    expect_field("Authorized/4", answer, "idTokenInfo.status", "Accepted")
    tool.progress.authorized = True
    await notify_connector(tool, "EVConnectedPreSession/1", Status.OCCUPIED)  # 2
    await transaction_event(
        tool,
        "EVConnectedPreSession/3",
        Event.UPDATED,
        Trigger.CABLE_PLUGGED_IN,
        charging_state=Charging.EV_CONNECTED,
        meter_value=[energy_reading(Context.TRANSACTION_BEGIN)],
        with_evse=True,
    )
    tool.progress.ev_connected = True
    await energy_transfer_started(tool)  # 3


@case("TC_J_11_CSMS", "Sampled Meter Values - Signed", use_cases=("J02",), requirements=("J02.FR.21",))
async def tc_j_11(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    times = spaced_times(tool.configured.sampled_interval)
    await ev_disconnected(tool, meter_value=signed_readings(Context.SAMPLE_PERIODIC, times))  # 1
