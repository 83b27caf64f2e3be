"""The CSMS's routers, measured: every handler registered on a :class:`MeteredRouter` is timed and its
outcome counted (``chargeplane_ocpp_messages_total{direction="in"}``, ``chargeplane_ocpp_handler_seconds``).

A handler's outcome is ``result`` when it returned a response, ``error`` when it raised (an OCPP error: the
station gets that CALLERROR; anything else: InternalError). A CALL the registration guard refuses (B02/B03:
a station not yet accepted) never reaches its handler and counts as ``error`` with no handler time.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable

from chargeplane.csms.observability.metrics import ERROR, IN, RESULT, CsmsMetrics
from chargeplane.ocpp.catalog import Role
from chargeplane.ocpp.errors import OcppError
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Guard, R, Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

Handler = Callable[[Payload, OcppConnection], Payload | Awaitable[Payload]]


class MeteredRouter(Router[OcppConnection]):
    def __init__(
        self,
        version: Version,
        role: Role,
        metrics: CsmsMetrics,
        guard: Guard[OcppConnection] | None = None,
    ) -> None:
        self.metrics = metrics
        super().__init__(version, role, guard=_metered_guard(guard, version, metrics) if guard else None)

    def register(
        self,
        request_type: type[R],
        handler: Callable[[R, OcppConnection], Payload | Awaitable[Payload]],
    ) -> None:
        super().register(request_type, handler)
        self._meter(self.catalog.by_request[request_type].action)

    def delegate(self, request_types: Iterable[type[Payload]], handler: Handler) -> None:
        types = tuple(request_types)
        super().delegate(types, handler)
        for request_type in types:
            self._meter(self.catalog.by_request[request_type].action)

    def _meter(self, action: str) -> None:
        self._handlers[action] = _timed(self._handlers[action], self.version, action, self.metrics)


def _metered_guard(
    guard: Guard[OcppConnection], version: Version, metrics: CsmsMetrics
) -> Guard[OcppConnection]:
    def guarded(action: str, connection: OcppConnection) -> OcppError | None:
        refusal = guard(action, connection)
        if refusal is not None:
            metrics.message(version, action, IN, ERROR)
        return refusal

    return guarded


def _timed(handler: Handler, version: Version, action: str, metrics: CsmsMetrics) -> Handler:
    handled = metrics.handled

    async def finish(outcome: Awaitable[Payload], started: float) -> Payload:
        try:
            response = await outcome
        except Exception:
            handled(version, action, ERROR, time.perf_counter() - started)
            raise
        handled(version, action, RESULT, time.perf_counter() - started)
        return response

    def run(request: Payload, connection: OcppConnection) -> Payload | Awaitable[Payload]:
        started = time.perf_counter()
        try:
            outcome = handler(request, connection)
        except Exception:
            handled(version, action, ERROR, time.perf_counter() - started)
            raise
        if inspect.isawaitable(outcome):
            return finish(outcome, started)
        handled(version, action, RESULT, time.perf_counter() - started)
        return outcome

    return run
