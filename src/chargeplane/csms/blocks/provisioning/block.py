"""Install provisioning: the station directory, boot/heartbeat handlers, station routes, presence."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.provisioning import api, handlers
from chargeplane.csms.blocks.provisioning.repository import StationRepository
from chargeplane.csms.blocks.provisioning.service import ProvisioningService


def install(context: BlockContext) -> None:
    service = ProvisioningService(
        StationRepository(context.engine, context.committer), context.settings, context.events
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.run_presence_flusher)
    context.provide(service)
