"""The HTTP side of observability: ``GET /metrics``, ``GET /healthz``, ``GET /readyz`` (outside ``/api/v1``)
and the count of API requests by route and status.

``/metrics`` needs a bearer token of scope ``read`` (Prometheus: ``authorization: {credentials_file: ...}``)
unless ``metrics_public`` is set, which the settings allow only with the API on a loopback address: nothing
is open on a non-loopback interface without authentication. ``/healthz`` and ``/readyz`` are open (an
orchestrator's probes carry no token) and reveal only the names and states of the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Response, get
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import Message, Scope
from prometheus_client import generate_latest

from chargeplane.csms.api.app import PUBLIC
from chargeplane.csms.observability.health import Check, readiness
from chargeplane.csms.observability.metrics import CsmsMetrics

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# The classic text exposition format, which every Prometheus version reads (Litestar adds the charset).
TEXT_FORMAT = "text/plain; version=0.0.4"


def observability_routes(
    metrics: CsmsMetrics, checks: Mapping[str, Check], *, public_metrics: bool, timeout: float
) -> list[HTTPRouteHandler]:
    """The three routes. ``/metrics`` carries ``opt=PUBLIC`` only when ``public_metrics``; otherwise the
    API's bearer guard applies to it (GET: scope ``read``)."""

    @get(METRICS_PATH, opt=PUBLIC if public_metrics else {}, include_in_schema=False, sync_to_thread=False)
    def scrape() -> Response[bytes]:
        """Every metric in the Prometheus text exposition format (docs/METRICS.md)."""
        return Response(generate_latest(metrics.registry), media_type=TEXT_FORMAT)

    @get(HEALTH_PATH, opt=PUBLIC, include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        """The process is alive and its event loop answers."""
        return {"status": "ok"}

    @get(READY_PATH, opt=PUBLIC, include_in_schema=False)
    async def readyz() -> Response[dict[str, Any]]:
        """200 when every check passes, else 503 naming the failing ones."""
        outcome = await readiness(checks, timeout)
        body: dict[str, Any] = {"status": "ready" if outcome.ready else "not ready", "checks": outcome.checks}
        return Response(body, status_code=HTTP_200_OK if outcome.ready else HTTP_503_SERVICE_UNAVAILABLE)

    return [scrape, healthz, readyz]


def request_counter(metrics: CsmsMetrics) -> Any:
    """A ``before_send`` hook of the API app: counts each HTTP response by method, route template and status
    (unknown paths as ``unmatched``, so that scanning the API cannot grow the label set without bound)."""
    counter = metrics.api_requests

    def count(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "-")
            counter.labels(method if method in _METHODS else "other", route, str(message["status"])).inc()

    return count


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
