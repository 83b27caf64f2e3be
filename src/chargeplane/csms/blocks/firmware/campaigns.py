"""Rollout campaigns: one firmware image to a list of stations, a batch at a time.

Theory of operation
-------------------
A campaign is a row and one row per station (its position, batch, state); everything the job decides is read
back from the database, so a restarted CSMS carries on where it stopped. The job (:meth:`CampaignService.tick`,
every ``campaign_interval`` seconds; tests call it with a :class:`~chargeplane.csms.clock.ManualClock`) makes
one pass over the running and paused campaigns:

1. Each station in a started batch that has its update is looked at: the update failed (a failure status, a
   refusal, no answer, cancelled) -> ``failed``; Installed seen *and* the station booted since the update was
   sent with the image's version (the provisioning block's record of its BootNotification) -> ``installed``;
   no outcome ``station_timeout`` seconds after its turn came -> ``failed`` (timeout).
2. (running only) Each station whose turn came but that has no update yet gets it if it is connected; one that
   is offline waits, and fails when its timeout passes.
3. When at least ``min_finished`` stations finished and the share of failures among them passes
   ``failure_threshold`` percent, the campaign is aborted: the stations whose turn has not come are skipped.
4. (running only) When no station of the started batches is waiting or updating: with none left the campaign
   is completed, else the next batch starts (``batch_size`` stations, or ``batch_percent`` of the campaign's
   stations rounded up) if the time is inside a maintenance window (daily UTC ranges; none: any time).

Pause stops new batches and new updates (the updates under way are still followed); resume lets them go on;
abort ends the campaign. Each change is published on the event bus (``firmware.campaign.*``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import msgspec

from chargeplane.csms.blocks.firmware.repository import (
    ABORTED,
    ACCEPTED,
    ACTIVE,
    COMPLETED,
    FAILED,
    INSTALLED,
    OPEN,
    PAUSED,
    PENDING,
    RUNNING,
    UPDATING,
    WAITING,
    CampaignStation,
    FirmwareRepository,
    ImageRecord,
    NewCampaign,
)
from chargeplane.csms.blocks.firmware.repository import (  # re-exported: what progress() returns
    CampaignRecord as CampaignRecord,
)
from chargeplane.csms.blocks.firmware.repository import (
    UpdateRecord as UpdateRecord,
)
from chargeplane.csms.blocks.firmware.service import FirmwareService, UpdateOptions
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Busy, Conflict, Invalid, NotFound, UnknownStation, Unsendable
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

SEND_CONCURRENCY = 20  # updates sent at once within a batch


class UnknownCampaign(NotFound):
    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"no firmware campaign {campaign_id}")


@dataclass(frozen=True, slots=True)
class Window:
    """A daily UTC time range [start, end); an end before the start runs past midnight."""

    start: time
    end: time

    def contains(self, moment: datetime) -> bool:
        now = moment.timetz().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    image_id: int
    station_ids: Sequence[str] = ()
    group: str | None = None  # or every station of a group (its members when the campaign is created)
    batch_size: int | None = None
    batch_percent: float | None = None
    failure_threshold: float = 20.0  # percent of the finished stations
    min_finished: int = 1
    station_timeout: float = 3600.0
    windows: Sequence[Window] = ()
    retries: int | None = None
    retry_interval: int | None = None
    v16_signed: bool = False


def windows_of(text: str) -> list[Window]:
    return [Window(time.fromisoformat(a), time.fromisoformat(b)) for a, b in msgspec.json.decode(text)]


def in_window(windows: Sequence[Window], moment: datetime) -> bool:
    return not windows or any(w.contains(moment) for w in windows)


def batch_length(campaign: CampaignRecord) -> int:
    if campaign.batch_size is not None:
        return campaign.batch_size
    assert campaign.batch_percent is not None
    return max(1, math.ceil(len(campaign.stations) * campaign.batch_percent / 100))


def _update_outcome(
    update: UpdateRecord, image: ImageRecord, version: str | None, booted: datetime | None
) -> tuple[str, str | None] | None:
    """What an update means for its campaign station: (installed | failed, detail), or None: not yet."""
    if update.state == INSTALLED:
        if version == image.version and booted is not None and booted >= update.requested_at:
            return INSTALLED, None
        return None  # Installed, waiting for the boot with the new version
    if update.state in OPEN:
        return None
    detail = update.firmware_status if update.state == FAILED else update.station_status or update.state
    return FAILED, f"{update.state}: {detail}"


class CampaignService:
    def __init__(
        self,
        repository: FirmwareRepository,
        firmware: FirmwareService,
        groups: StationGroupService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.firmware = firmware
        self.groups = groups
        self.events = events
        self.clock = clock
        self._lock = asyncio.Lock()  # one pass at a time (the job, and the API's nudges)

    # -- the operator's side --------------------------------------------------------------------------------

    async def create(self, spec: CampaignSpec) -> CampaignRecord:
        """A new running campaign; its first batch starts at the next pass. Raises :class:`Invalid` (an empty
        or repeated station list, both or neither of a list and a group, a batch both or neither by size and
        percent), :class:`UnknownStation`, ``UnknownGroup``,
        ``UnknownImage``."""
        if (spec.group is None) == (not spec.station_ids):
            raise Invalid("give exactly one of stationIds and group")
        station_ids = spec.station_ids if spec.group is None else await self.groups.members(spec.group)
        if not station_ids:
            raise Invalid(f"group {spec.group} has no stations")
        if (spec.batch_size is None) == (spec.batch_percent is None):
            raise Invalid("give exactly one of batchSize and batchPercent")
        if any(w.start == w.end for w in spec.windows):
            raise Invalid("a maintenance window needs an end other than its start")
        await self.firmware.image(spec.image_id)
        names: list[str] = []
        for station_id in station_ids:
            record = await self.firmware.commands.stations.get_station(station_id)
            if record is None:
                raise UnknownStation(station_id)
            if record.station_id in names:
                raise Invalid(f"station {record.station_id} is listed twice")
            names.append(record.station_id)
        windows = msgspec.json.encode(
            [[w.start.isoformat("minutes"), w.end.isoformat("minutes")] for w in spec.windows]
        )
        new = NewCampaign(
            name=spec.name,
            firmware_id=spec.image_id,
            batch_size=spec.batch_size,
            batch_percent=spec.batch_percent,
            failure_threshold=spec.failure_threshold,
            min_finished=spec.min_finished,
            station_timeout=spec.station_timeout,
            windows=windows.decode(),
            retries=spec.retries,
            retry_interval=spec.retry_interval,
            v16_signed=spec.v16_signed,
        )
        campaign_id = await self.repository.add_campaign(new, names, self.clock.now())
        self._publish("firmware.campaign.created", campaign_id, {"stations": len(names)})
        return await self.campaign(campaign_id)

    async def campaign(self, campaign_id: int) -> CampaignRecord:
        record = await self.repository.campaign(campaign_id)
        if record is None:
            raise UnknownCampaign(campaign_id)
        return record

    async def progress(self, campaign_id: int) -> tuple[CampaignRecord, dict[int, UpdateRecord]]:
        """The campaign with the updates its stations got (their status notifications come in between the
        job's passes)."""
        record = await self.campaign(campaign_id)
        ids = [m.update_id for m in record.stations if m.update_id is not None]
        return record, await self.repository.updates_by_id(ids)

    async def campaigns(self, offset: int, limit: int) -> tuple[list[CampaignRecord], int]:
        return await self.repository.campaigns(offset, limit)

    async def pause(self, campaign_id: int) -> CampaignRecord:
        return await self._move(campaign_id, PAUSED, (RUNNING,), "firmware.campaign.paused")

    async def resume(self, campaign_id: int) -> CampaignRecord:
        return await self._move(campaign_id, RUNNING, (PAUSED,), "firmware.campaign.resumed")

    async def abort(self, campaign_id: int, reason: str = "aborted by the operator") -> CampaignRecord:
        return await self._move(campaign_id, ABORTED, ACTIVE, "firmware.campaign.aborted", reason)

    async def _move(
        self, campaign_id: int, state: str, only_from: tuple[str, ...], kind: str, reason: str | None = None
    ) -> CampaignRecord:
        current = await self.campaign(campaign_id)
        if not await self.repository.set_campaign_state(
            campaign_id, state, self.clock.now(), only_from=only_from, reason=reason
        ):
            raise Conflict(f"campaign {campaign_id} is {current.state}: it cannot become {state}")
        self._publish(kind, campaign_id, {"reason": reason} if reason else {})
        return await self.campaign(campaign_id)

    # -- the job --------------------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """One pass over the active campaigns (see the module's description)."""
        async with self._lock:
            for campaign_id in await self.repository.active_campaigns():
                try:
                    await self._advance(campaign_id, now)
                except Exception:
                    log.exception("firmware campaign %s: the pass failed", campaign_id)

    async def _advance(self, campaign_id: int, now: datetime) -> None:
        campaign = await self.campaign(campaign_id)
        image = await self.repository.image(campaign.firmware_id)
        if image is None:  # deleting an image an active campaign uses is refused; a safeguard
            await self._end(campaign, ABORTED, now, "the firmware image is gone")
            return
        timeout = timedelta(seconds=campaign.station_timeout)
        updating = [m for m in campaign.stations if m.state == UPDATING]
        updates = await self.repository.updates_by_id(
            [m.update_id for m in updating if m.update_id is not None]
        )
        for member in updating:
            update = updates.get(member.update_id) if member.update_id is not None else None
            outcome = None
            if update is not None:
                station = await self.firmware.commands.stations.get_station(member.station_id)
                version = None if station is None else station.firmware_version
                booted = None if station is None else station.last_boot_at
                outcome = _update_outcome(update, image, version, booted)
            if outcome is None and member.turn_at is not None and now - member.turn_at >= timeout:
                outcome = (FAILED, "timeout")
            if outcome is not None:
                await self._finish(campaign, member, outcome[0], outcome[1], now)
        if campaign.state == RUNNING:
            waiting = [m for m in campaign.stations if m.state == WAITING]
            await self._send(campaign, image, waiting, now)
        campaign = await self.campaign(campaign_id)
        if await self._over_threshold(campaign, now):
            return
        if campaign.state != RUNNING or any(m.state in (WAITING, UPDATING) for m in campaign.stations):
            return
        pending = [m for m in campaign.stations if m.state == PENDING]
        if not pending:
            await self._end(campaign, COMPLETED, now, None)
            return
        if not in_window(windows_of(campaign.windows), now):
            return
        batch = pending[: batch_length(campaign)]
        number = campaign.batches_started + 1
        await self.repository.start_batch(campaign_id, [m.id for m in batch], number, now)
        self._publish(
            "firmware.campaign.batch_started",
            campaign_id,
            {"batch": number, "stations": [m.station_id for m in batch]},
        )
        campaign = await self.campaign(campaign_id)
        started = [m for m in campaign.stations if m.batch == number and m.state == WAITING]
        await self._send(campaign, image, started, now)

    async def _send(
        self, campaign: CampaignRecord, image: ImageRecord, members: list[CampaignStation], now: datetime
    ) -> None:
        """Send the update to each waiting station that is connected; an offline one waits (until its timeout)."""
        timeout = timedelta(seconds=campaign.station_timeout)
        limit = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one(member: CampaignStation) -> None:
            if self.firmware.online(member.station_id) is None:
                if member.turn_at is not None and now - member.turn_at >= timeout:
                    await self._finish(campaign, member, FAILED, "timeout: offline", now)
                return
            options = UpdateOptions(
                image_id=image.id,
                retries=campaign.retries,
                retry_interval=campaign.retry_interval,
                v16_signed=campaign.v16_signed,
                campaign_id=campaign.id,
            )
            async with limit:
                try:
                    update = await self.firmware.update_firmware(member.station_id, options)
                except (StationOffline, CallTimeout, ConnectionLost, Busy):
                    return  # tried again at the next pass, until the station's timeout
                except CallFailed as error:
                    await self._finish(campaign, member, FAILED, f"CALLERROR {error.error.code}", now)
                    return
                except (NotFound, Conflict, Unsendable) as error:  # deleted, Rejected (B03.FR.03), ...
                    await self._finish(campaign, member, FAILED, str(error), now)
                    return
            if update.state in (ACCEPTED, INSTALLED):
                await self.repository.set_member(member.id, UPDATING, now, update_id=update.id)
                self._publish_member(campaign.id, member.station_id, UPDATING, None)
            else:
                await self._finish(
                    campaign, member, FAILED, f"{update.state}: {update.station_status}", now, update.id
                )

        await asyncio.gather(*(one(m) for m in members))

    async def _finish(
        self,
        campaign: CampaignRecord,
        member: CampaignStation,
        state: str,
        detail: str | None,
        now: datetime,
        update_id: int | None = None,
    ) -> None:
        await self.repository.set_member(member.id, state, now, update_id=update_id, detail=detail)
        self._publish_member(campaign.id, member.station_id, state, detail)

    async def _over_threshold(self, campaign: CampaignRecord, now: datetime) -> bool:
        """Abort the campaign when its failure rate passed the threshold (step 3)."""
        failed = sum(1 for m in campaign.stations if m.state == FAILED)
        finished = failed + sum(1 for m in campaign.stations if m.state == INSTALLED)
        if finished < max(1, campaign.min_finished) or failed * 100 <= campaign.failure_threshold * finished:
            return False
        reason = (
            f"failure rate {failed}/{finished} ({failed * 100 / finished:.0f} %) passed "
            f"the threshold of {campaign.failure_threshold:g} %"
        )
        await self._end(campaign, ABORTED, now, reason)
        return True

    async def _end(self, campaign: CampaignRecord, state: str, now: datetime, reason: str | None) -> None:
        if await self.repository.set_campaign_state(campaign.id, state, now, only_from=ACTIVE, reason=reason):
            final = await self.campaign(campaign.id)
            self._publish(f"firmware.campaign.{state}", campaign.id, {"reason": reason, **counts(final)})

    # -- events ---------------------------------------------------------------------------------------------

    def _publish(self, kind: str, campaign_id: int, data: dict[str, object]) -> None:
        self.events.publish(StationEvent(kind, "", {"campaignId": campaign_id, **data}))

    def _publish_member(self, campaign_id: int, station_id: str, state: str, detail: str | None) -> None:
        data = {"campaignId": campaign_id, "state": state, "detail": detail}
        self.events.publish(StationEvent("firmware.campaign.station", station_id, data))


def counts(campaign: CampaignRecord) -> dict[str, int]:
    """How many stations are in each state (every state named, 0 included)."""
    found = {state: 0 for state in (PENDING, WAITING, UPDATING, INSTALLED, FAILED, "skipped")}
    for member in campaign.stations:
        found[member.state] = found.get(member.state, 0) + 1
    return found
