"""Firmware management on the CSMS side (L01-L04; 1.6 UpdateFirmware and the security extension's
SignedUpdateFirmware).

The repository
    The operator uploads an image (the raw body or a multipart form, streamed to the images directory with
    its SHA-256 and MD5, see :mod:`~chargeplane.csms.blocks.diagnostics.uploads`); the CSMS signs it at once
    with the firmware signing key (:mod:`~chargeplane.csms.blocks.firmware.signing`) and keeps the base64
    signature and the signing certificate with the image (L01.FR.09, L01.FR.11).

Serving images
    Each update or publication gets its own download URL on the HTTP API,
    ``<public url>/api/v1/firmware-downloads/<token>``: 256 random bits, only their SHA-256 stored, valid from
    the request until ``download_url_lifetime`` after its retrieveDateTime, for any number of downloads (a
    station retries, L01.FR.30). No API token: the URL is the credential, as for the log uploads.

Updates
    2.0.1 and 2.1 get UpdateFirmware with the signing certificate and the signature; a 1.6 station gets the
    core UpdateFirmware (no requestId: the CSMS keeps one of its own for the record), or with ``v16Signed``
    the security extension's SignedUpdateFirmware. The update is recorded before it is sent, so a status that
    overtakes the answer finds it; AcceptedCanceled cancels the station's other open updates (L01.FR.24).
    Every (Signed)FirmwareStatusNotification is stored with the update it concerns (by requestId, L01.FR.10;
    1.6 core: the station's latest open update) and moves its state: Installed -> installed,
    DownloadFailed / InvalidSignature / InstallationFailed / InstallVerificationFailed -> failed.

Publications (L03, L04)
    PublishFirmware asks a local controller to fetch an image (from its download URL, with the MD5 checksum)
    and publish it to the stations behind it; its PublishFirmwareStatusNotifications (with the published
    locations) are stored; UnpublishFirmware by checksum ends it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from chargeplane.csms.blocks.diagnostics import uploads
from chargeplane.csms.blocks.firmware.repository import (
    FirmwareRepository,
    ImageRecord,
    NewImage,
    NewUpdate,
    PublicationRecord,
    StatusEvent,
    UpdateRecord,
)
from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.blocks.firmware.signing import KeyInfo, Signer, SigningKeys
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, NotFound, UnknownStation
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

DOWNLOAD_PATH = "/api/v1/firmware-downloads"


class UnknownImage(NotFound):
    def __init__(self, image_id: int) -> None:
        super().__init__(f"no firmware image {image_id}")


class ImageExists(Conflict):
    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"a firmware image {name} {version} exists already")


class ImageInUse(Conflict):
    def __init__(self, image_id: int) -> None:
        super().__init__(f"firmware image {image_id} is rolled out by an active campaign")


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    image_id: int
    retrieve_at: datetime | None = None  # None: now
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    v16_signed: bool = False  # 1.6: SignedUpdateFirmware (security extension) instead of UpdateFirmware
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class StationFirmware:
    station_id: str
    firmware_version: str | None  # from its last BootNotification, as the provisioning block keeps it
    last_boot_at: datetime | None
    updates: list[UpdateRecord]  # newest first
    unmatched: list[StatusEvent]  # notifications about no update of this CSMS (Idle, ...)


class _StatusAnswer(msgspec.Struct):
    status: str


class FirmwareService:
    def __init__(
        self,
        repository: FirmwareRepository,
        commands: CommandService,
        settings: FirmwareSettings,
        base_url: Callable[[], str],
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.settings = settings
        self.base_url = base_url
        self.events = events
        self.clock = clock
        self.images_dir = settings.images_dir()
        self.keys = SigningKeys(settings.keys_dir(), settings.signing_key_type, settings.organization)
        self._signer_lock = asyncio.Lock()

    # -- the signing key ------------------------------------------------------------------------------------

    async def signer(self) -> Signer:
        """The signing key, made on first use when there is none. Read from its files each time (a few small
        files, read for an upload): a key imported with ``chargeplane firmware signing-key import`` while the
        CSMS runs is used from the next upload on."""
        async with self._signer_lock:
            return await asyncio.to_thread(self.keys.load_or_create, self.clock.now())

    async def signing_key(self) -> KeyInfo:
        return (await self.signer()).info()

    async def import_signing_key(self, key: bytes, certificate: bytes, root: bytes) -> KeyInfo:
        """Replace the signing key; images uploaded from now on are signed with it (earlier ones keep theirs)."""
        async with self._signer_lock:
            signer = await asyncio.to_thread(self.keys.import_key, key, certificate, root)
            return signer.info()

    # -- the repository -------------------------------------------------------------------------------------

    async def upload_image(
        self,
        name: str,
        version: str,
        content_type: str,
        chunks: AsyncIterator[bytes],
        file_name: str | None = None,
    ) -> ImageRecord:
        """Store an image (the raw body or a form's file part), hash and sign it. Raises
        :class:`ImageExists`, and the upload's ``UploadTooLarge`` / ``BadUpload``."""
        if await self.repository.image_exists(name, version):
            raise ImageExists(name, version)
        signer = await self.signer()
        boundary = uploads.boundary_of(content_type)
        target = f"image-{uploads.new_token()[:24]}"  # never a name the operator chose
        received = await uploads.receive(
            chunks, self.images_dir, target, boundary, self.settings.max_image_bytes
        )
        try:
            md5 = await asyncio.to_thread(_md5_of, received.path)
            image = NewImage(
                name=name,
                version=version,
                file_name=received.name or file_name,
                file_path=received.path.name,
                size=received.size,
                sha256=received.sha256,
                md5=md5,
                signature=signer.sign_digest(bytes.fromhex(received.sha256)),
                signature_algorithm=signer.algorithm,
                signing_certificate=signer.certificate_pem,
            )
            image_id = await self.repository.add_image(image, self.clock.now())
            if image_id is None:
                raise ImageExists(name, version)
        except BaseException:
            await asyncio.to_thread(received.path.unlink, missing_ok=True)
            raise
        record = await self.repository.image(image_id)
        assert record is not None
        self.events.publish(
            StationEvent(
                "firmware.image_uploaded", "", {"firmwareId": image_id, "name": name, "version": version}
            )
        )
        return record

    async def images(self, offset: int, limit: int) -> tuple[list[ImageRecord], int]:
        return await self.repository.images(offset, limit)

    async def image(self, image_id: int) -> ImageRecord:
        record = await self.repository.image(image_id)
        if record is None:
            raise UnknownImage(image_id)
        return record

    async def delete_image(self, image_id: int) -> None:
        record = await self.image(image_id)
        outcome = await self.repository.delete_image(image_id)
        if outcome == "in_use":
            raise ImageInUse(image_id)
        if outcome == "unknown":
            raise UnknownImage(image_id)
        await asyncio.to_thread((self.images_dir / record.file_path).unlink, missing_ok=True)

    def image_path(self, record: ImageRecord) -> Path | None:
        path = self.images_dir / record.file_path
        return path if path.is_file() else None

    async def download(self, token: str) -> tuple[ImageRecord, Path] | str:
        """What a download URL serves, or why nothing: ``unknown``, ``expired``, ``gone``."""
        found = await self.repository.claim_download(uploads.token_hash(token), self.clock.now())
        if isinstance(found, str):
            return found
        record = await self.repository.image(found)
        path = None if record is None else self.image_path(record)
        if record is None or path is None:
            return "gone"
        return record, path

    async def _download_url(self, image: ImageRecord, station_id: str, valid_from: datetime) -> str:
        token = uploads.new_token()
        expires = max(valid_from, self.clock.now()) + timedelta(seconds=self.settings.download_url_lifetime)
        await self.repository.add_download(uploads.token_hash(token), image.id, station_id, expires)
        return f"{self.base_url().rstrip('/')}{DOWNLOAD_PATH}/{token}"

    # -- updates (L01; 1.6) ---------------------------------------------------------------------------------

    def online(self, station_id: str) -> Version | None:
        """The version the station speaks on its connection, None when it is not connected."""
        return self.commands.version_of(station_id)

    async def update_firmware(self, station_id: str, options: UpdateOptions) -> UpdateRecord:
        """Send the update (with a new download URL) and record it with the station's answer. Raises
        :class:`UnknownStation`, :class:`UnknownImage`, and what sending a command raises."""
        record = await self.commands.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        station_id = record.station_id
        image = await self.image(options.image_id)
        version = self.online(station_id)
        if version is None:  # refused before anything is recorded
            raise StationOffline(station_id)
        now = self.clock.now()
        retrieve = options.retrieve_at or now
        location = await self._download_url(image, station_id, retrieve)
        request_id = await self._new_id(station_id)
        payload: dict[str, object]
        if version is Version.V16 and not options.v16_signed:
            method = "UpdateFirmware"
            payload = {"location": location, "retrieveDate": to_wire(retrieve)}
        else:
            method = "SignedUpdateFirmware" if version is Version.V16 else "UpdateFirmware"
            firmware: dict[str, object] = {
                "location": location,
                "retrieveDateTime": to_wire(retrieve),
                "signingCertificate": image.signing_certificate,  # L01.FR.11
                "signature": image.signature,
            }
            if options.install_at is not None:
                firmware["installDateTime"] = to_wire(options.install_at)
            payload = {"requestId": request_id, "firmware": firmware}
        if options.retries is not None:
            payload["retries"] = options.retries
        if options.retry_interval is not None:
            payload["retryInterval"] = options.retry_interval
        new = NewUpdate(
            station_id=station_id,
            request_id=request_id,
            method=method,
            firmware_id=image.id,
            campaign_id=options.campaign_id,
            location=location,
            retrieve_at=to_wire(retrieve),
            install_at=None if options.install_at is None else to_wire(options.install_at),
            retries=options.retries,
            retry_interval=options.retry_interval,
        )
        update_id = await self.repository.add_update(new, now)
        try:
            sent = await self.commands.send_action(station_id, method, msgspec.json.encode(payload))
        except Exception:
            await self.repository.update_answered(update_id, None, self.clock.now())
            raise
        if method == "UpdateFirmware" and version is Version.V16:
            status = "Accepted"  # 1.6 UpdateFirmware.conf carries nothing: the station took it
        else:
            status = msgspec.convert(msgspec.to_builtins(sent.response), _StatusAnswer).status
        await self.repository.update_answered(update_id, status, self.clock.now())
        updated = await self.repository.update(update_id)
        assert updated is not None
        self.events.publish(
            StationEvent(
                "firmware.update_sent",
                station_id,
                {"updateId": update_id, "requestId": request_id, "status": status, "firmwareId": image.id},
            )
        )
        return updated

    async def firmware_status(
        self, station_id: str, message: str, status: str, request_id: int | None, latest_of: str | None
    ) -> None:
        """A (Signed)FirmwareStatusNotification: stored before it is answered."""
        record = await self.repository.firmware_status(
            station_id, message, status, request_id, latest_of, self.clock.now()
        )
        data: dict[str, object] = {"status": status, "requestId": request_id}
        if record is not None:
            data |= {"updateId": record.id, "state": record.state}
        self.events.publish(StationEvent("firmware.status", station_id, data))

    async def station_firmware(self, station_id: str, limit: int) -> StationFirmware:
        record = await self.commands.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        updates, _ = await self.repository.updates(record.station_id, 0, limit)
        unmatched = await self.repository.unmatched_events(record.station_id, limit)
        return StationFirmware(
            record.station_id, record.firmware_version, record.last_boot_at, updates, unmatched
        )

    async def updates(self, station_id: str, offset: int, limit: int) -> tuple[list[UpdateRecord], int]:
        return await self.repository.updates(station_id, offset, limit)

    # -- publications (L03, L04) ----------------------------------------------------------------------------

    async def publish_firmware(
        self, station_id: str, image_id: int, retries: int | None, retry_interval: int | None
    ) -> PublicationRecord:
        """PublishFirmware to a local controller (2.x): it fetches the image from a download URL, checks the
        MD5 checksum and publishes it."""
        station_id, version = await self._station(station_id)
        if version is Version.V16:
            raise InvalidCommand("NotSupportedByVersion", f"{station_id} speaks OCPP 1.6: no PublishFirmware")
        if version is None:
            raise StationOffline(station_id)
        image = await self.image(image_id)
        location = await self._download_url(image, station_id, self.clock.now())
        request_id = await self._new_id(station_id)
        payload: dict[str, object] = {"location": location, "checksum": image.md5, "requestId": request_id}
        if retries is not None:
            payload["retries"] = retries
        if retry_interval is not None:
            payload["retryInterval"] = retry_interval
        publication_id = await self.repository.add_publication(
            station_id, request_id, image.id, image.md5, self.clock.now()
        )
        try:
            sent = await self.commands.send_action(
                station_id, "PublishFirmware", msgspec.json.encode(payload)
            )
        except Exception:
            await self.repository.publication_answered(publication_id, None, self.clock.now())
            raise
        status = msgspec.convert(msgspec.to_builtins(sent.response), _StatusAnswer).status
        await self.repository.publication_answered(publication_id, status, self.clock.now())
        record = await self.repository.publication(publication_id)
        assert record is not None
        return record

    async def publish_status(
        self, station_id: str, status: str, request_id: int | None, locations: list[str] | None
    ) -> None:
        """A PublishFirmwareStatusNotification: stored before it is answered."""
        text = None if locations is None else msgspec.json.encode(locations).decode()
        record = await self.repository.publish_status(station_id, status, request_id, text, self.clock.now())
        data: dict[str, object] = {"status": status, "requestId": request_id, "locations": locations}
        if record is not None:
            data |= {"publicationId": record.id, "state": record.state}
        self.events.publish(StationEvent("firmware.publish_status", station_id, data))

    async def unpublish_firmware(self, station_id: str, image_id: int) -> str:
        """UnpublishFirmware of the image's checksum (L04); the station's answer."""
        station_id, version = await self._station(station_id)
        if version is Version.V16:
            raise InvalidCommand(
                "NotSupportedByVersion", f"{station_id} speaks OCPP 1.6: no UnpublishFirmware"
            )
        image = await self.image(image_id)
        sent = await self.commands.send_action(
            station_id, "UnpublishFirmware", msgspec.json.encode({"checksum": image.md5})
        )
        status = msgspec.convert(msgspec.to_builtins(sent.response), _StatusAnswer).status
        await self.repository.unpublished(station_id, image.md5, status, self.clock.now())
        return status

    async def publications(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[PublicationRecord], int]:
        return await self.repository.publications(station_id, offset, limit)

    # -- helpers --------------------------------------------------------------------------------------------

    async def _station(self, station_id: str) -> tuple[str, Version | None]:
        record = await self.commands.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        return record.station_id, self.online(record.station_id)

    async def _new_id(self, station_id: str) -> int:
        used = await self.repository.used_request_ids(station_id)
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as source:
        while chunk := source.read(uploads.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
