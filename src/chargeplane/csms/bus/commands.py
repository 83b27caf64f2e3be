"""Command routing: every CSMS-initiated CALL goes through :class:`CommandRouter`.

Blocks and the HTTP API never touch sockets: they ask the router to call a station. In one process the
router finds the connection in the local OCPP server; a multi-node router (NATS request/reply) will forward
the same request to the node holding the socket, behind the same interface.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

# Who asks for the commands sent in this context, for the command log: ``api:<token name>`` (set by the API's
# bearer guard), ``console:<username>`` (set by the console); unset (None) for the CSMS's own commands.
initiator: ContextVar[str | None] = ContextVar("command_initiator", default=None)


class StationOffline(Exception):
    """The station has no live connection."""


class CommandRouter(Protocol):
    def version_of(self, station_id: str) -> Version | None:
        """The negotiated version of a connected station, or ``None`` when offline."""

    async def call(self, station_id: str, request: Payload) -> Payload:
        """Send ``request`` and return the station's response. Raises :class:`StationOffline` and the
        transport's call errors (CallFailed, CallTimeout, ConnectionLost)."""


class ConnectionLookup(Protocol):
    def connection_for(self, station_id: str) -> OcppConnection | None: ...


class LocalCommandRouter:
    """Routes to connections held by this process's OCPP server."""

    def __init__(self, connections: ConnectionLookup) -> None:
        self._connections = connections

    def version_of(self, station_id: str) -> Version | None:
        connection = self._connections.connection_for(station_id)
        return connection.version if connection is not None and connection.is_open else None

    def connection_for(self, station_id: str) -> OcppConnection | None:
        """The live local connection of a station (for per-session state such as TriggerMessage's gate)."""
        return self._connections.connection_for(station_id)

    async def call(self, station_id: str, request: Payload) -> Payload:
        connection = self._connections.connection_for(station_id)
        if connection is None or not connection.is_open:
            raise StationOffline(station_id)
        return await connection.call(request)
