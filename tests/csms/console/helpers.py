"""Console accounts and HTTP sign-in for the console tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.console.users import Role
from tests import migrated_databases
from tests.csms.conftest import RunningCsms, running, settings_for

PASSWORDS = {
    Role.ADMIN: "admin-password-1",
    Role.OPERATOR: "operator-password-1",
    Role.VIEWER: "viewer-password-1",
}


async def add_users(app: Csms) -> None:
    for role, password in PASSWORDS.items():
        await app.users.create(role.value, password, role)


def login_token(html: str) -> str:
    found = re.search(r'name="login_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, role: Role) -> str:
    """Signs ``client`` in (its cookie jar keeps the session); returns the session's CSRF token."""
    form = await client.get("/login")
    answer = await client.post(
        "/login",
        data={
            "login_token": login_token(form.text),
            "username": role.value,
            "password": PASSWORDS[role],
            "next": "/",
        },
    )
    assert answer.status_code == 303, answer.text
    return csrf_token((await client.get("/")).text)


@asynccontextmanager
async def sqlite_csms(directory: Path, *blocks: object) -> AsyncIterator[RunningCsms]:
    """A running CSMS on SQLite with the console accounts: the pages are tested here, the database elsewhere."""
    async with running(settings_for(migrated_databases.sqlite_url(directory), *blocks)) as csms:
        await add_users(csms.app)
        yield csms
