"""A running CSMS (OCPP server + API app + database) for integration tests, on SQLite and on PostgreSQL.

Every test that takes ``csms`` runs twice: on an SQLite file and on a fresh PostgreSQL database on loopback, both
already migrated (copies of a template migrated once per worker: ``tests/migrated_databases.py``).
Without a reachable PostgreSQL the second run is skipped locally, and fails in CI (CI=true).
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.reservation.settings import ReservationSettings
from chargeplane.csms.clock import Clock
from chargeplane.csms.settings import CsmsSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases

POSTGRES_ADMIN_DSN = migrated_databases.POSTGRES_ADMIN_DSN
PASSWORD = "station-password-0123456789"


_postgres_reachable: bool | None = None  # asked once per process: each test's copy is made in the background


async def _create_postgres_database(*, migrated: bool = False) -> str | None:
    """A new database, empty or (``migrated``) a copy of the migrated template (``tests/migrated_databases``);
    its SQLAlchemy URL, or ``None`` when PostgreSQL is not reachable."""
    global _postgres_reachable
    if _postgres_reachable is None:
        try:
            import asyncpg

            admin = await asyncpg.connect(
                POSTGRES_ADMIN_DSN, timeout=migrated_databases.ADMIN_CONNECT_TIMEOUT
            )
        except (OSError, Exception) as error:
            if os.environ.get("CI") == "true":
                pytest.fail(
                    f"PostgreSQL is required in CI but not reachable at {POSTGRES_ADMIN_DSN}: {error}"
                )
            _postgres_reachable = False
        else:
            await admin.close()
            _postgres_reachable = True
    if not _postgres_reachable:
        return None
    return await migrated_databases.postgres_database(migrated=migrated)


async def _drop_postgres_database(url: str) -> None:
    """Dropped in the background while the next tests run (``tests/migrated_databases.py`` says why)."""
    migrated_databases.release_postgres_database(url)


@dataclass
class RunningCsms:
    app: Csms
    api: httpx.AsyncClient
    token: str

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.app.server.ports[0]}/ocpp"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def add_station(self, station_id: str, **fields: Any) -> dict[str, Any]:
        body = {"stationId": station_id, "password": PASSWORD} | fields
        response = await self.api.post("/api/v1/stations", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def basic_auth(station_id: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{station_id}:{password}".encode()).decode()}


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database already at the head revision (a copy of a template migrated once per worker)."""
    async for url in _database(request.param, tmp_path, migrated=True):
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, for the tests of the migrations themselves."""
    async for url in _database(request.param, tmp_path, migrated=False):
        yield url


async def _database(kind: str, directory: Path, *, migrated: bool) -> AsyncIterator[str]:
    if kind == "sqlite":
        if migrated:
            yield migrated_databases.sqlite_url(directory)
        else:
            yield f"sqlite+aiosqlite:///{directory / 'csms.db'}"
        return
    url = await _create_postgres_database(migrated=migrated)
    if url is None:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_DSN} (required in CI)")
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


def settings_for(database_url: str, *blocks: object, **overrides: Any) -> CsmsSettings:
    """Test settings; ``blocks`` are block settings objects, ``overrides`` global (``ocpp_*``) values."""
    return (
        CsmsSettings(
            database_url=database_url,
            # No load shedding: on a shared test machine the event loop can run late for reasons of its own,
            # and a 503 would fail a test about something else (shedding has its own transport tests).
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None, admission_max_lag=None),
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                ReservationSettings(check_interval=0.2),
            ),
        )
        .with_overrides(overrides)
        .with_blocks(*blocks)
    )


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[RunningCsms]:
    async with running(settings_for(database_url)) as running_csms:
        yield running_csms


@asynccontextmanager
async def running(settings: CsmsSettings, clock: Clock | None = None) -> AsyncIterator[RunningCsms]:
    """A started CSMS with an API client, stopped on exit."""
    app = Csms(settings, clock)
    token = await app.start()
    assert token is not None
    try:
        # 30 s: an API call that waits on a station can take more than httpx's 5 s on a loaded machine
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}", timeout=30.0) as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)
