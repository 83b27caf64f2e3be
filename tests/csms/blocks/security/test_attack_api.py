"""The CSMS side of issue #13: lockouts and their API, critical flags and counts of security events, refused
API tokens as security events, the audit log of state-changing calls. Stations are ``ocpp``-package peers
and raw WebSocket clients; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.csms.api.test_events_stream import open_stream, read_events
from tests.csms.blocks.security.test_security import _security_events
from tests.csms.conftest import RunningCsms, basic_auth, running, settings_for
from tests.csms.peers import boot, peer


@pytest.fixture
async def guarded(database_url: str) -> AsyncIterator[RunningCsms]:
    settings = settings_for(
        database_url, ocpp_lockout_station_failures=2, ocpp_lockout_base=60.0, ocpp_source_failure_rate=0.0
    )
    async with running(settings) as csms:
        yield csms


async def _status(url: str, headers: dict[str, str]) -> int:
    try:
        async with connect(url, subprotocols=["ocpp2.0.1"], additional_headers=headers, open_timeout=5):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **options: Any) -> Any:
    options.setdefault("headers", csms.auth)
    response = await csms.api.request(method, "/api/v1" + url, **options)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def test_lockout_is_listed_is_a_critical_event_is_counted_and_can_be_lifted(
    guarded: RunningCsms,
) -> None:
    csms = guarded
    await csms.add_station("ATT1")
    url = f"{csms.ocpp_url}/ATT1"
    async with csms.app.events.subscribe() as subscription:
        for _ in range(3):  # two failures lock; the third is refused without a password check
            assert await _status(url, basic_auth("ATT1", "wrong-password-000000")) == 401
        published = await _security_events(subscription, 3)
    assert [(e.data["type"], e.data["critical"]) for e in published] == [
        ("AuthenticationFailed", False),
        ("AuthenticationFailed", False),
        ("AuthenticationLockout", True),
    ]
    assert await _status(url, basic_auth("ATT1")) == 401  # locked: even the right password
    state = await _json(csms, "GET", "/security/lockouts")
    assert [(lock["kind"], lock["key"], lock["failures"]) for lock in state["lockouts"]] == [
        ("station", "att1", 2)
    ]
    assert 0 < state["lockouts"][0]["secondsLeft"] <= 60
    assert state["refusedLocked"] == 2
    assert state["lockoutsStarted"] == 1
    critical = await _json(csms, "GET", "/security-events?critical=true")
    assert [(e["type"], e["critical"], e["stationId"]) for e in critical["items"]] == [
        ("AuthenticationLockout", True, "ATT1")
    ]
    counts = await _json(csms, "GET", "/security-events/counts?source=csms")
    assert counts == [
        {"type": "AuthenticationFailed", "source": "csms", "count": 2, "critical": False},
        {"type": "AuthenticationLockout", "source": "csms", "count": 1, "critical": True},
    ]
    await _json(csms, "DELETE", "/security/lockouts/station/ATT1", status=204)
    await _json(csms, "DELETE", "/security/lockouts/station/ATT1", status=404)
    await _json(csms, "DELETE", "/security/lockouts/other/ATT1", status=400)
    assert (await _json(csms, "GET", "/security/lockouts"))["lockouts"] == []
    async with peer(csms.ocpp_url, "ATT1", "2.0.1") as station:  # the right password works again
        await boot(station, "2.0.1")


async def test_unknown_identities_are_locked_like_known_ones(guarded: RunningCsms) -> None:
    csms = guarded
    for _ in range(2):
        assert await _status(f"{csms.ocpp_url}/GHOST", basic_auth("GHOST", "wrong-password-000000")) == 401
    locks = (await _json(csms, "GET", "/security/lockouts"))["lockouts"]
    assert [(lock["kind"], lock["key"]) for lock in locks] == [("station", "ghost")]


async def test_refused_api_tokens_are_csms_security_events(csms: RunningCsms) -> None:
    assert (await csms.api.get("/api/v1/stations")).status_code == 401
    bad = {"Authorization": "Bearer cp_not-a-token"}
    assert (await csms.api.post("/api/v1/stations", json={"stationId": "X"}, headers=bad)).status_code == 401
    page = await _json(csms, "GET", "/security-events?type=ApiAuthenticationFailed")
    assert page["total"] == 2
    newest, oldest = page["items"]
    assert (newest["source"], newest["critical"]) == ("csms", False)
    assert newest["techInfo"].startswith("unknown bearer token: POST /api/v1/stations (from 127.0.0.1")
    assert oldest["techInfo"].startswith("no bearer token: GET /api/v1/stations")


async def test_audit_log_records_every_state_changing_call_with_its_token_and_outcome(
    csms: RunningCsms,
) -> None:
    await csms.add_station("AUD1")
    await _json(csms, "GET", "/stations/AUD1")  # reads are not audited
    await _json(csms, "POST", "/stations", status=409, json={"stationId": "AUD1"})
    await _json(csms, "DELETE", "/stations/AUD1", status=401, headers={"Authorization": "Bearer wrong"})
    reader = await csms.app.tokens.create("dashboard", scope=_scope("read"))
    read_only = {"Authorization": f"Bearer {reader}"}
    await _json(csms, "DELETE", "/stations/AUD1", status=403, headers=read_only)
    await _json(csms, "GET", "/audit-log", status=403, headers=read_only)  # admin scope only
    page = await _json(csms, "GET", "/audit-log")
    assert page["total"] == 4
    rows = [
        (e["tokenName"], e["method"], e["route"], e["stationId"], e["status"])
        for e in reversed(page["items"])
    ]
    assert rows == [
        ("initial", "POST", "/api/v1/stations", None, 201),
        ("initial", "POST", "/api/v1/stations", None, 409),
        ("-", "DELETE", "/api/v1/stations/{station_id}", "AUD1", 401),
        ("dashboard", "DELETE", "/api/v1/stations/{station_id}", "AUD1", 403),
    ]
    assert all(e["client"] == "127.0.0.1" and e["at"] for e in page["items"])
    mine = await _json(csms, "GET", "/audit-log?tokenName=dashboard&stationId=aud1")
    assert mine["total"] == 1


def _scope(name: str) -> Any:
    from chargeplane.csms.api.tokens import Scope

    return Scope(name)


async def test_security_events_stream_as_sse_with_their_critical_flag(guarded: RunningCsms) -> None:
    csms = guarded
    await csms.add_station("ATT2")
    async with csms.api.stream("GET", "/api/v1/events?kind=security", headers=csms.auth) as stream:
        lines = stream.aiter_lines()
        await open_stream(lines)
        async with peer(csms.ocpp_url, "ATT2", "2.0.1") as station:  # its connected/boot events: left out
            await boot(station, "2.0.1")
        for _ in range(2):
            assert await _status(f"{csms.ocpp_url}/ATT2", basic_auth("ATT2", "wrong-password-000000")) == 401
        seen = await read_events(lines, until="security.event")
        seen += await read_events(lines, until="security.event")
    assert {kind for kind, _ in seen} == {"security.event"}
    assert [(data["data"]["type"], data["data"]["critical"]) for _, data in seen] == [
        ("AuthenticationFailed", False),
        ("AuthenticationFailed", False),
    ]


async def test_a_flood_of_bad_tokens_writes_a_bounded_number_of_events(csms: RunningCsms) -> None:
    bad = {"Authorization": "Bearer cp_flood"}
    for _ in range(30):
        assert (await csms.api.get("/api/v1/stations", headers=bad)).status_code == 401
    page = await _json(csms, "GET", "/security-events?type=ApiAuthenticationFailed&limit=1")
    assert 20 <= page["total"] < 30  # a burst of 20, then one a second


async def test_audit_log_keeps_only_the_template_of_a_public_route(csms: RunningCsms) -> None:
    response = await csms.api.put("/api/v1/uploads/not-a-real-secret", content=b"log")
    assert response.status_code == 404
    [entry] = (await _json(csms, "GET", "/audit-log"))["items"]
    assert entry["path"] == entry["route"]
    assert "not-a-real-secret" not in entry["path"]
    assert (entry["tokenName"], entry["method"], entry["status"]) == ("-", "PUT", 404)
