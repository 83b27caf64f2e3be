"""Block L, Firmware Management (Part 6 §3.13), CSMS side: the tool plays a station that updates its firmware.

Readings:
* The manual action asks the CSMS for an UpdateFirmwareRequest with the configured location, signing
  certificate and signature (<Configured signingCertificate> / <Configured signature>), retrieval now;
  TC_L_01 and TC_L_13 check the certificate (TC_L_01 also the signature), as their tables say.
* Every FirmwareStatusNotification but Idle carries the requestId of the update it reports (L01.FR.20).
  TC_L_10: after the second request replaced the first (AcceptedCanceled), the statuses carry the second's
  id; TC_L_11: the first update goes on (the second was Rejected), so its id.
* The station's reboot (InstallRebooting, then the BootNotification with reason FirmwareUpdate) closes and
  reopens the tool's connection, as TC_B_20 does; the connectors are then reported Available.
* TC_L_02 / L_03 (C-15): the manual action asks for an install / retrieve time <Configured firmware_delay>
  seconds ahead; the tool waits until the time the CSMS sent has come (capped at that delay plus 5 s) before
  the step the table schedules after it.
* TC_L_05 / L_06: the security event types are InvalidFirmwareSigningCertificate / InvalidFirmwareSignature.
* TC_L_13: the tool's only connector has the transaction, so step 5 (connectors without a transaction become
  Unavailable) reports nothing; "<configured transaction duration>" is <Configured transaction_duration>;
  the retrieval waits for the transaction to end (step 10 after step 9).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, to_wire, utc_now
from chargeplane.tools.conformance.adapter import UpdateFirmware
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import boot_notification, send_as
from chargeplane.tools.conformance.states import (
    Status,
    energy_transfer_started,
    ev_connected_post_session,
    ev_disconnected,
    notify_connector,
    stop_authorized,
)
from chargeplane.tools.conformance.steps import CsmsTool

Fw = en.FirmwareStatusEnumType
Answer = en.UpdateFirmwareStatusEnumType
NAME = "Secure Firmware Update - "
FR_01 = ("L01.FR.01",)
FR_11 = ("L01.FR.01", "L01.FR.11")
FR_15 = ("L01.FR.01", "L01.FR.11", "L01.FR.15")
_request_ids = itertools.count(301)  # the requestId the manual action asks the CSMS to use


def _in(seconds: float) -> str:
    return to_wire(datetime.now(UTC) + timedelta(seconds=seconds))


async def update_firmware(
    tool: CsmsTool,
    step: int,
    answer: Answer,
    *,
    install_in: float | None = None,
    retrieve_in: float = 0.0,
) -> msg.UpdateFirmwareRequest:
    """The manual action, the CSMS's UpdateFirmwareRequest (``step``) and the tool's answer (``step`` + 1)."""
    configured = tool.configured
    tool.manual(
        UpdateFirmware(
            next(_request_ids),
            configured.firmware_location,
            _in(retrieve_in),
            install_at=_in(install_in) if install_in is not None else None,
            signing_certificate=configured.firmware_signing_certificate,
            signature=configured.firmware_signature,
        )
    )
    incoming = await tool.expect(step, msg.UpdateFirmwareRequest)
    incoming.answer(msg.UpdateFirmwareResponse(status=answer))
    await tool.settle()
    return incoming.request


async def firmware_status(tool: CsmsTool, step: int, status: Fw, request_id: int) -> None:
    """FirmwareStatusNotification (``step``) and the CSMS's response (``step`` + 1)."""
    request = msg.FirmwareStatusNotificationRequest(status=status, request_id=request_id)
    await send_as(step, tool, request, msg.FirmwareStatusNotificationResponse)


async def statuses(tool: CsmsTool, first_step: int, request_id: int, *sequence: Fw) -> int:
    """``sequence`` as steps ``first_step``, ``first_step`` + 2, ...; returns the step after the last one."""
    step = first_step
    for status in sequence:
        await firmware_status(tool, step, status, request_id)
        step += 2
    return step


async def security_event(tool: CsmsTool, step: int, kind: str) -> None:
    request = msg.SecurityEventNotificationRequest(type=kind, timestamp=utc_now())
    await send_as(step, tool, request, msg.SecurityEventNotificationResponse)


async def rebooted(tool: CsmsTool, step: int, request_id: int) -> None:
    """InstallRebooting (``step``), the reboot, the BootNotification reason FirmwareUpdate (``step`` + 2) that
    must be Accepted (``step`` + 3), the connectors Available (``step`` + 4), Installed (``step`` + 6)."""
    await firmware_status(tool, step, Fw.INSTALL_REBOOTING, request_id)
    await tool.link.close()  # the station reboots into its new firmware
    await tool.link.connect(step + 2)
    boot = boot_notification(tool.configured, en.BootReasonEnumType.FIRMWARE_UPDATE)
    response = await send_as(step + 2, tool, boot, msg.BootNotificationResponse)
    expect_field(step + 3, response, "status", "Accepted")
    await notify_connector(tool, step + 4, Status.AVAILABLE)
    await firmware_status(tool, step + 6, Fw.INSTALLED, request_id)


async def until(step: int, moment: str, cap: float) -> None:
    """Wait until ``moment`` (a time the CSMS sent), at most ``cap`` seconds; it must be in the future."""
    left = (from_wire(moment) - datetime.now(UTC)).total_seconds()
    if left <= 0:
        raise StepFailed(step, f"{moment} is not in the future")
    await asyncio.sleep(min(left, cap))


@case("TC_L_01_CSMS", NAME + "Installation successful", use_cases=("L01",), requirements=FR_15, timeout=30.0)
async def tc_l_01(tool: CsmsTool) -> None:
    configured = tool.configured
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    expect_field(1, request, "firmware.signingCertificate", configured.firmware_signing_certificate)
    expect_field(1, request, "firmware.signature", configured.firmware_signature)
    rid = request.request_id
    step = await statuses(tool, 3, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING)
    await rebooted(tool, step, rid)  # 11. - 18.


@case(
    "TC_L_02_CSMS",
    NAME + "InstallScheduled",
    use_cases=("L01",),
    requirements=FR_15,
    features=("C-15",),
    timeout=30.0,
)
async def tc_l_02(tool: CsmsTool) -> None:
    delay = tool.configured.firmware_delay
    request = await update_firmware(tool, 1, Answer.ACCEPTED, install_in=delay)  # 1. / 2.
    install_at = request.firmware.install_date_time
    if not isinstance(install_at, str):
        raise StepFailed(
            1, "UpdateFirmwareRequest.firmware.installDateTime is absent, expected a future time"
        )
    if from_wire(install_at) <= datetime.now(UTC):
        raise StepFailed(
            1, f"UpdateFirmwareRequest.firmware.installDateTime {install_at} is not in the future"
        )
    rid = request.request_id
    await statuses(tool, 3, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALL_SCHEDULED)
    await until(11, install_at, delay + 5.0)  # the installation time has come
    await firmware_status(tool, 11, Fw.INSTALLING, rid)  # 11. / 12.
    await rebooted(tool, 13, rid)  # 13. - 20.


@case(
    "TC_L_03_CSMS",
    NAME + "DownloadScheduled",
    use_cases=("L01",),
    requirements=FR_15,
    features=("C-15",),
    timeout=30.0,
)
async def tc_l_03(tool: CsmsTool) -> None:
    delay = tool.configured.firmware_delay
    request = await update_firmware(tool, 1, Answer.ACCEPTED, retrieve_in=delay)  # 1. / 2.
    retrieve_at = request.firmware.retrieve_date_time
    if from_wire(retrieve_at) <= datetime.now(UTC):
        raise StepFailed(
            1, f"UpdateFirmwareRequest.firmware.retrieveDateTime {retrieve_at} is not in the future"
        )
    rid = request.request_id
    await firmware_status(tool, 3, Fw.DOWNLOAD_SCHEDULED, rid)  # 3. / 4.
    await until(5, retrieve_at, delay + 5.0)  # the retrieval time has come
    step = await statuses(tool, 5, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING)
    await rebooted(tool, step, rid)  # 13. - 20.


@case("TC_L_04_CSMS", NAME + "RevokedCertificate", use_cases=("L01",), requirements=FR_01)
async def tc_l_04(tool: CsmsTool) -> None:
    await update_firmware(tool, 1, Answer.REVOKED_CERTIFICATE)  # 1. / 2.


@case("TC_L_05_CSMS", NAME + "InvalidCertificate", use_cases=("L01",), requirements=FR_01)
async def tc_l_05(tool: CsmsTool) -> None:
    await update_firmware(tool, 1, Answer.INVALID_CERTIFICATE)  # 1. / 2.
    await security_event(tool, 3, "InvalidFirmwareSigningCertificate")  # 3. / 4.


@case("TC_L_06_CSMS", NAME + "InvalidSignature", use_cases=("L01",), requirements=FR_11)
async def tc_l_06(tool: CsmsTool) -> None:
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    await statuses(tool, 3, request.request_id, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.INVALID_SIGNATURE)
    await security_event(tool, 9, "InvalidFirmwareSignature")  # 9. / 10.


@case("TC_L_07_CSMS", NAME + "DownloadFailed", use_cases=("L01",), requirements=FR_11)
async def tc_l_07(tool: CsmsTool) -> None:
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    await statuses(tool, 3, request.request_id, Fw.DOWNLOADING, Fw.DOWNLOAD_FAILED)  # 3. - 6.


@case(
    "TC_L_08_CSMS",
    NAME + "InstallVerificationFailed or InstallationFailed",
    use_cases=("L01",),
    requirements=FR_11,
)
async def tc_l_08(tool: CsmsTool) -> None:
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    await statuses(
        tool,
        3,
        request.request_id,
        Fw.DOWNLOADING,
        Fw.DOWNLOADED,
        Fw.SIGNATURE_VERIFIED,
        Fw.INSTALLING,
        Fw.INSTALL_VERIFICATION_FAILED,
    )  # 3. - 12.


@case("TC_L_09_CSMS", NAME + "InstallationFailed", use_cases=("L01",), requirements=FR_11, timeout=30.0)
async def tc_l_09(tool: CsmsTool) -> None:
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    rid = request.request_id
    await statuses(tool, 3, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING)
    await firmware_status(tool, 11, Fw.INSTALL_REBOOTING, rid)  # 11. / 12.
    await tool.link.close()  # the station reboots, the new firmware fails to install
    await tool.link.connect(13)
    boot = boot_notification(tool.configured, en.BootReasonEnumType.FIRMWARE_UPDATE)
    response = await send_as(13, tool, boot, msg.BootNotificationResponse)  # 13. / 14.
    expect_field(14, response, "status", "Accepted")
    await notify_connector(tool, 15, Status.AVAILABLE)  # 15. / 16.
    await firmware_status(tool, 17, Fw.INSTALLATION_FAILED, rid)  # 17. / 18.


@case(
    "TC_L_10_CSMS",
    NAME + "AcceptedCanceled",
    use_cases=("L01",),
    requirements=(*FR_11, "L01.FR.24"),
    timeout=30.0,
)
async def tc_l_10(tool: CsmsTool) -> None:
    first = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    await firmware_status(tool, 3, Fw.DOWNLOADING, first.request_id)  # 3. / 4.
    second = await update_firmware(tool, 5, Answer.ACCEPTED_CANCELED)  # 5. / 6. the first is cancelled
    rid = second.request_id
    step = await statuses(
        tool, 7, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING
    )  # 7. - 14.
    await rebooted(tool, step, rid)  # 15. - 22.


@case(
    "TC_L_11_CSMS",
    NAME + "Unable to cancel",
    use_cases=("L01",),
    requirements=(*FR_11, "L01.FR.27"),
    timeout=30.0,
)
async def tc_l_11(tool: CsmsTool) -> None:
    first = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    rid = first.request_id
    await firmware_status(tool, 3, Fw.DOWNLOADING, rid)  # 3. / 4.
    await update_firmware(tool, 5, Answer.REJECTED)  # 5. / 6. the first goes on
    step = await statuses(tool, 7, rid, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING)  # 7. - 12.
    await rebooted(tool, step, rid)  # 13. - 20.


@case(
    "TC_L_13_CSMS",
    NAME + "Unable to download/install firmware with ongoing transaction - "
    "AllowNewSessionsPendingFirmwareUpdate is false",
    use_cases=("L01",),
    requirements=FR_11,
    timeout=40.0,
)
async def tc_l_13(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)  # before
    request = await update_firmware(tool, 1, Answer.ACCEPTED)  # 1. / 2.
    expect_field(1, request, "firmware.signingCertificate", tool.configured.firmware_signing_certificate)
    rid = request.request_id
    await firmware_status(tool, 3, Fw.DOWNLOAD_SCHEDULED, rid)  # 3. / 4.
    # 5. / 6.: no connector without a transaction to report Unavailable
    await asyncio.sleep(tool.configured.transaction_duration)
    await stop_authorized(tool)  # 7.
    await ev_connected_post_session(tool)  # 8.
    await ev_disconnected(tool)  # 9.
    step = await statuses(
        tool, 10, rid, Fw.DOWNLOADING, Fw.DOWNLOADED, Fw.SIGNATURE_VERIFIED, Fw.INSTALLING
    )  # 10. - 17.
    await rebooted(tool, step, rid)  # 18. - 25.
