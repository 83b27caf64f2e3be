"""V2X (2.1 block Q), CSMS side: V2X authorization, allowed energy transfer during a session, aFRR signals,
central setpoints, and each transaction's V2X view (the EV's V2X parameters, the energy exported)."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.blocks.transactions.service import TransactionService
from chargeplane.csms.blocks.v2x import api
from chargeplane.csms.blocks.v2x.repository import V2xRepository
from chargeplane.csms.blocks.v2x.service import V2xService


def install(context: BlockContext, settings: NoSettings) -> None:
    smart_charging = context.require(SmartChargingService)
    service = V2xService(
        V2xRepository(context.engine, context.committer),
        context.require(CommandService),
        smart_charging,
        context.require(TransactionQueries),
        context.events,
        context.clock,
    )
    context.require(AuthorizationService).add_authorize_listener(service.on_authorize)
    context.require(TransactionService).add_event_listener(service.on_transaction_event)
    smart_charging.add_ev_needs_check(service.on_ev_needs)
    smart_charging.add_schedule_keeper(service.keeps_schedule)  # a V2X TxProfile stays (Q03/Q04)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "v2x",
    NoSettings,
    install,
    requires=("authorization", "remote_control", "smart_charging", "transactions"),
    summary="Q01-Q12 (CSMS side)",
)
