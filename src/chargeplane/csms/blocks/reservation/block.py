"""Install reservations: ReservationStatusUpdate handlers, routes, the expiry job; provides the service
(``mark_used`` for the transactions block)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.reservation import api, handlers
from chargeplane.csms.blocks.reservation.repository import ReservationRepository
from chargeplane.csms.blocks.reservation.service import ReservationService


def install(context: BlockContext) -> None:
    service = ReservationService(
        ReservationRepository(context.engine, context.committer),
        context.events,
        context.commands,
        context.settings,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, context.require(ProvisioningService)))
    context.jobs.append(service.run_expiry)
    context.provide(service)
