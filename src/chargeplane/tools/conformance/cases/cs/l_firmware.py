"""Block L, Firmware management (Part 6 §2.11): secure firmware update, charging-station side.

Readings:
* The firmware is a few KiB of random bytes on the tool's HTTP file server, signed (ECDSA, SHA-256, base64)
  with the tool's firmware signing certificate, which its manufacturer root signs. Before each case the tool
  offers that root with InstallCertificate (ManufacturerRootCertificate), not judged: a station must know it
  to verify the signature (it may have been given it otherwise).
* "<Current DateTime - 2 hours>" is taken literally; the Install / Download Offset Periods of L_02 / L_03 are
  ``firmware_delay`` of the declaration.
* Every FirmwareStatusNotification must carry the request's requestId (L_10: the second one's from step 6 on).
* The end of an update (from "connectors Unavailable" to the FirmwareUpdated event) is taken as the tables
  allow it: any order; the reboots optional, each BootNotification with reason FirmwareUpdate; Installing
  required unless an InstallRebooting came first (a bootloader may not speak OCPP); a reconnection of the
  station required (the tables' "the OCTT waits for the Charging Station to reconnect"); when the station
  set the connector Unavailable, it must set it Available again; Installed and the security event
  FirmwareUpdated required.
* TC_L_05_CS: the "invalid" signing certificate is one the station cannot chain to a root it knows (the
  tool's rogue signer); the table's "should be trusted" cannot hold for an invalid certificate.
* TC_L_08_CS: the firmware that fails installation is random bytes, validly signed (the tool's other images
  begin with a marker line, ``FIRMWARE_MARK``; a station cannot install either, a test double can tell them
  apart).
* TC_L_10_CS / TC_L_11_CS: the file server holds the first download open until the second UpdateFirmware was
  answered, so that the first update is still downloading.
* Conditions are the CSV's formulas (``condition=``); "HFS-8 > 1" (more than one EVSE) is declared with the
  feature HFS-8 (as TC_B_41_CS does): L_12 and L_14 use the declaration's ``second_evse_id``.
* ParkingBayUnoccupied: EVDisconnected (the cable unplugged, the transaction's Ended event if it was still
  running); a station without parking bay sensor has nothing more to report. The connector's status is not
  required to be Available there (a station with a pending update may set it Unavailable).
* L_14 / L_15 step 11a / 12a: after Installing at step 9 the tool waits 30 s before ending the transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_field, field_value
from chargeplane.tools.conformance.pki import Issued, sign
from chargeplane.tools.conformance.station_adapter import PlugIn, PresentToken, Unplug
from chargeplane.tools.conformance.station_states import (
    BOOT_WITHIN,
    authorized_local,
    energy_transfer_started,
    transaction_ended,
)
from chargeplane.tools.conformance.station_steps import StationTool

Fw = en.FirmwareStatusEnumType
Status = en.ConnectorStatusEnumType
FSN = msg.FirmwareStatusNotificationRequest
DOWNLOAD_WITHIN = 30.0  # seconds for a small image on loopback, and for each status after
INSTALL_WITHIN = 2 * BOOT_WITHIN  # an installation with its reboots
UPDATE_TIMEOUT = 4 * BOOT_WITHIN  # a whole case


def hours_ago(hours: int) -> str:
    return to_wire(datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=hours))


def seconds_ahead(seconds: int) -> str:
    return to_wire(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds))


FIRMWARE_MARK = b"CHARGEPLANE-CONFORMANCE-FIRMWARE\n"  # how the tool's test images begin (not L_08's)


async def publish(tool: StationTool, name: str, *, installable: bool = True) -> tuple[str, bytes]:
    """A fresh firmware image on the tool's file server; its URL and bytes."""
    files = await tool.file_server()
    image = (FIRMWARE_MARK if installable else b"") + os.urandom(4096)
    files.store.firmware[name] = image
    return files.firmware_url(name), image


async def offer_manufacturer_root(tool: StationTool) -> None:
    """Outside the verdict: the root of the tool's firmware signing certificate, for the station to trust."""
    request = msg.InstallCertificateRequest(
        certificate_type=en.InstallCertificateUseEnumType.MANUFACTURER_ROOT_CERTIFICATE,
        certificate=tool.pki().manufacturer_root.pem,
    )
    with contextlib.suppress(StepFailed):  # a station may know the root otherwise; the case judges the update
        await tool.send("before", request)


async def update_firmware(
    tool: StationTool,
    step: int,
    request_id: int,
    location: str,
    *,
    signer: Issued | None,
    signature: str | None,
    retrieve: str | None = None,
    install: str | None = None,
) -> msg.UpdateFirmwareResponse:
    firmware = dt.FirmwareType(
        location=location,
        retrieve_date_time=retrieve or hours_ago(2),
        install_date_time=install or hours_ago(2),
    )
    if signer is not None and signature is not None:
        firmware = dt.FirmwareType(
            location=firmware.location,
            retrieve_date_time=firmware.retrieve_date_time,
            install_date_time=firmware.install_date_time,
            signing_certificate=signer.pem,
            signature=signature,
        )
    request = msg.UpdateFirmwareRequest(request_id=request_id, firmware=firmware)
    return await tool.send_as(step, request, msg.UpdateFirmwareResponse)


async def signed_update(
    tool: StationTool,
    step: int,
    request_id: int,
    name: str,
    *,
    retrieve: str | None = None,
    install: str | None = None,
    installable: bool = True,
) -> msg.UpdateFirmwareResponse:
    """Steps 1 / 2 with the configured (valid) firmware, certificate and signature."""
    await offer_manufacturer_root(tool)
    location, image = await publish(tool, name, installable=installable)
    signer = tool.pki().firmware_signer
    signature = sign(image, signer)
    return await update_firmware(
        tool,
        step,
        request_id,
        location,
        signer=signer,
        signature=signature,
        retrieve=retrieve,
        install=install,
    )


async def firmware_status(
    tool: StationTool, step: int, request_id: int, *statuses: Fw, within: float = DOWNLOAD_WITHIN
) -> FSN:
    """The station's next FirmwareStatusNotification: one of ``statuses``, for ``request_id``."""
    notification = await tool.expect_answered(step, FSN, within)
    expect_field(step, notification, "status", *statuses)
    expect_field(step, notification, "requestId", request_id)
    return notification


async def downloaded_and_verified(tool: StationTool, request_id: int, first_step: int) -> None:
    """Downloading, Downloaded, SignatureVerified (steps ``first_step``, +2, +4)."""
    await firmware_status(tool, first_step, request_id, Fw.DOWNLOADING)
    await firmware_status(tool, first_step + 2, request_id, Fw.DOWNLOADED)
    await firmware_status(tool, first_step + 4, request_id, Fw.SIGNATURE_VERIFIED)


class Installation:
    """What the end of an update brought, as it comes (see the module's readings)."""

    def __init__(self, tool: StationTool, request_id: int, *, installing: bool = False) -> None:
        self.tool = tool
        self.request_id = request_id
        self.connections = tool.endpoint.connections
        self.installing = installing  # Installing (or InstallRebooting before it) seen
        self.installed = False
        self.updated = False  # the security event FirmwareUpdated
        self.unavailable = False  # the connector was set Unavailable
        self.available_after = False  # and Available again since

    @property
    def reconnected(self) -> bool:
        return self.tool.endpoint.connections > self.connections

    def take(self, request: Payload, steps: dict[str, int], failed: tuple[Fw, ...] = ()) -> Fw | None:
        """Judge one station CALL; returns a failure status of ``failed`` when one came."""
        configured = self.tool.configured
        match request:
            case msg.FirmwareStatusNotificationRequest():
                step = steps["installed"]
                expect_field(step, request, "requestId", self.request_id)
                if request.status in failed:
                    return request.status
                if request.status in (Fw.INSTALLING, Fw.INSTALL_REBOOTING):
                    self.installing = True
                elif request.status is Fw.INSTALLED:
                    if not self.installing:
                        raise StepFailed(steps["installing"], "Installed without Installing before")
                    self.installed = True
                else:
                    raise StepFailed(
                        step,
                        f"FirmwareStatusNotificationRequest.status is {request.status.value} "
                        "during the installation",
                    )
            case msg.BootNotificationRequest():
                expect_field(steps["reboot"], request, "reason", "FirmwareUpdate")
            case msg.SecurityEventNotificationRequest() if request.type == "FirmwareUpdated":
                self.updated = True
            case msg.StatusNotificationRequest() if (
                request.evse_id == configured.evse_id and request.connector_id == configured.connector_id
            ):
                if request.connector_status is Status.UNAVAILABLE:
                    self.unavailable, self.available_after = True, False
                elif request.connector_status is Status.AVAILABLE:
                    self.available_after = True
        return None

    def done(self) -> bool:
        back = not self.unavailable or self.available_after
        return self.installed and self.updated and self.reconnected and back

    def missing(self, steps: dict[str, int]) -> StepFailed:
        if not self.installing:
            return StepFailed(steps["installing"], "no FirmwareStatusNotificationRequest Installing")
        if not self.reconnected:
            return StepFailed(steps["reconnect"], "the station did not reconnect")
        if not self.installed:
            return StepFailed(steps["installed"], "no FirmwareStatusNotificationRequest Installed")
        if not self.updated:
            return StepFailed(steps["updated"], "no SecurityEventNotificationRequest FirmwareUpdated")
        return StepFailed(steps["available"], "the connector was set Unavailable and not Available again")

    async def run(
        self, steps: dict[str, int], failed: tuple[Fw, ...] = (), within: float = INSTALL_WITHIN
    ) -> Fw | None:
        """Take the station's CALLs until the update is done (or a status of ``failed`` came)."""
        tool = self.tool
        loop = asyncio.get_running_loop()
        until = loop.time() + within
        while not self.done():
            left = until - loop.time()
            if left <= 0:
                raise self.missing(steps)
            incoming = await tool.endpoint.next_call(min(left, 0.5))
            if incoming is None:
                continue
            tool.seen.append(incoming.request)
            tool.answer_default(incoming)
            outcome = self.take(incoming.request, steps, failed)
            if outcome is not None:
                return outcome
        return None


def tail(first: int) -> dict[str, int]:
    """The step numbers of the end of an update whose optional Unavailable step is ``first`` (L_01: 9)."""
    return {
        "unavailable": first,
        "reboot": first + 2,
        "installing": first + 3,
        "reconnect": first + 6,
        "available": first + 7,
        "installed": first + 9,
        "updated": first + 11,
    }


# --- Secure firmware update (L01) ---


@case(
    "TC_L_01_CS",
    "Secure Firmware Update - Installation successful",
    use_cases=("L01",),
    requirements=(
        "L01.FR.01", "L01.FR.04", "L01.FR.05", "L01.FR.09", "L01.FR.10", "L01.FR.12", "L01.FR.13",
        "L01.FR.15", "L01.FR.20", "L01.FR.21", "L01.FR.23",
    ),
    timeout=UPDATE_TIMEOUT,
)  # fmt: skip
async def tc_l_01_cs(tool: StationTool) -> None:
    response = await signed_update(tool, 1, 101, "l01.bin")
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 101, 3)
    await Installation(tool, 101).run(tail(9))


@case(
    "TC_L_02_CS",
    "Secure Firmware Update - InstallScheduled",
    use_cases=("L01",),
    requirements=(
        "L01.FR.01", "L01.FR.04", "L01.FR.05", "L01.FR.09", "L01.FR.10", "L01.FR.12", "L01.FR.15",
        "L01.FR.16", "L01.FR.20", "L01.FR.21", "L01.FR.23",
    ),
    timeout=UPDATE_TIMEOUT,
)  # fmt: skip
async def tc_l_02_cs(tool: StationTool) -> None:
    offset = tool.configured.firmware_delay
    response = await signed_update(tool, 1, 102, "l02.bin", install=seconds_ahead(offset))
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 102, 3)
    await firmware_status(tool, 9, 102, Fw.INSTALL_SCHEDULED)
    await Installation(tool, 102).run(tail(11), within=offset + INSTALL_WITHIN)


@case(
    "TC_L_03_CS",
    "Secure Firmware Update - DownloadScheduled",
    use_cases=("L01",),
    requirements=(
        "L01.FR.01", "L01.FR.04", "L01.FR.05", "L01.FR.09", "L01.FR.10", "L01.FR.12", "L01.FR.13",
        "L01.FR.15", "L01.FR.20", "L01.FR.21", "L01.FR.23",
    ),
    timeout=UPDATE_TIMEOUT,
)  # fmt: skip
async def tc_l_03_cs(tool: StationTool) -> None:
    offset = tool.configured.firmware_delay
    response = await signed_update(tool, 1, 103, "l03.bin", retrieve=seconds_ahead(offset))
    expect_field(2, response, "status", "Accepted")
    await firmware_status(tool, 3, 103, Fw.DOWNLOAD_SCHEDULED)
    await firmware_status(tool, 5, 103, Fw.DOWNLOADING, within=offset + DOWNLOAD_WITHIN)
    await firmware_status(tool, 7, 103, Fw.DOWNLOADED)
    await firmware_status(tool, 9, 103, Fw.SIGNATURE_VERIFIED)
    await Installation(tool, 103).run(tail(11))


@case(
    "TC_L_05_CS",
    "Secure Firmware Update - InvalidCertificate",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.02", "L01.FR.10", "L01.FR.20", "L01.FR.21", "L01.FR.22"),
)
async def tc_l_05_cs(tool: StationTool) -> None:
    await offer_manufacturer_root(tool)
    location, image = await publish(tool, "l05.bin")
    pki = tool.pki()
    response = await update_firmware(
        tool, 1, 105, location, signer=pki.rogue_signer, signature=sign(image, pki.firmware_signer)
    )
    expect_field(2, response, "status", "InvalidCertificate", "RevokedCertificate")
    event = await tool.expect_answered(3, msg.SecurityEventNotificationRequest, DOWNLOAD_WITHIN)
    expect_field(3, event, "type", "InvalidFirmwareSigningCertificate")


@case(
    "TC_L_06_CS",
    "Secure Firmware Update - InvalidSignature",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.03", "L01.FR.04", "L01.FR.10", "L01.FR.20"),
    timeout=60.0,
)
async def tc_l_06_cs(tool: StationTool) -> None:
    await offer_manufacturer_root(tool)
    location, image = await publish(tool, "l06.bin")
    pki = tool.pki()
    signature = sign(image + b"tampered", pki.firmware_signer)  # a real signature, of other bytes
    response = await update_firmware(tool, 1, 106, location, signer=pki.firmware_signer, signature=signature)
    expect_field(2, response, "status", "Accepted")
    await firmware_status(tool, 3, 106, Fw.DOWNLOADING)
    await firmware_status(tool, 5, 106, Fw.DOWNLOADED)
    await firmware_status(tool, 7, 106, Fw.INVALID_SIGNATURE)
    event = await tool.expect_answered(9, msg.SecurityEventNotificationRequest, DOWNLOAD_WITHIN)
    expect_field(9, event, "type", "InvalidFirmwareSignature")


@case(
    "TC_L_07_CS",
    "Secure Firmware Update - DownloadFailed",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.10", "L01.FR.20"),
    timeout=90.0,
)
async def tc_l_07_cs(tool: StationTool) -> None:
    await offer_manufacturer_root(tool)
    location, image = await publish(tool, "l07.bin")
    signer = tool.pki().firmware_signer
    missing = location + "_does.not.exist"  # the server answers 404
    response = await update_firmware(tool, 1, 107, missing, signer=signer, signature=sign(image, signer))
    expect_field(2, response, "status", "Accepted")
    notification = await firmware_status(tool, 3, 107, Fw.DOWNLOADING, Fw.DOWNLOAD_FAILED, within=60.0)
    if notification.status is Fw.DOWNLOADING:  # 3. / 4. are optional
        await firmware_status(tool, 5, 107, Fw.DOWNLOAD_FAILED, within=60.0)


@case(
    "TC_L_08_CS",
    "Secure Firmware Update - InstallVerificationFailed or InstallationFailed",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.10", "L01.FR.12", "L01.FR.20"),
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_08_cs(tool: StationTool) -> None:
    response = await signed_update(tool, 1, 108, "l08-not-a-firmware.bin", installable=False)
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 108, 3)
    steps = tail(9) | {"installed": 16}
    installation = Installation(tool, 108)
    failed = (Fw.INSTALL_VERIFICATION_FAILED, Fw.INSTALLATION_FAILED)
    try:
        outcome = await installation.run(steps, failed)
    except StepFailed as failure:
        if failure.step == steps["installed"] and installation.installing:
            raise StepFailed(
                16, "no FirmwareStatusNotificationRequest InstallVerificationFailed or InstallationFailed"
            ) from None
        raise
    if outcome is None:
        raise StepFailed(
            16, "the firmware was installed, expected InstallVerificationFailed or InstallationFailed"
        )
    if not installation.installing:
        raise StepFailed(12, "no FirmwareStatusNotificationRequest Installing before the failure")


@case(
    "TC_L_10_CS",
    "Secure Firmware Update - AcceptedCanceled",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.10", "L01.FR.20", "L01.FR.24"),
    features=("C-60",),
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_10_cs(tool: StationTool) -> None:
    files = await tool.file_server()
    files.store.hold.clear()  # the first download stays open
    try:
        response = await signed_update(tool, 1, 1101, "l10-first.bin")
        expect_field(2, response, "status", "Accepted")
        await firmware_status(tool, 3, 1101, Fw.DOWNLOADING)
        response = await signed_update(tool, 5, 1102, "l10-second.bin")
        expect_field(6, response, "status", "AcceptedCanceled")
    finally:
        files.store.hold.set()
    await downloaded_and_verified(tool, 1102, 7)
    await Installation(tool, 1102).run(tail(13))


@case(
    "TC_L_11_CS",
    "Secure Firmware Update - Unable to cancel",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.10", "L01.FR.20", "L01.FR.27"),
    condition="not C-60",
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_11_cs(tool: StationTool) -> None:
    files = await tool.file_server()
    files.store.hold.clear()  # the first download stays open
    try:
        response = await signed_update(tool, 1, 1111, "l11-first.bin")
        expect_field(2, response, "status", "Accepted")
        await firmware_status(tool, 3, 1111, Fw.DOWNLOADING)
        response = await signed_update(tool, 5, 1112, "l11-second.bin")
        expect_field(6, response, "status", "Rejected")
    finally:
        files.store.hold.set()
    await firmware_status(tool, 7, 1111, Fw.DOWNLOADED)
    await firmware_status(tool, 9, 1111, Fw.SIGNATURE_VERIFIED)
    await Installation(tool, 1111).run(tail(11))


@case(
    "TC_L_18_CS",
    "Secure Firmware Update - Missing firmware signing certificate and signature",
    use_cases=("L01",),
)
async def tc_l_18_cs(tool: StationTool) -> None:
    location, _ = await publish(tool, "l18.bin")
    response = await update_firmware(tool, 1, 118, location, signer=None, signature=None)
    expect_field(2, response, "status", "Rejected", "InvalidCertificate")


# --- Firmware update with ongoing transactions (L01.FR.06, L01.FR.07) ---


async def allow_new_sessions(tool: StationTool, value: str, *, required: bool) -> None:
    """Configuration state: AllowNewSessionsPendingFirmwareUpdate (required, or "If implemented")."""
    data = dt.SetVariableDataType(
        attribute_value=value,
        component=dt.ComponentType(name="ChargingStation"),
        variable=dt.VariableType(name="AllowNewSessionsPendingFirmwareUpdate"),
    )
    response = await tool.send_as(
        "before", msg.SetVariablesRequest(set_variable_data=[data]), msg.SetVariablesResponse
    )
    if required:
        expect_field("before", response, "setVariableResult[0].attributeStatus", "Accepted")


async def charging(tool: StationTool) -> None:
    """Reusable State EnergyTransferStarted on the configured connector (authorized locally first)."""
    if "Authorized" not in tool.progress:
        await authorized_local(tool)
    await energy_transfer_started(tool)


async def charging_on_second(tool: StationTool, step: int) -> None:
    """Reusable State EnergyTransferStarted on the declaration's second EVSE (connector 1)."""
    configured = tool.configured
    evse = configured.second_evse_id
    await tool.manual(PlugIn(evse, 1))
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type, evse))
    tool.progress.add("Second")

    on_evse: set[str] = set()  # the transactions of that EVSE (its evse field may come once, E01.FR.16)

    def on_second(event: msg.TransactionEventRequest) -> bool:
        transaction = str(field_value(event, "transactionInfo.transactionId"))
        if field_value(event, "evse.id") == evse:
            on_evse.add(transaction)
        charging = field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING
        return charging and transaction in on_evse

    await tool.expect_answered(step, msg.TransactionEventRequest, where=on_second)


async def parking_bay_unoccupied(tool: StationTool, step: int, evse_id: int | None = None) -> None:
    """EVDisconnected, then nothing to report without a parking bay sensor (see the readings)."""
    configured = tool.configured
    evse = evse_id if evse_id is not None else configured.evse_id
    await tool.manual(Unplug(evse, 1 if evse_id is not None else configured.connector_id))

    def ended(event: msg.TransactionEventRequest) -> bool:
        # the evse field is sent once per transaction (E01.FR.16): an Ended event may leave it out
        return event.event_type is en.TransactionEventEnumType.ENDED and field_value(event, "evse.id") in (
            evse,
            ABSENT,
        )

    if evse_id is not None or not transaction_ended(tool):
        await tool.expect_answered(step, msg.TransactionEventRequest, where=ended)
    tool.progress.discard("Second" if evse_id is not None else "EVConnected")
    if evse_id is None:
        tool.progress.difference_update({"Authorized", "EnergyTransfer"})


@case(
    "TC_L_12_CS",
    "Secure Firmware Update - Unable to download/install firmware with ongoing transaction - "
    "AllowNewSessionsPendingFirmwareUpdate is true",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.06", "L01.FR.07", "L01.FR.10", "L01.FR.20"),
    condition="C-20 and not C-43 and not AQ-7 and HFS-8",  # HFS-8 > 1: the declaration's second_evse_id
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_12_cs(tool: StationTool) -> None:
    await allow_new_sessions(tool, "true", required=False)
    await charging(tool)
    response = await signed_update(tool, 1, 112, "l12.bin")
    expect_field(2, response, "status", "Accepted")
    await firmware_status(tool, 3, 112, Fw.DOWNLOAD_SCHEDULED)
    await charging_on_second(tool, 5)
    await parking_bay_unoccupied(tool, 6)
    await parking_bay_unoccupied(tool, 7, tool.configured.second_evse_id)
    await downloaded_and_verified(tool, 112, 8)
    await Installation(tool, 112).run(tail(14))


@case(
    "TC_L_13_CS",
    "Secure Firmware Update - Unable to download/install firmware with ongoing transaction - "
    "AllowNewSessionsPendingFirmwareUpdate is false",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.06", "L01.FR.07", "L01.FR.10", "L01.FR.20"),
    condition="not C-43 and not AQ-7",
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_13_cs(tool: StationTool) -> None:
    await allow_new_sessions(tool, "false", required=True)
    await charging(tool)
    response = await signed_update(tool, 1, 113, "l13.bin")
    expect_field(2, response, "status", "Accepted")
    # 3. DownloadScheduled is optional; 5. the other (Available) connectors go Unavailable (none with one EVSE)
    await parking_bay_unoccupied(tool, 7)
    notification = await firmware_status(
        tool, 8, 113, Fw.DOWNLOAD_SCHEDULED, Fw.DOWNLOADING, within=INSTALL_WITHIN
    )
    if notification.status is Fw.DOWNLOAD_SCHEDULED:
        await firmware_status(tool, 8, 113, Fw.DOWNLOADING)
    await firmware_status(tool, 10, 113, Fw.DOWNLOADED)
    await firmware_status(tool, 12, 113, Fw.SIGNATURE_VERIFIED)
    await Installation(tool, 113).run(tail(14))


async def scheduled_or_installing(tool: StationTool, request_id: int) -> bool:
    """Step 9 of L_14 / L_15: InstallScheduled or Installing; True when Installing."""
    notification = await firmware_status(tool, 9, request_id, Fw.INSTALL_SCHEDULED, Fw.INSTALLING)
    return notification.status is Fw.INSTALLING


@case(
    "TC_L_14_CS",
    "Secure Firmware Update - Unable to install and activate firmware with ongoing transaction - "
    "AllowNewSessionsPendingFirmwareUpdate is true",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.06", "L01.FR.07", "L01.FR.10", "L01.FR.20"),
    condition="C-20 and not C-43 and AQ-7 and HFS-8",  # HFS-8 > 1: the declaration's second_evse_id
    timeout=UPDATE_TIMEOUT + 30.0,
)
async def tc_l_14_cs(tool: StationTool) -> None:
    await allow_new_sessions(tool, "true", required=False)
    await charging(tool)
    response = await signed_update(tool, 1, 114, "l14.bin")
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 114, 3)
    installing = await scheduled_or_installing(tool, 114)
    await charging_on_second(tool, 11)
    if installing:
        await asyncio.sleep(30.0)  # 11a.
    await parking_bay_unoccupied(tool, 12)
    await parking_bay_unoccupied(tool, 13, tool.configured.second_evse_id)
    await Installation(tool, 114, installing=installing).run(tail(14) | {"installing": 17})


@case(
    "TC_L_15_CS",
    "Secure Firmware Update - Unable to install firmware with ongoing transaction - "
    "AllowNewSessionsPendingFirmwareUpdate is false",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.06", "L01.FR.07", "L01.FR.10", "L01.FR.20"),
    condition="not C-43 and AQ-7",
    timeout=UPDATE_TIMEOUT + 30.0,
)
async def tc_l_15_cs(tool: StationTool) -> None:
    await allow_new_sessions(tool, "false", required=True)
    await charging(tool)
    response = await signed_update(tool, 1, 115, "l15.bin")
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 115, 3)
    installing = await scheduled_or_installing(tool, 115)
    # 11. the other Available connectors go Unavailable (none with one EVSE)
    if installing:
        await asyncio.sleep(30.0)  # 12a.
    await parking_bay_unoccupied(tool, 13)
    await Installation(tool, 115, installing=installing).run(tail(14) | {"installing": 17})


@case(
    "TC_L_16_CS",
    "Secure Firmware Update - Able to update firmware with ongoing transaction",
    use_cases=("L01",),
    requirements=("L01.FR.01", "L01.FR.06", "L01.FR.10", "L01.FR.20"),
    features=("C-43",),
    timeout=UPDATE_TIMEOUT,
)
async def tc_l_16_cs(tool: StationTool) -> None:
    await charging(tool)
    response = await signed_update(tool, 1, 116, "l16.bin")
    expect_field(2, response, "status", "Accepted")
    await downloaded_and_verified(tool, 116, 3)
    await firmware_status(tool, 9, 116, Fw.INSTALLING)
    steps = {
        "unavailable": 9,
        "reboot": 11,
        "installing": 9,
        "reconnect": 11,
        "available": 11,
        "installed": 12,
        "updated": 14,
    }
    await Installation(tool, 116, installing=True).run(steps)
