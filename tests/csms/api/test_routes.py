"""The shared route shapes (chargeplane.csms.api.routes): what each decorator declares, and the one rule of the
whole API that a station call is an operator's route with the statuses of every station call."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.routes import HTTPRoute

from chargeplane.csms.api.app import OPERATOR, RawJsonOperation
from chargeplane.csms.api.errors import STATION_CALL
from chargeplane.csms.api.pages import Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.api.tokens import Scope
from chargeplane.csms.app import Csms
from chargeplane.csms.settings import CsmsSettings


async def _answer() -> None:
    return None


def test_station_call_is_an_operators_route_answering_200_with_every_station_call_status() -> None:
    handler = station_call("/stations/{station_id:str}/x", summary="X")(_answer)
    assert handler.http_methods == {"POST"}
    assert handler.status_code == 200
    assert handler.opt == OPERATOR
    assert set(handler.responses or {}) == set(STATION_CALL)
    assert handler.summary == "X"


def test_station_call_takes_its_method_its_creation_status_its_own_statuses_and_operation() -> None:
    handler = station_call(
        "/x", summary="X", method="DELETE", status_code=201, also=(400,), operation_class=RawJsonOperation
    )(_answer)
    assert handler.http_methods == {"DELETE"}
    assert handler.status_code == 201
    assert set(handler.responses or {}) == {*STATION_CALL, 400}
    assert handler.operation_class is RawJsonOperation
    reading = station_call("/x", summary="X", method="GET")(_answer)
    assert reading.http_methods == {"GET"}
    assert reading.opt["scope"] is Scope.OPERATOR  # a GET that sends a CALL needs more than read


def test_get_or_404_documents_404_and_keeps_the_read_scope() -> None:
    handler = get_or_404("/alerts/{alert_id:int}", summary="One")(_answer)
    assert handler.http_methods == {"GET"}
    assert set(handler.responses or {}) == {404}
    assert "scope" not in handler.opt


def test_paged_maps_each_record_and_keeps_total_offset_and_limit() -> None:
    page = paged(str.upper, (["a", "b"], 7), 2, 2)
    assert page == Page(["A", "B"], 7, 2, 2)


def _routes(app: Litestar) -> list[tuple[str, str, int, dict[str, object], set[int]]]:
    return [
        (method, route.path, handler.status_code, handler.opt, set(handler.responses or {}))
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
    ]


def test_every_route_documenting_station_call_statuses_is_an_operators_station_call(tmp_path: Path) -> None:
    """A route that sends a CALL (it documents 502/504) acts on a station: the operator's scope, and every status
    of a station call (the one shape, whichever block declares it)."""
    app = Csms(CsmsSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")).api
    calls = [r for r in _routes(app) if {502, 504} & r[4]]
    assert len(calls) > 40
    for method, path, status, opt, responses in calls:
        assert opt.get("scope") is Scope.OPERATOR, (method, path)
        assert set(STATION_CALL) <= responses, (method, path)
        assert status in (200, 201), (method, path)
