"""Device model (B05-B08, CSMS side): NotifyReport handlers, report requests and Get/Set Variables from the
API, the per-station inventory with its history."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.device_model import api, handlers
from chargeplane.csms.blocks.device_model.repository import DeviceModelRepository
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = DeviceModelService(
        DeviceModelRepository(context.engine, context.committer),
        context.require(CommandService),
        context.events,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "device_model",
    NoSettings,
    install,
    requires=("provisioning", "remote_control"),
    summary="B05-B08 (CSMS side)",
)
