"""/metrics after sessions of peer stations from the ``ocpp`` package; /healthz and /readyz (issue #19)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargeplane.csms.api.tokens import Scope
from chargeplane.csms.observability.metrics import CsmsMetrics
from chargeplane.csms.settings import CsmsSettings, SettingsError
from chargeplane.ocpp.errors import FormatViolation
from chargeplane.ocpp.events import CallAborted, CallRejected, CallTimedOut, ErrorReceived, ResultReceived
from chargeplane.ocpp.messages import v201
from chargeplane.ocpp.versions import Version
from tests.csms.conftest import RunningCsms, basic_auth, running, settings_for
from tests.csms.peers import MODULES, boot, peer

REPO = Path(__file__).resolve().parents[3]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(csms: RunningCsms) -> str:
    response = await csms.api.get("/metrics", headers=csms.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


@pytest.fixture
async def fast_lag(database_url: str) -> AsyncIterator[RunningCsms]:
    async with running(settings_for(database_url, loop_lag_interval=0.02)) as running_csms:
        yield running_csms


def clearing_station(version: str) -> Any:
    """A peer station (the ``ocpp`` package) that accepts ClearCache."""
    module = MODULES[version]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on("ClearCache")
        def clear_cache(self, **_: Any) -> Any:
            return module.call_result.ClearCache(status="Accepted")

    return Station


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_a_session_moves_the_counters_and_histograms(fast_lag: RunningCsms, version: str) -> None:
    csms = fast_lag
    await csms.add_station("CS1")
    before = await scrape(csms)
    assert value(before, "chargeplane_connected_stations", version=version, security_profile="0") == 0
    async with peer(csms.ocpp_url, "CS1", version, station_class=clearing_station(version)) as station:
        assert (await boot(station, version)).status == "Accepted"
        await station.call(MODULES[version].call.Heartbeat())
        await station.call(MODULES[version].call.Heartbeat())
        during = await scrape(csms)
        # Basic authentication without TLS: security profile 1.
        assert value(during, "chargeplane_connected_stations", version=version, security_profile="1") == 1
        answer = await csms.api.post("/api/v1/stations/CS1/commands/ClearCache", json={}, headers=csms.auth)
        assert answer.status_code == 200, answer.text
    await asyncio.sleep(0.1)  # the disconnection and a few lag measurements
    after = await scrape(csms)
    assert value(after, "chargeplane_connected_stations", version=version, security_profile="1") == 0
    inbound = {"version": version, "direction": "in", "outcome": "result"}
    assert value(after, "chargeplane_ocpp_messages_total", action="BootNotification", **inbound) == 1
    assert value(after, "chargeplane_ocpp_messages_total", action="Heartbeat", **inbound) == 2
    outbound = {"version": version, "action": "ClearCache", "direction": "out", "outcome": "result"}
    assert value(after, "chargeplane_ocpp_messages_total", **outbound) == 1
    handler = {"version": version, "action": "BootNotification"}
    assert value(after, "chargeplane_ocpp_handler_seconds_count", **handler) == 1
    assert value(after, "chargeplane_ocpp_handler_seconds_sum", **handler) > 0
    assert value(after, "chargeplane_ocpp_call_seconds_count", action="Heartbeat") == 2
    # End to end includes the handler: never shorter.
    assert value(after, "chargeplane_ocpp_call_seconds_sum", action="BootNotification") >= value(
        after, "chargeplane_ocpp_handler_seconds_sum", **handler
    )
    # The boot and the presence went through the group committer.
    assert value(after, "chargeplane_group_commit_batches_total") > value(
        before, "chargeplane_group_commit_batches_total"
    )
    assert value(after, "chargeplane_group_commit_batch_units_count") > value(
        before, "chargeplane_group_commit_batch_units_count"
    )
    assert value(after, "chargeplane_group_commit_seconds_sum") > 0
    assert value(after, "chargeplane_event_loop_lag_seconds_count") > 0
    api = {"method": "POST", "route": "/api/v1/stations"}
    assert value(after, "chargeplane_api_requests_total", status="201", **api) == 1
    command = {"method": "POST", "route": "/api/v1/stations/{station_id}/commands/{action}"}
    assert value(after, "chargeplane_api_requests_total", status="200", **command) == 1
    assert value(after, "chargeplane_api_requests_total", method="GET", route="/metrics", status="200") >= 2


async def test_refused_calls_count_as_errors_without_a_handler_time(csms: RunningCsms) -> None:
    await csms.add_station("CS2", registrationStatus="Pending")
    async with peer(csms.ocpp_url, "CS2", "2.0.1") as station:
        assert (await boot(station, "2.0.1")).status == "Pending"
        # B02.FR.09: a pending station's Heartbeat is refused by the registration guard.
        with pytest.raises(Exception):  # noqa: B017, PT011  # the ocpp package raises its SecurityError
            await station.call(MODULES["2.0.1"].call.Heartbeat(), suppress=False)
    text = await scrape(csms)
    refused = {"version": "2.0.1", "action": "Heartbeat", "direction": "in", "outcome": "error"}
    assert value(text, "chargeplane_ocpp_messages_total", **refused) == 1
    assert value(text, "chargeplane_ocpp_handler_seconds_count", version="2.0.1", action="Heartbeat") == 0


async def test_an_invalid_payload_counts_as_an_error(csms: RunningCsms) -> None:
    await csms.add_station("CS3")
    async with connect(
        f"{csms.ocpp_url}/CS3", subprotocols=["ocpp2.0.1"], additional_headers=basic_auth("CS3")
    ) as websocket:  # type: ignore[arg-type]
        await websocket.send('[2,"m1","BootNotification",{"reason":"PowerUp"}]')
        answer = await websocket.recv()
        assert answer.startswith('[4,"m1"')
    text = await scrape(csms)
    labels = {"version": "2.0.1", "action": "BootNotification", "direction": "in", "outcome": "error"}
    assert value(text, "chargeplane_ocpp_messages_total", **labels) == 1


async def test_admission_refusals_and_failed_handshakes_by_reason(database_url: str) -> None:
    settings = settings_for(database_url, ocpp_admission_rate=0.001, ocpp_admission_burst=1)
    async with running(settings) as csms:
        # a registered station's connections spend the main budget (unknown ids have a budget of their own)
        await csms.add_station("KNOWN1")
        url = f"{csms.ocpp_url}/KNOWN1"
        wrong = basic_auth("KNOWN1", "not-the-password-0123")
        with pytest.raises(InvalidStatus) as unknown:  # admitted, then refused: a wrong password
            async with connect(url, subprotocols=["ocpp2.0.1"], additional_headers=wrong):
                pass
        assert unknown.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as refused:  # the one token of the bucket is spent
            async with connect(url, subprotocols=["ocpp2.0.1"], additional_headers=basic_auth("KNOWN1")):
                pass
        assert refused.value.response.status_code == 503
        text = await scrape(csms)
    assert value(text, "chargeplane_admission_refusals_total", reason="rate") == 1
    assert value(text, "chargeplane_admission_refusals_total", reason="limit") == 0
    assert value(text, "chargeplane_admission_refusals_total", reason="opening") == 0
    assert value(text, "chargeplane_admission_rate") >= 0.001  # the base rate, or above it once adapted
    failures = [
        v for (name, _), v in samples(text).items() if name == "chargeplane_ocpp_handshake_failures_total"
    ]
    assert failures == [1]


async def test_metrics_need_a_read_token_unless_public_on_loopback(csms: RunningCsms) -> None:
    assert (await csms.api.get("/metrics")).status_code == 401
    assert (await csms.api.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    read_token = await csms.app.tokens.create("scraper", Scope.READ)
    answer = await csms.api.get("/metrics", headers={"Authorization": f"Bearer {read_token}"})
    assert answer.status_code == 200
    assert "chargeplane_ocpp_messages_total" in answer.text or "chargeplane_ocpp_messages" in answer.text


async def test_public_metrics_only_on_loopback(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
    async with running(settings_for(url, metrics_public=True)) as csms:
        assert (await csms.api.get("/metrics")).status_code == 200
    with pytest.raises(SettingsError, match="loopback"):
        CsmsSettings(api_host="0.0.0.0", metrics_public=True)
    with pytest.raises(SettingsError, match="loopback"):
        settings_for(url).with_overrides({"api_host": "192.0.2.1", "metrics_public": True})
    assert CsmsSettings(api_host="::1", metrics_public=True).metrics_public
    with pytest.raises(SettingsError, match="> 0"):
        CsmsSettings(loop_lag_interval=0)
    with pytest.raises(SettingsError, match="> 0"):
        CsmsSettings(readiness_timeout=-1)


async def test_healthz_and_readyz_need_no_token(csms: RunningCsms) -> None:
    health = await csms.api.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await csms.api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "bus": "ok"}}


async def test_readyz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    database = tmp_path / "csms.db"
    async with running(settings_for(f"sqlite+aiosqlite:///{database}", readiness_timeout=1.0)) as csms:
        assert (await csms.api.get("/readyz")).status_code == 200
        # The file goes away and a directory takes its place: no connection can open it any more.
        await csms.app.engine.dispose()
        database.rename(tmp_path / "moved.db")
        database.mkdir()
        try:
            ready = await csms.api.get("/readyz")
            assert ready.status_code == 503
            assert ready.json() == {"status": "not ready", "checks": {"database": "failed", "bus": "ok"}}
            assert (await csms.api.get("/healthz")).status_code == 200  # alive all the same
        finally:
            database.rmdir()
            (tmp_path / "moved.db").rename(database)
        assert (await csms.api.get("/readyz")).status_code == 200


async def test_readyz_is_503_when_the_database_lost_its_schema(tmp_path: Path) -> None:
    database = tmp_path / "csms.db"
    async with running(settings_for(f"sqlite+aiosqlite:///{database}")) as csms:
        await csms.app.engine.dispose()
        database.rename(tmp_path / "moved.db")  # SQLite would create an empty file: not ready either
        ready = await csms.api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "failed"
        await csms.app.engine.dispose()
        database.unlink()
        (tmp_path / "moved.db").rename(database)


async def test_readyz_is_503_when_the_ocpp_server_stopped(csms: RunningCsms) -> None:
    await csms.app.server.shutdown(deadline=0.1)
    ready = await csms.api.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "bus": "failed"}


def test_every_metric_is_documented() -> None:
    """docs/METRICS.md names every metric family of the registry, with each of its labels."""
    text = (REPO / "docs" / "METRICS.md").read_text()
    metrics = CsmsMetrics()
    metrics.admission_view = SimpleNamespace(refusals={}, lag=0.0, rate=200.0)
    metrics.committer_view = SimpleNamespace(batches=0, units=0, fallbacks=0)
    metrics.handled(Version.V201, "Heartbeat", "result", 0.001)  # one child of each labelled metric
    metrics.answered("Heartbeat", 0.001)
    metrics.api_requests.labels("GET", "/metrics", "200").inc()
    metrics.handshake_failures.labels("AuthenticationFailed").inc()
    for family in metrics.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        row = re.search(rf"^\| `{re.escape(name)}` \|(.*)$", text, re.MULTILINE)
        assert row is not None, f"{name} is not in docs/METRICS.md"
        labels = {label for sample in family.samples for label in sample.labels if label not in ("le",)}
        for label in labels:
            assert f"`{label}`" in row.group(1), f"label {label} of {name} is not documented"
    assert "/healthz" in text
    assert "/readyz" in text


async def test_api_requests_of_unknown_paths_are_unmatched(csms: RunningCsms) -> None:
    client = httpx.AsyncClient(base_url=str(csms.api.base_url))
    async with client:
        assert (await client.get("/no/such/path/12345")).status_code == 404
    text = await scrape(csms)
    assert value(text, "chargeplane_api_requests_total", method="GET", route="unmatched", status="404") == 1
    assert "12345" not in text


def test_the_outcomes_of_the_csms_calls_and_of_refused_frames() -> None:
    metrics = CsmsMetrics()
    request = v201.messages.ClearCacheRequest()
    for event in (
        ResultReceived("1", "ClearCache", request, v201.messages.ClearCacheResponse(status="Accepted")),
        ErrorReceived("2", "ClearCache", request, FormatViolation("bad")),
        CallTimedOut("3", "ClearCache", request),
        CallAborted("4", "ClearCache", request, "closed", True),
        CallRejected("5", "", FormatViolation("unreadable")),
        CallRejected("6", "NoSuchAction-9f3", FormatViolation("unknown action")),
        CallRejected("7", "Heartbeat", FormatViolation("bad payload")),
    ):
        metrics.ocpp_event(Version.V201, event)
    text = generate_latest(metrics.registry).decode()
    for outcome in ("result", "error", "timeout", "aborted"):
        labels = {"version": "2.0.1", "action": "ClearCache", "direction": "out", "outcome": outcome}
        assert value(text, "chargeplane_ocpp_messages_total", **labels) == 1
    unreadable = {"version": "2.0.1", "action": "unknown", "direction": "in", "outcome": "error"}
    assert value(text, "chargeplane_ocpp_messages_total", **unreadable) == 2
    assert "NoSuchAction" not in text
    heartbeat = {"version": "2.0.1", "action": "Heartbeat", "direction": "in", "outcome": "error"}
    assert value(text, "chargeplane_ocpp_messages_total", **heartbeat) == 1
