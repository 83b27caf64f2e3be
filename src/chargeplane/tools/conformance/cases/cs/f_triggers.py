"""Block F, Remote Control (Part 6 §2.7), charging-station side: TriggerMessage for the other messages
(F06; Heartbeat and StatusNotification are in ``f_remote_control``).

Readings:
* Each case depends on the Part 5 station feature of its requested message: C-29.1 MeterValues, C-29.2
  TransactionEvent, C-29.3 LogStatusNotification, C-29.4 FirmwareStatusNotification, C-29.6
  BootNotification. TC_F_27 asks for SignCombinedCertificate, so it applies only to a station without
  combined certificates (its condition "NOT ISO-3").
* "For every EVSE" (TC_F_12 / F_14, evse omitted): the tool checks the message of the configured EVSE; the
  others that come are answered and kept.
* TC_F_13 / F_14 enter EnergyTransferStarted with a local authorization. TC_F_14 asks evse.id to be the
  configured one while TC_F_13 also allows it omitted; both allow it omitted, since a station sends the EVSE
  in the first TransactionEvent of a transaction only (E01.FR.16).
* TC_F_16 / F_19 need an upload / a download in progress: GetLog to the tool's file server, which holds the
  upload open until the triggered status came (so the station is still Uploading), and UpdateFirmware from
  ``firmware_location`` (signing certificate and signature when declared); their request ids are the tool's.
* TC_F_26 triggers a BootNotification while the station is Accepted: the answer must be Rejected
  (F06.FR.17), no BootNotification follows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from msgspec import UNSET

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field, expect_present
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    authorized_local,
    energy_transfer_started,
)
from chargeplane.tools.conformance.station_steps import StationTool

LOG_REQUEST_ID = 4801  # the tool's requestId of GetLog (TC_F_16)
FIRMWARE_REQUEST_ID = 4802  # the tool's requestId of UpdateFirmware (TC_F_19)


async def trigger(
    tool: StationTool, step: int, message: str, *, evse_id: int | None = None, status: str = "Accepted"
) -> None:
    """Step ``step``: TriggerMessage for ``message`` (of EVSE ``evse_id``); step ``step + 1``: its status."""
    wanted = en.MessageTriggerEnumType(message)
    request = (
        msg.TriggerMessageRequest(requested_message=wanted)
        if evse_id is None
        else msg.TriggerMessageRequest(requested_message=wanted, evse=dt.EVSEType(id=evse_id))
    )
    response = await tool.send_as(step, request, msg.TriggerMessageResponse)
    expect_field(step + 1, response, "status", status)


def _of_configured_evse(request: msg.MeterValuesRequest, evse_id: int) -> bool:
    return request.evse_id == evse_id


async def triggered_meter_values(tool: StationTool, step: int) -> None:
    evse_id = tool.configured.evse_id
    values = await tool.expect_answered(
        step, msg.MeterValuesRequest, where=lambda r: _of_configured_evse(r, evse_id)
    )
    expect_field(step, values, "evseId", evse_id)
    expect_field(step, values, "meterValue[0].sampledValue[0].context", "Trigger")


async def triggered_transaction_event(tool: StationTool, step: int) -> None:
    event = await tool.expect_answered(
        step, TxEvent, where=lambda e: e.trigger_reason is en.TriggerReasonEnumType.TRIGGER
    )
    expect_field(step, event, "evse.id", "absent", tool.configured.evse_id)
    expect_field(step, event, "triggerReason", "Trigger")
    expect_field(step, event, "transactionInfo.chargingState", "Charging")
    expect_present(step, event, "meterValue")
    expect_field(step, event, "meterValue[0].sampledValue[0].context", "Trigger")


async def expect_status(tool: StationTool, step: int, request_type: type[Payload], status: str) -> None:
    notification = await tool.expect_answered(step, request_type)
    expect_field(step, notification, "status", status)


@case(
    "TC_F_11_CS",
    "Trigger message - MeterValues - Specific EVSE",
    use_cases=("F06",),
    requirements=("F06.FR.02", "F06.FR.04", "F06.FR.05", "F06.FR.06", "F06.FR.10"),
    features=("C-29.1",),
)
async def tc_f_11_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "MeterValues", evse_id=tool.configured.evse_id)
    await triggered_meter_values(tool, 3)


@case(
    "TC_F_12_CS",
    "Trigger message - MeterValues - All EVSE",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.06", "F06.FR.10", "F06.FR.11"),
    features=("C-29.1",),
)
async def tc_f_12_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "MeterValues")
    await triggered_meter_values(tool, 3)


@case(
    "TC_F_13_CS",
    "Trigger message - TransactionEvent - Specific EVSE",
    use_cases=("F06",),
    requirements=("F06.FR.02", "F06.FR.04", "F06.FR.05", "F06.FR.07", "F06.FR.10"),
    features=("C-29.2",),
    timeout=40.0,
)
async def tc_f_13_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    await trigger(tool, 1, "TransactionEvent", evse_id=tool.configured.evse_id)
    await triggered_transaction_event(tool, 3)


@case(
    "TC_F_14_CS",
    "Trigger message - TransactionEvent - All EVSE",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.07", "F06.FR.10", "F06.FR.11"),
    features=("C-29.2",),
    timeout=40.0,
)
async def tc_f_14_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)
    await trigger(tool, 1, "TransactionEvent")
    await triggered_transaction_event(tool, 3)


@case(
    "TC_F_15_CS",
    "Trigger message - LogStatusNotification - Idle",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.10", "F06.FR.15"),
    features=("C-29.3",),
)
async def tc_f_15_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "LogStatusNotification")
    await expect_status(tool, 3, msg.LogStatusNotificationRequest, "Idle")


@case(
    "TC_F_16_CS",
    "Trigger message - LogStatusNotification - Uploading",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.10", "F06.FR.14"),
    features=("C-29.3",),
)
async def tc_f_16_cs(tool: StationTool) -> None:
    files = await tool.file_server()
    files.store.hold.clear()  # the upload stays open while the trigger comes: the station is Uploading
    try:
        request = msg.GetLogRequest(
            log=dt.LogParametersType(remote_location=files.upload_url()),
            log_type=en.LogEnumType.DIAGNOSTICS_LOG,
            request_id=LOG_REQUEST_ID,
        )
        response = await tool.send_as(1, request, msg.GetLogResponse)
        expect_field(2, response, "status", "Accepted")
        await expect_status(tool, 3, msg.LogStatusNotificationRequest, "Uploading")
        await trigger(tool, 5, "LogStatusNotification")
        await expect_status(tool, 7, msg.LogStatusNotificationRequest, "Uploading")
    finally:
        files.store.hold.set()  # the upload ends (outside the verdict)


@case(
    "TC_F_17_CS",
    "Trigger message - FirmwareStatusNotification - Specific EVSE not relevant",
    use_cases=("F06",),
    requirements=("F06.FR.03", "F06.FR.04", "F06.FR.05", "F06.FR.10"),
    features=("C-29.4",),
)
async def tc_f_17_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "FirmwareStatusNotification", evse_id=tool.configured.evse_id)
    await expect_status(tool, 3, msg.FirmwareStatusNotificationRequest, "Idle")


@case(
    "TC_F_18_CS",
    "Trigger message - FirmwareStatusNotification - Idle",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.10", "F06.FR.16", "L01.FR.25"),
    features=("C-29.4",),
)
async def tc_f_18_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "FirmwareStatusNotification")
    await expect_status(tool, 3, msg.FirmwareStatusNotificationRequest, "Idle")


@case(
    "TC_F_19_CS",
    "Trigger message - FirmwareStatusNotification - Downloading",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.10", "L01.FR.26"),
    features=("C-29.4",),
)
async def tc_f_19_cs(tool: StationTool) -> None:
    configured = tool.configured
    firmware = dt.FirmwareType(
        location=configured.firmware_location,
        retrieve_date_time=to_wire(datetime.now(UTC) - timedelta(hours=2)),
        signing_certificate=configured.firmware_signing_certificate or UNSET,
        signature=configured.firmware_signature or UNSET,
    )
    request = msg.UpdateFirmwareRequest(request_id=FIRMWARE_REQUEST_ID, firmware=firmware)
    response = await tool.send_as(1, request, msg.UpdateFirmwareResponse)
    expect_field(2, response, "status", "Accepted")
    await expect_status(tool, 3, msg.FirmwareStatusNotificationRequest, "Downloading")
    await trigger(tool, 5, "FirmwareStatusNotification")
    await expect_status(tool, 7, msg.FirmwareStatusNotificationRequest, "Downloading")


@case(
    "TC_F_26_CS",
    "Trigger message - BootNotification - Rejected",
    use_cases=("F06",),
    requirements=("F06.FR.04", "F06.FR.05", "F06.FR.17"),
    features=("C-29.6",),
)
async def tc_f_26_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "BootNotification", status="Rejected")


@case(
    "TC_F_27_CS",
    "Trigger message - NotImplemented",
    use_cases=("F06",),
    requirements=("F06.FR.08",),
    condition="not ISO-3",
)
async def tc_f_27_cs(tool: StationTool) -> None:
    await trigger(tool, 1, "SignCombinedCertificate", status="NotImplemented")
