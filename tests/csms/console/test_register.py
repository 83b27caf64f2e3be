"""Registering a station from the console: role checked on the server, CSRF, the password shown once and
working for the station's first connection (the ``ocpp`` package as the station)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from chargeplane.csms.console.users import Role
from tests.csms.conftest import RunningCsms
from tests.csms.console.helpers import add_users, sign_in
from tests.csms.peers import boot, peer


@pytest.fixture
async def client(csms: RunningCsms) -> AsyncIterator[httpx.AsyncClient]:
    await add_users(csms.app)
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as browser:
        yield browser


def shown_password(html: str) -> str:
    found = re.search(r'<code id="generated-password">([^<]+)</code>', html)
    assert found is not None, html
    return found.group(1)


async def test_operator_registers_a_station_that_then_boots_with_the_shown_password(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    csrf = await sign_in(client, Role.OPERATOR)
    assert 'href="/register"' in (await client.get("/stations")).text
    form = await client.get("/register")
    assert form.status_code == 200
    assert 'name="station_id"' in form.text
    answer = await client.post(
        "/register",
        data={"csrf_token": csrf, "station_id": "NEW-1", "security_profile": "1", "description": "yard"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    password = shown_password(answer.text)
    record = (await csms.api.get("/api/v1/stations/NEW-1", headers=csms.auth)).json()
    assert record["securityProfile"] == 1
    assert record["hasPassword"]
    assert record["description"] == "yard"
    assert password not in (await client.get("/stations/NEW-1")).text  # shown once, nowhere else
    async with peer(csms.ocpp_url, "NEW-1", "2.0.1", password=password) as station:
        assert (await boot(station, "2.0.1")).status == "Accepted"


async def test_profile_3_gets_no_password_and_a_second_registration_is_409(
    client: httpx.AsyncClient,
) -> None:
    csrf = await sign_in(client, Role.ADMIN)
    answer = await client.post(
        "/register", data={"csrf_token": csrf, "station_id": "TLS-1", "security_profile": "3"}
    )
    assert answer.status_code == 201
    assert "generated-password" not in answer.text
    again = await client.post(
        "/register", data={"csrf_token": csrf, "station_id": "TLS-1", "security_profile": "1"}
    )
    assert again.status_code == 409
    assert "TLS-1" in again.text
    assert 'role="alert"' in again.text


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"station_id": "a b"}, "A station id is"),
        ({"station_id": ""}, "A station id is"),
        ({"station_id": "x" * 49}, "A station id is"),
        ({"station_id": "OK", "security_profile": "4"}, "security profile is 1, 2 or 3"),
        ({"station_id": "OK", "description": "d" * 201}, "at most 200"),
    ],
)
async def test_bad_registrations_are_400_with_a_reason(
    csms: RunningCsms, client: httpx.AsyncClient, fields: dict[str, str], reason: str
) -> None:
    csrf = await sign_in(client, Role.OPERATOR)
    answer = await client.post("/register", data={"csrf_token": csrf, **fields})
    assert answer.status_code == 400
    assert reason in answer.text
    assert (await csms.api.get("/api/v1/stations", headers=csms.auth)).json()["total"] == 0


async def test_viewer_and_missing_csrf_cannot_register(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    csrf = await sign_in(client, Role.VIEWER)
    assert 'href="/register"' not in (await client.get("/stations")).text
    assert "Viewers cannot register" in (await client.get("/register")).text
    answer = await client.post("/register", data={"csrf_token": csrf, "station_id": "V1"})
    assert answer.status_code == 403
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        await sign_in(other, Role.OPERATOR)
        assert (await other.post("/register", data={"station_id": "V1"})).status_code == 403
    assert (await csms.api.get("/api/v1/stations", headers=csms.auth)).json()["total"] == 0
