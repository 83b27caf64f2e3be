"""Authorization (C01-C16, D01-D02): the id-token store, Authorize handlers, local lists and their routes."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization import api, handlers
from chargeplane.csms.blocks.authorization.local_list import LocalListService
from chargeplane.csms.blocks.authorization.repository import AuthorizationRepository
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block


def install(context: BlockContext, settings: AuthorizationSettings) -> None:
    repository = AuthorizationRepository(context.engine, context.committer)
    service = AuthorizationService(repository, settings, context.events, context.clock)
    local_lists = LocalListService(repository, settings, context.events, context.commands, context.clock)
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, local_lists))
    context.provide(service)
    context.provide(local_lists)


BLOCK = Block(
    "authorization",
    AuthorizationSettings,
    install,
    requires=("provisioning",),
    summary="C01-C16, D01-D02: id tokens, Authorize, local authorization lists",
)
