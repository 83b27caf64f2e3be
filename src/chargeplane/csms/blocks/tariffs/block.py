"""Tariffs and cost (2.0.1 I01-I06; 2.1 I01-I12 from the CSMS's end): the operator's tariffs, the driver's
tariff text at Authorize, running cost (CostUpdated, TransactionEvent answers), the final cost, receipts, and the
2.1 local-cost commands with the station's own cost checked against the CSMS's."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.tariffs import api
from chargeplane.csms.blocks.tariffs.repository import TariffRepository
from chargeplane.csms.blocks.tariffs.service import TariffService
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings
from chargeplane.csms.blocks.transactions.service import TransactionService


def install(context: BlockContext, settings: TariffsSettings) -> None:
    service = TariffService(
        TariffRepository(context.engine, context.committer),
        settings,
        context.require(CommandService),
        context.require(DeviceModelService),
        context.events,
        context.clock,
    )
    context.require(AuthorizationService).add_authorize_listener(service.on_authorize)
    context.require(TransactionService).add_event_listener(service.on_event)
    if settings.cost_updated_interval > 0:
        context.every("tariffs.cost_updated", min(settings.cost_updated_interval, 5.0), service.tick)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "tariffs",
    TariffsSettings,
    install,
    requires=("authorization", "transactions", "remote_control", "device_model"),
    summary="I01-I12 (CSMS side)",
)
