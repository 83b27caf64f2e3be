"""Station groups: named sets of stations in the API (``/groups``), and :class:`StationGroupService` for the
blocks that target groups."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.groups import api
from chargeplane.csms.blocks.groups.repository import GroupRepository
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService


def install(context: BlockContext, settings: NoSettings) -> None:
    repository = GroupRepository(context.engine)
    service = StationGroupService(repository, context.require(ProvisioningService), context.clock)
    context.on_stop.append(repository.close)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block("groups", NoSettings, install, requires=("provisioning",), summary="station groups")
