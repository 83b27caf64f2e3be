"""What the end-to-end tests between our CSMS and our station share: a fresh CSMS on loopback (SQLite) with an
API client holding its first token, and a running station runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.server import ServerSettings


@asynccontextmanager
async def csms_and_api(tmp_path: Path, *blocks: object) -> AsyncIterator[tuple[Csms, httpx.AsyncClient]]:
    """A CSMS (presence flushed every 0.2 s, plus ``blocks``' settings) and an admin client of its API."""
    csms = Csms(
        CsmsSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(ProvisioningSettings(presence_flush_interval=0.2), *blocks),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            yield csms, api
    finally:
        await csms.stop(deadline=1.0)


@asynccontextmanager
async def running_station(settings: RuntimeSettings) -> AsyncIterator[StationRuntime]:
    """The station runtime, once its boot was accepted; stopped on exit."""
    station = StationRuntime(settings)
    task = asyncio.create_task(station.run())
    try:
        async with asyncio.timeout(10):
            await station.accepted.wait()
        yield station
    finally:
        await station.stop()
        await asyncio.wait_for(task, timeout=5)
