"""The console's management pages over HTTP: id tokens (create, block, CSV import), reservations, security
events and API tokens; each change checked by role on the server and CSRF-protected."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import ocpp.v21
import ocpp.v201
import pytest

from chargeplane.csms.console.users import Role
from tests.csms.blocks.reservation.test_reservation import Station201
from tests.csms.conftest import RunningCsms
from tests.csms.console.helpers import add_users, csrf_token, sign_in
from tests.csms.peers import boot, peer


@pytest.fixture
async def client(csms: RunningCsms) -> AsyncIterator[httpx.AsyncClient]:
    await add_users(csms.app)
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as browser:
        yield browser


async def api_token(csms: RunningCsms, id_token: str) -> dict[str, str]:
    answer = await csms.api.get(f"/api/v1/id-tokens/{id_token}", headers=csms.auth)
    assert answer.status_code == 200, answer.text
    result: dict[str, str] = answer.json()
    return result


async def test_operator_creates_and_blocks_an_id_token(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, Role.OPERATOR)
    form = {"csrf_token": csrf, "id_token": "CARD-1", "type": "ISO14443", "status": "Accepted"}
    created = await client.post("/id-tokens", data=form | {"local_list": "on", "description": "fleet"})
    assert created.status_code == 200, created.text
    assert "Id token CARD-1 created." in created.text
    token = await api_token(csms, "CARD-1")
    assert (token["status"], token["localList"], token["description"]) == ("Accepted", True, "fleet")
    again = await client.post("/id-tokens", data=form)
    assert again.status_code == 409  # the API's TokenExists, with its reason on the page
    assert 'role="alert"' in again.text
    blocked = await client.post("/id-tokens/block", data={"csrf_token": csrf, "id_token": "CARD-1"})
    assert blocked.status_code == 200
    assert (await api_token(csms, "CARD-1"))["status"] == "Blocked"
    assert "Unblock" in blocked.text
    unblocked = {"csrf_token": csrf, "id_token": "CARD-1", "type": "ISO14443", "unblock": "1"}
    assert (await client.post("/id-tokens/block", data=unblocked)).status_code == 200
    assert (await api_token(csms, "CARD-1"))["status"] == "Accepted"
    unknown = await client.post("/id-tokens/block", data={"csrf_token": csrf, "id_token": "NOPE"})
    assert unknown.status_code == 404


async def test_a_blocked_token_is_refused_to_the_station(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    """C01: what the console stored decides the station's Authorize."""
    csrf = await sign_in(client, Role.OPERATOR)
    await client.post("/id-tokens", data={"csrf_token": csrf, "id_token": "CARD-2", "type": "ISO14443"})
    await client.post("/id-tokens/block", data={"csrf_token": csrf, "id_token": "CARD-2"})
    await csms.add_station("CS1")
    async with peer(csms.ocpp_url, "CS1", "2.0.1") as station:
        await boot(station, "2.0.1")
        answer = await station.call(
            ocpp.v201.call.Authorize(id_token={"id_token": "CARD-2", "type": "ISO14443"})
        )
    assert answer.id_token_info["status"] == "Blocked"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"id_token": ""}, "idToken"),
        ({"id_token": "x" * 256}, "idToken"),
        ({"id_token": "OK", "status": "ConcurrentTx"}, "status"),
        ({"id_token": "OK", "type": "no spaces allowed"}, "type"),
    ],
)
async def test_bad_id_tokens_are_400_with_a_reason(
    csms: RunningCsms, client: httpx.AsyncClient, form: dict[str, str], reason: str
) -> None:
    csrf = await sign_in(client, Role.OPERATOR)
    answer = await client.post("/id-tokens", data={"csrf_token": csrf, **form})
    assert answer.status_code == 400
    assert reason in answer.text
    listed = await csms.api.get("/api/v1/id-tokens", headers=csms.auth)
    assert listed.json()["total"] == 0


async def test_csv_import_stores_the_valid_rows_and_reports_the_others(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, Role.OPERATOR)
    text = (
        "idToken,type,status,chargingPriority,localList,description\n"
        "A-1,ISO14443,Accepted,2,true,first\n"
        "A-2,,Blocked,,false,\n"
        ",ISO14443,Accepted,,,missing token\n"
        "A-4,ISO14443,Accepted,42,,priority out of range\n"
    )
    files = {"file": ("tokens.csv", text.encode(), "text/csv")}
    answer = await client.post("/id-tokens/import", data={"csrf_token": csrf}, files=files)
    assert answer.status_code == 200, answer.text
    assert "Imported: 2 created, 0 updated, 2 refused." in answer.text
    assert "line 4:" in answer.text
    assert "line 5:" in answer.text
    first, second = await api_token(csms, "A-1"), await api_token(csms, "A-2")
    assert (first["chargingPriority"], first["localList"], first["description"]) == (2, True, "first")
    assert (second["type"], second["status"], second["localList"]) == ("ISO14443", "Blocked", False)
    bad = {"file": ("x.csv", b"token,colour\nA,red\n", "text/csv")}
    answer = await client.post("/id-tokens/import", data={"csrf_token": csrf}, files=bad)
    assert answer.status_code == 400
    assert "idToken column" in answer.text
    bad = {"file": ("x.csv", b"idToken,colour\nA,red\n", "text/csv")}
    answer = await client.post("/id-tokens/import", data={"csrf_token": csrf}, files=bad)
    assert answer.status_code == 400
    assert "unknown CSV columns: colour" in answer.text
    binary = {"file": ("x.csv", b"idToken\n\xff\xfe\n", "text/csv")}
    answer = await client.post("/id-tokens/import", data={"csrf_token": csrf}, files=binary)
    assert answer.status_code == 400


async def test_viewers_see_tokens_but_cannot_change_them(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, Role.VIEWER)
    page = await client.get("/id-tokens")
    assert page.status_code == 200
    assert 'action="/id-tokens/import"' not in page.text
    data = {"csrf_token": csrf, "id_token": "V-1"}
    assert (await client.post("/id-tokens", data=data)).status_code == 403
    assert (await client.post("/id-tokens/block", data=data)).status_code == 403
    files = {"file": ("t.csv", b"idToken\nV-1\n", "text/csv")}
    assert (await client.post("/id-tokens/import", data={"csrf_token": csrf}, files=files)).status_code == 403
    assert (await csms.api.get("/api/v1/id-tokens", headers=csms.auth)).json()["total"] == 0
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        await sign_in(other, Role.OPERATOR)
        assert (await other.post("/id-tokens", data={"id_token": "V-1"})).status_code == 403  # no CSRF


async def test_reservations_and_security_events_are_listed(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await sign_in(client, Role.VIEWER)
    assert "No reservations." in (await client.get("/reservations")).text
    assert "No security events." in (await client.get("/security-events")).text
    await csms.add_station("RS1")
    async with peer(csms.ocpp_url, "RS1", "2.0.1", station_class=Station201) as station:
        await boot(station, "2.0.1")
        body = {
            "idToken": "TOKEN-R",
            "tokenType": "ISO14443",
            "evseId": 1,
            "expiresAt": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
        }
        made = await csms.api.post("/api/v1/stations/RS1/reservations", json=body, headers=csms.auth)
        assert made.status_code == 201, made.text
        await station.call(
            ocpp.v201.call.SecurityEventNotification(
                type="TamperDetectionActivated", timestamp=datetime.now(UTC).isoformat(), tech_info="lid"
            )
        )
    page = (await client.get("/reservations")).text
    assert "TOKEN-R" in page
    assert "Accepted" in page
    events = (await client.get("/security-events?station=RS1")).text
    assert "TamperDetectionActivated" in events
    assert "lid" in events
    assert "TamperDetectionActivated" not in (await client.get("/security-events?station=OTHER")).text


async def test_admin_creates_an_api_token_shown_once_that_works_and_revokes_it(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, Role.ADMIN)
    assert 'href="/api-tokens"' in (await client.get("/")).text
    created = await client.post("/api-tokens", data={"csrf_token": csrf, "name": "ci", "scope": "read"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    found = re.search(r'<code id="api-token-secret">([^<]+)</code>', created.text)
    assert found is not None
    secret = found.group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert (await csms.api.get("/api/v1/stations", headers=bearer)).status_code == 200
    assert secret not in (await client.get("/api-tokens")).text  # shown once
    token_id = re.findall(r'data-api-token="(\d+)"><td>\d+</td><td>ci<', created.text)
    assert len(token_id) == 1
    revoked = await client.post("/api-tokens/revoke", data={"csrf_token": csrf, "id": token_id[0]})
    assert revoked.status_code == 200
    assert f"API token {token_id[0]} revoked." in revoked.text
    missing = await client.post("/api-tokens/revoke", data={"csrf_token": csrf, "id": token_id[0]})
    assert missing.status_code == 404
    bad = await client.post("/api-tokens", data={"csrf_token": csrf, "name": "", "scope": "read"})
    assert bad.status_code == 400
    bad = await client.post("/api-tokens", data={"csrf_token": csrf, "name": "x", "scope": "root"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.VIEWER])
async def test_only_admins_manage_api_tokens(
    csms: RunningCsms, client: httpx.AsyncClient, role: Role
) -> None:
    csrf = await sign_in(client, role)
    assert 'href="/api-tokens"' not in (await client.get("/")).text
    assert (await client.get("/api-tokens")).status_code == 403
    data = {"csrf_token": csrf, "name": "sneaky", "scope": "admin"}
    assert (await client.post("/api-tokens", data=data)).status_code == 403
    assert (await client.post("/api-tokens/revoke", data={"csrf_token": csrf, "id": "1"})).status_code == 403


async def test_alerts_are_listed_and_an_operator_acknowledges_one(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    """N07: an event matching an alert rule opens an alert; the console lists it and closes it with a note."""
    rule = await csms.api.post(
        "/api/v1/alert-rules", json={"name": "all", "maxSeverity": 9}, headers=csms.auth
    )
    assert rule.status_code == 201, rule.text
    await csms.add_station("MON1")
    async with peer(csms.ocpp_url, "MON1", "2.1") as station:
        await boot(station, "2.1")
        await station.call(
            ocpp.v21.call.NotifyEvent(
                generated_at=datetime.now(UTC).isoformat(),
                seq_no=0,
                event_data=[
                    {
                        "event_id": 1,
                        "timestamp": datetime.now(UTC).isoformat(),
                        "trigger": "Alerting",
                        "actual_value": "61",
                        "event_notification_type": "CustomMonitor",
                        "severity": 2,
                        "component": {"name": "TemperatureSensor"},
                        "variable": {"name": "Temperature"},
                    }
                ],
            )
        )
    for _ in range(50):
        listed = await csms.api.get("/api/v1/alerts?state=open", headers=csms.auth)
        if listed.json()["total"]:
            break
        await asyncio.sleep(0.1)
    alert_id = listed.json()["items"][0]["id"]
    viewer = await sign_in(client, Role.VIEWER)
    page = await client.get("/alerts")
    assert "TemperatureSensor/Temperature" in page.text
    assert "Acknowledge" not in page.text
    data = {"csrf_token": viewer, "id": str(alert_id)}
    assert (await client.post("/alerts/acknowledge", data=data)).status_code == 403
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        csrf = await sign_in(other, Role.OPERATOR)
        done = await other.post(
            "/alerts/acknowledge", data={"csrf_token": csrf, "id": str(alert_id), "note": "ok"}
        )
        assert done.status_code == 200
        assert f"Alert {alert_id} acknowledged." in done.text
        assert "No alerts." in done.text  # the open list is empty now
        closed = await other.get("/alerts?state=closed")
        assert "TemperatureSensor/Temperature" in closed.text
        missing = await other.post("/alerts/acknowledge", data={"csrf_token": csrf, "id": "999"})
        assert missing.status_code == 404
        bad = await other.post("/alerts/acknowledge", data={"csrf_token": csrf, "id": "x"})
        assert bad.status_code == 400


async def test_firmware_images_are_listed(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await sign_in(client, Role.VIEWER)
    assert "No firmware images." in (await client.get("/firmware")).text
    uploaded = await csms.api.post(
        "/api/v1/firmware?name=depot-fw&version=2.4.1",
        content=b"firmware bytes",
        headers=csms.auth | {"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 201, uploaded.text
    page = (await client.get("/firmware")).text
    assert "depot-fw" in page
    assert "2.4.1" in page
    assert "14 bytes" in page
    assert 'action="/firmware"' not in page  # viewers upload nothing
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        csrf = await sign_in(other, Role.OPERATOR)
        files = {"file": ("fw.bin", b"new image bytes", "application/octet-stream")}
        form = {"csrf_token": csrf, "name": "depot-fw", "version": "2.5.0"}
        done = await other.post("/firmware", data=form, files=files)
        assert done.status_code == 201, done.text
        assert "Uploaded depot-fw 2.5.0" in done.text
        images = (await csms.api.get("/api/v1/firmware", headers=csms.auth)).json()["items"]
        assert {(i["version"], i["size"]) for i in images} == {("2.4.1", 14), ("2.5.0", 15)}
        again = await other.post("/firmware", data=form, files=files)
        assert again.status_code == 409
        nameless = await other.post("/firmware", data=form | {"name": ""}, files=files)
        assert nameless.status_code == 400
    viewer_csrf = csrf_token((await client.get("/")).text)
    form = {"csrf_token": viewer_csrf, "name": "x", "version": "1"}
    assert (await client.post("/firmware", data=form, files=files)).status_code == 403
