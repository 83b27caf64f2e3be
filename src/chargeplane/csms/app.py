"""The composition root of the CSMS: storage, blocks, OCPP server, HTTP API and background jobs in one process."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from litestar.middleware import DefineMiddleware

from chargeplane.csms.api.access_log import AccessLog
from chargeplane.csms.api.app import build_api
from chargeplane.csms.api.audit import AuditLog
from chargeplane.csms.api.tokens import TokenStore
from chargeplane.csms.blocks import discover
from chargeplane.csms.blocks.context import BlockContext, run_periodic
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.bus.commands import LocalCommandRouter
from chargeplane.csms.bus.events import EventBus
from chargeplane.csms.clock import Clock, SystemClock
from chargeplane.csms.console.users import UserStore
from chargeplane.csms.console.web import console_for
from chargeplane.csms.observability.health import database_check, listening_check
from chargeplane.csms.observability.http import observability_routes, request_counter
from chargeplane.csms.observability.loop_lag import watch_loop_lag
from chargeplane.csms.observability.metrics import CsmsMetrics
from chargeplane.csms.observability.router import MeteredRouter
from chargeplane.csms.observability.tracing import message_tracer
from chargeplane.csms.session import registration_guard
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.engine import create_engine
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.csms.storage.migrate import migrate
from chargeplane.ocpp.catalog import CSMS
from chargeplane.ocpp.events import CallReceived, Event
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.guard import FailureBudget
from chargeplane.transport.security import StationSecurity
from chargeplane.transport.server import OcppServer, SecurityEvent

if TYPE_CHECKING:
    from chargeplane.csms.cluster.node import ClusterNode

log = logging.getLogger(__name__)

API_AUTH_FAILED = "ApiAuthenticationFailed"  # a security event type of ours (see blocks/security/catalog.py)


class PortInUse(OSError):
    """A listener of the CSMS cannot bind its address: one line for the operator, found before anything is
    created (database, first API token)."""


def listeners(settings: CsmsSettings) -> list[tuple[str, str, int]]:
    """(what, host, port) of every listener the settings ask for; port 0 (any free port) is left out."""
    ocpp = settings.ocpp
    wanted = [("OCPP", ocpp.host, ocpp.port), ("HTTP API", settings.api_host, settings.api_port)]
    if ocpp.tls is not None:
        wanted.insert(1, ("OCPP TLS", ocpp.host, ocpp.tls_port))
    return [(what, host, port) for what, host, port in wanted if port]


def shared_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT (not yet listening) on the first address ``host`` resolves to,
    as uvicorn binds one; the server starts listening on it."""
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def check_ports(settings: CsmsSettings) -> None:
    """Bind and release every listener's address as the servers will (SO_REUSEADDR, every address the host
    resolves to); raise :class:`PortInUse` naming the first that fails."""
    for what, host, port in listeners(settings):
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as error:
            raise PortInUse(
                errno.EADDRNOTAVAIL, f"cannot listen on {host}:{port} ({what}): {error}"
            ) from None
        for family, kind, protocol, _, address in addresses:
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if settings.ocpp.reuse_port:  # the other workers' listeners are no conflict
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                try:
                    probe.bind(address)
                except OSError as error:
                    reason = error.strerror or str(error)
                    raise PortInUse(
                        error.errno, f"cannot listen on {host}:{port} ({what}): {reason}"
                    ) from None


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside our event loop: the CSMS owns the signals, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _LateDirectory:
    """The server needs a station directory before the blocks are installed; provisioning is it."""

    def __init__(self, csms: Csms) -> None:
        self._csms = csms

    async def security_for(self, station_id: str) -> StationSecurity | None:
        return await self._csms.provisioning.security_for(station_id)


class _LateConnections:
    """The cluster node needs the server's connections before the server exists."""

    def __init__(self, csms: Csms) -> None:
        self._csms = csms

    def connection_for(self, station_id: str) -> OcppConnection | None:
        return self._csms.server.connection_for(station_id)


class Csms:
    def __init__(self, settings: CsmsSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.engine = create_engine(settings.database_url)
        self.cluster: ClusterNode | None = None
        if settings.nats_url:  # several nodes: commands and events through NATS (csms/cluster)
            from chargeplane.csms.cluster.node import ClusterNode

            self.cluster = ClusterNode(
                settings.nats_url,
                settings.node_id,
                _LateConnections(self),
                call_timeout=settings.ocpp.call_timeout,
                presence_ttl=settings.presence_ttl,
                leader_ttl=settings.leader_ttl,
            )
        self.events: EventBus = self.cluster.events if self.cluster is not None else EventBus()
        self.tokens = TokenStore(self.engine)
        self.metrics = CsmsMetrics()
        self.tracer = message_tracer(settings.otel_traces)  # None unless asked for and installed
        self.routers: dict[Version, Router[OcppConnection]] = {
            version: MeteredRouter(version, CSMS, self.metrics, guard=registration_guard)
            for version in Version
        }
        self.server = OcppServer(
            settings.ocpp,
            self,
            _LateDirectory(self),
            on_event=self._on_ocpp_event,
            on_security_event=self._on_security_event,
            on_answered=self._on_answered,
        )
        if self.cluster is not None:  # one brute-force budget for every node (csms/cluster/guard.py)
            self.cluster.guard.attach(self.server.guard)
        self.metrics.connections_view = lambda: self.server.connections
        self.metrics.admission_view = self.server.admission
        self.commands = self.cluster.commands if self.cluster is not None else LocalCommandRouter(self.server)
        # One group committer for the whole process: the per-message writes of all blocks share its batches
        # (and, on SQLite, its single writer connection instead of contending for the write lock).
        self.committer = GroupCommitter(self.engine, writers=settings.database_writers or None)
        self.committer.observer = self.metrics.batch
        self.server.writer_backlog = lambda: self.committer.backlog  # a signal of adaptive admission
        self.metrics.committer_view = self.committer
        self.blocks = BlockContext(
            settings, self.engine, self.events, self.commands, self.routers, self.committer, self.clock
        )
        self.blocks.api_port = lambda: self.api_port
        self.blocks.guard = self.server.guard
        self.blocks.set_client_crl = self.server.set_client_crl
        self.blocks.tls_client_ca = lambda: (
            settings.ocpp.tls is not None and settings.ocpp.tls.client_ca is not None
        )
        self.blocks.on_stop.append(self.committer.close)
        for block in discover():
            self.blocks.install(block, settings.block(block.settings))
        self.provisioning = self.blocks.require(ProvisioningService)
        self.users = UserStore(self.engine, self.clock)
        self.console = console_for(self.blocks, self.users, self.tokens)  # the operator web console at /
        if self.cluster is not None:
            self.cluster.guard.attach_logins(self.console.throttle)
        access_log = [DefineMiddleware(AccessLog)] if settings.api_access_log else []
        self.audit_log = AuditLog(self.engine)
        self._api_failures = FailureBudget(rate=1.0, burst=20, max_tracked=10_000)
        checks = {"database": database_check(self.engine), "bus": listening_check(lambda: self.server.ports)}
        self.api = build_api(
            self.tokens,
            self.blocks.routes,
            self.blocks.dependencies,
            middleware=access_log,
            pages=self.console.routes(),
            audit_log=self.audit_log,
            on_auth_failure=self._on_api_auth_failure,
            top_level=observability_routes(
                self.metrics,
                checks,
                public_metrics=settings.metrics_public,
                timeout=settings.readiness_timeout,
            ),
            before_send=[request_counter(self.metrics)],
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._http: _EmbeddedUvicorn | None = None
        self._reuse_port = settings.ocpp.reuse_port

    # -- the OCPP server's Application ------------------------------------------------------------------

    def router_for(self, version: Version) -> Router[OcppConnection]:
        return self.routers[version]

    async def connected(self, connection: OcppConnection) -> None:
        if self.cluster is not None:  # first: the node that held it before closes its connection
            await self.cluster.connected(connection)
        await self.provisioning.open_session(connection)
        for hook in self.blocks.on_connected:
            await hook(connection)

    async def disconnected(self, connection: OcppConnection) -> None:
        replaced = self.server.connection_for(connection.station_id) is not None
        if self.cluster is not None:
            replaced = replaced or self.cluster.replaced_elsewhere(connection.station_id)
            await self.cluster.disconnected(connection)
        await self.provisioning.close_session(connection, still_current=not replaced)
        for hook in self.blocks.on_disconnected:
            await hook(connection)

    def _on_ocpp_event(self, connection: OcppConnection, event: Event) -> None:
        if isinstance(event, CallReceived):
            self.provisioning.seen(connection.station_id)
        else:
            self.metrics.ocpp_event(connection.version, event)
        for hook in self.blocks.on_ocpp_event:
            hook(connection, event)

    def _on_answered(self, connection: OcppConnection, call: CallReceived, seconds: float) -> None:
        self.metrics.answered(call.action, seconds)
        if self.tracer is not None:
            self.tracer.answered(connection, call, seconds)

    async def _on_security_event(self, event: SecurityEvent) -> None:
        self.metrics.handshake_failures.labels(event.kind).inc()
        for hook in self.blocks.on_security_event:
            try:
                await hook(event)
            except Exception:  # the refusal stands even if a hook (its log write) fails
                log.exception("security event hook failed for %s", event.kind)

    async def _on_api_auth_failure(self, client: str, reason: str) -> None:
        """A refused bearer token on the operator API: a CSMS security event like a refused station. At most
        a burst of 20 then one a second per client address are written, so that a flood of bad tokens
        cannot flood the log (tokens are 32 random bytes: nothing to brute-force)."""
        now = asyncio.get_running_loop().time()
        if self._api_failures.retry_after(client, now) is not None:
            return
        self._api_failures.spend(client, now)
        await self._on_security_event(SecurityEvent(API_AUTH_FAILED, "", client, reason))

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self, *, serve_http: bool = True) -> str | None:
        """Check the ports, migrate the database, start the OCPP server, the HTTP API and the jobs.

        Returns the API token created on the very first start (to be shown once), else ``None``. It is created
        once everything listens, so that a start that fails never leaves a token nobody saw.
        """
        check_ports(self.settings)
        await migrate(self.engine)
        await self.tokens.load()
        if self.cluster is not None:
            await self.cluster.start()
        await self.server.start()
        if serve_http:
            config = uvicorn.Config(
                self.api,
                host=self.settings.api_host,
                port=self.settings.api_port,
                log_level="warning",
                log_config=None,  # uvicorn's own lines through our log setup (one format)
                access_log=False,  # ours is AccessLog, when asked for
                lifespan="on",
            )
            self._http = _EmbeddedUvicorn(config)
            # uvicorn has no SO_REUSEPORT option: the workers of `serve --workers` hand it a socket bound so.
            sockets = (
                [shared_socket(self.settings.api_host, self.settings.api_port)] if self._reuse_port else None
            )
            self._tasks.append(asyncio.create_task(self._http.serve(sockets), name="http-api"))
            while not self._http.started:  # so that api_port is known (and bound) when start() returns
                if self._tasks[-1].done():
                    self._tasks[-1].result()  # raises what stopped it (port in use...)
                    raise RuntimeError("the HTTP API stopped while starting")
                await asyncio.sleep(0.01)
        token = await self.tokens.ensure_one()
        self._tasks.append(
            asyncio.create_task(
                watch_loop_lag(self.metrics.lag, self.settings.loop_lag_interval), name="loop-lag"
            )
        )
        self._tasks.extend(
            asyncio.create_task(job(), name=getattr(job, "__name__", "job")) for job in self.blocks.jobs
        )
        self._tasks.extend(
            asyncio.create_task(run_periodic(job, self.clock, self.is_leader), name=job.name)
            for job in self.blocks.periodic
        )
        return token

    def is_leader(self) -> bool:
        """Whether the cluster-wide jobs run here: one process is always the leader."""
        return self.cluster is None or self.cluster.is_leader()

    @property
    def api_port(self) -> int | None:
        """The bound HTTP API port (useful when the settings asked for port 0)."""
        if self._http is None or not self._http.servers:
            return None
        return int(self._http.servers[0].sockets[0].getsockname()[1])

    async def stop(self, deadline: float = 10.0) -> None:
        """Graceful stop: the OCPP server first (in-flight calls finish), then the API and jobs, then the database."""
        await self.server.shutdown(deadline)
        if self._http is not None:
            self._http.should_exit = True
        for task in self._tasks:
            if task.get_name() != "http-api":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.cluster is not None:
            await self.cluster.stop()
        for release in self.blocks.on_stop:
            release()
        await self.provisioning.flush_last_seen()
        await self.engine.dispose()
