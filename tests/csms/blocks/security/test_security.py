"""Security events (A04) against peer stations from the ``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargeplane.csms.bus.events import StationEvent
from tests.csms.conftest import RunningCsms, basic_auth
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]


async def _page(csms: RunningCsms, url: str) -> dict[str, Any]:
    response = await csms.api.get(url, headers=csms.auth)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


@pytest.mark.parametrize("version", VERSIONS)
async def test_A04_FR_03_station_events_are_confirmed_stored_and_published(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("SEC1")
    call = MODULES[version].call
    async with (
        csms.app.events.subscribe() as subscription,
        peer(csms.ocpp_url, "SEC1", version) as station,
    ):
        await boot(station, version)
        answer = await station.call(
            call.SecurityEventNotification(
                type="StartupOfTheDevice", timestamp="2026-12-07T03:00:00Z", tech_info=None
            )
        )
        assert (
            answer is not None
        )  # the empty confirmation (A04.FR.03); 1.6 needs tech_info given (None: left out)
        await station.call(
            call.SecurityEventNotification(
                type="SettingSystemTime", timestamp="2026-12-07T03:01:00Z", tech_info="ntp"
            )
        )
        published = await _security_events(subscription, 2)
    assert [(e.station_id, e.data["type"], e.data["source"]) for e in published] == [
        ("SEC1", "StartupOfTheDevice", "station"),
        ("SEC1", "SettingSystemTime", "station"),
    ]
    page = await _page(csms, "/api/v1/security-events?stationId=sec1")
    assert page["total"] == 2
    assert [(e["source"], e["type"], e["techInfo"]) for e in page["items"]] == [
        ("station", "SettingSystemTime", "ntp"),
        ("station", "StartupOfTheDevice", None),
    ]
    assert page["items"][1]["stationId"] == "SEC1"
    assert page["items"][1]["timestamp"].startswith("2026-12-07T03:00:00")
    assert page["items"][1]["receivedAt"]


async def _security_events(subscription: Any, count: int) -> list[StationEvent]:
    found: list[StationEvent] = []
    async with asyncio.timeout(5):
        while len(found) < count:
            event = await subscription.get()
            if event.kind == "security.event":
                found.append(event)
    return found


async def test_failed_basic_auth_is_logged_as_a_csms_event(csms: RunningCsms) -> None:
    await csms.add_station("SEC2")
    with pytest.raises(InvalidStatus):
        async with connect(
            f"{csms.ocpp_url}/SEC2",
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic_auth("SEC2", "wrong-password-000000"),
        ):
            pass
    page = await _page(csms, "/api/v1/stations/SEC2/security-events")
    assert page["total"] == 1
    [event] = page["items"]
    assert event["source"] == "csms"
    assert event["stationId"] == "SEC2"
    assert event["type"]  # the transport's kind, e.g. AuthenticationFailed
    assert event["techInfo"]
    assert (await _page(csms, "/api/v1/security-events?source=station"))["total"] == 0


async def test_security_events_api_filters_and_errors(csms: RunningCsms) -> None:
    await csms.add_station("SEC3")
    await csms.add_station("SEC4")
    call = MODULES["2.0.1"].call
    for station_id, kind, at in (
        ("SEC3", "StartupOfTheDevice", "2026-12-07T01:00:00Z"),
        ("SEC3", "ResetOrReboot", "2026-12-07T02:00:00Z"),
        ("SEC4", "StartupOfTheDevice", "2026-12-07T03:00:00Z"),
    ):
        async with peer(csms.ocpp_url, station_id, "2.0.1") as station:
            await boot(station, "2.0.1")
            await station.call(call.SecurityEventNotification(type=kind, timestamp=at, tech_info=None))
    assert (await _page(csms, "/api/v1/security-events"))["total"] == 3
    by_type = await _page(csms, "/api/v1/security-events?type=StartupOfTheDevice")
    assert [e["stationId"] for e in by_type["items"]] == ["SEC4", "SEC3"]
    in_window = await _page(csms, "/api/v1/security-events?from=2026-12-07T01:30:00Z&to=2026-12-07T03:00:00Z")
    assert [(e["stationId"], e["type"]) for e in in_window["items"]] == [("SEC3", "ResetOrReboot")]
    paged = await _page(csms, "/api/v1/security-events?limit=1&offset=1")
    assert paged["total"] == 3
    assert len(paged["items"]) == 1
    station = await _page(csms, "/api/v1/stations/SEC3/security-events?source=station")
    assert station["total"] == 2
    assert (await _page(csms, "/api/v1/stations/SEC3/security-events?source=csms"))["total"] == 0
    api = csms.api
    assert (await api.get("/api/v1/stations/NOPE/security-events", headers=csms.auth)).status_code == 404
    assert (await api.get("/api/v1/security-events?source=other", headers=csms.auth)).status_code == 400
    assert (await api.get("/api/v1/security-events")).status_code == 401
