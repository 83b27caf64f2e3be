"""Data transfer (P01-P02): DataTransfer handlers and routes; provides the service (vendor registry)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.data_transfer import api, handlers
from chargeplane.csms.blocks.data_transfer.repository import DataTransferRepository
from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from chargeplane.csms.blocks.declaration import Block, NoSettings


def install(context: BlockContext, settings: NoSettings) -> None:
    service = DataTransferService(
        DataTransferRepository(context.engine, context.committer),
        context.events,
        context.commands,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block("data_transfer", NoSettings, install, requires=("provisioning",), summary="P01-P02")
