"""A01 on the CSMS side: password rotation (a pending password beside the current one until it is used)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.password_rotation import api
from chargeplane.csms.blocks.password_rotation.repository import RotationRepository
from chargeplane.csms.blocks.password_rotation.service import PasswordRotationService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.security.service import SecurityService


def install(context: BlockContext, settings: NoSettings) -> None:
    stations = context.require(ProvisioningService)
    service = PasswordRotationService(
        RotationRepository(context.engine, context.committer),
        stations,
        context.require(SecurityService),
        context.require(CommandService),
        context.events,
        context.clock,
    )
    stations.pending_password = service.pending_hash  # the station directory accepts the pending password
    context.on_connected.append(service.connected)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "password_rotation",
    NoSettings,
    install,
    requires=("provisioning", "security", "remote_control"),
    summary="A01 (CSMS side): password rotation",
)
