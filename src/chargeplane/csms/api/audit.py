"""The audit log of the operator API (issue #13): every state-changing call, who made it, on what, and how it
ended.

One row per request with a method other than GET/HEAD/OPTIONS that reached a route under ``/api/v1``: the
time, the token's name (``-`` when no valid token was given), the method, the route template and the path
(only the template for a public route, whose path holds its one-time secret),
the station (``station_id`` path parameter) when there is one, the client address and the answer's status
(refusals included: 401, 403, 4xx of bad input). Nothing of the body or the token is stored.

Like the API tokens, an operator-side store, off the OCPP path: it writes directly on the engine, after the
answer went out. ``GET /api/v1/audit-log`` (admin scope) reads it back, newest first.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from litestar import get
from litestar.enums import ScopeType
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.clock import utc_now
from chargeplane.csms.storage.metadata import metadata, utc_timestamp

log = logging.getLogger(__name__)

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_NAME_KEY = "token_name"  # in the connection's state, set by the bearer guard
NO_TOKEN = "-"

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    utc_timestamp("at", nullable=False),
    sa.Column("token_name", sa.String(100), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column(
        "route", sa.String(255), nullable=False
    ),  # the route template, e.g. /api/v1/stations/{station_id}
    sa.Column("path", sa.String(255), nullable=False),
    sa.Column("station_id", sa.String(48)),
    sa.Column("client", sa.String(64)),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Index("ix_audit_log_at", "at"),
)


class AuditEntry(msgspec.Struct, rename="camel"):
    """One audited call, as stored and as the API shows it."""

    id: int
    at: datetime
    token_name: str
    method: str
    route: str
    path: str
    station_id: str | None
    client: str | None
    status: int


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(
        self,
        *,
        token_name: str,
        method: str,
        route: str,
        path: str,
        station_id: str | None,
        client: str | None,
        status: int,
    ) -> None:
        values = {
            "at": utc_now(),
            "token_name": token_name[:100],
            "method": method[:10],
            "route": route[:255],
            "path": path[:255],
            "station_id": station_id[:48] if station_id else None,
            "client": client[:64] if client else None,
            "status": status,
        }
        async with self.engine.begin() as connection:
            await connection.execute(sa.insert(audit_log).values(**values))

    async def find(
        self, token_name: str | None, station_id: str | None, offset: int, limit: int
    ) -> tuple[list[AuditEntry], int]:
        c = audit_log.c
        conditions: list[sa.ColumnElement[bool]] = []
        if token_name is not None:
            conditions.append(c.token_name == token_name)
        if station_id is not None:
            conditions.append(sa.func.lower(c.station_id) == station_id.casefold())
        query = sa.select(*audit_log.c).where(*conditions).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(audit_log).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [AuditEntry(**row._mapping) for row in rows], total


class AuditMiddleware:
    """ASGI middleware (per route, inside Litestar's routing): records each state-changing call once its
    status is known, before the answer goes out. A refusal by a guard arrives here as an exception with its
    status, and is re-raised."""

    def __init__(self, app: ASGIApp, log_store: AuditLog) -> None:
        self.app = app
        self.store = log_store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] in READ_ONLY_METHODS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        recorded = False

        async def sending(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                # Written before the answer goes out: whoever sees the answer finds the entry.
                recorded = True
                await self._record(scope, method, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            if not recorded:  # refused by a guard: the status is the exception's, answered further out
                recorded = True
                await self._record(scope, method, int(getattr(error, "status_code", 500)))
            raise
        finally:
            if not recorded:
                await self._record(scope, method, 500)

    async def _record(self, scope: Scope, method: str, status: int) -> None:
        state: dict[str, Any] = dict(scope.get("state") or {})
        params: dict[str, Any] = dict(scope.get("path_params") or {})
        client = scope.get("client")
        station = params.get("station_id")
        route = scope.get("path_template") or scope["path"]
        handler = scope.get("route_handler")
        # A public route's path carries its secret (a one-time upload token): only its template is kept.
        public = handler is not None and handler.opt.get("public") is True
        try:
            await self.store.add(
                token_name=str(state.get(TOKEN_NAME_KEY) or NO_TOKEN),
                method=method,
                route=route,
                path=route if public else scope["path"],
                station_id=str(station) if station is not None else None,
                client=client[0] if client else None,
                status=status,
            )
        except Exception:  # the call happened; a failed audit write is logged, it does not change the answer
            log.exception("could not write the audit log entry of %s %s", method, scope["path"])


def routes(store: AuditLog, admin: dict[str, Any]) -> list[Any]:
    @get("/audit-log", summary="Every state-changing API call, newest first", opt=admin)
    async def list_audit_log(
        token_name: Annotated[str | None, QueryParameter(name="tokenName", max_length=100)] = None,
        station_id: Annotated[str | None, QueryParameter(name="stationId", max_length=48)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[AuditEntry]:
        """Who (the token's name), what (method, route, path, station), when and with what outcome (the HTTP
        status, refusals included) for every call other than GET/HEAD/OPTIONS; admin tokens only."""
        entries, total = await store.find(token_name, station_id, offset, limit)
        return Page(entries, total, offset, limit)

    return [list_audit_log]
