"""What used to answer 500 (issue "Field readiness" #10): over-long integers in a path, a query or a body, and
deeply nested JSON; now 4xx, the nesting measured before any decoder runs."""

from __future__ import annotations

import time

import pytest

from chargeplane.csms.api.limits import MAX_JSON_DEPTH, json_depth
from tests.csms.conftest import RunningCsms

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/reservations/{HUGE}"),
        ("GET", "/reservations/9223372036854775808"),
        ("DELETE", f"/reservations/{HUGE}"),
        ("GET", f"/transactions/{HUGE}"),
        ("GET", f"/stations?offset={HUGE}"),
        ("GET", f"/id-tokens?offset={HUGE}"),
        ("GET", f"/transactions?offset={HUGE}&limit=10"),
    ],
)
async def test_an_over_long_integer_in_a_path_or_query_is_a_400(
    csms: RunningCsms, method: str, path: str
) -> None:
    response = await csms.api.request(method, f"/api/v1{path}", headers=csms.auth)
    assert response.status_code == 400, response.text


async def test_an_over_long_integer_in_a_body_is_a_400(csms: RunningCsms) -> None:
    response = await csms.api.post(
        "/api/v1/stations", headers=csms.auth, json={"stationId": "CS9", "heartbeatInterval": int(HUGE)}
    )
    assert response.status_code == 400, response.text
    await csms.add_station("CS1")
    response = await csms.api.post(
        "/api/v1/stations/CS1/reservations",
        headers=csms.auth,
        json={"idToken": "T", "expiresAt": "2030-01-01T00:00:00Z", "evseId": 2**31},
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("path", ["/stations", "/id-tokens/import", "/stations/CS1/commands/Reset"])
async def test_deeply_nested_json_is_a_400_before_decoding(csms: RunningCsms, path: str) -> None:
    await csms.add_station("CS1")
    body = b"[" * 100_000 + b"]" * 100_000
    response = await csms.api.post(
        f"/api/v1{path}", headers=csms.auth | {"content-type": "application/json"}, content=body
    )
    assert response.status_code == 400, response.text
    assert "nested deeper" in response.json()["detail"]


def test_the_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert json_depth(b'"\\"[["') == 0
    assert json_depth(b"[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1


@pytest.mark.parametrize(
    "body", [b'["' + b'\\"' * 200_000, b'["' + b'\\"' * 200_000 + b"\\", b"[" * 40 + b'"' * 200_001]
)
def test_the_depth_is_measured_in_linear_time_on_any_body(body: bytes) -> None:
    started = time.perf_counter()
    json_depth(body)
    assert time.perf_counter() - started < 1.0
