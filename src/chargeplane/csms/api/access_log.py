"""The optional HTTP access log (``serve --access-log``, ``CHARGEPLANE_API_ACCESS_LOG``): one line per request
through the process's log setup (:mod:`chargeplane.logs`), so it has the same format, text or JSON.

``GET /api/v1/stations/CS-1/commands?limit 200 3.1 ms 1234 B from 127.0.0.1``; JSON lines carry the same values
as fields (``method``, ``path``, ``status``, ``duration_ms``, ``bytes``, ``client``). A server-sent event stream is
logged when it ends. What the log never holds: the Authorization header, query values (only their names: a filter
may name an id token), and path parameters other than the station id (the route's template stands in for them: id
tokens are personal data, and the one-time upload and download paths carry their secret).
"""

from __future__ import annotations

import logging
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("chargeplane.api.access")


class AccessLog:
    """ASGI middleware: wraps the app, logs each HTTP request after its answer went out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 500  # unless an answer starts: the app failed before answering
        size = 0

        async def sending(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = shown_path(scope)
            client = scope.get("client")
            address = client[0] if client else "-"
            duration = (time.perf_counter() - started) * 1000
            fields = {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(duration, 1),
                "bytes": size,
                "client": address,
            }
            log.info(
                "%s %s %d %.1f ms %d B from %s",
                method,
                path,
                status,
                duration,
                size,
                address,
                extra={"fields": fields},
            )


def shown_path(scope: Scope) -> str:
    """The request's path as the log shows it: the route's template with the station id filled in (the raw
    path when no route matched), and the names of the query parameters without their values."""
    template = scope.get("path_template")
    if template is None:
        path = scope["path"]
    else:
        station = (scope.get("path_params") or {}).get("station_id")
        path = template if station is None else template.replace("{station_id}", str(station))
    query = scope.get("query_string", b"").decode("latin-1")
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return path + ("?" + "&".join(names) if names else "")
