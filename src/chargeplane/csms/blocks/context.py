"""What a functional block gets to plug itself into the CSMS.

Each block package has a ``block.py`` with ``install(context)``; :mod:`chargeplane.csms.app` calls them in the
order of :data:`chargeplane.csms.blocks.BLOCKS`. A block registers its OCPP handlers on the per-version
routers, its HTTP routes, its background jobs and connection hooks, and offers its service to the blocks
installed after it (``provide`` / ``require``), so dependencies stay explicit and one-way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.bus.commands import CommandRouter
from chargeplane.csms.bus.events import EventBus
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.storage.group_commit import GroupCommitter
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

T = TypeVar("T")
ConnectionHook = Callable[[OcppConnection], Awaitable[None]]


@dataclass
class BlockContext:
    settings: CsmsSettings
    engine: AsyncEngine
    events: EventBus
    commands: CommandRouter
    routers: dict[Version, Router[OcppConnection]]
    committer: GroupCommitter  # shared by the blocks' per-message writes (one per CSMS process)
    routes: list[Any] = field(default_factory=list)  # Litestar route handlers, mounted under /api/v1
    jobs: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)  # run until stop
    on_connected: list[ConnectionHook] = field(default_factory=list)  # after the session is opened
    on_disconnected: list[ConnectionHook] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)  # release resources, after the jobs end
    _services: dict[type, object] = field(default_factory=dict)

    def provide(self, service: object) -> None:
        """Offer a block's service (one per type) to the blocks installed later."""
        kind = type(service)
        if kind in self._services:
            raise RuntimeError(f"{kind.__name__} is provided twice")
        self._services[kind] = service

    def require(self, kind: type[T]) -> T:
        service = self._services.get(kind)
        if service is None:
            raise RuntimeError(f"{kind.__name__} is required but no block installed before provides it")
        assert isinstance(service, kind)
        return service
