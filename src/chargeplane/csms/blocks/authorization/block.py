"""Install authorization: the id-token store, Authorize handlers, local lists, id-token and local-list routes."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization import api, handlers
from chargeplane.csms.blocks.authorization.local_list import LocalListService
from chargeplane.csms.blocks.authorization.repository import AuthorizationRepository
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.provisioning.service import ProvisioningService


def install(context: BlockContext) -> None:
    repository = AuthorizationRepository(context.engine, context.committer)
    service = AuthorizationService(repository, context.settings, context.events)
    local_lists = LocalListService(repository, context.settings, context.events, context.commands)
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, local_lists, context.require(ProvisioningService)))
    context.provide(service)
    context.provide(local_lists)
