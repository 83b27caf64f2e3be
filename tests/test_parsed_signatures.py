"""The tests' cache of Litestar signatures (tests/parsed_signatures.py): handlers made by the same code share
their parsed signature and model across apps, and still validate their requests."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get
from litestar.params import FromQuery
from litestar.testing import TestClient


def _app(offset: int) -> tuple[Litestar, Any]:
    """A new closure per call, as each CSMS's blocks make their route handlers."""

    @get("/add")
    async def add(value: FromQuery[int]) -> int:
        return value + offset

    return Litestar(route_handlers=[add]), add


def test_handlers_of_the_same_code_share_their_signature_and_still_validate() -> None:
    first_app, first = _app(1)
    second_app, second = _app(2)
    assert first is not second
    assert (
        first.parsed_fn_signature is second.parsed_fn_signature
    )  # parsed once (installed by tests/conftest.py)
    assert first.signature_model is second.signature_model
    with TestClient(first_app) as one, TestClient(second_app) as two:
        assert (one.get("/add?value=3").json(), two.get("/add?value=3").json()) == (4, 5)
        assert one.get("/add?value=x").status_code == 400
