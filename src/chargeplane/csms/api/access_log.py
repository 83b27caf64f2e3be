"""The optional HTTP access log (``serve --access-log``, ``CHARGEPLANE_API_ACCESS_LOG``): one line per request
through the process's log setup (:mod:`chargeplane.logs`), so it has the same format, text or JSON.

``GET /api/v1/stations?limit=10 200 3.1 ms 1234 B from 127.0.0.1``; JSON lines carry the same values as fields
(``method``, ``path``, ``status``, ``duration_ms``, ``bytes``, ``client``). The Authorization header is never
logged. A server-sent event stream is logged when it ends.
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
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope["path"] + (f"?{query}" if query else "")
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
