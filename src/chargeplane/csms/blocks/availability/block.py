"""Availability (G01-G05): StatusNotification / NotifyEvent handlers, connector routes, ChangeAvailability."""

from __future__ import annotations

from chargeplane.csms.blocks.availability import api, handlers
from chargeplane.csms.blocks.availability.repository import AvailabilityRepository
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings


def install(context: BlockContext, settings: NoSettings) -> None:
    service = AvailabilityService(
        AvailabilityRepository(context.engine, context.committer),
        context.events,
        context.commands,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "availability",
    NoSettings,
    install,
    requires=("provisioning",),
    summary="G01-G05: EVSE/connector status, StatusNotification, NotifyEvent, ChangeAvailability",
)
