"""Battery swapping (2.1 S01-S04): the BatterySwap handler, RequestBatterySwap and the swaps and inventory
routes; provides the service."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.battery_swap import api, handlers
from chargeplane.csms.blocks.battery_swap.repository import BatterySwapRepository
from chargeplane.csms.blocks.battery_swap.service import BatterySwapService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings


def install(context: BlockContext, settings: NoSettings) -> None:
    service = BatterySwapService(
        BatterySwapRepository(context.engine, context.committer),
        context.require(AuthorizationService),
        context.events,
        context.commands,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "battery_swap", NoSettings, install, requires=("provisioning", "authorization"), summary="S01-S04"
)
