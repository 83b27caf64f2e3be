"""Provisioning (B01-B04, G02): the station directory, boot/heartbeat handlers, station routes, presence."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.provisioning import api, handlers
from chargeplane.csms.blocks.provisioning.repository import StationRepository
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings


def install(context: BlockContext, settings: ProvisioningSettings) -> None:
    repository = StationRepository(context.engine, context.committer)
    service = ProvisioningService(repository, settings, context.events, context.clock)
    context.on_stop.append(repository.close)
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.dependencies[api.STATION_DEPENDENCY] = api.known_station(service)
    context.every("presence-flush", settings.presence_flush_interval, service.tick, each_node=True)
    context.provide(service)


BLOCK = Block("provisioning", ProvisioningSettings, install, summary="B01-B04, G02: stations, boot, presence")
