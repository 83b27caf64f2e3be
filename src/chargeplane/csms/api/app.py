"""The operator HTTP API (Litestar): bearer-token auth with scopes, OpenAPI at ``/schema/openapi.json`` and its
docs page at ``/schema`` (served offline: the Swagger UI assets come with the product), block routes under
``/api/v1``, the blocks' shared dependencies (the known station) and one mapping of errors to status codes
(:mod:`chargeplane.csms.api.errors`).

A route's scope: ``opt=OPERATOR`` (or ``opt=ADMIN``) in its decorator; without one, GET needs ``read`` and
everything else ``admin`` (see :mod:`chargeplane.csms.api.tokens`). ``opt=PUBLIC``: no bearer token, the route
guards itself (a station's log upload, by the one-time token in its path).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.static_files import create_static_files_router

from chargeplane import __version__
from chargeplane.csms.api import audit
from chargeplane.csms.api.errors import COMMON, error_responses, exception_handlers
from chargeplane.csms.api.limits import LimitedRequest
from chargeplane.csms.api.tokens import Scope, TokenStore
from chargeplane.csms.bus.commands import initiator

API_PREFIX = "/api/v1"
SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
OPERATOR: dict[str, Any] = {"scope": Scope.OPERATOR}  # opt= of a route that acts on stations
ADMIN: dict[str, Any] = {"scope": Scope.ADMIN}
# opt= of a route that needs no bearer token because something else guards it (a station's log upload: the
# one-time token in its path).
PUBLIC: dict[str, Any] = {"public": True}
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Told of each refused bearer token (missing, unknown): the client's address and why. A security event.
AuthFailureHook = Callable[[str, str], Awaitable[None]]


@dataclass
class RawJsonOperation(Operation):
    """``operation_class=`` of a route that reads its body raw (to check it itself): documents the body as a
    JSON object, which Litestar cannot see without a ``data`` parameter."""

    def __post_init__(self) -> None:
        if self.request_body is None:
            schema = Schema(type=OpenAPIType.OBJECT, additional_properties=True)
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)},
                description="the OCPP request payload (wire JSON) of the action, in the station's version",
                required=True,
            )


class _OnceRouter(Router):
    """A router registered into one app only, so not copied. Litestar deep-copies every router it registers (one
    router may serve several apps): with the API's hundreds of handlers that copy took a tenth of the CPU time of
    building a CSMS, paid by every CSMS process at start (and by every test that starts one)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _OnceRouter:
        return self


def required_scope(method: str, handler: BaseRouteHandler) -> Scope:
    declared = handler.opt.get("scope")
    if isinstance(declared, Scope):
        return declared
    return Scope.READ if method.upper() in _SAFE_METHODS else Scope.ADMIN


def bearer_guard(tokens: TokenStore, on_failure: AuthFailureHook | None = None) -> Any:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get("public") is True:
            return
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        found = await tokens.identify(token.strip()) if scheme.lower() == "bearer" and token else None
        if found is None:
            if on_failure is not None:
                client = connection.client.host if connection.client else "-"
                reason = "unknown bearer token" if token else "no bearer token"
                await on_failure(
                    client, f"{reason}: {connection.scope.get('method', '')} {connection.url.path}"
                )
            raise NotAuthorizedException("a valid bearer token is required")
        name, scope = found
        connection.scope.setdefault("state", {})[audit.TOKEN_NAME_KEY] = name
        initiator.set(f"api:{name}")  # the command log's "by whom" for what this request sends
        needed = required_scope(str(connection.scope.get("method", "GET")), handler)
        if not scope.allows(needed):
            raise PermissionDeniedException(f"this route needs a token with scope {needed.value}")

    return guard


def _documented(handlers: Sequence[Any]) -> list[Any]:
    """The statuses every route may answer (bad input, no token, scope) on top of the route's own."""
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler):
            handler.responses = error_responses(*COMMON) | dict(handler.responses or {})
    return list(handlers)


def swagger_assets() -> Path:
    """The Swagger UI files shipped by the ``swagger-ui-py`` package (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: reinstall chargeplane")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return OpenAPIConfig(
        title="Chargeplane CSMS API",
        version=__version__,
        description="The operator API of the Chargeplane CSMS. Every route needs a bearer token "
        "(`chargeplane token create`); errors share one body (ErrorBody).",
        path=SCHEMA_PATH,
        use_handler_docstrings=True,
        render_plugins=[swagger],
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
    )


def build_api(
    tokens: TokenStore,
    route_handlers: Sequence[Any],
    dependencies: Mapping[str, Provide] | None = None,
    debug: bool = False,
    middleware: Sequence[DefineMiddleware] = (),
    pages: Sequence[Any] = (),
    audit_log: audit.AuditLog | None = None,
    on_auth_failure: AuthFailureHook | None = None,
    top_level: Sequence[Any] = (),
    before_send: Sequence[Any] = (),
) -> Litestar:
    """The app: the API routes under ``/api/v1`` behind bearer tokens; ``top_level`` routes at the root
    (``/metrics``, ...) behind the same guard (``opt=PUBLIC`` opens one); ``pages`` (the console's, which guard
    themselves with a session) at the root; with ``audit_log``, every state-changing call is recorded and
    ``/audit-log`` served; ``on_auth_failure`` hears of every refused bearer token; ``before_send`` hooks see
    every response."""
    handlers = list(route_handlers)
    route_middleware: list[DefineMiddleware] = []
    if audit_log is not None:
        handlers.extend(audit.routes(audit_log, ADMIN))
        route_middleware.append(DefineMiddleware(audit.AuditMiddleware, log_store=audit_log))
    api = _OnceRouter(
        path=API_PREFIX,
        route_handlers=_documented(handlers),
        guards=[bearer_guard(tokens, on_auth_failure)],
        security=[{"bearer": []}],
        dependencies=dict(dependencies or {}),
    )
    assets = create_static_files_router(
        path=ASSETS_PATH, directories=[swagger_assets()], include_in_schema=False
    )
    root = _OnceRouter(
        path="/", route_handlers=list(top_level), guards=[bearer_guard(tokens, on_auth_failure)]
    )
    return Litestar(
        route_handlers=[api, assets, root, *pages],
        before_send=list(before_send),
        exception_handlers=exception_handlers(),
        openapi_config=openapi_config(),
        middleware=[*middleware, *route_middleware],
        request_class=LimitedRequest,
        # Litestar's default replaces the root logger's handlers when the app starts: every line of the
        # process would change format then. Ours (chargeplane.logs) stays.
        logging_config=None,
        debug=debug,
    )
