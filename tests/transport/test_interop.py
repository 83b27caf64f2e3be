"""Interoperability with an independent implementation: the ``ocpp`` package from PyPI (mobilityhouse) as the
station against our server, and as the CSMS against our client, for 1.6, 2.0.1 and 2.1."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import ocpp.v16
import ocpp.v21
import ocpp.v201
import pytest
from ocpp.routing import on
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.client import ClientSettings
from chargeplane.transport.connection import CallFailed, OcppConnection
from tests.transport.conftest import PASSWORD, Directory, protected, running_client, running_server

PEER = {Version.V16: ocpp.v16, Version.V201: ocpp.v201, Version.V21: ocpp.v21}


class PeerStation201(ocpp.v201.ChargePoint):  # type: ignore[misc]
    @on("Reset")  # type: ignore[misc]
    async def on_reset(self, type: str, **_: Any) -> Any:
        return ocpp.v201.call_result.Reset(status="Accepted")


class PeerStation21(ocpp.v21.ChargePoint):  # type: ignore[misc]
    @on("Reset")  # type: ignore[misc]
    async def on_reset(self, type: str, **_: Any) -> Any:
        return ocpp.v21.call_result.Reset(status="Accepted")


class PeerStation16(ocpp.v16.ChargePoint):  # type: ignore[misc]
    @on("Reset")  # type: ignore[misc]
    async def on_reset(self, type: str, **_: Any) -> Any:
        return ocpp.v16.call_result.Reset(status="Accepted")


@asynccontextmanager
async def peer_station(url: str, version: Version) -> AsyncIterator[Any]:
    token = base64.b64encode(f"CS1:{PASSWORD}".encode()).decode()
    async with connect(
        url + "/CS1",
        subprotocols=[version.subprotocol],
        additional_headers={"Authorization": f"Basic {token}"},
    ) as websocket:
        kind = {Version.V16: PeerStation16, Version.V201: PeerStation201, Version.V21: PeerStation21}[version]
        station = kind("CS1", websocket)
        task = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            task.cancel()


@pytest.mark.parametrize("version", list(Version))
async def test_peer_station_boots_heartbeats_and_answers_our_calls(version: Version) -> None:
    async with (
        running_server(Directory({"CS1": protected()})) as harness,
        peer_station(harness.url, version) as station,
    ):
        if version is Version.V16:
            boot = await station.call(
                ocpp.v16.call.BootNotification(charge_point_model="M1", charge_point_vendor="Acme")
            )
            heartbeat = await station.call(ocpp.v16.call.Heartbeat())
            reset: Any = v16.messages.ResetRequest(type=v16.enums.ResetType.SOFT)
        else:
            peer = PEER[version]
            boot = await station.call(
                peer.call.BootNotification(
                    charging_station={"model": "M1", "vendor_name": "Acme"}, reason="PowerUp"
                )
            )
            heartbeat = await station.call(peer.call.Heartbeat())
            ours: Any = v201 if version is Version.V201 else v21
            reset = ours.messages.ResetRequest(type=ours.enums.ResetEnumType.IMMEDIATE)
        assert boot.status == "Accepted"
        assert boot.interval == 300
        assert heartbeat.current_time
        connection = harness.server.connection_for("CS1")
        assert connection is not None
        response: Any = await connection.call(reset)
        assert response.status == "Accepted"


# -- the peer as CSMS, our client as station --------------------------------------------------------------


class PeerCsms201(ocpp.v201.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        return ocpp.v201.call_result.BootNotification(
            current_time="2026-01-01T00:00:00Z", interval=60, status="Accepted"
        )


class PeerCsms16(ocpp.v16.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        return ocpp.v16.call_result.BootNotification(
            current_time="2026-01-01T00:00:00Z", interval=60, status="Accepted"
        )


@asynccontextmanager
async def peer_csms(version: Version) -> AsyncIterator[tuple[str, list[Any]]]:
    stations: list[Any] = []

    async def handler(websocket: ServerConnection) -> None:
        kind = PeerCsms16 if version is Version.V16 else PeerCsms201
        station = kind(websocket.request.path.rsplit("/", 1)[-1], websocket)
        stations.append(station)
        with suppress(ConnectionClosed):
            await station.start()

    async with serve(handler, "127.0.0.1", 0, subprotocols=[version.subprotocol]) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp", stations


def our_station(version: Version) -> Router[OcppConnection]:
    router = Router[OcppConnection](version, STATION)
    if version is Version.V201:
        router.register(
            v201.messages.GetVariablesRequest,
            lambda request, conn: v201.messages.GetVariablesResponse(
                get_variable_result=[
                    v201.datatypes.GetVariableResultType(
                        attribute_status=v201.enums.GetVariableStatusEnumType.UNKNOWN_VARIABLE,
                        component=item.component,
                        variable=item.variable,
                    )
                    for item in request.get_variable_data
                ]
            ),
        )
    return router


@pytest.mark.parametrize("version", [Version.V16, Version.V201])
async def test_our_client_against_peer_csms(version: Version) -> None:
    async with peer_csms(version) as (url, stations):
        settings = ClientSettings(url, "CS7", versions=(version,))
        async with running_client(settings, our_station) as client:
            await asyncio.wait_for(client.wait_connected(), 5)
            if version is Version.V16:
                request: Any = v16.messages.BootNotificationRequest(
                    charge_point_model="M1", charge_point_vendor="Acme"
                )
            else:
                request = v201.messages.BootNotificationRequest(
                    charging_station=v201.datatypes.ChargingStationType(model="M1", vendor_name="Acme"),
                    reason=v201.enums.BootReasonEnumType.POWER_UP,
                )
            response: Any = await client.call(request)
            assert response.status == "Accepted"
            assert response.interval == 60
            if version is Version.V201:
                peer = stations[0]
                result = await peer.call(
                    ocpp.v201.call.GetVariables(
                        get_variable_data=[
                            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nope"}}
                        ]
                    )
                )
                assert result.get_variable_result[0]["attribute_status"] == "UnknownVariable"
                # An action we do not handle: the peer must receive NotSupported, not a fake success.
                with pytest.raises(ocpp.exceptions.NotSupportedError):
                    await peer.call(ocpp.v201.call.ClearCache(), suppress=False)


async def test_peer_csms_error_reaches_our_caller() -> None:
    async with peer_csms(Version.V201) as (url, _):
        settings = ClientSettings(url, "CS8", versions=(Version.V201,))
        async with running_client(settings) as client:
            await asyncio.wait_for(client.wait_connected(), 5)
            with pytest.raises(CallFailed):  # the peer has no Authorize handler
                await client.call(
                    v201.messages.AuthorizeRequest(
                        id_token=v201.datatypes.IdTokenType(
                            id_token="T1", type=v201.enums.IdTokenEnumType.ISO14443
                        )
                    )
                )
