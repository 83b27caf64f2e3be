"""Station groups: named sets of stations that other blocks target (firmware campaigns, desired configuration,
later smart-charging sites). A station may be in several groups; a group's ``priority`` settles what two of a
station's groups ask differently (the higher wins; equal priorities: the name that sorts first)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from chargeplane.csms.blocks.groups.repository import GroupRecord, GroupRepository, MemberRecord
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, NotFound, UnknownStation

log = logging.getLogger(__name__)


class UnknownGroup(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"no group {name}")
        self.name = name


class GroupExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"group {name} exists")


@dataclass(frozen=True, slots=True)
class GroupChange:
    """What changed: ``joined`` / ``left`` (one station), ``deleted`` (the group and the members it had),
    ``reprioritised`` (a new priority; every member)."""

    kind: str
    group: str
    station_ids: tuple[str, ...]


GroupListener = Callable[[GroupChange], Awaitable[None]]


class StationGroupService:
    def __init__(self, repository: GroupRepository, stations: ProvisioningService, clock: Clock) -> None:
        self.repository = repository
        self.stations = stations
        self.clock = clock
        self._listeners: list[GroupListener] = []

    def add_listener(self, listener: GroupListener) -> None:
        """Let a later block act on membership changes and deleted groups."""
        self._listeners.append(listener)

    async def _changed(self, change: GroupChange) -> None:
        for listener in self._listeners:
            try:
                await listener(change)
            except Exception:  # the operator's change is made; a listener's failure is its own
                log.exception("group listener failed on %s", change)

    # -- groups ---------------------------------------------------------------------------------------------

    async def create(self, name: str, description: str | None = None, priority: int = 0) -> GroupRecord:
        if not await self.repository.create(name, description, priority, self.clock.now()):
            raise GroupExists(name)
        return await self.get(name)

    async def get(self, name: str) -> GroupRecord:
        record = await self.repository.get(name)
        if record is None:
            raise UnknownGroup(name)
        return record

    async def list_groups(self, offset: int, limit: int) -> tuple[list[GroupRecord], int]:
        return await self.repository.list_groups(offset, limit)

    async def update(self, name: str, values: dict[str, object]) -> GroupRecord:
        if values and not await self.repository.update(name, values):
            raise UnknownGroup(name)
        record = await self.get(name)
        if "priority" in values:  # who wins a conflict may have changed
            await self._changed(GroupChange("reprioritised", record.name, tuple(await self.members(name))))
        return record

    async def delete(self, name: str) -> None:
        record = await self.get(name)
        members = await self.repository.delete(name)
        if members is None:
            raise UnknownGroup(name)
        await self._changed(GroupChange("deleted", record.name, tuple(members)))

    # -- members --------------------------------------------------------------------------------------------

    async def add_member(self, name: str, station_id: str) -> bool:
        """Add a registered station (404 otherwise); False when it was a member already."""
        station = await self.stations.get_station(station_id)
        if station is None:
            raise UnknownStation(station_id)
        added = await self.repository.add_member(name, station.station_id, self.clock.now())
        if added is None:
            raise UnknownGroup(name)
        if added:
            await self._changed(GroupChange("joined", (await self.get(name)).name, (station.station_id,)))
        return added

    async def remove_member(self, name: str, station_id: str) -> None:
        removed = await self.repository.remove_member(name, station_id)
        if removed is None:
            raise UnknownGroup(name)
        if not removed:
            raise NotFound(f"{station_id} is not in group {name}")
        await self._changed(GroupChange("left", (await self.get(name)).name, (station_id,)))

    async def members(self, name: str) -> list[str]:
        """The station ids of a group (as registered), in id order; raises :class:`UnknownGroup`."""
        await self.get(name)
        records, _ = await self.repository.members(name)
        return [r.station_id for r in records]

    async def member_page(self, name: str, offset: int, limit: int) -> tuple[list[MemberRecord], int]:
        await self.get(name)
        return await self.repository.members(name, offset, limit)

    async def groups_of(self, station_id: str) -> list[GroupRecord]:
        """A station's groups, highest priority first (then by name): the order that settles conflicts."""
        return await self.repository.groups_of(station_id)

    async def group_names_of(self, station_ids: Sequence[str]) -> dict[str, list[str]]:
        """The names of each station's groups in :meth:`groups_of`'s order, for many stations in one read, by
        casefolded station id (a station in no group: an empty list)."""
        found = await self.repository.groups_of_many(station_ids)
        return {key: [group.name for group in groups] for key, groups in found.items()}
