"""The console's local authorization list pages (D01, D02): per station the list the station last accepted
(version, entries) and, for operators, a Full or Differential update sent through the authorization block's
:class:`LocalListService` (the same call as ``POST /api/v1/stations/{id}/local-list``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from chargeplane.csms.blocks.authorization.local_list import LocalListService, SyncResult
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.console.forms import needs, offset, refusal
from chargeplane.csms.console.users import Role, Session
from chargeplane.csms.errors import UnknownStation

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
PAGE = 50


class LocalListPages:
    def __init__(self, console: Console, stations: ProvisioningService, lists: LocalListService) -> None:
        self.console = console
        self.stations = stations
        self.lists = lists

    async def station_page(
        self,
        session: Session,
        station_id: str,
        status: int = 200,
        message: str | None = None,
        result: SyncResult | None = None,
    ) -> Response[str]:
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        summary = await self.lists.summary(record.station_id)
        return self.console.render(
            "local_list.html",
            status,
            session=session,
            station=record,
            summary=summary,
            entries=await self.lists.entries(record.station_id),
            message=message,
            result=result,
        )

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/local-lists", include_in_schema=False)
        async def local_lists(request: AnyRequest) -> Response[Any]:
            at = offset(request.query_params.get("offset"))

            async def build(session: Session) -> Response[Any]:
                records, total = await pages.stations.list_stations(at, PAGE)
                rows = [(record, await pages.lists.summary(record.station_id)) for record in records]
                return console.render(
                    "local_lists.html", session=session, rows=rows, total=total, offset=at, page=PAGE
                )

            return await console.page(request, build)

        @get("/stations/{station_id:str}/local-list", include_in_schema=False)
        async def local_list(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await pages.station_page(session, station_id)

            return await console.page(request, build)

        @post("/stations/{station_id:str}/local-list", include_in_schema=False)
        async def send_local_list(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "sending local lists")
            full = form.get("update") == "Full"

            async def build(session: Session) -> Response[Any]:
                try:
                    result = await pages.lists.sync_local_list(station_id, full)
                except Exception as error:
                    status, reason = refusal(error)  # offline: 409, as the API answers
                    return await pages.station_page(session, station_id, status, reason)
                return await pages.station_page(session, station_id, result=result)

            return await console.page(request, build)

        return [local_lists, local_list, send_local_list]
