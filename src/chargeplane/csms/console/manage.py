"""The console's management pages: id tokens (list, create, block, CSV import), reservations, security
events, and the HTTP API's tokens (admins only). Each POST goes through :meth:`Console.checked_post` (session
and CSRF token); the role each change needs is checked here, on the server, whatever the page showed.
Values are validated with the HTTP API's own types (``IdTokenIn``), so that the console and the API accept
and refuse the same tokens."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post

from chargeplane.csms.api.errors import http_error
from chargeplane.csms.api.tokens import Scope, TokenStore
from chargeplane.csms.blocks.authorization.api import MAX_IMPORT, IdTokenIn, token_values
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.diagnostics.uploads import BadUpload, UploadTooLarge
from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.csms.blocks.monitoring.service import AlertFilter, MonitoringService
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.security.service import SecurityEventFilter, SecurityService
from chargeplane.csms.console.forms import needs, offset, text
from chargeplane.csms.console.users import Role, Session
from chargeplane.csms.errors import Invalid

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]  # resolved at runtime by litestar, so not the one of console.web
PAGE = 50
MAX_CSV_BYTES = 2_000_000
# CSV header names -> IdTokenIn fields (the API's camelCase names, as in a JSON import, or snake_case).
CSV_FIELDS = {
    "idtoken": "idToken",
    "id_token": "idToken",
    "type": "type",
    "status": "status",
    "expiresat": "expiresAt",
    "expires_at": "expiresAt",
    "groupidtoken": "groupIdToken",
    "group_id_token": "groupIdToken",
    "groupidtokentype": "groupIdTokenType",
    "group_id_token_type": "groupIdTokenType",
    "language1": "language1",
    "language2": "language2",
    "chargingpriority": "chargingPriority",
    "charging_priority": "chargingPriority",
    "locallist": "localList",
    "local_list": "localList",
    "description": "description",
}
INTEGERS = {"chargingPriority"}
BOOLEANS = {"localList"}


class Refused(Exception):
    """A form the console refuses: the HTTP status and the reason shown on the page."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def csv_items(data: bytes) -> list[dict[str, Any]]:
    """The rows of an id-token CSV (a header line naming the columns) as import items; raises Refused."""
    if len(data) > MAX_CSV_BYTES:
        raise Refused(413, f"the CSV file is larger than {MAX_CSV_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(400, "the CSV file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().casefold() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in CSV_FIELDS]
    if "idtoken" not in header and "id_token" not in header:
        raise Refused(400, "the CSV file needs a header line with an idToken column")
    if unknown:
        raise Refused(400, f"unknown CSV columns: {', '.join(unknown)}")
    items: list[dict[str, Any]] = []
    for row in reader:
        item: dict[str, Any] = {}
        for name, value in row.items():
            if name is None or value is None or not value.strip():
                continue  # an empty cell is an absent field
            field = CSV_FIELDS[name.strip().casefold()]
            cell = value.strip()
            if field in INTEGERS:
                item[field] = int(cell) if cell.lstrip("-").isdigit() else cell
            elif field in BOOLEANS:
                item[field] = {"true": True, "false": False}.get(cell.casefold(), cell)
            else:
                item[field] = cell
        items.append(item)
        if len(items) > MAX_IMPORT:
            raise Refused(400, f"at most {MAX_IMPORT} tokens per import")
    return items


def import_rows(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid rows to store and a reason for each invalid one (by its line in the file, the header is 1)."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            rows.append(token_values(msgspec.convert(item, IdTokenIn)))
        except (msgspec.ValidationError, Invalid) as error:
            problems.append(f"line {index + 2}: {error}")
    return rows, problems


class ManagePages:
    def __init__(
        self,
        console: Console,
        tokens: AuthorizationService,
        reservations: ReservationService,
        security: SecurityService,
        api_tokens: TokenStore | None,
        monitoring: MonitoringService,
        firmware: FirmwareService,
    ) -> None:
        self.monitoring = monitoring
        self.firmware = firmware
        self.console = console
        self.tokens = tokens
        self.reservations = reservations
        self.security = security
        self.api_tokens = api_tokens

    async def token_page(
        self, session: Session, status: int = 200, message: str | None = None, **extra: Any
    ) -> Response[str]:
        records, total = await self.tokens.list_tokens(status=None, group=None, offset=0, limit=PAGE * 4)
        return self.console.render(
            "id_tokens.html",
            status,
            session=session,
            tokens=records,
            total=total,
            message=message,
            **extra,
        )

    async def refusing(self, session: Session, action: Callable[[], Any], done: str) -> Response[str]:
        """Runs a change; a domain error becomes the API's status and reason on the page."""
        try:
            await action()
        except Refused as refused:
            return await self.token_page(session, refused.status, refused.reason)
        except Exception as error:
            try:
                answer = http_error(error)
            except TypeError:
                raise error from None
            return await self.token_page(session, answer.status_code, str(answer.detail))
        return await self.token_page(session, done=done)

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/id-tokens", include_in_schema=False)
        async def id_tokens(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await pages.token_page(session)

            return await console.page(request, build)

        @post("/id-tokens", include_in_schema=False)
        async def create_id_token(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "creating id tokens")
            item: dict[str, Any] = {
                "idToken": text(form.get("id_token"), None) or "",
                "type": text(form.get("type"), None) or "ISO14443",
                "status": text(form.get("status"), None) or "Accepted",
                "localList": form.get("local_list") == "on",
            }
            if description := text(form.get("description"), None):
                item["description"] = description

            async def create() -> None:
                try:
                    values = token_values(msgspec.convert(item, IdTokenIn))
                except (msgspec.ValidationError, Invalid) as error:
                    raise Refused(400, str(error)) from None
                await pages.tokens.create_token(values)

            return await pages.refusing(session, create, f"Id token {item['idToken']} created.")

        @post("/id-tokens/block", include_in_schema=False)
        async def block_id_token(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "blocking id tokens")
            id_token, token_type = text(form.get("id_token"), None) or "", text(form.get("type"), None)
            wanted = "Accepted" if form.get("unblock") == "1" else "Blocked"

            async def block() -> None:
                await pages.tokens.update_token(id_token, token_type, {"status": wanted})

            return await pages.refusing(session, block, f"Id token {id_token} is now {wanted}.")

        @post("/id-tokens/import", include_in_schema=False)
        async def import_id_tokens(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "importing id tokens")
            upload = form.get("file")
            read = getattr(upload, "read", None)
            if read is None:
                return await pages.token_page(session, 400, "choose a CSV file to import")
            try:
                rows, problems = import_rows(csv_items(await read()))
            except Refused as refused:
                return await pages.token_page(session, refused.status, refused.reason)
            created, updated = await pages.tokens.import_tokens(rows)
            done = f"Imported: {created} created, {updated} updated, {len(problems)} refused."
            return await pages.token_page(session, done=done, problems=problems)

        @get("/reservations", include_in_schema=False)
        async def reservations(request: AnyRequest) -> Response[Any]:
            first = offset(request.query_params.get("offset"))

            async def build(session: Session) -> Response[Any]:
                found, total = await pages.reservations.find(
                    station_id=None, status=None, offset=first, limit=PAGE
                )
                return console.render(
                    "reservations.html",
                    session=session,
                    reservations=found,
                    total=total,
                    offset=first,
                    page=PAGE,
                )

            return await console.page(request, build)

        @get("/security-events", include_in_schema=False)
        async def security_events(request: AnyRequest) -> Response[Any]:
            first = offset(request.query_params.get("offset"))
            station_id = text(request.query_params.get("station"), None)
            critical = request.query_params.get("critical") == "1"

            async def build(session: Session) -> Response[Any]:
                where = SecurityEventFilter(station_id=station_id, critical=True if critical else None)
                found, total = await pages.security.find(where, first, PAGE)
                return console.render(
                    "security_events.html",
                    session=session,
                    events=found,
                    total=total,
                    offset=first,
                    page=PAGE,
                    station=station_id or "",
                    critical=critical,
                )

            return await console.page(request, build)

        @get("/alerts", include_in_schema=False)
        async def alerts(request: AnyRequest) -> Response[Any]:
            first = offset(request.query_params.get("offset"))
            state = request.query_params.get("state", "open")
            state = state if state in ("open", "closed", "") else "open"

            async def build(session: Session) -> Response[Any]:
                found, total = await pages.monitoring.alerts(AlertFilter(state=state or None), first, PAGE)
                return console.render(
                    "alerts.html",
                    session=session,
                    alerts=found,
                    total=total,
                    offset=first,
                    page=PAGE,
                    state=state,
                    message=None,
                )

            return await console.page(request, build)

        @post("/alerts/acknowledge", include_in_schema=False)
        async def acknowledge_alert(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "acknowledging alerts")
            which, note = text(form.get("id"), None) or "", text(form.get("note"), None)
            status, message = 200, None
            if not which.isdigit() or len(which) > 9:
                status, message = 400, "which alert?"
            elif note is not None and len(note) > 500:
                status, message = 400, "a note has at most 500 characters"
            else:
                try:
                    await pages.monitoring.acknowledge(int(which), note)
                    message = f"Alert {which} acknowledged."
                except Exception as error:
                    try:
                        answer = http_error(error)
                    except TypeError:
                        raise error from None
                    status, message = answer.status_code, str(answer.detail)
            found, total = await pages.monitoring.alerts(AlertFilter(state="open"), 0, PAGE)
            return console.render(
                "alerts.html",
                status,
                session=session,
                alerts=found,
                total=total,
                offset=0,
                page=PAGE,
                state="open",
                message=message,
            )

        async def firmware_page(
            session: Session, status: int = 200, message: str | None = None, done: str | None = None
        ) -> Response[str]:
            images, total = await pages.firmware.images(0, PAGE)
            return console.render(
                "firmware.html",
                status,
                session=session,
                images=images,
                total=total,
                message=message,
                done=done,
            )

        @get("/firmware", include_in_schema=False)
        async def firmware(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await firmware_page(session)

            return await console.page(request, build)

        @post("/firmware", include_in_schema=False)
        async def upload_firmware(request: AnyRequest) -> Response[Any]:
            """The API's upload (stored, hashed and signed with the firmware signing key), from a form."""
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "uploading firmware")
            name, version = text(form.get("name"), None) or "", text(form.get("version"), None) or ""
            upload = form.get("file")
            read = getattr(upload, "read", None)
            if not 1 <= len(name) <= 255 or not 1 <= len(version) <= 50:
                return await firmware_page(session, 400, "a name (1-255) and a version (1-50) are needed")
            if read is None:
                return await firmware_page(session, 400, "choose an image file to upload")
            content = await read()

            async def chunks() -> AsyncIterator[bytes]:
                yield content

            file_name = getattr(upload, "filename", None)
            try:
                image = await pages.firmware.upload_image(
                    name,
                    version,
                    "application/octet-stream",
                    chunks(),
                    file_name if isinstance(file_name, str) else None,
                )
            except UploadTooLarge:
                return await firmware_page(session, 413, "the image is larger than the limit")
            except BadUpload as error:
                return await firmware_page(session, 400, str(error))
            except Exception as error:
                try:
                    answer = http_error(error)  # ImageExists: 409
                except TypeError:
                    raise error from None
                return await firmware_page(session, answer.status_code, str(answer.detail))
            return await firmware_page(
                session, 201, done=f"Uploaded {image.name} {image.version} (id {image.id})."
            )

        async def api_token_page(
            session: Session, status: int = 200, message: str | None = None, secret: str | None = None
        ) -> Response[str]:
            needs(session, Role.ADMIN, "managing API tokens")
            listed = await pages.api_tokens.all() if pages.api_tokens is not None else []
            response = console.render(
                "api_tokens.html",
                status,
                session=session,
                api_tokens=listed,
                scopes=[scope.value for scope in Scope],
                message=message,
                secret=secret,
            )
            response.headers["Cache-Control"] = "no-store"
            return response

        @get("/api-tokens", include_in_schema=False)
        async def api_tokens(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await api_token_page(session)

            return await console.page(request, build)

        @post("/api-tokens", include_in_schema=False)
        async def create_api_token(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.ADMIN, "managing API tokens")
            if pages.api_tokens is None:
                return await api_token_page(session, 409, "this console has no API token store")
            name, scope = text(form.get("name"), None) or "", text(form.get("scope"), None) or "read"
            if scope not in {s.value for s in Scope}:
                return await api_token_page(session, 400, f"unknown scope {scope[:20]}")
            try:
                secret = await pages.api_tokens.create(name, Scope(scope))
            except ValueError as error:
                return await api_token_page(session, 400, str(error))
            return await api_token_page(session, 201, secret=secret)

        @post("/api-tokens/revoke", include_in_schema=False)
        async def revoke_api_token(request: AnyRequest) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.ADMIN, "managing API tokens")
            which = text(form.get("id"), None) or ""
            if pages.api_tokens is None or not which.isdigit():
                return await api_token_page(session, 400, "which token?")
            if not await pages.api_tokens.revoke(which):
                return await api_token_page(session, 404, f"no API token {which}")
            return await api_token_page(session, message=f"API token {which} revoked.")

        return [
            id_tokens,
            create_id_token,
            block_id_token,
            import_id_tokens,
            reservations,
            security_events,
            alerts,
            acknowledge_alert,
            firmware,
            upload_firmware,
            api_tokens,
            create_api_token,
            revoke_api_token,
        ]
