"""One CSMS node of a cluster: its NATS connection, presence registry, command router and event stream."""

from __future__ import annotations

import asyncio
import errno
import logging
import re

import nats
from nats.aio.client import Client as Nats

from chargeplane.csms.bus.commands import ConnectionLookup
from chargeplane.csms.cluster.commands import ClusterCommandRouter
from chargeplane.csms.cluster.events import ClusterEventBus
from chargeplane.csms.cluster.guard import ClusterGuard
from chargeplane.csms.cluster.leader import LeaderElection
from chargeplane.csms.cluster.presence import PresenceRegistry
from chargeplane.transport.connection import OcppConnection

log = logging.getLogger(__name__)

CONNECT_WITHIN = 10.0  # seconds the start waits for NATS


class ClusterUnavailable(OSError):
    """NATS cannot be reached when the node starts."""


async def _log_error(error: Exception) -> None:
    log.warning("NATS: %s", error)


async def _log_disconnected() -> None:
    log.warning("NATS: disconnected; reconnecting")


async def _log_reconnected() -> None:
    log.warning("NATS: reconnected")


_NODE_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")  # one NATS subject token


class ClusterNode:
    def __init__(
        self,
        nats_url: str,
        node_id: str,
        connections: ConnectionLookup,
        *,
        call_timeout: float,
        presence_ttl: float,
        leader_ttl: float = 10.0,
    ) -> None:
        if not _NODE_ID.match(node_id):
            raise ValueError(
                f"node id {node_id!r}: letters, digits, '-' and '_' only (it names NATS subjects)"
            )
        self.nats_url = nats_url
        self.node_id = node_id
        self._connections = connections
        self.presence = PresenceRegistry(node_id, presence_ttl, self._taken)
        self.commands = ClusterCommandRouter(connections, self.presence, call_timeout)
        self.events = ClusterEventBus(node_id)
        self.leader = LeaderElection(node_id, leader_ttl)
        self.guard = ClusterGuard(node_id)  # the OCPP server's AttackGuard is attached by the app
        self._nats: Nats | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # Reconnect for as long as it takes once joined (a NATS restart must not leave the node cut off), but
        # a NATS that is not there at the start ends the start, in one line.
        try:
            async with asyncio.timeout(CONNECT_WITHIN):
                self._nats = await nats.connect(
                    self.nats_url,
                    name=f"chargeplane-{self.node_id}",
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    error_cb=_log_error,
                    disconnected_cb=_log_disconnected,
                    reconnected_cb=_log_reconnected,
                )
        except TimeoutError:
            raise ClusterUnavailable(
                errno.ECONNREFUSED, f"cannot reach NATS at {self.nats_url} (CHARGEPLANE_NATS_URL)"
            ) from None
        js = self._nats.jetstream()
        await self.presence.start(js)
        await self.events.start(js)
        await self.commands.start(self._nats)
        await self.leader.start(js)
        await self.guard.start(self._nats)
        log.info("node %s joined the cluster at %s", self.node_id, self.nats_url)

    async def stop(self) -> None:
        """After the OCPP server stopped: leave the registry, publish the last events, disconnect."""
        if self._nats is None:
            return
        await self.leader.stop()
        await self.guard.stop()
        await self.commands.stop()
        await self.events.stop()
        await self.presence.stop()
        await self._nats.drain()
        self._nats = None

    def is_leader(self) -> bool:
        """Whether the cluster-wide periodic jobs run on this node now."""
        return self.leader.is_leader

    # -- the OCPP server's connections --------------------------------------------------------------------

    async def connected(self, connection: OcppConnection) -> None:
        await self.presence.claim(connection.station_id, connection.version.value)

    def replaced_elsewhere(self, station_id: str) -> bool:
        """True when the station's socket is now held by another node (a closed connection here must not
        mark it offline)."""
        return self.presence.held_elsewhere(station_id)

    async def disconnected(self, connection: OcppConnection) -> None:
        if self._connections.connection_for(connection.station_id) is None:
            await self.presence.release(connection.station_id)

    async def _taken(self, station_id: str, holder: str) -> None:
        """3: the station connected to ``holder``: close the connection this node still has."""
        connection = self._connections.connection_for(station_id)
        if connection is None:
            return
        log.info("%s: connected to node %s now; closing the connection here", station_id, holder)
        connection.abort_calls(f"the station connected to node {holder}")
        # Closing waits for the station's close frame: not in the registry's watcher.
        task = asyncio.create_task(connection.close(1000, "connected to another node"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
