"""What a functional block gets to plug itself into the CSMS.

Each block package declares a :class:`~chargeplane.csms.blocks.declaration.Block` in its ``block.py``;
:mod:`chargeplane.csms.app` installs them in the order their ``requires`` give. A block registers its OCPP
handlers on the per-version routers, its HTTP routes, its background jobs and connection hooks, and offers its
service to the blocks installed after it (``provide`` / ``require``), so dependencies stay explicit and
one-way. Time comes from ``clock``: a periodic job is a ``tick(now)`` doing one pass, which
:func:`run_periodic` calls with the clock's time (tests call ``tick`` themselves).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.bus.commands import CommandRouter
from chargeplane.csms.bus.events import EventBus
from chargeplane.csms.clock import Clock
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.ocpp.events import Event
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.guard import AttackGuard
from chargeplane.transport.server import SecurityEvent

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")
ConnectionHook = Callable[[OcppConnection], Awaitable[None]]
Tick = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: float  # seconds between passes
    tick: Tick  # one pass at the given time
    each_node: bool = False  # True: a pass on every node of a cluster; False: on the leader only


async def run_periodic(job: PeriodicJob, clock: Clock, leader: Callable[[], bool] = lambda: True) -> None:
    """The thin loop around a job: a pass every ``interval`` seconds; a failed pass is logged, not fatal.
    With several nodes, ``leader`` says whether this node is the leader: a cluster-wide job passes only there."""
    while True:
        await asyncio.sleep(job.interval)
        if not job.each_node and not leader():
            continue
        try:
            await job.tick(clock.now())
        except Exception:
            log.exception("background job %s failed", job.name)


@dataclass
class BlockContext:
    settings: CsmsSettings
    engine: AsyncEngine
    events: EventBus
    commands: CommandRouter
    routers: dict[Version, Router[OcppConnection]]
    committer: GroupCommitter  # shared by the blocks' per-message writes (one per CSMS process)
    clock: Clock
    # The bound HTTP API port once the API listens (the settings may ask for port 0), else None.
    api_port: Callable[[], int | None] = lambda: None
    guard: AttackGuard | None = None  # the OCPP server's lockouts and counters (issue #13), when it has one
    routes: list[Any] = field(default_factory=list)  # Litestar route handlers, mounted under /api/v1
    dependencies: dict[str, Provide] = field(default_factory=dict)  # for every route, by parameter name
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)  # run until stop
    periodic: list[PeriodicJob] = field(default_factory=list)  # see every()
    on_connected: list[ConnectionHook] = field(default_factory=list)  # after the session is opened
    on_disconnected: list[ConnectionHook] = field(default_factory=list)
    on_security_event: list[Callable[[SecurityEvent], Awaitable[None]]] = field(
        default_factory=list
    )  # transport's
    on_stop: list[Callable[[], None]] = field(default_factory=list)  # release resources, after the jobs end
    on_ocpp_event: list[Callable[[OcppConnection, Event], None]] = field(
        default_factory=list
    )  # every RPC event
    # The OCPP server's TLS door: the CRL (PEM) client certificates are checked against (None: no CRL check)
    set_client_crl: Callable[[bytes | None], None] = lambda _: None
    tls_client_ca: Callable[[], bool] = lambda: False  # whether the TLS listener asks for client certificates
    _services: dict[type, tuple[object, str | None]] = field(default_factory=dict)  # service, its block
    _installing: Block[Any] | None = None

    def install(self, block: Block[S], settings: S) -> None:
        """Install ``block``; while it installs, it may require only services of the blocks it declares."""
        self._installing = block
        try:
            block.install(self, settings)
        finally:
            self._installing = None

    def api_base_url(self, public_url: str | None = None) -> str:
        """The HTTP API's base URL as stations reach it: ``public_url`` when set, else the API's listen address
        (127.0.0.1 when it listens on every address) and bound port."""
        if public_url is not None:
            return public_url
        host = self.settings.api_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port() or self.settings.api_port}"

    def every(self, name: str, interval: float, tick: Tick, *, each_node: bool = False) -> None:
        """Run ``tick(now)`` every ``interval`` seconds while the CSMS runs: with several nodes on the leader
        only (once across the cluster), or on every node with ``each_node`` (a job about the node itself)."""
        self.periodic.append(PeriodicJob(name, interval, tick, each_node))

    def provide(self, service: object) -> None:
        """Offer a block's service (one per type) to the blocks installed later."""
        kind = type(service)
        if kind in self._services:
            raise RuntimeError(f"{kind.__name__} is provided twice")
        self._services[kind] = (service, self._installing.name if self._installing else None)

    def require(self, kind: type[T]) -> T:
        """The service of type ``kind`` that a block installed before provides. A block may require only the
        services of the blocks in its ``requires``, so that its declaration (and the install order) stays true."""
        found = self._services.get(kind)
        if found is None:
            raise RuntimeError(f"{kind.__name__} is required but no block installed before provides it")
        service, provider = found
        user = self._installing
        if user is not None and provider is not None and provider not in user.requires:
            raise RuntimeError(
                f"block {user.name!r} uses {kind.__name__} of block {provider!r}: add {provider!r} to its requires"
            )
        assert isinstance(service, kind)
        return service
