"""A01 end to end: our CSMS rotates the password of our own station runtime (1.6 AuthorizationKey, 2.0.1
BasicAuthPassword). The station takes the new password, logs the change, reconnects with it at once; the CSMS
then retires the old one."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.csms.conftest import PASSWORD, RunningCsms, basic_auth

KEY16 = "00112233445566778899aabbccddeeff00112233"  # a 1.6 AuthorizationKey: 20 bytes in hex


async def _state(csms: RunningCsms, station_id: str) -> dict[str, Any]:
    response = await csms.api.get(f"/api/v1/stations/{station_id}/password-rotation", headers=csms.auth)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


@pytest.mark.parametrize(("version", "old"), [(Version.V16, KEY16), (Version.V201, PASSWORD)])
async def test_A01_our_station_reconnects_with_the_rotated_password(
    csms: RunningCsms, version: Version, old: str
) -> None:
    station_id = f"E2EROT{version.name}"
    await csms.add_station(station_id, password=old)
    runtime = StationRuntime(
        RuntimeSettings(
            url=csms.ocpp_url,
            station_id=station_id,
            version=version,
            password=old,
            backoff=BackOffSettings(0.2, 0.1, 1),
        )
    )
    task = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.accepted.wait(), 10)
        response = await csms.api.post(
            f"/api/v1/stations/{station_id}/password-rotation", json={}, headers=csms.auth
        )
        assert response.status_code == 200, response.text
        assert response.json()["stationStatus"] == "Accepted"
        new = runtime.core.basic_auth_password(old)
        assert new not in (None, old)
        for _ in range(200):  # the station reconnects with the new password (A01 steps 3-4)
            if (await _state(csms, station_id))["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert (await _state(csms, station_id))["status"] == "completed"
        await asyncio.wait_for(runtime.accepted.wait(), 10)
        with pytest.raises(InvalidStatus):  # the old password is retired
            async with connect(
                f"{csms.ocpp_url}/{station_id}",
                subprotocols=[version.subprotocol],
                additional_headers=basic_auth(station_id, old),
            ):
                pass
        events = await csms.api.get(
            f"/api/v1/security-events?stationId={station_id}&type=ReconfigurationOfSecurityParameters",
            headers=csms.auth,
        )
        sources = {e["source"] for e in events.json()["items"]}
        assert "csms" in sources
        if version is not Version.V16:  # 1.6 stations report no security events (A04 is 2.x here)
            assert "station" in sources
    finally:
        await runtime.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
