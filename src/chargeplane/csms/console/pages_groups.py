"""The console's station group page (the groups block): the groups with their members, and for operators a
group created, a station added or removed. Firmware campaigns target these groups. Input is checked with the
HTTP API's own ``GroupIn`` so that the console and the API accept the same names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post

from chargeplane.csms.blocks.groups.api import GroupIn
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.console.forms import needs, refusal, text
from chargeplane.csms.console.users import Role, Session
from chargeplane.csms.errors import Invalid

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
GROUPS = 200  # groups one page shows, each with its members
MEMBERS = 200


class GroupPages:
    def __init__(self, console: Console, groups: StationGroupService) -> None:
        self.console = console
        self.groups = groups

    async def page(
        self, session: Session, status: int = 200, message: str | None = None, done: str | None = None
    ) -> Response[str]:
        records, total = await self.groups.list_groups(0, GROUPS)
        members = {}
        for record in records:
            found, _ = await self.groups.member_page(record.name, 0, MEMBERS)
            members[record.name] = [member.station_id for member in found]
        return self.console.render(
            "groups.html",
            status,
            session=session,
            groups=records,
            total=total,
            members=members,
            message=message,
            done=done,
        )

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/groups", include_in_schema=False)
        async def groups(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await pages.page(session)

            return await console.page(request, build)

        @post("/groups", include_in_schema=False)
        async def create_group(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "creating station groups")
            item = {
                "name": text(form.get("name"), 100) or "",
                "description": text(form.get("description"), 600),
            }
            try:
                try:
                    data = msgspec.convert(item, GroupIn)
                except msgspec.ValidationError as error:
                    raise Invalid(str(error)) from None
                created = await pages.groups.create(data.name, data.description, data.priority)
            except Exception as error:
                status, reason = refusal(error)  # 409: it exists
                return await pages.page(session, status, reason)
            return await pages.page(session, 201, done=f"Group {created.name} created.")

        @post("/groups/members", include_in_schema=False)
        async def change_members(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "changing station groups")
            name, station_id = text(form.get("group"), 100) or "", text(form.get("station_id"), 48) or ""
            removing = form.get("remove") == "1"
            try:
                if removing:
                    await pages.groups.remove_member(name, station_id)
                else:
                    await pages.groups.add_member(name, station_id)
            except Exception as error:
                status, reason = refusal(error)  # 404: no such group or station
                return await pages.page(session, status, reason)
            done = f"{station_id} {'left' if removing else 'joined'} {name}."
            return await pages.page(session, done=done)

        return [groups, create_group, change_members]
