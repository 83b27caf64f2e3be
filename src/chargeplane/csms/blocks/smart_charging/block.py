"""Smart charging (K01-K17; 1.6 Smart Charging), CSMS side: the store of the stations' charging profiles,
checked before sending, reports and reconciliation after a reconnect, composite schedules side by side,
external limits and EV charging needs."""

from __future__ import annotations

from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.smart_charging import api, handlers, resume
from chargeplane.csms.blocks.smart_charging.repository import SmartChargingRepository
from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.csms.blocks.smart_charging.settings import SmartChargingSettings
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.blocks.transactions.service import TransactionService


def install(context: BlockContext, settings: SmartChargingSettings) -> None:
    service = SmartChargingService(
        SmartChargingRepository(context.engine, context.committer),
        context.require(CommandService),
        context.require(TransactionQueries),
        context.require(AvailabilityService),
        settings,
        context.events,
        context.clock,
    )
    service.tx_profiles_persist = resume.persistence_from(context.require(DeviceModelService))
    context.require(TransactionService).add_event_listener(service.transaction_event)  # E17.FR.15
    context.require(ProvisioningService).add_accepted_listener(service.schedule_reconcile)
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.reconcile_job)
    context.provide(service)


BLOCK = Block(
    "smart_charging",
    SmartChargingSettings,
    install,
    requires=("provisioning", "remote_control", "availability", "transactions", "device_model"),
    summary="K01-K17 (CSMS side)",
)
