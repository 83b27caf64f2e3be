"""Transactions and metering (E01-E15, J01-J03): TransactionEvent / Start / Stop / MeterValues handlers and
their routes; marks reservations used."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.service import KEY_CODE, AuthorizationService
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.transactions import api, handlers, supported_limits
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.blocks.transactions.repository import TransactionRepository
from chargeplane.csms.blocks.transactions.service import TransactionService


def install(context: BlockContext, settings: NoSettings) -> None:
    repository = TransactionRepository(context.engine, context.committer)
    service = TransactionService(
        repository,
        context.require(AuthorizationService),
        context.events,
        context.clock,
        reservation_used=context.require(ReservationService).mark_used,
        commands=context.require(CommandService),
        supported_limits=supported_limits.from_device_model(context.require(DeviceModelService)),
    )
    context.require(ProvisioningService).add_boot_listener(service.station_rebooted)
    context.require(AvailabilityService).add_status_listener(service.statuses_reported)
    handlers.register(context.routers, service)
    queries = TransactionQueries(repository, lambda pin: service.stored_token(pin, KEY_CODE))
    context.routes.extend(api.routes(queries, service))
    context.provide(service)
    context.provide(queries)  # the reads, for the operator console


BLOCK = Block(
    "transactions",
    NoSettings,
    install,
    requires=(
        "provisioning",
        "authorization",
        "availability",
        "reservation",
        "remote_control",
        "device_model",
    ),
    summary="E01-E15, J01-J03",
)
