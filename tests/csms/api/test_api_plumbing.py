"""The API's shared plumbing: one mapping of errors to status codes, the page body, the known-station
dependency (404 with a reason on every route that takes a station id)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargeplane.csms.api.errors import http_error
from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.authorization.service import AmbiguousToken, TokenExists, UnknownToken
from chargeplane.csms.blocks.availability.calls import InvalidRequest
from chargeplane.csms.blocks.remote_control.service import InvalidCommand, StationBusy, StationRejected
from chargeplane.csms.blocks.reservation.service import ReservationClosed, ReservationNotFound
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.errors import UnknownStation
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.endpoint import CallQueueFull, LocalProtocolError
from chargeplane.ocpp.errors import GenericError
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost
from chargeplane.transport.security import PasswordRuleError
from tests.csms.conftest import RunningCsms


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnknownStation("CS1"), 404),
        (UnknownToken("T", "ISO14443"), 404),
        (ReservationNotFound(7), 404),
        (TokenExists("T", "ISO14443"), 409),
        (ReservationClosed("reservation 7 is Used"), 409),
        (StationOffline("CS1"), 409),
        (StationRejected("CS1"), 409),
        (AmbiguousToken("T", ["A", "B"]), 400),
        (InvalidRequest("no"), 400),
        (PasswordRuleError("short"), 400),
        (LocalProtocolError("no"), 400),
        (InvalidCommand("FormatViolation", "at $"), 422),
        (CallFailed("Reset", GenericError("on fire")), 502),
        (ConnectionLost("closed"), 502),
        (StationBusy("CS1"), 503),
        (CallQueueFull("full"), 503),
        (CallTimeout(), 504),
    ],
)
def test_one_mapping_of_errors_to_status_codes(error: Exception, status: int) -> None:
    assert http_error(error).status_code == status


def test_the_mapping_keeps_the_details_operators_read() -> None:
    assert http_error(UnknownStation("CS1")).detail == "no station CS1"
    assert "B03.FR.03" in http_error(StationRejected("CS1")).detail
    failed = http_error(CallFailed("Reset", GenericError("on fire")))
    assert failed.extra == {"code": "GenericError", "description": "on fire"}
    assert "GenericError on fire" in failed.detail
    assert http_error(InvalidCommand("FormatViolation", "at $")).extra == {
        "code": "FormatViolation",
        "description": "at $",
    }
    with pytest.raises(TypeError, match="no HTTP mapping"):
        http_error(KeyError("x"))


def test_pages_share_one_schema_shape(tmp_path: Path) -> None:
    app = Csms(CsmsSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"))
    schemas = app.api.openapi_schema.to_schema()["components"]["schemas"]
    pages = {name: schema for name, schema in schemas.items() if schema.get("title", "").startswith("Page[")}
    assert len(pages) >= 6
    for schema in pages.values():
        assert set(schema["properties"]) == {"items", "total", "offset", "limit"}


async def test_every_station_route_answers_404_for_an_unknown_station(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    for method, path in [
        ("GET", "/stations/NOPE"),
        ("PATCH", "/stations/NOPE"),
        ("DELETE", "/stations/NOPE"),
        ("GET", "/stations/NOPE/connectors"),
        ("GET", "/stations/NOPE/status-history"),
        ("POST", "/stations/NOPE/availability"),
        ("GET", "/stations/NOPE/local-list"),
        ("POST", "/stations/NOPE/local-list"),
        ("GET", "/stations/NOPE/local-list/station-version"),
        ("POST", "/stations/NOPE/reservations"),
        ("POST", "/stations/NOPE/data-transfer"),
        ("GET", "/stations/NOPE/meter-values"),
        ("POST", "/stations/NOPE/commands/Reset"),
        ("POST", "/stations/NOPE/reset"),
    ]:
        response = await api.request(method, f"/api/v1{path}", headers=auth, content=b"{}")
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == "no station NOPE", (method, path)


async def test_the_app_is_built_without_copying_its_routers(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_api's routers are registered without Litestar's deep copy (a tenth of the CPU time of a CSMS's
    start), and the routes still answer behind the bearer guard."""
    import copy

    import litestar.router
    from litestar import get
    from litestar.testing import AsyncTestClient

    from chargeplane.csms.api.app import build_api
    from chargeplane.csms.api.tokens import TokenStore
    from chargeplane.csms.storage.engine import create_engine

    copied: list[object] = []

    def deepcopy(value: object, memo: dict[int, object] | None = None) -> object:
        result = copy.deepcopy(value, memo)
        if result is not value:
            copied.append(value)
        return result

    monkeypatch.setattr(litestar.router, "deepcopy", deepcopy)

    @get("/ping", opt={"public": True})
    async def ping() -> str:
        return "pong"

    @get("/secret")
    async def secret() -> str:
        return "secret"

    engine = create_engine("sqlite+aiosqlite://")
    try:
        app = build_api(TokenStore(engine), [ping, secret])
        async with AsyncTestClient(app) as client:
            answers = [(await client.get(f"/api/v1/{path}")).status_code for path in ("ping", "secret")]
    finally:
        await engine.dispose()
    # only the routers Litestar makes itself (the OpenAPI documents, the Swagger assets) are copied
    assert {"/api/v1", "/"}.isdisjoint(getattr(value, "path", None) for value in copied)
    assert answers == [200, 401]
