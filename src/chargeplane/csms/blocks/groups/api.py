"""HTTP routes of station groups: create, list, change and delete groups; add and remove members; a station's
groups. Everything but reading needs an admin token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged
from chargeplane.csms.blocks.groups.repository import GroupRecord
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.blocks.provisioning.api import KnownStation

GroupName = Annotated[str, msgspec.Meta(pattern=r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")]
Priority = Annotated[int, msgspec.Meta(ge=-1000, le=1000)]
Description = Annotated[str, msgspec.Meta(max_length=500)]


class GroupIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    name: GroupName
    description: Description | None = None
    priority: Priority = 0  # the higher wins when two groups of a station ask differently


class GroupPatch(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    description: Description | None = None
    priority: Priority | None = None


class GroupOut(msgspec.Struct, rename="camel"):
    name: str
    description: str | None
    priority: int
    members: int
    created_at: datetime


class MemberOut(msgspec.Struct, rename="camel"):
    station_id: str
    added_at: datetime


class MembershipOut(msgspec.Struct, rename="camel"):
    group: str
    station_id: str
    added: bool  # False: it was a member already


def _out(record: GroupRecord) -> GroupOut:
    return GroupOut(record.name, record.description, record.priority, record.members, record.created_at)


def routes(service: StationGroupService) -> list[Any]:
    @post(
        "/groups",
        status_code=HTTP_201_CREATED,
        summary="Create a station group",
        responses=error_responses(HTTP_409_CONFLICT),
    )
    async def create_group(data: JSONBody[GroupIn]) -> GroupOut:
        """Names are unique whatever their case; 409 if the name is taken."""
        return _out(await service.create(data.name, data.description, data.priority))

    @get("/groups", summary="List station groups")
    async def list_groups(offset: Offset = 0, limit: Limit = 100) -> Page[GroupOut]:
        """Groups by name, with their member counts."""
        return paged(_out, await service.list_groups(offset, limit), offset, limit)

    @get_or_404("/groups/{name:str}", summary="One station group")
    async def get_group(name: FromPath[str]) -> GroupOut:
        """404 when there is no such group."""
        return _out(await service.get(name))

    @patch("/groups/{name:str}", summary="Change a group", responses=error_responses(HTTP_404_NOT_FOUND))
    async def update_group(name: FromPath[str], data: JSONBody[GroupPatch]) -> GroupOut:
        """Absent fields are kept."""
        values: dict[str, object] = {}
        if data.description is not None:
            values["description"] = data.description
        if data.priority is not None:
            values["priority"] = data.priority
        return _out(await service.update(name, values))

    @delete(
        "/groups/{name:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a group",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def delete_group(name: FromPath[str]) -> None:
        """The stations stay; what the group asked of them (desired configuration) goes with it."""
        await service.delete(name)

    @get_or_404("/groups/{name:str}/members", summary="The stations of a group")
    async def list_members(name: FromPath[str], offset: Offset = 0, limit: Limit = 100) -> Page[MemberOut]:
        """In station id order."""
        found = await service.member_page(name, offset, limit)
        return paged(lambda r: MemberOut(r.station_id, r.added_at), found, offset, limit)

    @put(
        "/groups/{name:str}/members/{station_id:str}",
        summary="Add a station to a group",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def add_member(name: FromPath[str], known_station: KnownStation) -> MembershipOut:
        """Idempotent: ``added`` is false when the station was a member already; 404 for an unknown group or
        station."""
        added = await service.add_member(name, known_station.station_id)
        return MembershipOut((await service.get(name)).name, known_station.station_id, added)

    @delete(
        "/groups/{name:str}/members/{station_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a station from a group",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def remove_member(name: FromPath[str], station_id: FromPath[str]) -> None:
        """404 when there is no such group or the station is not in it."""
        await service.remove_member(name, station_id)

    @get_or_404("/stations/{station_id:str}/groups", summary="The groups of a station")
    async def station_groups(known_station: KnownStation) -> list[GroupOut]:
        """Highest priority first, then by name: the order that settles conflicts between them."""
        return [_out(r) for r in await service.groups_of(known_station.station_id)]

    return [
        create_group,
        list_groups,
        get_group,
        update_group,
        delete_group,
        list_members,
        add_member,
        remove_member,
        station_groups,
    ]
