"""All SQL of the firmware block.

Every message a station sends (a firmware or publish status notification) is one unit of work of the group
committer, committed before the handler answers; the API's and the campaign job's writes take the same path so
that one station's rows are written in one order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chargeplane.csms.blocks.firmware.tables import (
    firmware_campaign_stations,
    firmware_campaigns,
    firmware_downloads,
    firmware_images,
    firmware_publications,
    firmware_status_events,
    firmware_updates,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Updates: requested -> accepted -> installed; rejected, failed, no_answer, canceled.
REQUESTED, ACCEPTED, INSTALLED, REJECTED = "requested", "accepted", "installed", "rejected"
FAILED, NO_ANSWER, CANCELED = "failed", "no_answer", "canceled"
OPEN = (REQUESTED, ACCEPTED)
# The statuses that end an update without the new firmware (L01: download, signature, installation).
FAILURE_STATUSES = frozenset(
    {"DownloadFailed", "InvalidSignature", "InstallationFailed", "InstallVerificationFailed"}
)
# Publications (L03/L04): requested -> accepted -> published; rejected, failed, no_answer, unpublished.
PUBLISHED, UNPUBLISHED = "published", "unpublished"
PUBLISH_FAILURES = frozenset({"DownloadFailed", "InvalidChecksum", "PublishFailed"})
# Campaigns and their stations.
RUNNING, PAUSED, COMPLETED, ABORTED = "running", "paused", "completed", "aborted"
ACTIVE = (RUNNING, PAUSED)
PENDING, WAITING, UPDATING, SKIPPED = "pending", "waiting", "updating", "skipped"
R = TypeVar("R", bound="DataclassInstance")


def _record(kind: type[R], row: sa.Row[*tuple[Any, ...]], **extra: object) -> R:
    """A record dataclass from a row holding (at least) its fields."""
    names = [f.name for f in fields(kind)]
    mapping = row._mapping
    return kind(**{name: mapping[name] for name in names if name in mapping and name not in extra}, **extra)


@dataclass(frozen=True, slots=True)
class NewImage:
    name: str
    version: str
    file_name: str | None
    file_path: str
    size: int
    sha256: str
    md5: str
    signature: str
    signature_algorithm: str
    signing_certificate: str


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: int
    name: str
    version: str
    file_name: str | None
    file_path: str
    size: int
    sha256: str
    md5: str
    signature: str
    signature_algorithm: str
    signing_certificate: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class NewUpdate:
    station_id: str
    request_id: int
    method: str
    firmware_id: int | None
    campaign_id: int | None
    location: str
    retrieve_at: str
    install_at: str | None
    retries: int | None
    retry_interval: int | None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    message: str
    status: str
    request_id: int | None
    detail: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    id: int
    station_key: str
    request_id: int
    method: str
    firmware_id: int | None
    campaign_id: int | None
    location: str
    retrieve_at: str
    install_at: str | None
    retries: int | None
    retry_interval: int | None
    state: str
    station_status: str | None
    firmware_status: str | None
    requested_at: datetime
    updated_at: datetime
    events: tuple[StatusEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class PublicationRecord:
    id: int
    station_key: str
    request_id: int
    firmware_id: int
    checksum: str
    state: str
    station_status: str | None
    publish_status: str | None
    locations: str | None
    unpublish_status: str | None
    requested_at: datetime
    updated_at: datetime
    events: tuple[StatusEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class NewCampaign:
    name: str
    firmware_id: int
    batch_size: int | None
    batch_percent: float | None
    failure_threshold: float
    min_finished: int
    station_timeout: float
    windows: str  # JSON
    retries: int | None
    retry_interval: int | None
    v16_signed: bool


@dataclass(frozen=True, slots=True)
class CampaignStation:
    id: int
    station_id: str
    position: int
    batch: int | None
    state: str
    update_id: int | None
    detail: str | None
    turn_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: int
    name: str
    firmware_id: int
    state: str
    batch_size: int | None
    batch_percent: float | None
    failure_threshold: float
    min_finished: int
    station_timeout: float
    windows: str
    retries: int | None
    retry_interval: int | None
    v16_signed: bool
    batches_started: int
    reason: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    stations: tuple[CampaignStation, ...] = ()


def _update_state(status: str) -> str | None:
    """What a FirmwareStatusNotification's status makes of an open update (None: it stays as it is)."""
    if status == "Installed":
        return INSTALLED
    if status in FAILURE_STATUSES:
        return FAILED
    if status == "Idle":
        return None
    return ACCEPTED


class FirmwareRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- images ---------------------------------------------------------------------------------------------

    async def image_exists(self, name: str, version: str) -> bool:
        c = firmware_images.c
        query = sa.select(c.id).where(c.name == name, c.version == version)
        async with self.engine.connect() as connection:
            return (await connection.execute(query)).first() is not None

    async def add_image(self, image: NewImage, now: datetime) -> int | None:
        """The new image's id; None when an image of that name and version exists already."""
        c = firmware_images.c

        def unit(connection: sa.Connection) -> int | None:
            found = connection.execute(
                sa.select(c.id).where(c.name == image.name, c.version == image.version)
            ).first()
            if found is not None:
                return None
            values = {f.name: getattr(image, f.name) for f in fields(image)}
            result = connection.execute(sa.insert(firmware_images).values(**values, uploaded_at=now))
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def image(self, image_id: int) -> ImageRecord | None:
        query = sa.select(firmware_images).where(firmware_images.c.id == image_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _record(ImageRecord, row)

    async def images(self, offset: int, limit: int) -> tuple[list[ImageRecord], int]:
        query = sa.select(firmware_images).order_by(firmware_images.c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(firmware_images)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_record(ImageRecord, r) for r in rows], total

    async def delete_image(self, image_id: int) -> str:
        """``deleted``, ``unknown``, or ``in_use`` (an active campaign rolls it out)."""
        k = firmware_campaigns.c

        def unit(connection: sa.Connection) -> str:
            used = connection.execute(
                sa.select(k.id).where(k.firmware_id == image_id, k.state.in_(ACTIVE))
            ).first()
            if used is not None:
                return "in_use"
            connection.execute(
                sa.delete(firmware_downloads).where(firmware_downloads.c.firmware_id == image_id)
            )
            gone = connection.execute(sa.delete(firmware_images).where(firmware_images.c.id == image_id))
            return "deleted" if gone.rowcount == 1 else "unknown"

        return await self.committer.run(unit)

    # -- download tokens ------------------------------------------------------------------------------------

    async def add_download(
        self, token_hash: str, image_id: int, station_id: str, expires_at: datetime
    ) -> None:
        await self.committer.run(
            execute(
                sa.insert(firmware_downloads).values(
                    token_hash=token_hash,
                    firmware_id=image_id,
                    station_key=station_id.casefold(),
                    expires_at=expires_at,
                    downloads=0,
                )
            )
        )

    async def claim_download(self, token_hash: str, now: datetime) -> int | str:
        """The image a download token opens (counted), or why not: ``unknown``, ``expired``."""
        d = firmware_downloads.c

        def unit(connection: sa.Connection) -> int | str:
            row = connection.execute(
                sa.select(d.id, d.firmware_id, d.expires_at).where(d.token_hash == token_hash)
            ).first()
            if row is None:
                return "unknown"
            if row.expires_at <= now:
                return "expired"
            connection.execute(
                sa.update(firmware_downloads)
                .where(d.id == row.id)
                .values(downloads=d.downloads + 1, last_download_at=now)
            )
            return int(row.firmware_id)

        return await self.committer.run(unit)

    # -- updates --------------------------------------------------------------------------------------------

    async def used_request_ids(self, station_id: str) -> set[int]:
        u, p = firmware_updates.c, firmware_publications.c
        key = station_id.casefold()
        async with self.engine.connect() as connection:
            used = set(
                (await connection.execute(sa.select(u.request_id).where(u.station_key == key))).scalars()
            )
            used |= set(
                (await connection.execute(sa.select(p.request_id).where(p.station_key == key))).scalars()
            )
        return used

    async def add_update(self, new: NewUpdate, now: datetime) -> int:
        values = {f.name: getattr(new, f.name) for f in fields(new) if f.name != "station_id"}

        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(firmware_updates).values(
                    **values,
                    station_key=new.station_id.casefold(),
                    state=REQUESTED,
                    requested_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def update_answered(self, update_id: int, station_status: str | None, now: datetime) -> None:
        """The station's answer (None: none came). AcceptedCanceled (L01.FR.24): the station cancelled the
        update going on for this one, so its other open updates are canceled."""
        u = firmware_updates.c
        if station_status is None:
            state = NO_ANSWER
        elif station_status in ("Accepted", "AcceptedCanceled"):
            state = ACCEPTED
        else:
            state = REJECTED

        def unit(connection: sa.Connection) -> None:
            row = connection.execute(sa.select(u.station_key).where(u.id == update_id)).one()
            connection.execute(
                sa.update(firmware_updates)
                .where(u.id == update_id)
                .values(station_status=station_status, updated_at=now)
            )
            # A notification may have overtaken the answer: the state moves on from requested only.
            connection.execute(
                sa.update(firmware_updates).where(u.id == update_id, u.state == REQUESTED).values(state=state)
            )
            if station_status == "AcceptedCanceled":
                connection.execute(
                    sa.update(firmware_updates)
                    .where(u.station_key == row.station_key, u.id != update_id, u.state.in_(OPEN))
                    .values(state=CANCELED, updated_at=now)
                )

        await self.committer.run(unit)

    async def firmware_status(
        self,
        station_id: str,
        message: str,
        status: str,
        request_id: int | None,
        latest_of: str | None,
        now: datetime,
    ) -> UpdateRecord | None:
        """A (Signed)FirmwareStatusNotification: the event, and the state of the update it concerns (by
        requestId; without one, as 1.6 UpdateFirmware has none: the station's latest open update of the method
        ``latest_of``; Idle without a requestId concerns none)."""
        key = station_id.casefold()
        u = firmware_updates.c

        def unit(connection: sa.Connection) -> UpdateRecord | None:
            query = sa.select(firmware_updates).where(u.station_key == key)
            if request_id is not None:
                query = query.where(u.request_id == request_id)
            elif latest_of is not None and status != "Idle":
                query = query.where(u.method == latest_of, u.state.in_(OPEN)).order_by(u.id.desc()).limit(1)
            else:
                query = query.where(sa.false())
            row = connection.execute(query).first()
            connection.execute(
                sa.insert(firmware_status_events).values(
                    station_key=key,
                    update_id=None if row is None else row.id,
                    request_id=request_id,
                    message=message,
                    status=status,
                    received_at=now,
                )
            )
            if row is None:
                return None
            connection.execute(
                sa.update(firmware_updates)
                .where(u.id == row.id)
                .values(firmware_status=status, updated_at=now)
            )
            state = _update_state(status)
            if state is not None:
                connection.execute(
                    sa.update(firmware_updates).where(u.id == row.id, u.state.in_(OPEN)).values(state=state)
                )
            return _record(
                UpdateRecord, connection.execute(sa.select(firmware_updates).where(u.id == row.id)).one()
            )

        return await self.committer.run(unit)

    async def updates(self, station_id: str, offset: int, limit: int) -> tuple[list[UpdateRecord], int]:
        u = firmware_updates.c
        where = u.station_key == station_id.casefold()
        query = sa.select(firmware_updates).where(where).order_by(u.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(firmware_updates).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
            events = await self._events(connection, firmware_status_events.c.update_id, [r.id for r in rows])
        return [_record(UpdateRecord, r, events=events.get(r.id, ())) for r in rows], total

    async def update(self, update_id: int) -> UpdateRecord | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(firmware_updates).where(firmware_updates.c.id == update_id)
                )
            ).first()
            if row is None:
                return None
            events = await self._events(connection, firmware_status_events.c.update_id, [update_id])
        return _record(UpdateRecord, row, events=events.get(update_id, ()))

    async def updates_by_id(self, update_ids: list[int]) -> dict[int, UpdateRecord]:
        if not update_ids:
            return {}
        query = sa.select(firmware_updates).where(firmware_updates.c.id.in_(update_ids))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {r.id: _record(UpdateRecord, r) for r in rows}

    async def unmatched_events(self, station_id: str, limit: int) -> list[StatusEvent]:
        """The station's status notifications that concern no update of this CSMS (Idle, ...), newest first."""
        e = firmware_status_events.c
        query = (
            sa.select(e.message, e.status, e.request_id, e.detail, e.received_at)
            .where(e.station_key == station_id.casefold(), e.update_id.is_(None), e.publication_id.is_(None))
            .order_by(e.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_record(StatusEvent, r) for r in rows]

    @staticmethod
    async def _events(
        connection: AsyncConnection, column: sa.Column[Any], ids: list[int]
    ) -> dict[int, tuple[StatusEvent, ...]]:
        if not ids:
            return {}
        e = firmware_status_events.c
        query = (
            sa.select(column.label("owner"), e.message, e.status, e.request_id, e.detail, e.received_at)
            .where(column.in_(ids))
            .order_by(e.id)
        )
        found: dict[int, list[StatusEvent]] = {}
        for row in (await connection.execute(query)).all():
            found.setdefault(row.owner, []).append(_record(StatusEvent, row))
        return {key: tuple(value) for key, value in found.items()}

    # -- publications (L03, L04) ----------------------------------------------------------------------------

    async def add_publication(
        self, station_id: str, request_id: int, image_id: int, checksum: str, now: datetime
    ) -> int:
        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(firmware_publications).values(
                    station_key=station_id.casefold(),
                    request_id=request_id,
                    firmware_id=image_id,
                    checksum=checksum,
                    state=REQUESTED,
                    requested_at=now,
                    updated_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def publication_answered(
        self, publication_id: int, station_status: str | None, now: datetime
    ) -> None:
        p = firmware_publications.c
        state = (
            NO_ANSWER if station_status is None else ACCEPTED if station_status == "Accepted" else REJECTED
        )
        await self.committer.run(
            execute(
                sa.update(firmware_publications)
                .where(p.id == publication_id)
                .values(
                    station_status=station_status,
                    updated_at=now,
                    state=sa.case((p.state == REQUESTED, state), else_=p.state),
                )
            )
        )

    async def publish_status(
        self, station_id: str, status: str, request_id: int | None, locations: str | None, now: datetime
    ) -> PublicationRecord | None:
        """A PublishFirmwareStatusNotification: the event, and the publication it concerns (by requestId)."""
        key = station_id.casefold()
        p = firmware_publications.c

        def unit(connection: sa.Connection) -> PublicationRecord | None:
            row = None
            if request_id is not None:
                row = connection.execute(
                    sa.select(p.id).where(p.station_key == key, p.request_id == request_id)
                ).first()
            connection.execute(
                sa.insert(firmware_status_events).values(
                    station_key=key,
                    publication_id=None if row is None else row.id,
                    request_id=request_id,
                    message="PublishFirmwareStatusNotification",
                    status=status,
                    detail=locations,
                    received_at=now,
                )
            )
            if row is None:
                return None
            values: dict[str, Any] = {"publish_status": status, "updated_at": now}
            if status == "Published":
                values |= {"state": PUBLISHED, "locations": locations}
            elif status in PUBLISH_FAILURES:
                values["state"] = FAILED
            connection.execute(sa.update(firmware_publications).where(p.id == row.id).values(**values))
            return _record(
                PublicationRecord,
                connection.execute(sa.select(firmware_publications).where(p.id == row.id)).one(),
            )

        return await self.committer.run(unit)

    async def unpublished(self, station_id: str, checksum: str, status: str, now: datetime) -> None:
        """UnpublishFirmware's answer: Unpublished ends the station's publications of that checksum."""
        p = firmware_publications.c
        where = (p.station_key == station_id.casefold(), p.checksum == checksum)
        values: dict[str, Any] = {"unpublish_status": status, "updated_at": now}
        if status == "Unpublished":
            values["state"] = UNPUBLISHED
        await self.committer.run(execute(sa.update(firmware_publications).where(*where).values(**values)))

    async def publications(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[PublicationRecord], int]:
        p = firmware_publications.c
        where = p.station_key == station_id.casefold()
        query = (
            sa.select(firmware_publications).where(where).order_by(p.id.desc()).offset(offset).limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(firmware_publications).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
            events = await self._events(
                connection, firmware_status_events.c.publication_id, [r.id for r in rows]
            )
        return [_record(PublicationRecord, r, events=events.get(r.id, ())) for r in rows], total

    async def publication(self, publication_id: int) -> PublicationRecord | None:
        p = firmware_publications.c
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(firmware_publications).where(p.id == publication_id))
            ).first()
            if row is None:
                return None
            events = await self._events(connection, firmware_status_events.c.publication_id, [publication_id])
        return _record(PublicationRecord, row, events=events.get(publication_id, ()))

    # -- campaigns ------------------------------------------------------------------------------------------

    async def add_campaign(self, new: NewCampaign, station_ids: list[str], now: datetime) -> int:
        values = {f.name: getattr(new, f.name) for f in fields(new)}

        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(firmware_campaigns).values(
                    **values, state=RUNNING, batches_started=0, created_at=now, updated_at=now
                )
            )
            assert result.inserted_primary_key is not None
            campaign_id = int(result.inserted_primary_key[0])
            connection.execute(
                sa.insert(firmware_campaign_stations),
                [
                    {"campaign_id": campaign_id, "station_id": s, "position": n, "state": PENDING}
                    for n, s in enumerate(station_ids)
                ],
            )
            return campaign_id

        return await self.committer.run(unit)

    async def campaign(self, campaign_id: int) -> CampaignRecord | None:
        k, s = firmware_campaigns.c, firmware_campaign_stations.c
        async with self.engine.connect() as connection:
            row = (await connection.execute(sa.select(firmware_campaigns).where(k.id == campaign_id))).first()
            if row is None:
                return None
            members = (
                await connection.execute(
                    sa.select(firmware_campaign_stations)
                    .where(s.campaign_id == campaign_id)
                    .order_by(s.position)
                )
            ).all()
        return _record(CampaignRecord, row, stations=tuple(_record(CampaignStation, m) for m in members))

    async def campaigns(self, offset: int, limit: int) -> tuple[list[CampaignRecord], int]:
        k = firmware_campaigns.c
        query = sa.select(firmware_campaigns).order_by(k.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(firmware_campaigns)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_record(CampaignRecord, r) for r in rows], total

    async def active_campaigns(self) -> list[int]:
        k = firmware_campaigns.c
        query = sa.select(k.id).where(k.state.in_(ACTIVE)).order_by(k.id)
        async with self.engine.connect() as connection:
            return [int(i) for i in (await connection.execute(query)).scalars()]

    async def set_campaign_state(
        self,
        campaign_id: int,
        state: str,
        now: datetime,
        *,
        only_from: tuple[str, ...],
        reason: str | None = None,
    ) -> bool:
        """Move the campaign to ``state`` if it is in one of ``only_from``; an end skips the stations whose
        turn has not come or that wait for it."""
        k, s = firmware_campaigns.c, firmware_campaign_stations.c
        finished = now if state in (COMPLETED, ABORTED) else None

        def unit(connection: sa.Connection) -> bool:
            moved = connection.execute(
                sa.update(firmware_campaigns)
                .where(k.id == campaign_id, k.state.in_(only_from))
                .values(state=state, updated_at=now, finished_at=finished, reason=reason)
            ).rowcount
            if moved == 1 and finished is not None:
                connection.execute(
                    sa.update(firmware_campaign_stations)
                    .where(s.campaign_id == campaign_id, s.state.in_((PENDING, WAITING)))
                    .values(state=SKIPPED, finished_at=now, detail=reason)
                )
            return moved == 1

        return await self.committer.run(unit)

    async def start_batch(self, campaign_id: int, member_ids: list[int], batch: int, now: datetime) -> None:
        k, s = firmware_campaigns.c, firmware_campaign_stations.c

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.update(firmware_campaign_stations)
                .where(s.id.in_(member_ids), s.state == PENDING)
                .values(state=WAITING, batch=batch, turn_at=now)
            )
            connection.execute(
                sa.update(firmware_campaigns)
                .where(k.id == campaign_id)
                .values(batches_started=batch, updated_at=now)
            )

        await self.committer.run(unit)

    async def set_member(
        self,
        member_id: int,
        state: str,
        now: datetime,
        *,
        update_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        s = firmware_campaign_stations.c
        values: dict[str, Any] = {"state": state}
        if update_id is not None:
            values["update_id"] = update_id
        if detail is not None:
            values["detail"] = detail[:255]
        if state in (INSTALLED, FAILED, SKIPPED):
            values["finished_at"] = now
        await self.committer.run(
            execute(sa.update(firmware_campaign_stations).where(s.id == member_id).values(**values))
        )
