"""Install availability: StatusNotification / NotifyEvent handlers, connector routes, ChangeAvailability."""

from __future__ import annotations

from chargeplane.csms.blocks.availability import api, handlers
from chargeplane.csms.blocks.availability.repository import AvailabilityRepository
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.provisioning.service import ProvisioningService


def install(context: BlockContext) -> None:
    service = AvailabilityService(
        AvailabilityRepository(context.engine, context.committer), context.events, context.commands
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, context.require(ProvisioningService)))
    context.provide(service)
