"""Install transactions and metering: TransactionEvent / Start / Stop / MeterValues handlers and their routes."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.reservation.service import ReservationService
from chargeplane.csms.blocks.transactions import api, handlers
from chargeplane.csms.blocks.transactions.repository import TransactionRepository
from chargeplane.csms.blocks.transactions.service import TransactionService


def install(context: BlockContext) -> None:
    repository = TransactionRepository(context.engine, context.committer)
    service = TransactionService(
        repository,
        context.require(AuthorizationService),
        context.events,
        reservation_used=context.require(ReservationService).mark_used,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)
