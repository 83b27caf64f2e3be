"""A05 (CSMS side): the security profile upgrade (see the service's docstring)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService
from chargeplane.csms.blocks.security_upgrade.settings import SecurityUpgradeSettings


def install(context: BlockContext, settings: SecurityUpgradeSettings) -> None:
    pki = context.require(PkiService)
    door = context.set_client_crl if settings.tls_crl_check and context.tls_client_ca() else None
    service = SecurityUpgradeService(
        context.require(ProvisioningService), context.require(SecurityService), pki, door
    )
    pki.revocation_listeners.append(service.revoked)
    context.jobs.append(service.load_crl)
    context.every("security_upgrade.crl", settings.crl_refresh_interval, service.refresh_crl)
    context.on_ocpp_event.append(service.ocpp_event)
    context.on_connected.append(service.connected)
    context.provide(service)


BLOCK = Block(
    "security_upgrade",
    SecurityUpgradeSettings,
    install,
    requires=("provisioning", "security", "pki"),
    summary="A05 (CSMS side): security profile upgrade, no downgrade",
)
