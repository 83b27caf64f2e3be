"""The console's page modules beyond the core pages of :mod:`web` (issue #18 items 4 and 5), built over the
services the blocks provide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chargeplane.csms.blocks.authorization.local_list import LocalListService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.firmware.campaigns import CampaignService
from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.sites.service import SitesService
from chargeplane.csms.blocks.tariffs.service import TariffService
from chargeplane.csms.blocks.transactions.queries import TransactionQueries
from chargeplane.csms.console.pages_energy import EnergyPages
from chargeplane.csms.console.pages_firmware import CampaignPages
from chargeplane.csms.console.pages_groups import GroupPages
from chargeplane.csms.console.pages_local_lists import LocalListPages
from chargeplane.csms.console.pages_transactions import TransactionPages

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console, PageModule


def page_modules(console: Console, context: BlockContext) -> list[PageModule]:
    queries = context.require(TransactionQueries)
    groups = context.require(StationGroupService)
    return [
        TransactionPages(console, queries, context.require(TariffService)),
        LocalListPages(console, context.require(ProvisioningService), context.require(LocalListService)),
        CampaignPages(console, context.require(CampaignService), context.require(FirmwareService), groups),
        GroupPages(console, groups),
        EnergyPages(console, context.require(SitesService), queries),
    ]
