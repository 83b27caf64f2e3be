"""Install data transfer: DataTransfer handlers and routes; provides the service (vendor registry)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.data_transfer import api, handlers
from chargeplane.csms.blocks.data_transfer.repository import DataTransferRepository
from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService


def install(context: BlockContext) -> None:
    service = DataTransferService(
        DataTransferRepository(context.engine, context.committer), context.events, context.commands
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, context.require(ProvisioningService)))
    context.provide(service)
