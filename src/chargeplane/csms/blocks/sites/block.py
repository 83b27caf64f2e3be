"""Site energy management (issue #15 item 4), CSMS side: sites with a tree of circuits down to the stations'
EVSEs, a dynamic grid limit, the EV needs per transaction; the allocation sent as TxProfiles through the smart
charging block, with the EVSEs' fallbacks as TxDefaultProfiles."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.sites import api
from chargeplane.csms.blocks.sites.repository import SitesRepository
from chargeplane.csms.blocks.sites.service import SitesService
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.blocks.v2x.service import V2xService


def install(context: BlockContext, settings: SitesSettings) -> None:
    service = SitesService(
        SitesRepository(context.engine),
        context.require(SmartChargingService),
        context.require(TransactionQueries),
        settings,
        context.events,
        context.clock,
        context.require(V2xService).bidirectional,
    )
    context.require(ProvisioningService).add_accepted_listener(service.station_accepted)
    context.require(SmartChargingService).add_ev_needs_handler(service.ev_needs)  # K15: a site's EVSE
    context.routes.extend(api.routes(service))
    context.jobs.extend((service.event_job, service.allocation_job, service.fallback_job))
    context.provide(service)


BLOCK = Block(
    "sites",
    SitesSettings,
    install,
    requires=("provisioning", "smart_charging", "transactions", "v2x"),
    summary="site energy management (CSMS side)",
)
