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
from chargeplane.csms.blocks.smart_charging import api, dynamic_api, dynamic_handlers, handlers, resume
from chargeplane.csms.blocks.smart_charging.dynamic import DynamicChargingService
from chargeplane.csms.blocks.smart_charging.dynamic_repository import DynamicRepository
from chargeplane.csms.blocks.smart_charging.repository import SmartChargingRepository
from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.csms.blocks.smart_charging.settings import SmartChargingSettings
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.blocks.transactions.service import TransactionService


def install(context: BlockContext, settings: SmartChargingSettings) -> None:
    repository = SmartChargingRepository(context.engine, context.committer)
    context.on_stop.append(repository.close)
    service = SmartChargingService(
        repository,
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
    _install_dynamic(context, service, repository)


def _install_dynamic(
    context: BlockContext, service: SmartChargingService, repository: SmartChargingRepository
) -> None:
    """2.1 K28 dynamic schedules and K21/K22 priority charging."""
    dynamic = DynamicChargingService(
        DynamicRepository(context.engine, context.committer),
        repository,
        context.require(CommandService),
        context.events,
        context.clock,
    )
    dynamic_handlers.register(context.routers, dynamic)
    context.routes.extend(dynamic_api.routes(dynamic))

    async def priority_section(station_id: str, transaction_id: str) -> object | None:
        view = await dynamic.priority(station_id, transaction_id)
        return None if view is None else dynamic_api.priority_state_out(transaction_id, view)

    context.require(TransactionQueries).add_section("priorityCharging", priority_section)

    async def priority_active(station_id: str, transaction_id: str) -> bool:
        view = await dynamic.priority(station_id, transaction_id)
        return view is not None and view.active

    service.priority_tx = priority_active  # the CSMS's own composite follows the station's notices (K08)
    context.provide(dynamic)


BLOCK = Block(
    "smart_charging",
    SmartChargingSettings,
    install,
    requires=("provisioning", "remote_control", "availability", "transactions", "device_model"),
    summary="K01-K22, K28 (CSMS side)",
)
