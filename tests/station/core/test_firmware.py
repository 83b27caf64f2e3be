"""Firmware update on the station (L01 secure, L02 non-secure; 1.6 UpdateFirmware and the security extension's
SignedUpdateFirmware): certificate and signature checks, the download actions the runtime performs, every
FirmwareStatusNotification in order, waiting for transactions, and the reboot into the new version."""

from __future__ import annotations

import base64
import datetime as dt_
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout
from chargeplane.station.core.firmware import certificate_chains, image_version, signature_valid
from chargeplane.station.core.model import CancelDownload, DownloadFirmware, MeterReading, Reboot
from chargeplane.station.core.station import StationCore
from chargeplane.tools.conformance.pki import Issued, issue, sign
from tests.station.core.helpers import D16, M16, T0, D, M, Rig, charge, make_rig, set_var

LOCATION = "https://127.0.0.1:8443/firmware/fw-2.0.bin"
IMAGE = b"CHARGEPLANE-SIM-FIRMWARE 2.0.0\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def pki() -> tuple[Issued, Issued, Issued]:
    """A manufacturer root, the firmware signing certificate it signs, and a signer of an unknown root."""
    until = T0 + timedelta(days=1)  # valid from T0 (the rigs' clock) for a day
    root = issue("Test manufacturer root", ca=True, not_after=until)
    signer = issue("Test firmware signing", root, ca=False, code_signing=True, not_after=until)
    rogue_root = issue("Rogue root", ca=True, not_after=until)
    rogue = issue("Rogue signing", rogue_root, ca=False, code_signing=True, not_after=until)
    return root, signer, rogue


def firmware_rig(pki: tuple[Issued, Issued, Issued], version: Version = Version.V201, **kwargs: Any) -> Rig:
    rig = make_rig(version=version, **kwargs)
    root = pki[0].pem
    rig.core.firmware.trust_roots = lambda: [root]
    rig.clear()
    return rig


def update(
    request_id: int,
    signer: Issued | None,
    image: bytes = IMAGE,
    *,
    retrieve: datetime = T0 - timedelta(hours=2),
    install: datetime | None = None,
    location: str = LOCATION,
    **fields: Any,
) -> M.UpdateFirmwareRequest:
    extra: dict[str, Any] = {}
    if install is not None:
        extra["install_date_time"] = to_wire(install)
    if signer is not None:
        extra["signing_certificate"] = signer.pem
        extra["signature"] = sign(image, signer)
    firmware = D.FirmwareType(location=location, retrieve_date_time=to_wire(retrieve), **extra)
    return M.UpdateFirmwareRequest(request_id=request_id, firmware=firmware, **fields)


def statuses(rig: Rig) -> list[tuple[str, int | None]]:
    sent = rig.of(M.FirmwareStatusNotificationRequest)
    return [(m.status, m.request_id if isinstance(m.request_id, int) else None) for m in sent]


def downloads(rig: Rig) -> list[DownloadFirmware]:
    return [a for a in rig.actions if isinstance(a, DownloadFirmware)]


def security_events(rig: Rig) -> list[str]:
    return [e.type for e in rig.of(M.SecurityEventNotificationRequest)]


def reboot(rig: Rig) -> Rig:
    """What the runtime does on a Reboot action: a new core on the same storage, connected again."""
    core = StationCore(rig.core.version, rig.storage, rig.now, StationLayout())
    new = Rig(core, rig.storage, now=rig.now)
    new.do("connection_opened")
    return new


# ---------------------------------------------------------------------- the certificate (L01.FR.21 / 22)
def test_L01_FR_02_21_22_TC_L_05_CS_a_signer_of_an_unknown_root_is_an_invalid_certificate(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    answer = rig.handle(update(5, pki[2]))
    assert answer.status == "InvalidCertificate"
    assert security_events(rig) == ["InvalidFirmwareSigningCertificate"]
    assert downloads(rig) == []
    assert statuses(rig) == []


def test_TC_L_18_CS_no_certificate_nor_signature_is_rejected_unless_non_secure_updates_are_allowed(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    assert rig.handle(update(18, None)).status == "Rejected"
    assert downloads(rig) == []
    rig.core.firmware.allow_unsigned = True  # L02: the non-secure update
    assert rig.handle(update(19, None)).status == "Accepted"
    [download] = downloads(rig)
    rig.do("download_finished", download.download_id, IMAGE)
    assert statuses(rig) == [
        ("Downloading", 19),
        ("Downloaded", 19),  # no signature to verify
        ("Installing", 19),
        ("InstallRebooting", 19),
    ]


def test_a_location_that_is_not_http_is_rejected(pki: tuple[Issued, Issued, Issued]) -> None:
    rig = firmware_rig(pki)
    assert rig.handle(update(3, pki[1], location="ftp://127.0.0.1/fw.bin")).status == "Rejected"


# ---------------------------------------------------------------------- the whole update (L01)
def test_L01_FR_01_04_10_15_31_32_TC_L_01_CS_download_verify_install_reboot_into_the_new_version(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    assert rig.handle(update(101, pki[1])).status == "Accepted"
    [download] = downloads(rig)
    assert download.location == LOCATION
    assert statuses(rig) == [("Downloading", 101)]
    rig.do("download_finished", download.download_id, IMAGE)
    assert statuses(rig) == [
        ("Downloading", 101),
        ("Downloaded", 101),
        ("SignatureVerified", 101),
        ("Installing", 101),
        ("InstallRebooting", 101),
    ]
    assert [s.connector_status for s in rig.of(M.StatusNotificationRequest)] == ["Unavailable"]
    assert Reboot("FirmwareUpdate") in rig.actions
    # L01.FR.27: once rebooting into the new image, a new update cannot cancel it
    assert rig.handle(update(102, pki[1])).status == "Rejected"

    booted = reboot(rig)
    boot = booted.of(M.BootNotificationRequest)[0]
    assert (boot.reason, boot.charging_station.firmware_version) == ("FirmwareUpdate", "2.0.0")
    assert statuses(booted) == [("Installed", 101)]  # sent by the new firmware (L01.FR.32 a)
    assert "FirmwareUpdated" in security_events(booted)  # L01.FR.31
    assert [s.connector_status for s in booted.of(M.StatusNotificationRequest)] == ["Available"]
    # L01.FR.25: the last status was Installed: a trigger gets Idle, without requestId
    booted.clear()
    booted.handle(M.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert statuses(booted) == [("Idle", None)]
    # and a later boot reports nothing again
    again = reboot(booted)
    assert statuses(again) == []
    assert again.of(M.BootNotificationRequest)[0].charging_station.firmware_version == "2.0.0"


def test_L01_FR_03_04_TC_L_06_CS_a_signature_of_other_bytes_is_an_invalid_signature(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(106, pki[1], image=IMAGE + b"tampered"))
    [download] = downloads(rig)
    rig.do("download_finished", download.download_id, IMAGE)
    assert statuses(rig) == [("Downloading", 106), ("Downloaded", 106), ("InvalidSignature", 106)]
    assert security_events(rig) == ["InvalidFirmwareSignature"]
    assert not any(isinstance(a, Reboot) for a in rig.actions)


def test_L01_FR_30_TC_L_07_CS_every_attempt_downloading_then_one_download_failed(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(107, pki[1], retries=1, retry_interval=30))
    first = downloads(rig)[-1]
    rig.do("download_finished", first.download_id, None)
    assert statuses(rig) == [("Downloading", 107)]  # the failure waits for the last attempt
    rig.advance(29)
    assert len(downloads(rig)) == 1
    rig.advance(2)
    second = downloads(rig)[-1]
    assert second.download_id != first.download_id
    rig.do("download_finished", second.download_id, None)
    assert statuses(rig) == [("Downloading", 107), ("Downloading", 107), ("DownloadFailed", 107)]
    rig.clear()  # L01.FR.26: a trigger gets the last status sent
    rig.handle(M.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert statuses(rig) == [("DownloadFailed", 107)]


def test_L01_FR_29_TC_L_08_CS_an_image_the_hardware_cannot_install_fails_verification(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    garbage = bytes(range(200))
    rig.handle(update(108, pki[1], image=garbage))
    rig.do("download_finished", downloads(rig)[-1].download_id, garbage)
    assert statuses(rig)[-3:] == [
        ("SignatureVerified", 108),
        ("Installing", 108),
        ("InstallVerificationFailed", 108),
    ]
    assert not any(isinstance(a, Reboot) for a in rig.actions)
    # the EVSE set Unavailable for the installation comes back
    assert [s.connector_status for s in rig.of(M.StatusNotificationRequest)] == ["Unavailable", "Available"]


def test_L01_FR_13_TC_L_03_CS_download_scheduled_until_retrieve_date_time(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(103, pki[1], retrieve=T0 + timedelta(seconds=60)))
    assert statuses(rig) == [("DownloadScheduled", 103)]
    rig.advance(59)
    assert downloads(rig) == []
    rig.advance(2)
    assert len(downloads(rig)) == 1
    assert statuses(rig) == [("DownloadScheduled", 103), ("Downloading", 103)]


def test_L01_FR_16_TC_L_02_CS_install_scheduled_until_install_date_time(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(102, pki[1], install=T0 + timedelta(seconds=120)))
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[-1] == ("InstallScheduled", 102)
    rig.advance(100)
    assert not any(isinstance(a, Reboot) for a in rig.actions)
    rig.advance(30)
    assert statuses(rig)[-2:] == [("Installing", 102), ("InstallRebooting", 102)]
    assert Reboot("FirmwareUpdate") in rig.actions


def test_L01_FR_24_TC_L_10_CS_a_new_update_cancels_the_download_going_on(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(1101, pki[1]))
    old = downloads(rig)[-1]
    assert rig.handle(update(1102, pki[1])).status == "AcceptedCanceled"
    assert CancelDownload(old.download_id) in rig.actions
    rig.do("download_finished", old.download_id, IMAGE)  # the canceled attempt's late outcome: ignored
    assert statuses(rig) == [("Downloading", 1101), ("Downloading", 1102)]
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[-1] == ("InstallRebooting", 1102)


def test_L01_FR_22_an_invalid_certificate_leaves_the_update_going_on(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(1, pki[1]))
    assert rig.handle(update(2, pki[2])).status == "InvalidCertificate"
    assert not any(isinstance(a, CancelDownload) for a in rig.actions)
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[-1] == ("InstallRebooting", 1)


# ---------------------------------------------------------------------- transactions (L01.FR.06 / 07)
def test_L01_FR_06_07_TC_L_13_CS_waits_for_the_transaction_with_idle_evses_unavailable(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki, connectors=(1, 1))
    assert set_var(rig, "ChargingStation", "AllowNewSessionsPendingFirmwareUpdate", "false") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    charge(rig)
    rig.clear()
    assert rig.handle(update(113, pki[1])).status == "Accepted"
    assert statuses(rig) == [("DownloadScheduled", 113)]  # L01.FR.13: busy charging
    assert downloads(rig) == []
    unavailable = [(s.evse_id, s.connector_status) for s in rig.of(M.StatusNotificationRequest)]
    assert unavailable == [(2, "Unavailable")]  # the EVSE not in use
    rig.do("token_presented", "11223344", evse_id=2)
    rig.do("ev_plugged", 2, 1)
    assert rig.core.transaction(2) is None  # no new session on an Unavailable EVSE
    rig.do("ev_unplugged", 2)
    rig.do("ev_unplugged", 1)  # the transaction ends: EVSE 1 becomes Unavailable
    assert statuses(rig)[-1] == ("DownloadScheduled", 113)  # until its Ended event is delivered
    rig.advance(1)
    assert (1, "Unavailable") in [
        (s.evse_id, s.connector_status) for s in rig.of(M.StatusNotificationRequest)
    ]
    assert statuses(rig)[-1] == ("Downloading", 113)
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[-1] == ("InstallRebooting", 113)


def test_L01_FR_07_C_20_new_sessions_allowed_while_the_update_waits(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki, connectors=(1, 1))
    assert set_var(rig, "ChargingStation", "AllowNewSessionsPendingFirmwareUpdate", "true") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    charge(rig)
    rig.clear()
    rig.handle(update(112, pki[1]))
    assert rig.of(M.StatusNotificationRequest) == []  # EVSE 2 stays Available
    rig.do("ev_plugged", 2, 1)
    rig.do("token_presented", "11223344", evse_id=2)
    assert rig.core.transaction(2) is not None
    rig.do("ev_unplugged", 1)
    assert downloads(rig) == []  # one transaction still runs
    rig.do("ev_unplugged", 2)
    rig.advance(1)  # the Ended event went out first
    assert len(downloads(rig)) == 1


def test_L01_FR_14_a_transaction_pauses_the_download_which_resumes_once_it_ended(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.handle(update(7, pki[1]))
    first = downloads(rig)[-1]
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    assert rig.core.transaction(1) is not None
    assert CancelDownload(first.download_id) in rig.actions
    assert statuses(rig) == [("Downloading", 7), ("DownloadPaused", 7)]
    rig.do("download_finished", first.download_id, IMAGE)  # the canceled attempt's late outcome: ignored
    assert statuses(rig)[-1] == ("DownloadPaused", 7)
    rig.do("ev_unplugged", 1)
    rig.advance(1)  # the Ended event went out first
    second = downloads(rig)[-1]
    assert second.download_id != first.download_id
    rig.do("download_finished", second.download_id, IMAGE)
    assert statuses(rig)[2:] == [
        ("Downloading", 7),
        ("Downloaded", 7),
        ("SignatureVerified", 7),
        ("Installing", 7),
        ("InstallRebooting", 7),
    ]


def test_L01_FR_06_the_installation_waits_for_a_transaction_started_after_the_download(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki, connectors=(1, 1))
    rig.handle(update(8, pki[1], install=T0 + timedelta(seconds=60)))
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[-1] == ("InstallScheduled", 8)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    rig.advance(61)
    assert not any(isinstance(a, Reboot) for a in rig.actions)
    # L01.FR.07: AllowNewSessionsPendingFirmwareUpdate false: the idle EVSE is Unavailable meanwhile
    assert (2, "Unavailable") in [
        (s.evse_id, s.connector_status) for s in rig.of(M.StatusNotificationRequest)
    ]
    rig.do("ev_unplugged", 1)
    rig.advance(1)  # the Ended event went out first
    assert statuses(rig)[-2:] == [("Installing", 8), ("InstallRebooting", 8)]


def test_AQ_7_L01_FR_06_34_hardware_that_downloads_while_charging_then_waits_to_install(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    """TC_L_15_CS: downloaded and verified during the transaction, InstallScheduled while it runs, installed
    once it ended; meanwhile the idle EVSE is Unavailable (L01.FR.07)."""
    rig = firmware_rig(pki, connectors=(1, 1))
    rig.core.firmware.download_while_charging = True
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    charge(rig)
    rig.clear()
    assert rig.handle(update(115, pki[1])).status == "Accepted"
    assert statuses(rig) == [("Downloading", 115)]  # no DownloadScheduled: it does not wait
    rig.do("update_meter", 1, MeterReading(energy_wh=2000, power_w=7000))  # charging goes on
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert statuses(rig)[1:] == [("Downloaded", 115), ("SignatureVerified", 115), ("InstallScheduled", 115)]
    assert (2, "Unavailable") in [
        (s.evse_id, s.connector_status) for s in rig.of(M.StatusNotificationRequest)
    ]
    assert not any(isinstance(a, Reboot) for a in rig.actions)
    rig.do("ev_unplugged", 1)
    rig.advance(1)  # the Ended event went out first
    assert statuses(rig)[-2:] == [("Installing", 115), ("InstallRebooting", 115)]


def test_AQ_7_a_transaction_does_not_pause_a_download_of_such_hardware(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.core.firmware.download_while_charging = True
    rig.handle(update(9, pki[1]))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    assert rig.core.transaction(1) is not None
    assert not [a for a in rig.actions if isinstance(a, CancelDownload)]
    assert statuses(rig) == [("Downloading", 9)]


def test_C_43_TC_L_16_CS_hardware_that_installs_while_charging_keeps_the_transaction(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    rig = firmware_rig(pki)
    rig.core.firmware.install_while_charging = True
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "AABBCCDD")
    charge(rig)
    tx = rig.core.transaction(1)
    assert tx is not None
    rig.clear()
    rig.handle(update(116, pki[1]))
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    assert [s for s, _ in statuses(rig)] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallRebooting",
    ]
    assert any(isinstance(a, Reboot) for a in rig.actions)
    core = StationCore(rig.core.version, rig.storage, rig.now, StationLayout())
    core.ev_plugged(1, 1, rig.now)  # the runtime senses the cable right after boot
    after = Rig(core, rig.storage, now=rig.now)
    after.do("connection_opened")
    after.advance(1)
    resumed = after.core.transaction(1)
    assert resumed is not None
    assert resumed.id == tx.id  # the same transaction goes on, never ended
    assert not [e for e in after.events() if e.event_type == "Ended"]
    assert ("Installed", 116) in statuses(after)
    assert "FirmwareUpdated" in security_events(after)
    after.do("ev_unplugged", 1)
    ended = [e for e in after.events() if e.event_type == "Ended"]
    assert [e.transaction_info.transaction_id for e in ended] == [tx.id]


# ---------------------------------------------------------------------- TriggerMessage (F06)
def test_L01_FR_25_26_triggered_status_idle_then_the_last_one(pki: tuple[Issued, Issued, Issued]) -> None:
    rig = firmware_rig(pki)
    rig.handle(M.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert statuses(rig) == [("Idle", None)]  # L01.FR.20: Idle goes without requestId
    rig.handle(update(9, pki[1]))
    rig.clear()
    rig.handle(M.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert statuses(rig) == [("Downloading", 9)]


# ---------------------------------------------------------------------- 2.1
def test_2_1_update_firmware(pki: tuple[Issued, Issued, Issued]) -> None:
    from chargeplane.ocpp.messages import v21

    def accept21(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, v21.messages.BootNotificationRequest):
            return v21.messages.BootNotificationResponse(
                current_time=to_wire(now), interval=60, status="Accepted"
            )
        return None

    rig = firmware_rig(pki, version=Version.V21, answer=accept21)
    signer = pki[1]
    firmware = v21.datatypes.FirmwareType(
        location=LOCATION,
        retrieve_date_time=to_wire(T0),
        signing_certificate=signer.pem,
        signature=sign(IMAGE, signer),
    )
    answer = rig.handle(v21.messages.UpdateFirmwareRequest(request_id=21, firmware=firmware))
    assert answer.status == "Accepted"
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    sent = [m.status for m in rig.of(v21.messages.FirmwareStatusNotificationRequest)]
    assert sent == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]


# ---------------------------------------------------------------------- 1.6
def test_16_update_firmware_core_profile_statuses_and_reboot(pki: tuple[Issued, Issued, Issued]) -> None:
    rig = firmware_rig(pki, version=Version.V16)
    request = M16.UpdateFirmwareRequest(
        location=LOCATION, retrieve_date=to_wire(T0 + timedelta(seconds=30)), retries=2, retry_interval=5
    )
    assert rig.handle(request) == M16.UpdateFirmwareResponse()
    assert rig.of(M16.FirmwareStatusNotificationRequest) == []  # 1.6 has no DownloadScheduled
    rig.advance(31)
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    sent = [m.status for m in rig.of(M16.FirmwareStatusNotificationRequest)]
    assert sent == ["Downloading", "Downloaded", "Installing"]
    assert Reboot("FirmwareUpdate") in rig.actions
    booted = reboot(rig)
    assert booted.of(M16.BootNotificationRequest)[0].firmware_version == "2.0.0"
    assert [m.status for m in booted.of(M16.FirmwareStatusNotificationRequest)] == ["Installed"]
    booted.clear()
    booted.handle(M16.TriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert [m.status for m in booted.of(M16.FirmwareStatusNotificationRequest)] == ["Idle"]


def test_16_update_firmware_download_failed_after_the_retries(pki: tuple[Issued, Issued, Issued]) -> None:
    rig = firmware_rig(pki, version=Version.V16)
    rig.handle(M16.UpdateFirmwareRequest(location=LOCATION, retrieve_date=to_wire(T0), retries=1))
    rig.do("download_finished", downloads(rig)[-1].download_id, None)
    rig.advance(1)
    rig.do("download_finished", downloads(rig)[-1].download_id, None)
    sent = [m.status for m in rig.of(M16.FirmwareStatusNotificationRequest)]
    assert sent == ["Downloading", "Downloading", "DownloadFailed"]


def signed16(request_id: int, signer: Issued, image: bytes = IMAGE) -> M16.SignedUpdateFirmwareRequest:
    firmware = D16.FirmwareType(
        location=LOCATION,
        retrieve_date_time=to_wire(T0),
        signing_certificate=signer.pem,
        signature=sign(image, signer),
    )
    return M16.SignedUpdateFirmwareRequest(request_id=request_id, firmware=firmware)


def test_16_security_extension_signed_update_firmware(pki: tuple[Issued, Issued, Issued]) -> None:
    rig = firmware_rig(pki, version=Version.V16)
    assert rig.handle(signed16(61, pki[2])).status == "InvalidCertificate"
    assert [e.type for e in rig.of(M16.SecurityEventNotificationRequest)] == [
        "InvalidFirmwareSigningCertificate"
    ]
    assert rig.handle(signed16(62, pki[1])).status == "Accepted"
    rig.do("download_finished", downloads(rig)[-1].download_id, IMAGE)
    sent = [(m.status, m.request_id) for m in rig.of(M16.SignedFirmwareStatusNotificationRequest)]
    assert sent == [
        ("Downloading", 62),
        ("Downloaded", 62),
        ("SignatureVerified", 62),
        ("Installing", 62),
        ("InstallRebooting", 62),
    ]
    booted = reboot(rig)
    assert [(m.status, m.request_id) for m in booted.of(M16.SignedFirmwareStatusNotificationRequest)] == [
        ("Installed", 62)
    ]
    assert "FirmwareUpdated" in [e.type for e in booted.of(M16.SecurityEventNotificationRequest)]


# ---------------------------------------------------------------------- the checks themselves
def _rsa_signer(root: Issued) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(dt_.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA firmware signing")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(root.key, hashes.SHA256())
    )
    return certificate, key


def test_L01_FR_04_rsa_pss_and_ecdsa_signatures_over_the_image(pki: tuple[Issued, Issued, Issued]) -> None:
    from cryptography.hazmat.primitives import serialization

    signer = pki[1]
    assert signature_valid(IMAGE, sign(IMAGE, signer), signer.pem)
    assert not signature_valid(IMAGE + b"x", sign(IMAGE, signer), signer.pem)
    assert not signature_valid(IMAGE, "not base64!", signer.pem)
    rsa_root = issue("RSA test root", ca=True)
    certificate, key = _rsa_signer(rsa_root)
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    signature = base64.b64encode(key.sign(IMAGE, pss, hashes.SHA256())).decode()
    assert signature_valid(IMAGE, signature, pem)
    assert not signature_valid(IMAGE[1:], signature, pem)
    assert certificate_chains(pem, [rsa_root.pem], datetime.now(dt_.UTC))


def test_L01_FR_12_chains_through_an_intermediate_and_only_while_valid(
    pki: tuple[Issued, Issued, Issued],
) -> None:
    root = issue("Root", ca=True)
    intermediate = issue("Intermediate", root, ca=True)
    leaf = issue("Leaf", intermediate, ca=False, code_signing=True)
    now = datetime.now(dt_.UTC)
    assert certificate_chains(leaf.pem + intermediate.pem, [root.pem], now)
    assert not certificate_chains(leaf.pem, [root.pem], now)  # the intermediate missing
    assert not certificate_chains(leaf.pem + intermediate.pem, [pki[0].pem], now)  # another root
    assert not certificate_chains(leaf.pem + intermediate.pem, [root.pem], now + timedelta(days=400))
    assert not certificate_chains("not a certificate", [root.pem], now)
    assert certificate_chains(leaf.pem + intermediate.pem, ["garbage", root.pem], now)


def test_image_version_of_the_simulated_hardware() -> None:
    assert image_version(IMAGE) == "2.0.0"
    plain = b"CHARGEPLANE-CONFORMANCE-FIRMWARE\n" + b"\x00" * 10
    assert (image_version(plain) or "").startswith("sha256-")
    assert image_version(b"\x7fELF...") is None
