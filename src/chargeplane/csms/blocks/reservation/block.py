"""Reservations (H01-H04): ReservationStatusUpdate handlers, routes, the expiry job; provides the service
(``mark_used`` for the transactions block)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.reservation import api, handlers
from chargeplane.csms.blocks.reservation.repository import ReservationRepository
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.reservation.settings import ReservationSettings


def install(context: BlockContext, settings: ReservationSettings) -> None:
    service = ReservationService(
        ReservationRepository(context.engine, context.committer),
        context.events,
        context.commands,
        settings,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.every("reservation-expiry", settings.check_interval, service.tick)
    context.provide(service)


BLOCK = Block("reservation", ReservationSettings, install, requires=("provisioning",), summary="H01-H04")
