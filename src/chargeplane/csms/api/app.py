"""The operator HTTP API (Litestar): bearer-token auth, OpenAPI at ``/schema/openapi.json``, block routes under
``/api/v1``, the blocks' shared dependencies (the known station) and one mapping of errors to status codes
(:mod:`chargeplane.csms.api.errors`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from chargeplane import __version__
from chargeplane.csms.api.errors import exception_handlers
from chargeplane.csms.api.tokens import TokenStore

API_PREFIX = "/api/v1"


def bearer_guard(tokens: TokenStore) -> Any:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or not tokens.valid(token.strip()):
            raise NotAuthorizedException("a valid bearer token is required")

    return guard


def build_api(
    tokens: TokenStore,
    route_handlers: Sequence[Any],
    dependencies: Mapping[str, Provide] | None = None,
    debug: bool = False,
) -> Litestar:
    api = Router(
        path=API_PREFIX,
        route_handlers=list(route_handlers),
        guards=[bearer_guard(tokens)],
        security=[{"bearer": []}],
        dependencies=dict(dependencies or {}),
    )
    return Litestar(
        route_handlers=[api],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(
            title="Chargeplane CSMS API",
            version=__version__,
            path="/schema",
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=debug,
        logging_config=None,  # the process's logging is chargeplane.logs' (one format); Litestar's would replace it
    )
