"""Stations written with the independent ``ocpp`` package (PyPI), for CSMS integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ocpp.v16
import ocpp.v21
import ocpp.v201
from websockets.asyncio.client import connect

from tests.csms.conftest import PASSWORD, basic_auth

MODULES: dict[str, Any] = {"1.6": ocpp.v16, "2.0.1": ocpp.v201, "2.1": ocpp.v21}


@asynccontextmanager
async def peer(
    url: str, station_id: str, version: str, *, password: str = PASSWORD, station_class: Any = None
) -> AsyncIterator[Any]:
    """A connected peer station (its ``call`` sends, its ``@on`` handlers answer); closed on exit."""
    module = MODULES[version]
    kind = station_class or module.ChargePoint
    async with connect(
        f"{url}/{station_id}",
        subprotocols=[f"ocpp{version}"],
        additional_headers=basic_auth(station_id, password),
    ) as websocket:
        station = kind(station_id, websocket, response_timeout=10)
        task = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            task.cancel()


async def boot(station: Any, version: str) -> Any:
    module = MODULES[version]
    if version == "1.6":
        return await station.call(
            module.call.BootNotification(charge_point_model="M1", charge_point_vendor="Acme")
        )
    return await station.call(
        module.call.BootNotification(
            charging_station={
                "model": "M1",
                "vendor_name": "Acme",
                "serial_number": "SN-1",
                "firmware_version": "1.0",
            },
            reason="PowerUp",
        )
    )
