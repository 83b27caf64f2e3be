"""HTTP routes of firmware management: the image repository and the signing key, the stations' download URLs,
updates, publications (L01-L04) and rollout campaigns. Calls to a station answer with the status codes of
every station call (:mod:`chargeplane.csms.api.errors`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import File
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_410_GONE,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)

from chargeplane.csms.api.app import OPERATOR, PUBLIC
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.diagnostics.api import FileOperation, UploadOperation, disposition_filename
from chargeplane.csms.blocks.diagnostics.uploads import BadUpload, UploadTooLarge
from chargeplane.csms.blocks.firmware.campaigns import (
    CampaignService,
    CampaignSpec,
    Window,
    counts,
    windows_of,
)
from chargeplane.csms.blocks.firmware.repository import (
    CampaignRecord,
    ImageRecord,
    PublicationRecord,
    StatusEvent,
    UpdateRecord,
)
from chargeplane.csms.blocks.firmware.service import FirmwareService, UpdateOptions
from chargeplane.csms.blocks.firmware.signing import KeyInfo
from chargeplane.csms.blocks.provisioning.api import KnownStation, StationId
from chargeplane.csms.errors import Invalid

Name = Annotated[str, QueryParameter(min_length=1, max_length=255)]
Version = Annotated[str, QueryParameter(min_length=1, max_length=50)]
Count = Annotated[int, msgspec.Meta(ge=0, le=100)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=86400)]
HHMM = Annotated[str, msgspec.Meta(pattern=r"\A([01]\d|2[0-3]):[0-5]\d\Z")]


class ImageOut(msgspec.Struct, rename="camel"):
    id: int
    name: str
    version: str  # as stations report it in their BootNotification
    file_name: str | None
    size: int
    sha256: str
    md5: str  # PublishFirmware's checksum
    signature: str  # base64, over the image with SHA-256
    signature_algorithm: str  # RSA-PSS-SHA256 | ECDSA-SHA256
    signing_certificate: str  # PEM
    uploaded_at: datetime


class SigningKeyOut(msgspec.Struct, rename="camel"):
    algorithm: str
    subject: str
    issuer: str
    serial_number: str
    not_after: datetime
    sha256_fingerprint: str
    certificate: str  # the signing certificate, PEM (sent in every update)
    root_certificate: str  # PEM: install it on stations as ManufacturerRootCertificate
    generated: bool  # made by this CSMS (false: imported)


class SigningKeyIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The operator's firmware signing key: an unencrypted PEM private key (RSA >= 2048 bits or EC >= 224),
    its certificate and the root certificate that issued it (all PEM)."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=5500)]
    root_certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]


class StatusEventOut(msgspec.Struct, rename="camel"):
    message: str
    status: str
    request_id: int | None
    detail: str | None
    received_at: datetime


class UpdateIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Which image from the repository; the CSMS chooses the requestId and the download URL."""

    firmware_id: int
    retrieve_date_time: datetime | None = None  # default: now
    install_date_time: datetime | None = None
    retries: Count | None = None
    retry_interval: Seconds | None = None
    v16_signed: bool = False  # 1.6 stations: SignedUpdateFirmware (security extension), else UpdateFirmware


class UpdateOut(msgspec.Struct, rename="camel"):
    id: int
    request_id: int
    method: str  # UpdateFirmware | SignedUpdateFirmware
    firmware_id: int | None
    campaign_id: int | None
    location: str
    retrieve_date_time: str
    install_date_time: str | None
    state: str  # requested | accepted | installed | rejected | failed | no_answer | canceled
    station_status: (
        str | None
    )  # the answer: Accepted | AcceptedCanceled | Rejected | InvalidCertificate | ...
    firmware_status: str | None  # the last status notification
    notifications: list[StatusEventOut]
    requested_at: datetime
    updated_at: datetime


class StationFirmwareOut(msgspec.Struct, rename="camel"):
    station_id: str
    firmware_version: str | None  # from its last BootNotification
    last_boot_at: datetime | None
    updates: list[UpdateOut]  # newest first
    other_notifications: list[StatusEventOut]  # about no update of this CSMS (Idle, ...)


class PublishIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    firmware_id: int
    retries: Count | None = None
    retry_interval: Seconds | None = None


class UnpublishIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    firmware_id: int


class UnpublishOut(msgspec.Struct, rename="camel"):
    status: str  # Unpublished | NoFirmware | DownloadOngoing


class PublicationOut(msgspec.Struct, rename="camel"):
    id: int
    request_id: int
    firmware_id: int
    checksum: str
    state: str  # requested | accepted | published | rejected | failed | no_answer | unpublished
    station_status: str | None
    publish_status: str | None
    locations: list[str] | None  # where the local controller publishes the image
    unpublish_status: str | None
    notifications: list[StatusEventOut]
    requested_at: datetime
    updated_at: datetime


class WindowIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    start: HHMM  # UTC; an end before the start runs past midnight
    end: HHMM


class CampaignIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A rollout of one image to the listed stations in batches of ``batchSize`` stations or ``batchPercent``
    of them; batches start only inside the maintenance windows (none: any time)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    firmware_id: int
    station_ids: Annotated[list[StationId], msgspec.Meta(max_length=10000)] = []
    group: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None  # instead of stationIds
    batch_size: Annotated[int, msgspec.Meta(ge=1)] | None = None
    batch_percent: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    failure_threshold: Annotated[float, msgspec.Meta(ge=0, le=100)] = 20.0  # percent of finished stations
    min_finished: Annotated[int, msgspec.Meta(ge=1)] = 1  # before the threshold applies
    station_timeout: Annotated[float, msgspec.Meta(gt=0, le=30 * 86400)] = 3600.0  # seconds
    maintenance_windows: list[WindowIn] = []
    retries: Count | None = None
    retry_interval: Seconds | None = None
    v16_signed: bool = False


class CampaignChangeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    state: Annotated[str, msgspec.Meta(pattern=r"\A(paused|running|aborted)\Z")]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None  # of an abort


class CampaignStationOut(msgspec.Struct, rename="camel"):
    station_id: str
    batch: int | None
    state: str  # pending | waiting | updating | installed | failed | skipped
    update_id: int | None
    firmware_status: str | None  # the last status notification of its update, as it comes in
    detail: str | None
    turn_at: datetime | None
    finished_at: datetime | None


class WindowOut(msgspec.Struct, rename="camel"):
    start: str
    end: str


class CampaignOut(msgspec.Struct, rename="camel"):
    id: int
    name: str
    firmware_id: int
    state: str  # running | paused | completed | aborted
    batch_size: int | None
    batch_percent: float | None
    failure_threshold: float
    min_finished: int
    station_timeout: float
    maintenance_windows: list[WindowOut]
    batches_started: int
    reason: str | None
    counts: dict[str, int] | None  # stations per state (None in lists)
    stations: list[CampaignStationOut] | None  # None in lists
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def campaign_spec(data: CampaignIn) -> CampaignSpec:
    """The campaign the service creates from the API's checked input (the console's form goes through it too)."""
    return CampaignSpec(
        name=data.name,
        image_id=data.firmware_id,
        station_ids=data.station_ids,
        group=data.group,
        batch_size=data.batch_size,
        batch_percent=data.batch_percent,
        failure_threshold=data.failure_threshold,
        min_finished=data.min_finished,
        station_timeout=data.station_timeout,
        windows=[
            Window(time.fromisoformat(w.start), time.fromisoformat(w.end)) for w in data.maintenance_windows
        ],
        retries=data.retries,
        retry_interval=data.retry_interval,
        v16_signed=data.v16_signed,
    )


def _image_out(record: ImageRecord) -> ImageOut:
    return ImageOut(
        record.id,
        record.name,
        record.version,
        record.file_name,
        record.size,
        record.sha256,
        record.md5,
        record.signature,
        record.signature_algorithm,
        record.signing_certificate,
        record.uploaded_at,
    )


def _key_out(info: KeyInfo) -> SigningKeyOut:
    return SigningKeyOut(
        info.algorithm,
        info.subject,
        info.issuer,
        info.serial_number,
        info.not_after,
        info.sha256_fingerprint,
        info.certificate,
        info.root_certificate,
        info.generated,
    )


def _events_out(events: tuple[StatusEvent, ...] | list[StatusEvent]) -> list[StatusEventOut]:
    return [StatusEventOut(e.message, e.status, e.request_id, e.detail, e.received_at) for e in events]


def _update_out(record: UpdateRecord) -> UpdateOut:
    return UpdateOut(
        id=record.id,
        request_id=record.request_id,
        method=record.method,
        firmware_id=record.firmware_id,
        campaign_id=record.campaign_id,
        location=record.location,
        retrieve_date_time=record.retrieve_at,
        install_date_time=record.install_at,
        state=record.state,
        station_status=record.station_status,
        firmware_status=record.firmware_status,
        notifications=_events_out(record.events),
        requested_at=record.requested_at,
        updated_at=record.updated_at,
    )


def _publication_out(record: PublicationRecord) -> PublicationOut:
    return PublicationOut(
        id=record.id,
        request_id=record.request_id,
        firmware_id=record.firmware_id,
        checksum=record.checksum,
        state=record.state,
        station_status=record.station_status,
        publish_status=record.publish_status,
        locations=None if record.locations is None else msgspec.json.decode(record.locations, type=list[str]),
        unpublish_status=record.unpublish_status,
        notifications=_events_out(record.events),
        requested_at=record.requested_at,
        updated_at=record.updated_at,
    )


def _campaign_out(
    record: CampaignRecord, full: bool, updates: Mapping[int, UpdateRecord] | None = None
) -> CampaignOut:
    windows = [
        WindowOut(w.start.isoformat("minutes"), w.end.isoformat("minutes"))
        for w in windows_of(record.windows)
    ]
    found = updates or {}

    def last_status(update_id: int | None) -> str | None:
        update = None if update_id is None else found.get(update_id)
        return None if update is None else update.firmware_status

    stations = [
        CampaignStationOut(
            m.station_id,
            m.batch,
            m.state,
            m.update_id,
            last_status(m.update_id),
            m.detail,
            m.turn_at,
            m.finished_at,
        )
        for m in record.stations
    ]
    return CampaignOut(
        id=record.id,
        name=record.name,
        firmware_id=record.firmware_id,
        state=record.state,
        batch_size=record.batch_size,
        batch_percent=record.batch_percent,
        failure_threshold=record.failure_threshold,
        min_finished=record.min_finished,
        station_timeout=record.station_timeout,
        maintenance_windows=windows,
        batches_started=record.batches_started,
        reason=record.reason,
        counts=counts(record) if full else None,
        stations=stations if full else None,
        created_at=record.created_at,
        updated_at=record.updated_at,
        finished_at=record.finished_at,
    )


def routes(service: FirmwareService, campaigns: CampaignService) -> list[Any]:
    # -- the repository -------------------------------------------------------------------------------------

    @post(
        "/firmware",
        status_code=HTTP_201_CREATED,
        summary="Upload a firmware image (signed at once with the firmware signing key)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT, HTTP_413_REQUEST_ENTITY_TOO_LARGE),
        operation_class=UploadOperation,
        request_max_body_size=None,  # counted while streaming, against the setting
    )
    async def upload_image(name: Name, version: Version, request: Request[Any, Any, Any]) -> ImageOut:
        """The image as the raw body or a multipart/form-data form with one file field; ``version`` is the
        firmware version stations will report in their BootNotification once it is installed (a campaign
        counts a station done only then). 409 when the name and version exist already, 413 beyond the limit."""
        limit = service.settings.max_image_bytes
        declared = request.headers.get("content-length", "")
        too_large = f"the image is larger than {limit} bytes"
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=too_large)
        file_name = disposition_filename(request.headers.get("content-disposition", ""))
        try:
            record = await service.upload_image(
                name, version, request.headers.get("content-type", ""), request.stream(), file_name
            )
        except UploadTooLarge:
            raise HTTPException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail=too_large) from None
        except BadUpload as error:
            raise Invalid(str(error)) from None
        return _image_out(record)

    @get("/firmware", summary="The firmware images, newest first")
    async def list_images(offset: Offset = 0, limit: Limit = 100) -> Page[ImageOut]:
        """Each image with its hashes, signature and signing certificate."""
        return paged(_image_out, await service.images(offset, limit), offset, limit)

    @get_or_404("/firmware/{firmware_id:int}", summary="One firmware image")
    async def one_image(firmware_id: PathId) -> ImageOut:
        """The image's record (404 when there is none)."""
        return _image_out(await service.image(firmware_id))

    @get(
        "/firmware/{firmware_id:int}/file",
        summary="Download a firmware image",
        operation_class=FileOperation,
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def image_file(firmware_id: PathId) -> File:
        """The image's bytes as uploaded."""
        record = await service.image(firmware_id)
        path = service.image_path(record)
        if path is None:
            raise NotFoundException(f"the file of firmware image {firmware_id} is gone")
        return File(
            path,
            filename=record.file_name or f"{record.name}-{record.version}.bin",
            media_type="application/octet-stream",
        )

    @delete(
        "/firmware/{firmware_id:int}",
        summary="Delete a firmware image",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
    )
    async def delete_image(firmware_id: PathId) -> None:
        """The image, its file and its download URLs go; 409 while an active campaign rolls it out. The
        updates that named it keep their record."""
        await service.delete_image(firmware_id)

    # -- the signing key ------------------------------------------------------------------------------------

    @get("/firmware/signing-key", summary="The firmware signing key's certificate and root")
    async def signing_key() -> SigningKeyOut:
        """Made on first use when none was imported. ``rootCertificate`` is what stations must trust as their
        ManufacturerRootCertificate (install it with InstallCertificate)."""
        return _key_out(await service.signing_key())

    @get(
        "/firmware/root-certificate",
        summary="The root to install on stations (PEM)",
        media_type="application/x-pem-file",
    )
    async def root_certificate() -> Response[str]:
        """The root certificate of the firmware signing key, PEM, for the stations' ManufacturerRootCertificate."""
        info = await service.signing_key()
        return Response(info.root_certificate, media_type="application/x-pem-file")

    @put(
        "/firmware/signing-key",
        status_code=HTTP_200_OK,
        summary="Import the operator's firmware signing key",
        responses=error_responses(HTTP_400_BAD_REQUEST),
    )
    async def import_signing_key(data: JSONBody[SigningKeyIn]) -> SigningKeyOut:
        """Replaces the key: images uploaded from now on are signed with it. 400 when the key does not belong
        to the certificate or the root did not issue it."""
        info = await service.import_signing_key(
            data.key.encode(), data.certificate.encode(), data.root_certificate.encode()
        )
        return _key_out(info)

    # -- what stations download -----------------------------------------------------------------------------

    @get(
        "/firmware-downloads/{token:str}",
        summary="Where a station downloads the image of its update (no bearer token: the path's token)",
        operation_class=FileOperation,
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_410_GONE),
        opt=PUBLIC,
    )
    async def download(token: FromPath[str]) -> File:
        """The URL comes in the UpdateFirmware / PublishFirmware the CSMS sent; it serves the image until it
        expires. 404 unknown token, 410 expired or the image deleted."""
        found = await service.download(token)
        if found == "unknown":
            raise NotFoundException("no such download")
        if isinstance(found, str):
            raise HTTPException(status_code=HTTP_410_GONE, detail=f"this download URL is {found}")
        record, path = found
        return File(
            path,
            filename=record.file_name or f"{record.name}-{record.version}.bin",
            media_type="application/octet-stream",
        )

    # -- stations -------------------------------------------------------------------------------------------

    @station_call(
        "/stations/{station_id:str}/firmware/update",
        summary="Update a station's firmware (L01 UpdateFirmware; 1.6 UpdateFirmware or SignedUpdateFirmware)",
    )
    async def update_firmware(known_station: KnownStation, data: JSONBody[UpdateIn]) -> UpdateOut:
        """Answers once the station answered; its FirmwareStatusNotifications show in the update's record. The
        station gets a download URL of its own, the image's signature and signing certificate."""
        if (
            data.install_date_time is not None
            and data.retrieve_date_time is not None
            and data.install_date_time < data.retrieve_date_time
        ):
            raise Invalid("installDateTime is before retrieveDateTime")
        options = UpdateOptions(
            image_id=data.firmware_id,
            retrieve_at=data.retrieve_date_time,
            install_at=data.install_date_time,
            retries=data.retries,
            retry_interval=data.retry_interval,
            v16_signed=data.v16_signed,
        )
        return _update_out(await service.update_firmware(known_station.station_id, options))

    @get_or_404(
        "/stations/{station_id:str}/firmware",
        summary="A station's firmware: its version and its updates, newest first",
    )
    async def station_firmware(known_station: KnownStation, limit: Limit = 20) -> StationFirmwareOut:
        """The version from its last BootNotification, the latest ``limit`` updates with their status
        notifications, and the notifications about no update of this CSMS."""
        found = await service.station_firmware(known_station.station_id, limit)
        return StationFirmwareOut(
            found.station_id,
            found.firmware_version,
            found.last_boot_at,
            [_update_out(u) for u in found.updates],
            _events_out(found.unmatched),
        )

    @get_or_404(
        "/stations/{station_id:str}/firmware/updates",
        summary="A station's firmware updates, newest first, page by page",
    )
    async def list_updates(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[UpdateOut]:
        """Each update with the station's answer and every status notification about it."""
        found = await service.updates(known_station.station_id, offset, limit)
        return paged(_update_out, found, offset, limit)

    @station_call(
        "/stations/{station_id:str}/firmware/publish",
        summary="Ask a local controller to publish an image (L03 PublishFirmware)",
    )
    async def publish(known_station: KnownStation, data: JSONBody[PublishIn]) -> PublicationOut:
        """Answers once the station answered; its PublishFirmwareStatusNotifications (with the published
        locations) show in the record. 422 for a 1.6 station."""
        record = await service.publish_firmware(
            known_station.station_id, data.firmware_id, data.retries, data.retry_interval
        )
        return _publication_out(record)

    @station_call(
        "/stations/{station_id:str}/firmware/unpublish",
        summary="Stop a local controller publishing an image (L04 UnpublishFirmware)",
    )
    async def unpublish(known_station: KnownStation, data: JSONBody[UnpublishIn]) -> UnpublishOut:
        """By the image's MD5 checksum; the station's answer."""
        return UnpublishOut(await service.unpublish_firmware(known_station.station_id, data.firmware_id))

    @get_or_404(
        "/stations/{station_id:str}/firmware/publications",
        summary="A local controller's publications, newest first",
    )
    async def publications(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[PublicationOut]:
        """Each PublishFirmware with the station's answer and notifications."""
        found = await service.publications(known_station.station_id, offset, limit)
        return paged(_publication_out, found, offset, limit)

    # -- campaigns ------------------------------------------------------------------------------------------

    @post(
        "/firmware/campaigns",
        status_code=HTTP_201_CREATED,
        summary="Start a rollout campaign",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def create_campaign(data: JSONBody[CampaignIn]) -> CampaignOut:
        """Running at once: the first batch starts at the job's next pass (inside a maintenance window). A
        station counts as done when it reported Installed and booted with the image's version; it fails on a
        failure status, a refusal or its timeout (also when it stays offline). 400: batchSize and
        batchPercent both or neither, stationIds and group both or neither, a station listed twice; 404: unknown
        image, station or group (a group's members are taken when the campaign is created)."""
        return _campaign_out(await campaigns.create(campaign_spec(data)), full=True)

    @get("/firmware/campaigns", summary="The rollout campaigns, newest first")
    async def list_campaigns(offset: Offset = 0, limit: Limit = 100) -> Page[CampaignOut]:
        """Without the per-station progress (GET one campaign for it)."""
        found = await campaigns.campaigns(offset, limit)
        return paged(lambda r: _campaign_out(r, full=False), found, offset, limit)

    @get_or_404("/firmware/campaigns/{campaign_id:int}", summary="One campaign with its live progress")
    async def one_campaign(campaign_id: PathId) -> CampaignOut:
        """Each station's state, batch and outcome, and the counts per state."""
        record, updates = await campaigns.progress(campaign_id)
        return _campaign_out(record, full=True, updates=updates)

    @patch(
        "/firmware/campaigns/{campaign_id:int}",
        summary="Pause, resume or abort a campaign",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def change_campaign(campaign_id: PathId, data: JSONBody[CampaignChangeIn]) -> CampaignOut:
        """``paused``: no new batch and no new update until it runs again, the updates under way are still
        followed (409 unless it is running); ``running``: it resumes (409 unless it is paused); ``aborted``: it
        ends, the stations whose turn has not come are skipped (409 when it has ended already)."""
        if data.state == "paused":
            record = await campaigns.pause(campaign_id)
        elif data.state == "running":
            record = await campaigns.resume(campaign_id)
        else:
            record = await campaigns.abort(campaign_id, data.reason or "aborted by the operator")
        return _campaign_out(record, full=True)

    return [
        upload_image,
        list_images,
        one_image,
        image_file,
        delete_image,
        signing_key,
        root_certificate,
        import_signing_key,
        download,
        update_firmware,
        station_firmware,
        list_updates,
        publish,
        unpublish,
        publications,
        create_campaign,
        list_campaigns,
        one_campaign,
        change_campaign,
    ]
