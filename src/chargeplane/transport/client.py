"""The OCPP-J WebSocket client of a charging station (the station stack, the simulator, the load tester).

:meth:`OcppClient.run` connects, serves the connection, and after any loss or refusal waits as the back-off
says (:mod:`chargeplane.transport.backoff`) and tries again, until :meth:`OcppClient.stop`. Calls made while
offline wait, in order, for the next connection (unless ``queue_offline`` is off): nothing the application
asked to send is dropped by the client. Connection state changes go to ``on_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.endpoint import DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, RpcEndpoint
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.backoff import BackOff, BackOffSettings
from chargeplane.transport.connection import ConnectionLost, EventListener, OcppConnection
from chargeplane.transport.security import CertificateFiles, basic_auth_header, client_tls_context

log = logging.getLogger(__name__)


class ConnectionState(enum.Enum):
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"
    STOPPED = "Stopped"


@dataclass(frozen=True)
class ClientSettings:
    url: str  # the CSMS endpoint without the identity, e.g. ws://127.0.0.1:9000/ocpp
    station_id: str
    versions: tuple[Version, ...] = (Version.V201,)  # in order of preference
    password: str | bytes | None = None  # Basic auth (profiles 1 and 2)
    ca_bundle: Path | None = None  # wss: trust these CAs instead of the system's
    client_certificate: CertificateFiles | None = None  # profile 3
    ping_interval: float | None = 60.0  # WebSocketPingInterval; 0 or None: the client sends no pings
    ping_timeout: float | None = 30.0
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_queued_calls: int = 100
    compression: bool = False
    backoff: BackOffSettings = field(default_factory=BackOffSettings)
    queue_offline: bool = True
    max_offline_calls: int = 1000
    open_timeout: float = 10.0


@dataclass(frozen=True)
class Credentials:
    """What a connection attempt presents and trusts; a None field: the settings' value."""

    password: str | bytes | None = None  # Basic auth (a station's BasicAuthPassword as the CSMS last set it)
    ca_bundle: Path | None = None  # the CSMS roots to verify the server with (a station's installed ones)
    client_certificate: CertificateFiles | None = None  # profile 3 (a station's newest certificate)


class OfflineQueueFull(ConnectionLost):
    """More calls wait for a connection than ``max_offline_calls`` allows."""


class OcppClient:
    def __init__(
        self,
        settings: ClientSettings,
        router_for: Callable[[Version], Router[OcppConnection]],
        *,
        on_state: Callable[[ConnectionState], None] | None = None,
        on_event: EventListener | None = None,
        backoff: BackOff | None = None,
        on_connected: Callable[[OcppConnection], None] | None = None,
        choose_url: Callable[[], str] | None = None,
        choose_credentials: Callable[[], Credentials] | None = None,
    ) -> None:
        """``choose_url``: asked before every connection attempt for the endpoint to dial (a station's network
        connection profiles); without it, always ``settings.url``. ``choose_credentials``: likewise what the
        attempt presents and trusts (:class:`Credentials`); without it, the settings'. ``last_error`` is why
        the last attempt failed (None after a connection)."""
        self.settings = settings
        self.router_for = router_for
        self.backoff = backoff if backoff is not None else BackOff(settings.backoff)
        self._on_state = on_state
        self._on_event = on_event
        self._on_connected = on_connected
        self.state = ConnectionState.DISCONNECTED
        self.connection: OcppConnection | None = None
        self._online = asyncio.Event()
        self._stopping = asyncio.Event()
        self._waiting = 0
        self._choose_url = choose_url
        self._choose_credentials = choose_credentials
        self._url = settings.url
        self.last_error: BaseException | None = None
        self._at_once = False  # the next attempt skips the back-off (reconnect())

    @property
    def uri(self) -> str:
        return self._url.rstrip("/") + "/" + urllib.parse.quote(self.settings.station_id, safe="")

    async def call(self, request: Payload) -> Payload:
        """Send a CALL on the current connection, waiting for one first if offline (see ``queue_offline``)."""
        while True:
            connection = self.connection
            if connection is not None and connection.is_open:
                try:
                    return await connection.call(request)
                except ConnectionLost as lost:
                    if lost.transmitted or not self.settings.queue_offline:
                        raise
                    continue  # never left this side: keep it for the next connection
            if not self.settings.queue_offline or self.state is ConnectionState.STOPPED:
                raise ConnectionLost("not connected")
            if self._waiting >= self.settings.max_offline_calls:
                raise OfflineQueueFull(f"{self._waiting} calls already wait for a connection")
            self._waiting += 1
            try:
                await self._online.wait()
            finally:
                self._waiting -= 1

    async def wait_connected(self) -> OcppConnection:
        while True:
            await self._online.wait()
            connection = self.connection
            if connection is not None and connection.is_open:
                return connection

    async def run(self) -> None:
        """Connect and reconnect until :meth:`stop`."""
        try:
            while not self._stopping.is_set():
                self._set_state(ConnectionState.CONNECTING)
                if self._choose_url is not None:
                    self._url = self._choose_url()
                try:
                    await self._connect_and_serve()
                except (OSError, InvalidHandshake, TimeoutError) as exc:
                    self.last_error = exc
                    log.warning(
                        "%s: connection to %s failed: %s", self.settings.station_id, self.uri, _describe(exc)
                    )
                self._set_state(ConnectionState.DISCONNECTED)
                if self._stopping.is_set():
                    break
                if self._at_once:
                    self._at_once = False
                    continue
                wait = self.backoff.next_wait()
                log.info("%s: reconnecting in %.1f s", self.settings.station_id, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=wait)
        finally:
            self._set_state(ConnectionState.STOPPED)
            self._online.set()  # release offline waiters: they now fail with ConnectionLost

    async def stop(self) -> None:
        """Close the connection and end :meth:`run`."""
        self._stopping.set()
        connection = self.connection
        if connection is not None:
            await connection.close(1000, "station stopping")

    async def disconnect(self) -> None:
        """Drop the current connection (simulating a network loss); :meth:`run` reconnects after back-off."""
        connection = self.connection
        if connection is not None:
            await connection.close(1001, "going offline")

    async def reconnect(self) -> None:
        """Close the connection and connect again without waiting (new credentials to present)."""
        connection = self.connection
        if connection is not None and connection.is_open:
            self._at_once = True
            await connection.close(1000, "reconnecting")

    async def _connect_and_serve(self) -> None:
        settings = self.settings
        headers = {}
        chosen = self._choose_credentials() if self._choose_credentials is not None else Credentials()
        password = chosen.password if chosen.password is not None else settings.password
        if password is not None:
            headers["Authorization"] = basic_auth_header(settings.station_id, password)
        secure = self.uri.startswith("wss:")
        ssl_context = None
        if secure:
            ssl_context = client_tls_context(
                chosen.ca_bundle or settings.ca_bundle,
                chosen.client_certificate or settings.client_certificate,
            )
        websocket: ClientConnection = await connect(
            self.uri,
            subprotocols=[Subprotocol(version.subprotocol) for version in settings.versions],
            additional_headers=headers,
            ssl=ssl_context,
            compression="deflate" if settings.compression else None,
            ping_interval=settings.ping_interval or None,
            ping_timeout=settings.ping_timeout,
            max_size=settings.max_message_size,
            open_timeout=settings.open_timeout,
            user_agent_header=None,
        )
        if self._stopping.is_set():  # stop() came while connecting: it found no connection to close
            await websocket.close(1000, "station stopping")
            return
        version = Version.from_subprotocol(websocket.subprotocol or "")
        if version is None or version not in settings.versions:
            await websocket.close(1002, "no OCPP subprotocol agreed")
            raise InvalidHandshake(f"server agreed to no offered OCPP version ({websocket.subprotocol!r})")
        router = self.router_for(version)
        endpoint = RpcEndpoint(
            version,
            STATION,
            handled_actions=router.handled_actions,
            call_timeout=settings.call_timeout,
            max_message_size=settings.max_message_size,
            max_queued_calls=settings.max_queued_calls,
        )
        connection = OcppConnection(
            websocket, endpoint, settings.station_id, router=router, on_event=self._on_event
        )
        self.connection = connection
        self.last_error = None
        self.backoff.reset()  # 2.0.1 errata 2025-04: a successful connection restarts from the minimum
        self._set_state(ConnectionState.CONNECTED)
        if self._on_connected is not None:
            self._on_connected(connection)
        self._online.set()
        try:
            await connection.run()
        finally:
            self._online.clear()
            self.connection = None

    def _set_state(self, state: ConnectionState) -> None:
        if state is self.state:
            return
        self.state = state
        if self._on_state is not None:
            self._on_state(state)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    return str(exc) or type(exc).__name__
