"""The station's command page: the generated command panel (:mod:`.command_panel`), the station's command log
(who sent what, when, and the answer) and the live message trace (:mod:`.trace`).

Routes (all behind a session; the POST behind the CSRF token and the operator role, checked here):

* ``GET /stations/{id}/panel?action=X``: the page, with X's form open;
* ``GET /fragments/stations/{id}/panel/{action}``: X's form alone (the page swaps it in);
* ``POST /stations/{id}/panel/{action}``: send; 200 with the station's answer, 400 with the form's mistakes
  next to their fields, 403, 404, or what the API answers for the station's refusal (409 offline, 502
  CALLERROR, 504 timeout...). A request with ``X-Fragment: 1`` gets the form alone, else the whole page;
* ``GET /fragments/stations/{id}/command-log``: the command log's live part;
* ``GET /console/trace/{id}?action=&direction=``: the trace as server-sent events ``frame``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_403_FORBIDDEN, HTTP_404_NOT_FOUND

from chargeplane.csms.api.errors import http_error
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.console import command_panel as panel
from chargeplane.csms.console.trace import IN, KEPT, OUT, MessageTrace
from chargeplane.csms.console.users import Session
from chargeplane.csms.errors import UnknownStation
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.versions import Version

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
LOG_ROWS = 50


def _indices(node: panel.FieldNode, value: object) -> list[int]:
    """The items an array shows: those the form had, else as many as it needs at least."""
    if isinstance(value, dict):
        return sorted(int(key) for key in value if isinstance(key, str) and key.isdigit())
    return list(range(max(node.min_items, 1 if node.required else 0)))


class PanelPages:
    def __init__(self, console: Console, commands: CommandService, trace: MessageTrace) -> None:
        self.console = console
        self.commands = commands
        self.trace = trace
        console.templates.globals["panel_indices"] = _indices

    async def _station(self, station_id: str) -> tuple[Any, Version, bool]:
        """The station's record, the version its panel speaks (the live connection's, else the last one it
        spoke) and whether it is connected here."""
        record = await self.console.views.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        live = self.commands.version_of(record.station_id)
        if live is not None:
            return record, live, True
        return record, Version(record.ocpp_version) if record.ocpp_version else Version.V201, False

    async def _log(self, station_id: str) -> dict[str, Any]:
        commands, total = await self.commands.command_log(
            station_id=station_id, action=None, offset=0, limit=LOG_ROWS
        )
        return {"commands": commands, "total": total}

    def _form(
        self,
        session: Session,
        station_id: str,
        version: Version,
        action: str | None,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        result: panel.PanelResult | None = None,
    ) -> dict[str, Any]:
        form = panel.request_form(version, action) if action else None
        if action and form is None:
            raise HTTPException(
                status_code=HTTP_404_NOT_FOUND, detail=f"OCPP {version.value} has no CSMS action {action}"
            )
        return {
            "station_id": station_id,
            "ocpp_version": version.value,
            "action": action,
            "form": form,
            "values": values or {},
            "errors": errors or {},
            "result": result,
            "csrf_token": session.csrf_token,
            "can_send": session.user.role.can_command,
        }

    async def _page(
        self,
        session: Session,
        station_id: str,
        action: str | None,
        status: int = 200,
        shown: dict[str, Any] | None = None,
    ) -> Response[str]:
        """The whole page; ``shown``: the form as a send left it (else ``action``'s empty form)."""
        record, version, online = await self._station(station_id)
        return self.console.render(
            "station_panel.html",
            status,
            session=session,
            station=record,
            online=online,
            actions=panel.csms_actions(version),
            all_actions=sorted(ActionCatalog.for_version(version).actions),
            kept=KEPT,
            **(shown or self._form(session, record.station_id, version, action)),
            **await self._log(record.station_id),
        )

    async def send(
        self, session: Session, station_id: str, action: str, form: Any
    ) -> tuple[int, dict[str, Any]]:
        """Send ``action`` from the form: (HTTP status, what the form shows)."""
        if not session.user.role.can_command:  # checked here, whatever the page showed
            raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="viewers cannot send commands")
        record, version, _ = await self._station(station_id)
        if panel.request_form(version, action) is None:
            raise HTTPException(
                status_code=HTTP_404_NOT_FOUND, detail=f"OCPP {version.value} has no CSMS action {action}"
            )
        try:  # the command log's "by whom": set by Console.checked_post for every console POST
            result, errors, values = await panel.send_form(
                self.commands, record.station_id, version, action, form
            )
        except Exception as error:
            try:
                answer = http_error(error)  # the API's one mapping: the same reasons, the same statuses
            except TypeError:
                raise error from None
            extra = answer.extra if isinstance(answer.extra, dict) else {}
            code = extra.get("code")
            message = str(extra.get("description") or answer.detail)
            result = panel.PanelResult(False, answer.status_code, action, code=code, message=message)
            values, errors = panel.nested_values(panel.form_values(form)), {}
        status = result.status if result is not None else 400
        shown = self._form(session, record.station_id, version, action, values=values, errors=errors)
        shown["result"] = result
        return status, shown

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/stations/{station_id:str}/panel", include_in_schema=False)
        async def panel_page(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            action = request.query_params.get("action") or None

            async def build(session: Session) -> Response[Any]:
                return await pages._page(session, station_id, action)

            return await console.page(request, build)

        @get("/fragments/stations/{station_id:str}/panel/{action:str}", include_in_schema=False)
        async def panel_form(
            request: AnyRequest, station_id: FromPath[str], action: FromPath[str]
        ) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                record, version, _ = await pages._station(station_id)
                return console.render(
                    "_command_form.html", **pages._form(session, record.station_id, version, action)
                )

            return await console.page(request, build)

        @post("/stations/{station_id:str}/panel/{action:str}", include_in_schema=False)
        async def panel_send(
            request: AnyRequest, station_id: FromPath[str], action: FromPath[str]
        ) -> Response[Any]:
            session, form = await console.checked_post(request)
            try:
                status, shown = await pages.send(session, station_id, action, form)
            except UnknownStation as error:
                raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail=str(error)) from None
            if request.headers.get("x-fragment") == "1":
                return console.render("_command_form.html", status, **shown)
            return await pages._page(session, station_id, action, status, shown)

        @get("/fragments/stations/{station_id:str}/command-log", include_in_schema=False)
        async def command_log(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                record, _, _ = await pages._station(station_id)
                return console.render("_command_log.html", **await pages._log(record.station_id))

            return await console.page(request, build)

        @get("/console/trace/{station_id:str}", include_in_schema=False)
        async def trace(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            if await console.session(request) is None:
                raise HTTPException(status_code=401, detail="not signed in")
            record = await console.views.stations.get_station(station_id)
            if record is None:
                raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail=f"no station {station_id}")
            action = request.query_params.get("action") or None
            direction = request.query_params.get("direction") or None
            if direction not in (None, IN, OUT):
                raise HTTPException(status_code=400, detail="direction is in or out")
            return ServerSentEvent(pages.trace.watch(record.station_id, action, direction))

        return [panel_page, panel_form, panel_send, command_log, trace]
