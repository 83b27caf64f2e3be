"""DER control (2.1 R02-R05), CSMS side: the derChargingParameters of EVs with their own inverter kept; set / get / clear a station's DER controls from the API, reports
assembled per requestId, alarms and start/stop notices stored (an alarm also as a monitoring event, for the
alert rules), DER controls stated per site and applied to its 2.1 stations."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.der_control import api, handlers
from chargeplane.csms.blocks.der_control.repository import DerRepository
from chargeplane.csms.blocks.der_control.service import DerService
from chargeplane.csms.blocks.der_control.settings import DerControlSettings
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.sites.service import SitesService
from chargeplane.csms.blocks.smart_charging.service import SmartChargingService


def install(context: BlockContext, settings: DerControlSettings) -> None:
    service = DerService(
        DerRepository(context.engine, context.committer),
        context.require(CommandService),
        context.require(SitesService),
        context.require(MonitoringService),
        context.events,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.require(ProvisioningService).add_accepted_listener(service.station_accepted)
    context.require(SmartChargingService).add_ev_needs_check(service.on_ev_needs)  # R02.FR.01
    context.routes.extend(api.routes(service))
    context.jobs.append(service.boot_job)
    context.every("der_control.reconcile", settings.reconcile_interval, service.reconcile)
    context.provide(service)


BLOCK = Block(
    "der_control",
    DerControlSettings,
    install,
    requires=("provisioning", "remote_control", "sites", "monitoring", "smart_charging"),
    summary="R02-R05 DER control (CSMS side, 2.1)",
)
