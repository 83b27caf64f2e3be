"""The console's routes, on the HTTP API's port outside ``/api/v1`` (and outside its OpenAPI document).

Access: every page needs a session (else a redirect to ``/login``); every POST needs the session's CSRF
token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header (else 403), the login form a
double-submit token (a cookie and the same value in the form); commands need the operator role, checked
here, not only hidden in the page (else 403). The session cookie is HttpOnly, SameSite=Strict, and Secure
when the console is served over TLS. Every answer carries a Content-Security-Policy that allows only our own
scripts and styles.

Live updates: ``/console/events`` is the event bus as server-sent events (the API's ``/api/v1/events``
needs a bearer token, which a browser's EventSource cannot send); the pages re-read their live parts as HTML
fragments (``/fragments/...``) when an event that concerns them arrives.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import jinja2
import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect, ServerSentEvent
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_403_FORBIDDEN, HTTP_404_NOT_FOUND

from chargeplane import __version__
from chargeplane.csms.api.errors import http_error
from chargeplane.csms.api.events import EventStream
from chargeplane.csms.api.tokens import TokenStore
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.convenience import RemoteStartIn, RemoteStopIn, ResetIn, TriggerIn
from chargeplane.csms.blocks.remote_control.operations import StationCommands
from chargeplane.csms.blocks.remote_control.service import CommandService, SentCommand
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.bus.commands import LocalCommandRouter, initiator
from chargeplane.csms.console.forms import text
from chargeplane.csms.console.manage import ManagePages
from chargeplane.csms.console.panel_pages import PanelPages
from chargeplane.csms.console.trace import MessageTrace
from chargeplane.csms.console.users import (
    SESSION_LIFETIME,
    AccountError,
    LoginThrottle,
    Session,
    UserStore,
    csrf_matches,
    session_digest,
)
from chargeplane.csms.console.views import ConsoleViews
from chargeplane.csms.errors import NotFound, UnknownStation

SESSION_COOKIE = "cp_session"
LOGIN_COOKIE = "cp_login"  # the login form's double-submit CSRF token
STATIC_PATH = "/static/console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
COMMANDS = ("remote-start", "remote-stop", "reset", "trigger")
TRIGGERS = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent")
RESETS = ("Immediate", "OnIdle", "Hard", "Soft")
STATION_ID = re.compile(r"\A[a-zA-Z0-9*\-_=+|@.]{1,48}\Z")  # the API's StationIn rule

AnyRequest = Request[Any, Any, Any]


class PageModule(Protocol):
    def routes(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    status: int  # what the HTTP API would answer
    action: str | None
    request: Any
    response: Any
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "action": self.action,
            "request": self.request,
            "response": self.response,
            "error": self.error,
        }


def _wire(payload: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(payload))


def _secure(request: AnyRequest) -> bool:
    return request.url.scheme == "https"


def _local_path(target: str | None) -> str:
    """Where to go after the login: a path of ours only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def _form_int(value: object) -> int | None:
    digits = text(value, None)
    if digits is None:
        return None
    if not digits.isdigit() or len(digits) > 9:
        raise HTTPException(status_code=400, detail=f"not a number: {digits[:20]}")
    return int(digits)


class Console:
    def __init__(
        self, users: UserStore, views: ConsoleViews, commands: StationCommands, stream: EventStream
    ) -> None:
        self.users = users
        self.views = views
        self.commands = commands
        self.stream = stream
        self.throttle = LoginThrottle(users.clock)
        self.manage: ManagePages | None = None  # id tokens, reservations, security events, API tokens
        self.panel: PanelPages | None = None  # the generated command panel, command log, message trace
        self.pages: list[PageModule] = []  # the pages of console/pages_*.py
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("chargeplane.csms.console", "templates"),
            autoescape=True,
        )
        self.templates.filters["kwh"] = lambda wh: f"{(wh or 0) / 1000:.2f}"
        self.templates.filters["when"] = lambda moment: (
            moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "never"
        )

    # -- helpers ------------------------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **context: Any) -> Response[str]:
        html = self.templates.get_template(name).render(version=__version__, static=STATIC_PATH, **context)
        return Response(html, status_code=status, media_type=MediaType.HTML, headers=HEADERS)

    async def session(self, request: AnyRequest) -> Session | None:
        return await self.users.session(request.cookies.get(SESSION_COOKIE))

    async def page(
        self, request: AnyRequest, build: Callable[[Session], Awaitable[Response[Any]]]
    ) -> Response[Any]:
        """A page for a signed-in user, else the login page (and back here afterwards)."""
        session = await self.session(request)
        if session is None:
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            return Redirect(f"/login?next={target}", status_code=HTTP_303_SEE_OTHER)
        try:
            return await build(session)
        except NotFound as error:
            return self.render("error.html", HTTP_404_NOT_FOUND, session=session, message=str(error))

    async def checked_post(self, request: AnyRequest) -> tuple[Session, Any]:
        """The session and the form of a POST, or 403: no session, or no / a wrong CSRF token."""
        session = await self.session(request)
        if session is None:
            raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="not signed in")
        form = await request.form()
        offered = request.headers.get("x-csrf-token") or form.get("csrf_token")
        if not csrf_matches(session, offered if isinstance(offered, str) else None):
            raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token")
        initiator.set(f"console:{session.user.username}")  # the command log's "by whom" for this request
        return session, form

    def login_page(
        self, request: AnyRequest, target: str | None, message: str | None = None, status: int = 200
    ) -> Response[str]:
        token = secrets.token_urlsafe(24)
        response = self.render(
            "login.html",
            status,
            token=token,
            next=_local_path(target),
            message=message,
        )
        response.set_cookie(
            LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/login"
        )
        return response

    async def run_command(self, session: Session, station_id: str, kind: str, form: Any) -> CommandResult:
        if not session.user.role.can_command:  # checked here, whatever the page showed
            raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="viewers cannot send commands")
        if kind not in COMMANDS:
            raise HTTPException(status_code=HTTP_404_NOT_FOUND, detail=f"no command {kind}")
        try:
            station = await self.views.stations.get_station(station_id)
            if station is None:
                raise UnknownStation(station_id)
            sent: SentCommand
            if kind == "remote-start":
                id_token = text(form.get("id_token"), None)
                if id_token is None:
                    raise HTTPException(status_code=400, detail="an id token is needed")
                data = RemoteStartIn(
                    id_token=id_token,
                    token_type=text(form.get("token_type"), None),
                    evse_id=_form_int(form.get("evse_id")),
                )
                sent = await self.commands.remote_start(station, data)
            elif kind == "remote-stop":
                transaction_id = text(form.get("transaction_id"), None)
                if transaction_id is None:
                    raise HTTPException(status_code=400, detail="a transaction id is needed")
                sent = await self.commands.remote_stop(station, RemoteStopIn(transaction_id=transaction_id))
            elif kind == "reset":
                reset = ResetIn(
                    type=text(form.get("type"), None) or "OnIdle", evse_id=_form_int(form.get("evse_id"))
                )
                sent = await self.commands.reset(station, reset)
            else:
                trigger = TriggerIn(
                    requested_message=text(form.get("requested_message"), None) or "Heartbeat",
                    evse_id=_form_int(form.get("evse_id")),
                )
                sent = await self.commands.trigger(station, trigger)
        except HTTPException as error:
            return CommandResult(False, error.status_code, None, None, None, error.detail)
        except Exception as error:
            try:
                answer = http_error(error)  # the API's one mapping: the same reasons, the same statuses
            except TypeError:
                raise error from None
            return CommandResult(False, answer.status_code, None, None, None, answer.detail)
        return CommandResult(True, 200, sent.action, _wire(sent.request), _wire(sent.response), None)

    async def register_station(self, session: Session, form: Any) -> tuple[int, str | None, str | None]:
        """Registers a station from the register form: (HTTP status, message, generated password or None).
        Operators and admins only, checked here; the password is generated (profiles 1 and 2) and shown once."""
        if not session.user.role.can_command:
            raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="viewers cannot register stations")
        station_id = text(form.get("station_id"), None) or ""
        if not STATION_ID.match(station_id):
            return 400, "A station id is 1 to 48 letters, digits or * - _ = + | @ .", None
        profile = _form_int(form.get("security_profile")) or 1
        if profile not in (1, 2, 3):
            return 400, "The security profile is 1, 2 or 3.", None
        description = text(form.get("description"), None)
        if description is not None and len(description) > 200:
            return 400, "The description is at most 200 characters.", None
        try:
            _, generated = await self.views.stations.create_station(
                station_id, security_profile=profile, description=description
            )
        except Exception as error:
            try:
                answer = http_error(error)  # StationExists is a Conflict: 409 with the API's reason
            except TypeError:
                raise error from None
            return answer.status_code, str(answer.detail), None
        return 201, None, generated

    # -- routes -------------------------------------------------------------------------------------------

    def routes(self) -> list[Any]:
        console = self

        @get("/login", include_in_schema=False)
        async def login_form(request: AnyRequest) -> Response[Any]:
            if await console.session(request) is not None:
                return Redirect(_local_path(request.query_params.get("next")), status_code=HTTP_303_SEE_OTHER)
            return console.login_page(request, request.query_params.get("next"))

        @post("/login", include_in_schema=False)
        async def login(request: AnyRequest) -> Response[Any]:
            form = await request.form()
            offered, expected = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
            if not isinstance(offered, str) or not expected or not secrets.compare_digest(offered, expected):
                raise HTTPException(status_code=HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token")
            username, target = str(form.get("username", "")), str(form.get("next", "/"))
            keys = (
                "user:" + username.strip().casefold(),
                "address:" + (request.client.host if request.client else ""),
            )
            if console.throttle.blocked(*keys):  # before the password is even checked
                return console.login_page(request, target, "Too many failed logins: try again later.", 429)
            user = await console.users.authenticate(username, str(form.get("password", "")))
            if user is None:
                console.throttle.failed(*keys)
                return console.login_page(request, target, "Wrong username or password.", 401)
            console.throttle.succeeded(keys[0])
            cookie, _ = await console.users.open_session(user)
            response = Redirect(_local_path(target), status_code=HTTP_303_SEE_OTHER)
            response.cookies.append(
                Cookie(
                    key=SESSION_COOKIE,
                    value=cookie,
                    httponly=True,
                    samesite="strict",
                    secure=_secure(request),
                    path="/",
                    max_age=int(SESSION_LIFETIME.total_seconds()),
                )
            )
            response.delete_cookie(LOGIN_COOKIE, path="/login")
            return response

        @post("/logout", include_in_schema=False)
        async def logout(request: AnyRequest) -> Response[Any]:
            await console.checked_post(request)
            await console.users.close_session(request.cookies.get(SESSION_COOKIE, ""))
            response = Redirect("/login", status_code=HTTP_303_SEE_OTHER)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        @get("/account/password", include_in_schema=False)
        async def password_form(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("password.html", session=session, message=None, done=False)

            return await console.page(request, build)

        @post("/account/password", include_in_schema=False)
        async def change_password(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            current, new = str(form.get("current", "")), str(form.get("new", ""))
            message = None
            if await console.users.authenticate(session.user.username, current) is None:
                message = "The current password is wrong."
            elif new != form.get("again"):
                message = "The two new passwords differ."
            else:
                try:
                    keep = session_digest(request.cookies.get(SESSION_COOKIE, ""))
                    await console.users.set_password(session.user.username, new, keep_session=keep)
                except AccountError as error:
                    message = str(error).capitalize() + "."
            status = 200 if message is None else 400
            return console.render(
                "password.html", status, session=session, message=message, done=message is None
            )

        @get("/", include_in_schema=False)
        async def overview(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render(
                    "overview.html", session=session, overview=await console.views.overview()
                )

            return await console.page(request, build)

        @get("/fragments/overview", include_in_schema=False)
        async def overview_fragment(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("_overview.html", overview=await console.views.overview())

            return await console.page(request, build)

        @get("/stations", include_in_schema=False)
        async def stations(request: AnyRequest) -> Response[Any]:
            search = request.query_params.get("q", "")

            async def build(session: Session) -> Response[Any]:
                found = await console.views.station_list(search)
                return console.render("stations.html", session=session, stations=found, search=search)

            return await console.page(request, build)

        @get("/fragments/stations", include_in_schema=False)
        async def stations_fragment(request: AnyRequest) -> Response[Any]:
            search = request.query_params.get("q", "")

            async def build(session: Session) -> Response[Any]:
                return console.render("_stations.html", stations=await console.views.station_list(search))

            return await console.page(request, build)

        @get("/stations/{station_id:str}", include_in_schema=False)
        async def station(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                shown = await console.views.station(station_id)
                return console.render(
                    "station.html", session=session, triggers=TRIGGERS, resets=RESETS, result=None, **shown
                )

            return await console.page(request, build)

        @get("/fragments/stations/{station_id:str}", include_in_schema=False)
        async def station_fragment(request: AnyRequest, station_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("_station.html", **await console.views.station(station_id))

            return await console.page(request, build)

        @post("/stations/{station_id:str}/commands/{kind:str}", include_in_schema=False)
        async def command(
            request: AnyRequest, station_id: FromPath[str], kind: FromPath[str]
        ) -> Response[Any]:
            session, form = await console.checked_post(request)
            result = await console.run_command(session, station_id, kind, form)
            if "application/json" in request.headers.get("accept", ""):
                return Response(result.to_json(), status_code=result.status, headers=HEADERS)
            shown = await console.views.station(station_id)
            return console.render(
                "station.html",
                result.status,
                session=session,
                triggers=TRIGGERS,
                resets=RESETS,
                result=result,
                **shown,
            )

        @get("/register", include_in_schema=False)
        async def register_form(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("register.html", session=session, message=None, created=None)

            return await console.page(request, build)

        @post("/register", include_in_schema=False)
        async def register(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            status, message, generated = await console.register_station(session, form)
            created = None
            if status == 201:
                created = await console.views.stations.get_station(str(text(form.get("station_id"), None)))
            response = console.render(
                "register.html",
                status,
                session=session,
                message=message,
                created=created,
                generated=generated,
            )
            response.headers["Cache-Control"] = "no-store"  # the password is shown once, never cached
            return response

        @get("/transactions/{key:int}/chart", include_in_schema=False)
        async def transaction_chart(request: AnyRequest, key: FromPath[int]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                _, series = await console.views.transaction(key)
                return Response(series.as_json(), headers=HEADERS)

            return await console.page(request, build)

        @get("/console/events", include_in_schema=False)
        async def events(request: AnyRequest) -> Response[Any]:
            if await console.session(request) is None:
                raise HTTPException(status_code=401, detail="not signed in")
            return ServerSentEvent(console.stream.events(request.query_params.get("station")))

        assets = create_static_files_router(  # our own CSS and JS, shipped as package data
            path=STATIC_PATH,
            directories=[str(files("chargeplane.csms.console") / "static")],
            include_in_schema=False,
        )
        return [
            login_form,
            login,
            logout,
            password_form,
            change_password,
            overview,
            overview_fragment,
            stations,
            stations_fragment,
            station,
            station_fragment,
            command,
            register_form,
            register,
            transaction_chart,
            events,
            *(self.manage.routes() if self.manage is not None else []),
            *(self.panel.routes() if self.panel is not None else []),
            *(route for pages in self.pages for route in pages.routes()),
            assets,
        ]


def console_for(context: BlockContext, users: UserStore, api_tokens: TokenStore | None = None) -> Console:
    """The console over the services the blocks provide; its event stream ends when the CSMS stops."""
    views = ConsoleViews(
        context.require(ProvisioningService),
        context.require(AvailabilityService),
        context.require(TransactionQueries),
        context.require(CommandService),
        context.require(SecurityService),
        context.require(MonitoringService),
        context.clock,
    )
    stream = EventStream(context.events)
    context.jobs.append(stream.close_on_stop)
    console = Console(users, views, context.require(StationCommands), stream)
    console.manage = ManagePages(
        console,
        context.require(AuthorizationService),
        context.require(ReservationService),
        context.require(SecurityService),
        api_tokens,
        context.require(MonitoringService),
        context.require(FirmwareService),
    )
    if isinstance(context.commands, LocalCommandRouter):  # the trace taps this node's own connections
        trace = MessageTrace(context.commands.connection_for, context.clock)
        context.on_connected.append(trace.on_connected)
        context.jobs.append(trace.close_on_stop)
        console.panel = PanelPages(console, context.require(CommandService), trace)
    from chargeplane.csms.console.pages import page_modules  # they import this module

    console.pages = page_modules(console, context)
    return console
