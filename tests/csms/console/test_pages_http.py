"""The console's transaction, local list, group, campaign and site pages over HTTP (no browser): filters and
the CSV export, the forms through the blocks' services, viewers refused and CSRF checked on every POST."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.routing import on

from chargeplane.csms.console.users import Role
from tests.csms.blocks.tariffs.test_tariffs import FLAT_TARIFF
from tests.csms.blocks.tariffs.test_tariffs import event as tariff_event
from tests.csms.conftest import RunningCsms
from tests.csms.console.helpers import sign_in, sqlite_csms
from tests.csms.peers import MODULES, boot, peer

V201 = MODULES["2.0.1"]


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[RunningCsms]:
    async with sqlite_csms(tmp_path) as running_csms:
        yield running_csms


@pytest.fixture
async def client(csms: RunningCsms) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as browser:
        yield browser


async def _api(csms: RunningCsms, method: str, url: str, status: int, **kwargs: Any) -> Any:
    headers = csms.auth | kwargs.pop("headers", {})
    answer = await csms.api.request(method, f"/api/v1{url}", headers=headers, **kwargs)
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def _wire(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _transaction(station: Any, tx: str, token: str, started: datetime, evse: int) -> None:
    await station.call(
        V201.call.TransactionEvent(
            event_type="Started",
            timestamp=_wire(started),
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": tx},
            id_token={"id_token": token, "type": "ISO14443"},
            evse={"id": evse, "connector_id": 1},
        )
    )
    await station.call(
        V201.call.TransactionEvent(
            event_type="Ended",
            timestamp=_wire(started + timedelta(minutes=30)),
            trigger_reason="EVCommunicationLost",
            seq_no=1,
            transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected"},
        )
    )


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_transaction_filters_and_csv_export(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS-1")
    await csms.add_station("CS-2")
    now = datetime.now(UTC).replace(microsecond=0)
    for station_id, tx, token, started in (
        ("CS-1", "TX-A", "DRIVER-A", now - timedelta(days=2)),
        ("CS-1", "TX-F", "=1+2", now - timedelta(hours=3)),
        ("CS-2", "TX-B", "DRIVER-B", now - timedelta(hours=2)),
    ):
        async with peer(csms.ocpp_url, station_id, "2.0.1") as station:
            await boot(station, "2.0.1")
            await _transaction(station, tx, token, started, 1)
    await sign_in(client, Role.VIEWER)
    page = await client.get("/transactions", params={"station": "CS-1"})
    assert page.status_code == 200
    assert "TX-A" in page.text
    assert "TX-F" in page.text
    assert "TX-B" not in page.text
    assert "EVDisconnected" in page.text  # the stop reason column
    # The CSV link carries the filters; its rows are the filtered list, newest first.
    day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert 'href="/transactions.csv?station=CS-1' in page.text
    export = await client.get("/transactions.csv", params={"station": "CS-1", "from": day_ago})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="transactions-')
    assert export.headers["content-security-policy"].startswith("default-src 'self'")
    rows = _csv(export.text)
    assert [(r["transactionId"], r["idToken"], r["stopReason"]) for r in rows] == [
        ("TX-F", "'=1+2", "EVDisconnected")  # formula-safe: a spreadsheet shows it as text
    ]
    everything = _csv((await client.get("/transactions.csv")).text)
    assert [r["transactionId"] for r in everything] == ["TX-B", "TX-F", "TX-A"]
    by_token = _csv((await client.get("/transactions.csv", params={"id_token": "DRIVER-B"})).text)
    assert [r["stationId"] for r in by_token] == ["CS-2"]
    ended = _csv((await client.get("/transactions.csv", params={"status": "active"})).text)
    assert ended == []
    # A time that is not one, or a range that ends before it starts: 400, not a crash.
    assert (await client.get("/transactions.csv", params={"from": "soon"})).status_code == 400
    backwards = {"from": day_ago, "to": (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}
    refused = await client.get("/transactions", params=backwards)
    assert refused.status_code == 400
    assert 'id="refused">the time range ends before it starts' in refused.text
    # The detail shows the stop reason and says when no cost is known (no tariff).
    key = (await _api(csms, "GET", "/transactions?stationId=CS-2", 200))["items"][0]["id"]
    detail = await client.get(f"/transactions/{key}")
    assert 'id="tx-stop-reason">EVDisconnected' in detail.text
    assert 'id="tx-cost">not known' in detail.text
    assert 'id="soc-card" hidden' in detail.text  # no SoC in these meter values
    # Signed out: the export redirects to the login like every page.
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as stranger:
        assert (await stranger.get("/transactions.csv")).status_code == 303


async def test_groups_campaigns_and_their_roles(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    for name in ("CS-1", "CS-2"):
        await csms.add_station(name)
    image = await _api(
        csms,
        "POST",
        "/firmware?name=acme&version=2.0",
        201,
        content=b"firmware image",
        headers={"Content-Type": "application/octet-stream"},
    )
    csrf = await sign_in(client, Role.OPERATOR)
    made = await client.post("/groups", data={"name": "depot", "csrf_token": csrf})
    assert made.status_code == 201
    assert 'id="done">Group depot created.' in made.text
    assert (await client.post("/groups", data={"name": "depot", "csrf_token": csrf})).status_code == 409
    assert (await client.post("/groups", data={"name": "no spaces", "csrf_token": csrf})).status_code == 400
    for station_id in ("CS-1", "CS-2"):
        joined = await client.post(
            "/groups/members", data={"group": "depot", "station_id": station_id, "csrf_token": csrf}
        )
        assert joined.status_code == 200, joined.text
    unknown = await client.post(
        "/groups/members", data={"group": "depot", "station_id": "CS-9", "csrf_token": csrf}
    )
    assert unknown.status_code == 404
    assert (await client.post("/groups", data={"name": "other"})).status_code == 403  # no CSRF token
    # A campaign to the group: every member pending, then cancelled; a second cancel is a conflict.
    form = {
        "csrf_token": csrf,
        "name": "Q4 rollout",
        "firmware_id": str(image["id"]),
        "target": "group",
        "group": "depot",
        "batch": "1",
        "batch_unit": "size",
    }
    started = await client.post("/firmware/campaigns", data=form)
    assert started.status_code == 201, started.text
    assert 'data-station="CS-1"' in started.text
    assert 'data-station="CS-2"' in started.text
    campaign = (await _api(csms, "GET", "/firmware/campaigns", 200))["items"][0]
    assert campaign["name"] == "Q4 rollout"
    assert campaign["state"] == "running"
    refused = await client.post("/firmware/campaigns", data=form | {"group": "nobody"})
    assert refused.status_code == 404
    assert 'id="refused"' in refused.text
    cancel = f"/firmware/campaigns/{campaign['id']}/cancel"
    done = await client.post(cancel, data={"csrf_token": csrf, "reason": "wrong image"})
    assert done.status_code == 200
    assert 'id="campaign-state">aborted' in done.text
    assert (await _api(csms, "GET", f"/firmware/campaigns/{campaign['id']}", 200))["reason"] == "wrong image"
    assert (await client.post(cancel, data={"csrf_token": csrf})).status_code == 409
    fragment = await client.get(f"/fragments/firmware/campaigns/{campaign['id']}")
    assert "campaign-stations" in fragment.text
    assert "<html" not in fragment.text
    # Viewers read, never change (refused by the server, whatever the page shows).
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as viewer:
        token = await sign_in(viewer, Role.VIEWER)
        page = await viewer.get("/firmware/campaigns")
        assert page.status_code == 200
        assert "Start a campaign" not in page.text
        assert (
            await viewer.post("/firmware/campaigns", data=form | {"csrf_token": token})
        ).status_code == 403
        assert (await viewer.post("/groups", data={"name": "x", "csrf_token": token})).status_code == 403
        assert (await viewer.post(cancel, data={"csrf_token": token})).status_code == 403
        local = await viewer.get("/stations/CS-1/local-list")
        assert local.status_code == 200
        assert 'id="viewer-note"' in local.text
        sent = await viewer.post("/stations/CS-1/local-list", data={"csrf_token": token, "update": "Full"})
        assert sent.status_code == 403


async def test_local_list_page_sends_through_the_service(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await csms.add_station("CS-1")
    await _api(csms, "POST", "/id-tokens", 201, json={"idToken": "DRIVER-1", "type": "ISO14443"})
    csrf = await sign_in(client, Role.OPERATOR)
    offline = await client.post("/stations/CS-1/local-list", data={"csrf_token": csrf, "update": "Full"})
    assert offline.status_code == 409
    assert 'id="refused"' in offline.text
    assert (await client.get("/stations/CS-9/local-list")).status_code == 404

    class ListStation(V201.ChargePoint):  # type: ignore[misc,name-defined]
        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
            return V201.call_result.GetVariables(
                get_variable_result=[
                    {
                        "attribute_status": "UnknownVariable",
                        "component": d["component"],
                        "variable": d["variable"],
                    }
                    for d in get_variable_data
                ]
            )

        @on("SendLocalList")
        def send_local_list(self, version_number: int, update_type: str, **_: Any) -> Any:
            return V201.call_result.SendLocalList(status="Accepted")

    async with peer(csms.ocpp_url, "CS-1", "2.0.1", station_class=ListStation) as station:
        await boot(station, "2.0.1")
        sent = await client.post("/stations/CS-1/local-list", data={"csrf_token": csrf, "update": "Full"})
    assert sent.status_code == 200, sent.text
    assert "Full update: done" in sent.text
    assert 'id="list-version">1<' in sent.text
    assert "<td>DRIVER-1</td>" in sent.text
    index = await client.get("/local-lists")
    assert 'data-station="CS-1"' in index.text
    assert "never sent" not in index.text


async def test_site_page_and_the_grid_limit(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS-1")
    tree = {
        "id": "grid",
        "limit": [100.0],
        "circuits": [
            {
                "id": "feeder",
                "limit": [40.0],
                "evses": [{"id": "e1", "stationId": "CS-1", "evseId": 1, "limit": 32.0}],
            }
        ],
    }
    await _api(csms, "PUT", "/sites/depot", 200, json=tree)
    csrf = await sign_in(client, Role.OPERATOR)
    listed = await client.get("/sites")
    assert 'href="/sites/depot"' in listed.text
    page = await client.get("/sites/depot")
    assert page.status_code == 200
    assert 'data-node="feeder"' in page.text
    assert 'data-node="e1"' in page.text
    assert 'id="site-grid-limit">none' in page.text
    limited = await client.post("/sites/depot/grid-limit", data={"csrf_token": csrf, "limit": "30 28 26"})
    assert limited.status_code == 200
    assert "Grid limit set to 30 / 28 / 26 A." in limited.text
    assert (await _api(csms, "GET", "/sites/depot", 200))["gridLimit"] == [30.0, 28.0, 26.0]
    bad = await client.post("/sites/depot/grid-limit", data={"csrf_token": csrf, "limit": "-3"})
    assert bad.status_code == 400
    assert 'id="refused"' in bad.text
    lifted = await client.post("/sites/depot/grid-limit", data={"csrf_token": csrf, "clear": "1"})
    assert "Grid limit lifted." in lifted.text
    assert (await _api(csms, "GET", "/sites/depot", 200))["gridLimit"] is None
    assert (await client.get("/sites/elsewhere")).status_code == 404
    assert (await client.post("/sites/depot/grid-limit", data={"limit": "10"})).status_code == 403  # no CSRF
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as viewer:
        token = await sign_in(viewer, Role.VIEWER)
        shown = await viewer.get("/sites/depot")
        assert "Set grid limit" not in shown.text
        refused = await viewer.post("/sites/depot/grid-limit", data={"csrf_token": token, "limit": "10"})
        assert refused.status_code == 403


async def test_transaction_detail_shows_its_cost(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await _api(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    await _api(csms, "POST", "/id-tokens", 201, json={"idToken": "TAG-1", "type": "ISO14443"})
    await csms.add_station("CS1")
    async with peer(csms.ocpp_url, "CS1", "2.0.1") as station:
        await boot(station, "2.0.1")
        token = {"id_token": "TAG-1", "type": "ISO14443"}
        await station.call(tariff_event("2.0.1", "Started", 0, 0, 1000, id_token=token, trigger="Authorized"))
        ended = tariff_event("2.0.1", "Ended", 1, 3600, 3000, info={"stopped_reason": "Local"})
        await station.call(ended)
    key = (await _api(csms, "GET", "/transactions?stationId=CS1", 200))["items"][0]["id"]
    receipt = await _api(csms, "GET", f"/transactions/{key}/cost", 200)
    total = receipt["totalInclTax"] or receipt["totalExclTax"]
    assert Decimal(total) == Decimal("0.60")  # 2 kWh at 0.30 EUR
    await sign_in(client, Role.VIEWER)
    detail = await client.get(f"/transactions/{key}")
    assert f'id="tx-cost">{total} EUR' in detail.text
    assert 'id="tx-stop-reason">Local' in detail.text
    facts = await client.get(f"/fragments/transactions/{key}/facts")  # the live part shows it too
    assert f'id="tx-cost">{total} EUR' in facts.text


async def test_overview_shows_faults_power_now_and_open_alerts(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    """Issue #18 item 2: stations faulted, the power of the running sessions now, the open alerts."""
    await _api(csms, "POST", "/id-tokens", 201, json={"idToken": "TAG-P", "type": "ISO14443"})
    await csms.add_station("CS1")
    await _api(csms, "POST", "/alert-rules", 201, json={"name": "all", "maxSeverity": 9})
    await sign_in(client, Role.VIEWER)
    before = (await client.get("/fragments/overview")).text
    assert 'id="stations-faulted">0<' in before
    assert 'id="power-now">0.0 kW<' in before
    assert 'id="open-alerts">0<' in before
    now = datetime.now(UTC)
    async with peer(csms.ocpp_url, "CS1", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(
            V201.call.StatusNotification(
                timestamp=_wire(now), connector_status="Faulted", evse_id=2, connector_id=1
            )
        )
        await station.call(
            V201.call.TransactionEvent(
                event_type="Started",
                timestamp=_wire(now - timedelta(minutes=2)),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info={"transaction_id": "TX-P", "charging_state": "Charging"},
                id_token={"id_token": "TAG-P", "type": "ISO14443"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        for seq, (age, phases) in enumerate(((90, (1000, 1000, 1000)), (30, (2000, 2500, 3000))), start=1):
            await station.call(
                V201.call.TransactionEvent(
                    event_type="Updated",
                    timestamp=_wire(now - timedelta(seconds=age)),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=seq,
                    transaction_info={"transaction_id": "TX-P"},
                    meter_value=[
                        {
                            "timestamp": _wire(now - timedelta(seconds=age)),
                            "sampled_value": [
                                {"value": watts, "measurand": "Power.Active.Import", "phase": phase}
                                for watts, phase in zip(phases, ("L1-N", "L2-N", "L3-N"), strict=True)
                            ],
                        }
                    ],
                )
            )
        await station.call(
            V201.call.NotifyEvent(
                generated_at=_wire(now),
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": _wire(now),
                        "trigger": "Delta",
                        "actual_value": "Faulted",
                        "event_notification_type": "HardWiredNotification",
                        "component": {"name": "EVSE", "evse": {"id": 2}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            )
        )
        async with asyncio.timeout(5):  # the alert is raised by a listener of the stored event
            while True:
                after = (await client.get("/fragments/overview")).text
                if 'id="open-alerts">1<' in after:
                    break
                await asyncio.sleep(0.05)
    assert 'id="stations-faulted">1<' in after
    assert 'id="power-now">7.5 kW<' in after, after  # the latest instant's phases added up, not the older one
    assert 'id="evses-charging">1<' in after
