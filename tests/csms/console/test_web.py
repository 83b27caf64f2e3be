"""The console over HTTP without a browser: sign-in, session cookie, CSRF, roles, pages, commands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chargeplane.csms.console.users import Role
from chargeplane.csms.console.web import LOGIN_COOKIE, SESSION_COOKIE
from tests.csms.blocks.remote_control.test_remote_control import STATIONS
from tests.csms.conftest import RunningCsms
from tests.csms.console.helpers import PASSWORDS, add_users, login_token, sign_in
from tests.csms.peers import boot, peer


@pytest.fixture
async def client(csms: RunningCsms) -> AsyncIterator[httpx.AsyncClient]:
    await add_users(csms.app)
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as browser:
        yield browser


async def test_pages_need_a_session_and_come_back_after_login(client: httpx.AsyncClient) -> None:
    answer = await client.get("/stations?q=a")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/stations%3Fq%3Da"
    for path in ("/", "/transactions", "/fragments/overview", "/transactions/1/chart"):
        assert (await client.get(path)).status_code == 303
    assert (await client.get("/console/events")).status_code == 401


async def test_login_sets_a_strict_httponly_cookie(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    assert "Content-Security-Policy" in form.headers
    assert "script-src 'self'" in form.headers["Content-Security-Policy"]
    answer = await client.post(
        "/login",
        data={
            "login_token": login_token(form.text),
            "username": "OPERATOR",
            "password": PASSWORDS[Role.OPERATOR],
            "next": "/stations",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/stations"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http here; Secure when served over TLS
    assert (await client.get("/")).status_code == 200


async def test_wrong_password_is_refused(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"login_token": login_token(form.text), "username": "operator", "password": "not-the-password"},
    )
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert (await client.get("/")).status_code == 303


async def test_login_without_its_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # the cookie half of the double submit
    data = {"username": "operator", "password": PASSWORDS[Role.OPERATOR]}
    assert (await client.post("/login", data=data)).status_code == 403
    assert (await client.post("/login", data=data | {"login_token": "forged"})).status_code == 403
    client.cookies.delete(LOGIN_COOKIE, path="/login")
    form = await client.get("/login")
    client.cookies.clear()
    assert (
        await client.post("/login", data=data | {"login_token": login_token(form.text)})
    ).status_code == 403


async def test_no_open_redirect_after_login(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={
            "login_token": login_token(form.text),
            "username": "viewer",
            "password": PASSWORDS[Role.VIEWER],
            "next": "//evil.example/x",
        },
    )
    assert answer.headers["location"] == "/"


async def test_post_without_or_with_a_wrong_csrf_token_is_403(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.OPERATOR)
    url = "/stations/CS1/commands/reset"
    assert (await client.post(url, data={"type": "Immediate"})).status_code == 403
    assert (await client.post(url, data={"type": "Immediate", "csrf_token": csrf + "x"})).status_code == 403
    assert (await client.post("/logout")).status_code == 403
    assert (await client.post("/account/password", data={"current": "x"})).status_code == 403
    # The CSRF token of another session does not do either.
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        other_csrf = await sign_in(other, Role.OPERATOR)
    assert (await client.post(url, data={"type": "Immediate", "csrf_token": other_csrf})).status_code == 403
    answer = await client.post(
        url, data={"type": "Immediate"}, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )
    assert answer.status_code == 409  # accepted by the console; the station is offline
    assert answer.json()["error"] == "station CS1 is offline"


async def test_viewer_cannot_send_commands(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.VIEWER)
    page = await client.get("/stations/CS1")
    assert page.status_code == 200
    assert "cannot send commands" in page.text
    assert "data-command" not in page.text
    answer = await client.post("/stations/CS1/commands/reset", data={"type": "Immediate", "csrf_token": csrf})
    assert answer.status_code == 403
    log = await csms.api.get("/api/v1/commands", headers=csms.auth)
    assert log.json()["total"] == 0  # nothing was sent


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_operator_commands_reach_the_station_in_its_version(
    csms: RunningCsms, client: httpx.AsyncClient, version: str
) -> None:
    """The panel's commands go through the remote-control block's translation: the station (the ``ocpp``
    package) receives its version's request, and the page shows its actual answer."""
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.OPERATOR)
    json = {"Accept": "application/json"}
    async with peer(csms.ocpp_url, "CS1", version, station_class=STATIONS[version]) as station:
        await boot(station, version)
        station.reject_triggers.add("MeterValues")
        answer = await client.post(
            "/stations/CS1/commands/trigger",
            data={"requested_message": "MeterValues", "csrf_token": csrf},
            headers=json,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "ok": True,
            "status": 200,
            "action": "TriggerMessage",
            "request": {"requestedMessage": "MeterValues"},
            "response": {"status": "Rejected"},
            "error": None,
        }
        start = await client.post(
            "/stations/CS1/commands/remote-start",
            data={"id_token": "TAG1", "token_type": "Central", "evse_id": "1", "csrf_token": csrf},
            headers=json,
        )
        assert start.status_code == 200, start.text
        assert start.json()["response"]["status"] == "Accepted"
        reset = await client.post(
            "/stations/CS1/commands/reset", data={"type": "Immediate", "csrf_token": csrf}, headers=json
        )
        assert reset.json()["request"] == {"type": "Hard" if version == "1.6" else "Immediate"}
        stop = await client.post(
            "/stations/CS1/commands/remote-stop",
            data={"transaction_id": "42", "csrf_token": csrf},
            headers=json,
        )
        assert stop.json()["request"] == {"transactionId": 42 if version == "1.6" else "42"}
        received = dict(station.received)
        if version == "1.6":
            assert received["RemoteStartTransaction"] == {"id_tag": "TAG1", "connector_id": 1}
        else:
            assert received["RequestStartTransaction"]["id_token"] == {"id_token": "TAG1", "type": "Central"}
            assert received["RequestStartTransaction"]["evse_id"] == 1
        page = await client.post(
            "/stations/CS1/commands/trigger", data={"requested_message": "Heartbeat", "csrf_token": csrf}
        )
        assert page.status_code == 200
        assert "TriggerMessage: the station answered" in page.text
        detail = await client.get("/stations/CS1")
        assert "RequestStartTransaction" in detail.text or "RemoteStartTransaction" in detail.text


async def test_bad_command_input_is_refused_with_the_reason(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.ADMIN)
    json = {"Accept": "application/json"}
    answer = await client.post("/stations/CS1/commands/remote-start", data={"csrf_token": csrf}, headers=json)
    assert (answer.status_code, answer.json()["error"]) == (400, "an id token is needed")
    answer = await client.post(
        "/stations/CS1/commands/reset", data={"csrf_token": csrf, "evse_id": "x"}, headers=json
    )
    assert answer.status_code == 400
    answer = await client.post("/stations/CS1/commands/unknown", data={"csrf_token": csrf}, headers=json)
    assert answer.status_code == 404
    answer = await client.post("/stations/NOPE/commands/reset", data={"csrf_token": csrf}, headers=json)
    assert answer.status_code == 404


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, Role.VIEWER)
    cookie = client.cookies[SESSION_COOKIE]
    answer = await client.post("/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, cookie)  # replaying the old cookie does not help
    assert (await client.get("/")).status_code == 303


async def test_password_change(client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, Role.VIEWER)
    wrong = await client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": "nope-nope-nope", "new": "x" * 12, "again": "x" * 12},
    )
    assert wrong.status_code == 400
    assert "current password is wrong" in wrong.text
    short = await client.post(
        "/account/password",
        data={"csrf_token": csrf, "current": PASSWORDS[Role.VIEWER], "new": "short", "again": "short"},
    )
    assert short.status_code == 400
    assert "10 to 128 characters" in short.text
    done = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current": PASSWORDS[Role.VIEWER],
            "new": "viewer-password-2",
            "again": "viewer-password-2",
        },
    )
    assert done.status_code == 200
    assert "Password changed" in done.text
    assert (await client.get("/")).status_code == 200  # this session stays


async def test_console_session_does_not_open_the_api(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await sign_in(client, Role.ADMIN)
    assert (await client.get("/api/v1/stations")).status_code == 401
    assert (await csms.api.get("/api/v1/stations", headers=csms.auth)).status_code == 200
    schema = (await csms.api.get("/schema/openapi.json")).json()
    assert not any(path.startswith(("/login", "/stations", "/console")) for path in schema["paths"])


async def test_pages_render(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS1", description="Depot <north>")
    await sign_in(client, Role.VIEWER)
    stations = await client.get("/stations?q=north")
    assert "CS1" in stations.text
    assert "CS1" not in (await client.get("/fragments/stations?q=south")).text
    overview = await client.get("/fragments/overview")
    assert 'id="stations-offline">1<' in overview.text
    assert (await client.get("/transactions")).status_code == 200
    missing = await client.get("/transactions/999")
    assert missing.status_code == 404
    assert "no transaction 999" in missing.text
    assert (await client.get("/stations/NOPE")).status_code == 404
    assert "<north>" not in (await client.get("/stations/CS1")).text  # escaped
    asset = await client.get("/static/console/console.js")
    assert asset.status_code == 200
    assert "EventSource" in asset.text


async def test_repeated_wrong_passwords_are_throttled(client: httpx.AsyncClient) -> None:
    async def attempt(password: str) -> httpx.Response:
        form = await client.get("/login")
        return await client.post(
            "/login", data={"login_token": login_token(form.text), "username": "viewer", "password": password}
        )

    for _ in range(5):
        assert (await attempt("not-the-password")).status_code == 401
    refused = await attempt(PASSWORDS[Role.VIEWER])  # even the right one, for a while
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.text
    assert SESSION_COOKIE not in refused.cookies


async def test_cookie_is_secure_when_served_over_tls(csms: RunningCsms) -> None:
    await add_users(csms.app)
    transport = httpx.ASGITransport(app=csms.app.api)  # the app in this event loop, asked over https
    async with httpx.AsyncClient(transport=transport, base_url="https://console.test") as tls:
        form = await tls.get("/login")
        assert "secure" in [p.strip().lower() for p in form.headers["set-cookie"].split(";")]
        answer = await tls.post(
            "/login",
            data={
                "login_token": login_token(form.text),
                "username": "viewer",
                "password": PASSWORDS[Role.VIEWER],
            },
        )
        assert answer.status_code == 303
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]
