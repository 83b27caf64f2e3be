"""A test CSMS application and helpers to run the real server and client on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chargeplane.ocpp.catalog import CSMS, STATION
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.ocpp.versions import Version
from chargeplane.transport.client import ClientSettings, ConnectionState, OcppClient
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.security import (
    SecurityProfile,
    StationSecurity,
    TlsSettings,
    hash_password,
)
from chargeplane.transport.server import OcppServer, SecurityEvent, ServerSettings
from tests.transport import certs

PASSWORD = "correct-horse-battery-staple-42"


def csms_router(version: Version) -> Router[OcppConnection]:
    """Boot and heartbeat for every version, as a real CSMS would answer them."""
    router = Router[OcppConnection](version, CSMS)
    if version is Version.V16:

        @router.on(v16.messages.BootNotificationRequest)
        def boot16(request: v16.messages.BootNotificationRequest, conn: OcppConnection) -> Any:
            return v16.messages.BootNotificationResponse(
                current_time=utc_now(), interval=300, status=v16.enums.RegistrationStatus.ACCEPTED
            )

        router.register(
            v16.messages.HeartbeatRequest,
            lambda request, conn: v16.messages.HeartbeatResponse(current_time=utc_now()),
        )
    else:
        messages: Any = v201.messages if version is Version.V201 else v21.messages
        enums: Any = v201.enums if version is Version.V201 else v21.enums

        def boot(request: Any, conn: OcppConnection) -> Any:
            return messages.BootNotificationResponse(
                current_time=utc_now(), interval=300, status=enums.RegistrationStatusEnumType.ACCEPTED
            )

        router.register(messages.BootNotificationRequest, boot)
        router.register(
            messages.HeartbeatRequest,
            lambda request, conn: messages.HeartbeatResponse(current_time=utc_now()),
        )
    return router


@dataclass
class FakeCsms:
    connected_ids: list[str] = field(default_factory=list)
    disconnected_ids: list[str] = field(default_factory=list)
    on_connect: Callable[[OcppConnection], Awaitable[None]] | None = None
    routers: dict[Version, Router[OcppConnection]] = field(default_factory=dict)

    def router_for(self, version: Version) -> Router[OcppConnection]:
        if version not in self.routers:
            self.routers[version] = csms_router(version)
        return self.routers[version]

    async def connected(self, connection: OcppConnection) -> None:
        self.connected_ids.append(connection.station_id)
        if self.on_connect is not None:
            await self.on_connect(connection)

    async def disconnected(self, connection: OcppConnection) -> None:
        self.disconnected_ids.append(connection.station_id)


@dataclass
class Directory:
    stations: dict[str, StationSecurity] = field(default_factory=dict)

    async def security_for(self, station_id: str) -> StationSecurity | None:
        return self.stations.get(station_id)


@dataclass
class Harness:
    server: OcppServer
    app: FakeCsms
    directory: Directory
    security_events: list[SecurityEvent]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.ports[0]}/ocpp"

    @property
    def tls_url(self) -> str:
        return f"wss://localhost:{self.server.ports[-1]}/ocpp"


@asynccontextmanager
async def running_server(
    directory: Directory | None = None, app: FakeCsms | None = None, **settings: Any
) -> AsyncIterator[Harness]:
    settings.setdefault("host", "127.0.0.1")
    settings.setdefault("port", 0)
    settings.setdefault("tls_port", 0)
    settings.setdefault("admission_max_lag", None)  # load shedding only where a test asks for it
    settings.setdefault("admission_max_rate", 0.0)  # a fixed rate, unless a test asks for the adaptive one
    app = app or FakeCsms()
    directory = directory or Directory()
    events: list[SecurityEvent] = []
    server = OcppServer(ServerSettings(**settings), app, directory, on_security_event=events.append)
    await server.start()
    try:
        yield Harness(server, app, directory, events)
    finally:
        await server.shutdown(deadline=1.0)


def station_router(version: Version) -> Router[OcppConnection]:
    return Router[OcppConnection](version, STATION)


@asynccontextmanager
async def running_client(
    settings: ClientSettings, router_for: Callable[[Version], Router[OcppConnection]] = station_router
) -> AsyncIterator[OcppClient]:
    states: list[ConnectionState] = []
    client = OcppClient(settings, router_for, on_state=states.append)
    task = asyncio.create_task(client.run())
    try:
        yield client
    finally:
        await client.stop()
        await asyncio.wait_for(task, timeout=5)


def protected(profile: SecurityProfile = SecurityProfile.BASIC_AUTH) -> StationSecurity:
    return StationSecurity(profile, hash_password(PASSWORD))


@dataclass
class Pki:
    ca: certs.Authority
    other_ca: certs.Authority
    tls: TlsSettings
    directory: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = certs.make_ca(directory, "test-root")
    other = certs.make_ca(directory, "other-root")
    server = certs.issue(ca, directory, "localhost", server=True)
    tls = TlsSettings(certificates=(server,), client_ca=ca.path, operator_name="Chargeplane Test")
    return Pki(ca, other, tls, directory)
