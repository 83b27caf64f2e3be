"""Firmware update (L01 secure, L02 non-secure; 1.6 UpdateFirmware of the firmware management profile and
SignedUpdateFirmware of the 1.6 security extension): the station downloads, verifies and installs the image
the CSMS names, reporting every step with a FirmwareStatusNotification.

The core decides, the runtime transfers: the controller puts out a :class:`~.model.DownloadFirmware` action
and the runtime reports the bytes (or the failure) with :meth:`StationCore.download_finished`. A failed
attempt is retried ``retries`` times, ``retryInterval`` seconds apart, with Downloading at each attempt and
DownloadFailed once all failed (L01.FR.30).

The steps of one update (each status sent with the request's requestId, L01.FR.01 / L01.FR.10):

1. UpdateFirmware: the signing certificate must chain to a ManufacturerRootCertificate the station trusts
   (L01.FR.21/22: else InvalidCertificate and the security event InvalidFirmwareSigningCertificate,
   L01.FR.02); a request without certificate and signature is Rejected unless the station allows
   non-secure updates (L02; TC_L_18_CS). An update going on is canceled (AcceptedCanceled, L01.FR.24) unless
   it is already rebooting into the new image (Rejected, L01.FR.27).
2. DownloadScheduled while retrieveDateTime is ahead or a transaction runs (L01.FR.13: by default this
   station does not download while charging), then Downloading, Downloaded. A transaction that starts
   during the download (or between two attempts) pauses it: DownloadPaused (L01.FR.14), Downloading again
   once the transactions have ended. Hardware that can download while charging
   (:attr:`Firmware.download_while_charging`, Part 5 AQ-7) downloads at once and is not paused.
3. The signature (base64; ECDSA, RSA-PSS or RSA PKCS#1 v1.5, over SHA-256 of the whole image) verified with
   the signing certificate's key (L01.FR.04, L01.FR.12): SignatureVerified, or InvalidSignature and the
   security event InvalidFirmwareSignature (L01.FR.03).
4. InstallScheduled while installDateTime is ahead (L01.FR.16); the installation waits for the transactions
   to end (L01.FR.06), saying so with InstallScheduled (L01.FR.34). Hardware whose controller swaps images
   while the power electronics keep charging (:attr:`Firmware.install_while_charging`, Part 5 C-43; it
   downloads while charging too) installs at once: the transactions are stored to resume after the reboot
   into the new image (:mod:`.tx_resume`), their energy uninterrupted. Meanwhile, unless AllowNewSessionsPendingFirmwareUpdate is true, EVSEs not in use are
   Unavailable, and so is every EVSE whose transaction ends (L01.FR.07).
5. Installing (every EVSE Unavailable), then the simulated hardware checks the image (see
   :func:`image_version`): InstallVerificationFailed (L01.FR.29) for what is not a firmware image, else
   InstallRebooting (L01.FR.15) and a reboot (reason FirmwareUpdate) into the new firmwareVersion.
6. After the new boot is accepted: Installed (L01.FR.32 option a) and the security event FirmwareUpdated
   (L01.FR.31).

Trust: the ManufacturerRootCertificates installed in the station's certificate store (M05,
``certificates.Certificates``), and the factory roots of :attr:`Firmware.trust_roots`, a function giving PEM
texts (default: :data:`FACTORY_MANUFACTURER_ROOTS`, the roots a simulated station is built with; the runtime
sets it from its settings, tests and the simulator set it directly).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from msgspec import UnsetType

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import availability, security
from chargeplane.station.core.certificates import Certificates
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import CancelDownload, DownloadFirmware, Evse, Reboot, tx_to_json
from chargeplane.station.core.offline_queue import OfflineQueue

SCHEMES = frozenset({"http", "https"})  # what the runtime downloads from
FACTORY_MANUFACTURER_ROOTS: tuple[str, ...] = ()  # PEM; a simulated station comes with none unless told
PENDING_KEY = "firmware_installed"  # storage: the update to report after the reboot into the new image
VERSION_KEY = "firmware_version"  # storage: the installed version (StationCore puts it into the layout)
SETTLE = timedelta(seconds=1)  # how often to look whether the transaction messages are delivered
ALLOW_NEW_SESSIONS = ("ChargingStation", "AllowNewSessionsPendingFirmwareUpdate")

# Flavours: which messages an update speaks
SECURE_2X, SIGNED_16, LEGACY_16 = "2x", "signed16", "legacy16"
LEGACY_STATUSES = frozenset(s.value for s in v16.enums.FirmwareStatus)

# Phases of an update
SCHEDULED = "download-scheduled"  # waiting for retrieveDateTime or for the transactions to end
DOWNLOADING = "downloading"  # an attempt in flight
RETRY = "download-retry"  # waiting for the next attempt
PAUSED = "download-paused"  # a transaction started: the download waits for the transactions to end
INSTALL_SCHEDULED = "install-scheduled"  # waiting for installDateTime
INSTALL_WAITING = "install-waiting"  # waiting for the transactions to end
REBOOTING = "rebooting"  # installed, rebooting into the new image: cannot be canceled any more

# The simulated hardware's firmware image: a first line naming it, optionally with the version it carries
# (without one, the version is the image's digest). Anything else fails the installation's verification.
IMAGE_HEADER = re.compile(rb"\ACHARGEPLANE-[A-Z0-9-]*FIRMWARE(?: (?P<version>[!-~]{1,50}))?\r?\n")


def image_version(image: bytes) -> str | None:
    """The firmwareVersion the simulated hardware boots from ``image``; None: not a firmware image."""
    match = IMAGE_HEADER.match(image)
    if match is None:
        return None
    version = match.group("version")
    return version.decode() if version else "sha256-" + hashlib.sha256(image).hexdigest()[:16]


def certificate_chains(signing_pem: str, roots: Sequence[str], at: datetime) -> bool:
    """L01.FR.12 / L01.FR.21: the signing certificate (optionally followed by its intermediates) is valid at
    ``at`` and chains, signature by signature, to one of the trusted ``roots``."""
    try:
        chain = x509.load_pem_x509_certificates(signing_pem.encode())
    except ValueError:
        return False
    trusted: list[x509.Certificate] = []
    for pem in roots:
        try:
            trusted.extend(x509.load_pem_x509_certificates(pem.encode()))
        except ValueError:
            continue  # one unreadable root does not spoil the others
    if not chain or not all(_valid_at(c, at) for c in chain):
        return False
    for child, parent in itertools.pairwise(chain):
        if not _issued_by(child, parent):
            return False
    last = chain[-1]
    return any(_valid_at(root, at) and (last == root or _issued_by(last, root)) for root in trusted)


def _valid_at(certificate: x509.Certificate, at: datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def signature_valid(image: bytes, signature: str, signing_pem: str) -> bool:
    """L01.FR.04: ``signature`` (base64) is the signing certificate's key's signature over SHA-256 of the
    whole ``image`` (ECDSA; RSA-PSS, or RSA PKCS#1 v1.5 as 1.6 signers often make)."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key = x509.load_pem_x509_certificates(signing_pem.encode())[0].public_key()
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, image, ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            for scheme in (pss, padding.PKCS1v15()):
                try:
                    key.verify(raw, image, scheme, hashes.SHA256())
                    return True
                except InvalidSignature:
                    continue
    except InvalidSignature:
        return False
    return False


@dataclass(slots=True)
class Update:
    request_id: int | None  # None for a 1.6 UpdateFirmware (its notifications carry no id)
    flavour: str
    location: str
    retrieve_at: datetime
    install_at: datetime | None
    certificate: str | None
    signature: str | None
    retries_left: int
    retry_interval: int
    phase: str = SCHEDULED
    download_id: int = 0
    next_at: datetime | None = None
    scheduled_sent: bool = False
    install_scheduled_sent: bool = False
    version: str | None = None  # of the downloaded image (None: not installable)
    held: set[int] = field(default_factory=set)  # EVSEs this update set Unavailable


class Firmware(Controller):
    __slots__ = (
        "_next_download",
        "allow_unsigned",
        "download_while_charging",
        "install_while_charging",
        "last_status",
        "pending_report",
        "trust_roots",
        "update",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.update: Update | None = None
        self._next_download = 1
        self.last_status: tuple[str, int | None] | None = None  # (status, requestId) last sent: F06 trigger
        self.pending_report: dict[str, object] | None = None  # what to report once the new image booted
        # the trust seam: the PEM ManufacturerRootCertificates signing certificates must chain to
        self.trust_roots: Callable[[], Sequence[str]] = lambda: FACTORY_MANUFACTURER_ROOTS
        self.allow_unsigned = False  # L02: accept a 2.x update without certificate and signature
        self.download_while_charging = False  # the hardware's AQ-7: downloads go on during transactions
        self.install_while_charging = False  # the hardware's C-43: installs (and reboots) during transactions

    def manufacturer_roots(self) -> list[str]:
        """L01.FR.22: the roots a signing certificate may chain to: those installed (InstallCertificate
        ManufacturerRootCertificate) and the factory's."""
        installed = self.ctx.get(Certificates).roots("ManufacturerRootCertificate")
        return [c.public_bytes(serialization.Encoding.PEM).decode() for c in installed] + list(
            self.trust_roots()
        )

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # L01.FR.07 (C-20): false keeps EVSEs Unavailable while an update waits for the transactions
        return [var(*ALLOW_NEW_SESSIONS, "boolean", "false")]

    def start(self, now: datetime) -> None:
        stored = self.ctx.storage.get_state(PENDING_KEY)
        if stored is not None:
            self.pending_report = json.loads(stored)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        flavour: str,
        request_id: int | None,
        location: str,
        retrieve_at: datetime,
        install_at: datetime | None,
        certificate: str | None,
        signature: str | None,
        retries: int,
        retry_interval: int,
        now: datetime,
    ) -> str:
        """Start an update: Accepted, AcceptedCanceled, Rejected or InvalidCertificate."""
        if urlsplit(location).scheme.lower() not in SCHEMES:
            return "Rejected"
        if flavour != LEGACY_16:
            if certificate is None or signature is None:
                if not (
                    flavour == SECURE_2X and self.allow_unsigned and certificate is None and signature is None
                ):
                    return "Rejected"  # TC_L_18_CS: a secure station refuses an unsigned update
            elif not certificate_chains(certificate, self.manufacturer_roots(), self.ctx.station_time(now)):
                # L01.FR.22 / L01.FR.02
                self._security_event(
                    "InvalidFirmwareSigningCertificate",
                    now,
                    "the signing certificate does not chain to a trusted manufacturer root",
                )
                return "InvalidCertificate"
        running = self.update
        if running is not None:
            if running.phase == REBOOTING:
                return "Rejected"  # L01.FR.27: the installation cannot be undone any more
            self._end(running, now)  # L01.FR.24: canceled without a status of its own
        self.update = Update(
            request_id,
            flavour,
            location,
            retrieve_at,
            install_at,
            certificate,
            signature,
            max(0, retries),
            max(0, retry_interval),
        )
        self._advance(now)
        return "AcceptedCanceled" if running is not None else "Accepted"

    def download_finished(self, download_id: int, image: bytes | None, now: datetime) -> None:
        """The runtime's report of one download attempt (None: it failed)."""
        update = self.update
        if update is None or update.phase != DOWNLOADING or update.download_id != download_id:
            return  # a canceled download's late outcome
        if image is None:
            if update.retries_left > 0:
                update.retries_left -= 1
                update.phase, update.next_at = RETRY, now + timedelta(seconds=update.retry_interval)
            else:
                self._notify(update, "DownloadFailed", now)  # L01.FR.30
                self._end(update, now)
            return
        self._notify(update, "Downloaded", now)
        if update.signature is not None and update.certificate is not None:
            if not signature_valid(image, update.signature, update.certificate):
                self._notify(update, "InvalidSignature", now)
                self._security_event("InvalidFirmwareSignature", now, None)  # L01.FR.03
                self._end(update, now)
                return
            self._notify(update, "SignatureVerified", now)
        update.version = image_version(image)
        update.phase = INSTALL_SCHEDULED
        if update.install_at is not None and update.install_at > now:
            update.next_at = update.install_at
            update.install_scheduled_sent = True
            self._notify(update, "InstallScheduled", now)  # L01.FR.16
            return
        self._advance(now)

    def send_status(self, now: datetime, *, force: bool = False, signed16: bool = False) -> None:
        """The triggered status (F06): Idle when nothing was sent or the last was Installed (L01.FR.25),
        else the last status sent with its requestId (L01.FR.26)."""
        last = self.last_status
        status, request_id = ("Idle", None) if last is None or last[0] == "Installed" else last
        if self.ctx.version is Version.V16:
            flavour = SIGNED_16 if signed16 else LEGACY_16
            if flavour == LEGACY_16 and status not in LEGACY_STATUSES:
                status, request_id = "Idle", None
            self.ctx.send(_request16(flavour, status, request_id), now, force=force)
            return
        self.ctx.send(_request2x(self.ctx.version, status, request_id), now, force=force)

    # ------------------------------------------------------------------ hooks and timer
    def registration_accepted(self, now: datetime) -> None:
        """The new image booted and was accepted: Installed (L01.FR.32) and FirmwareUpdated (L01.FR.31)."""
        report = self.pending_report
        if report is None:
            return
        self.pending_report = None
        self.ctx.storage.set_state(PENDING_KEY, None)
        flavour = str(report["flavour"])
        request_id = report["requestId"]
        self._send(flavour, request_id if isinstance(request_id, int) else None, "Installed", now)
        if flavour != LEGACY_16:
            self._security_event(
                "FirmwareUpdated", now, f"firmwareVersion {self.ctx.layout.firmware_version}"
            )

    def transaction_started(self, evse: Evse, now: datetime) -> None:
        """A download going on (or waiting for its next attempt) pauses for the transaction (L01.FR.14)."""
        update = self.update
        if update is not None and update.phase in (DOWNLOADING, RETRY) and not self._downloads_while_charging:
            self._pause(update, now)
            self._hold_idle(update, now)

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        update = self.update
        if update is None or update.phase not in (SCHEDULED, PAUSED, INSTALL_WAITING):
            return
        self._hold_idle(update, now)  # L01.FR.07: an EVSE that becomes available is set Unavailable
        self._advance(now)

    def next_deadline(self) -> datetime | None:
        update = self.update
        return update.next_at if update is not None else None

    def handle_timer(self, now: datetime) -> None:
        update = self.update
        if update is not None and update.next_at is not None and update.next_at <= now:
            update.next_at = None
            self._advance(now)

    # ------------------------------------------------------------------ the steps
    def _advance(self, now: datetime) -> None:
        update = self.update
        if update is None:
            return
        busy = any(evse.tx is not None for evse in self.ctx.evses.values())
        # the transactions' last messages go out first (their end before the download or the reboot)
        settling = not busy and bool(self.ctx.get(OfflineQueue).items)
        if update.phase in (SCHEDULED, RETRY, PAUSED):
            busy = busy and not self._downloads_while_charging
            settling = settling and not self._downloads_while_charging
            if update.phase == RETRY and update.next_at is not None:
                return  # the next attempt is not due yet
            if update.phase == SCHEDULED and update.retrieve_at > now:
                update.next_at = update.retrieve_at
            elif settling:
                update.next_at = now + SETTLE
                return
            elif not busy:
                self._download(update, now)
                return
            if busy:  # this station does not download while charging
                self._hold_idle(update, now)
                if update.phase == RETRY:
                    self._pause(update, now)
            if update.phase == SCHEDULED and not update.scheduled_sent:
                update.scheduled_sent = True
                self._notify(update, "DownloadScheduled", now)  # L01.FR.13
            return
        if update.phase == INSTALL_SCHEDULED and update.next_at is not None:
            return  # installDateTime still ahead
        if update.phase in (INSTALL_SCHEDULED, INSTALL_WAITING):
            if busy and self.install_while_charging:  # C-43: the transactions go on through the install
                self._install(update, now)
                return
            if busy:  # L01.FR.06: wait for the transactions to end
                update.phase = INSTALL_WAITING
                if not update.install_scheduled_sent:
                    update.install_scheduled_sent = True
                    self._notify(update, "InstallScheduled", now)  # L01.FR.34
                self._hold_idle(update, now)
                return
            if settling:
                update.phase, update.next_at = INSTALL_WAITING, now + SETTLE
                return
            self._install(update, now)

    @property
    def _downloads_while_charging(self) -> bool:
        return self.download_while_charging or self.install_while_charging

    def _download(self, update: Update, now: datetime) -> None:
        update.phase, update.next_at = DOWNLOADING, None
        update.download_id, self._next_download = self._next_download, self._next_download + 1
        self._notify(update, "Downloading", now)  # at every attempt (allowed by L01.FR.30)
        self.ctx.act(DownloadFirmware(update.download_id, update.location))

    def _pause(self, update: Update, now: datetime) -> None:
        """L01.FR.14: charging comes first; the download resumes once the transactions have ended."""
        if update.phase == DOWNLOADING:
            self.ctx.act(CancelDownload(update.download_id))
        update.phase, update.next_at = PAUSED, None
        self._notify(update, "DownloadPaused", now)

    def _install(self, update: Update, now: datetime) -> None:
        for evse in self.ctx.evses.values():
            self._hold(update, evse, now)  # no session starts while the firmware changes
        self._notify(update, "Installing", now)
        version = update.version
        if version is None:  # L01.FR.29: the simulated hardware refuses what is no firmware image
            failed = "InstallationFailed" if update.flavour == LEGACY_16 else "InstallVerificationFailed"
            self._notify(update, failed, now)
            self._end(update, now)
            return
        if update.flavour != LEGACY_16:
            self._notify(update, "InstallRebooting", now)  # L01.FR.15
        update.phase = REBOOTING
        storage = self.ctx.storage
        report = {"flavour": update.flavour, "requestId": update.request_id}
        storage.set_state(PENDING_KEY, json.dumps(report))
        storage.set_state(VERSION_KEY, version)
        storage.set_state("boot_reason", "FirmwareUpdate")
        for evse in self.ctx.evses.values():
            tx = evse.tx
            if tx is not None:  # C-43: kept through the reboot (only reached with install_while_charging)
                tx.resume_after_reset = True
                storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
        self.ctx.act(Reboot("FirmwareUpdate"))

    def _end(self, update: Update, now: datetime) -> None:
        """The update is over (failed or canceled): its download stops, its EVSEs come back."""
        if self.update is update:
            self.update = None
        if update.phase == DOWNLOADING:
            self.ctx.act(CancelDownload(update.download_id))
        statuses = self.ctx.get(availability.Availability)
        for evse_id in sorted(update.held):
            evse = self.ctx.evses[evse_id]
            evse.operative = self.ctx.storage.get_state(f"evse_operative:{evse_id}") != "false"
            statuses.update_status(evse, now)
        update.held.clear()

    # ------------------------------------------------------------------ EVSEs held Unavailable (L01.FR.07)
    def _hold_idle(self, update: Update, now: datetime) -> None:
        if self.ctx.model.flag(*ALLOW_NEW_SESSIONS):
            return
        for evse in self.ctx.evses.values():
            if evse.tx is None:
                self._hold(update, evse, now)

    def _hold(self, update: Update, evse: Evse, now: datetime) -> None:
        """Unavailable until the update ends (not persisted: the reboot brings the EVSE back)."""
        if not evse.operative or evse.tx is not None:
            return
        evse.operative = False
        update.held.add(evse.id)
        self.ctx.get(availability.Availability).update_status(evse, now)

    # ------------------------------------------------------------------ messages
    def _notify(self, update: Update, status: str, now: datetime) -> None:
        self._send(update.flavour, update.request_id, status, now)

    def _send(self, flavour: str, request_id: int | None, status: str, now: datetime) -> None:
        """L01.FR.01 / L01.FR.10: the new status, with the update's requestId."""
        if flavour == LEGACY_16 and status not in LEGACY_STATUSES:
            return  # 1.6 UpdateFirmware knows fewer states (no DownloadScheduled)
        self.last_status = (status, request_id)
        ctx = self.ctx
        if flavour == SECURE_2X:
            ctx.send(_request2x(ctx.version, status, request_id), now)
        else:
            ctx.send(_request16(flavour, status, request_id), now)

    def _security_event(self, event_type: str, now: datetime, tech_info: str | None) -> None:
        self.ctx.get(security.Security).report(event_type, now, tech_info)  # 2.x and 1.6, the security log


def _request2x(
    version: Version, status: str, request_id: int | None
) -> v2x.FirmwareStatusNotificationRequest:
    def build(ns: v2x.Dialect) -> v2x.FirmwareStatusNotificationRequest:
        kind = ns.FirmwareStatusEnumType(status)
        if request_id is None:  # L01.FR.20: only Idle goes without one
            return ns.FirmwareStatusNotificationRequest(status=kind)
        return ns.FirmwareStatusNotificationRequest(status=kind, request_id=request_id)

    return v2x.with_dialect(version, build)


def _request16(flavour: str, status: str, request_id: int | None) -> Payload:
    if flavour == LEGACY_16:
        return v16.messages.FirmwareStatusNotificationRequest(status=v16.enums.FirmwareStatus(status))
    kind = v16.enums.FirmwareStatusEnumType(status)
    if request_id is None:
        return v16.messages.SignedFirmwareStatusNotificationRequest(status=kind)
    return v16.messages.SignedFirmwareStatusNotificationRequest(status=kind, request_id=request_id)


# ---------------------------------------------------------------------- handlers
class _FirmwareParameters(Protocol):
    @property
    def location(self) -> str: ...
    @property
    def retrieve_date_time(self) -> str: ...
    @property
    def install_date_time(self) -> str | UnsetType: ...
    @property
    def signing_certificate(self) -> str | UnsetType: ...
    @property
    def signature(self) -> str | UnsetType: ...


class _SignedUpdate(Protocol):
    """What UpdateFirmware of 2.0.1, 2.1 and SignedUpdateFirmware of the 1.6 security extension share."""

    @property
    def firmware(self) -> _FirmwareParameters: ...
    @property
    def request_id(self) -> int: ...
    @property
    def retries(self) -> int | UnsetType: ...
    @property
    def retry_interval(self) -> int | UnsetType: ...


def _start(ctl: Firmware, flavour: str, request: _SignedUpdate, now: datetime) -> str:
    firmware = request.firmware
    install = present(firmware.install_date_time)
    return ctl.request(
        flavour,
        request.request_id,
        firmware.location,
        from_wire(firmware.retrieve_date_time),
        from_wire(install) if install is not None else None,
        present(firmware.signing_certificate),
        present(firmware.signature),
        present(request.retries) or 0,
        present(request.retry_interval) or 0,
        now,
    )


def update_firmware(
    ctl: Firmware, request: v2x.UpdateFirmwareRequestT, now: datetime
) -> v2x.UpdateFirmwareResponse:
    """L01 (L02 when the station allows unsigned updates)."""
    ns = v2x.dialect_of(request)
    status = _start(ctl, SECURE_2X, request, now)
    return ns.UpdateFirmwareResponse(status=ns.UpdateFirmwareStatusEnumType(status))


def signed_update_firmware16(
    ctl: Firmware, request: v16.messages.SignedUpdateFirmwareRequest, now: datetime
) -> v16.messages.SignedUpdateFirmwareResponse:
    """SignedUpdateFirmware of the 1.6 security extension, as L01."""
    status = _start(ctl, SIGNED_16, request, now)
    return v16.messages.SignedUpdateFirmwareResponse(status=v16.enums.UpdateFirmwareStatusEnumType(status))


def update_firmware16(
    ctl: Firmware, request: v16.messages.UpdateFirmwareRequest, now: datetime
) -> v16.messages.UpdateFirmwareResponse:
    """1.6 §5.19 (no answer to give: an unusable location just ends without a download)."""
    ctl.request(
        LEGACY_16,
        None,
        request.location,
        from_wire(request.retrieve_date),
        None,
        None,
        None,
        present(request.retries) or 0,
        present(request.retry_interval) or 0,
        now,
    )
    return v16.messages.UpdateFirmwareResponse()


Firmware.on_2x = (route("UpdateFirmware", update_firmware),)
Firmware.on_16 = (
    route("UpdateFirmware", update_firmware16),
    route("SignedUpdateFirmware", signed_update_firmware16),
)
