"""A05 (CSMS side): the security profile upgrade (see the service's docstring)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = SecurityUpgradeService(context.require(ProvisioningService), context.require(SecurityService))
    context.on_ocpp_event.append(service.ocpp_event)
    context.on_connected.append(service.connected)
    context.provide(service)


BLOCK = Block(
    "security_upgrade",
    NoSettings,
    install,
    requires=("provisioning", "security"),
    summary="A05 (CSMS side): security profile upgrade, no downgrade",
)
