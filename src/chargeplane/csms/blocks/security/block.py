"""Security events (A04): SecurityEventNotification handlers, the transport's events, the log's routes."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.security import api, handlers
from chargeplane.csms.blocks.security.repository import SecurityRepository
from chargeplane.csms.blocks.security.service import SecurityService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = SecurityService(
        SecurityRepository(context.engine, context.committer), context.events, context.clock
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    if context.guard is not None:
        context.routes.extend(api.guard_routes(context.guard, context.clock))
    context.on_security_event.append(service.transport_event)
    context.provide(service)


BLOCK = Block("security", NoSettings, install, requires=("provisioning",), summary="A04")
