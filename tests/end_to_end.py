"""What the end-to-end tests between our CSMS and our station share (in-process, loopback, SQLite): a fresh
CSMS with an API client holding its first token, a running station runtime, and both at once with the station
registered and its id tokens created."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases

PASSWORD = "e2e-password-0123456789"


@asynccontextmanager
async def csms_and_api(tmp_path: Path, *blocks: object) -> AsyncIterator[tuple[Csms, httpx.AsyncClient]]:
    """A CSMS (presence flushed every 0.2 s, plus ``blocks``' settings) and an admin client of its API."""
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
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
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,  # calls that wait on a station can take more than 5 s on a loaded machine
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


@asynccontextmanager
async def csms_and_station(
    tmp_path: Path,
    station_id: str,
    tokens: list[dict[str, str]],
    blocks: tuple[object, ...] = (),
    **station: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, StationRuntime]]:
    """The API client and the running 2.1 station ``station_id`` (registered with :data:`PASSWORD`, the id
    tokens ``tokens`` created first); ``blocks``: settings of CSMS blocks; ``station`` adds to or overrides
    its :class:`RuntimeSettings`."""
    async with csms_and_api(tmp_path, *blocks) as (csms, api):
        created = await api.post("/stations", json={"stationId": station_id, "password": PASSWORD})
        assert created.status_code == 201
        for body in tokens:
            assert (await api.post("/id-tokens", json=body)).status_code == 201
        settings = RuntimeSettings(
            **{
                "url": f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                "station_id": station_id,
                "version": Version.V21,
                "password": PASSWORD,
                "database": tmp_path / "station.db",
                "meter_tick_s": 0.2,
                "backoff": BackOffSettings(0.1, 0.0, 1),
            }
            | station
        )
        async with running_station(settings) as runtime:
            yield api, runtime
