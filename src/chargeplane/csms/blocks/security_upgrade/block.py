"""A05 (CSMS side): the security profile upgrade (see the service's docstring)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.csms.blocks.security_upgrade import api
from chargeplane.csms.blocks.security_upgrade.repository import UpgradeRepository
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService
from chargeplane.csms.blocks.security_upgrade.settings import SecurityUpgradeSettings


def install(context: BlockContext, settings: SecurityUpgradeSettings) -> None:
    pki = context.require(PkiService)
    door = context.set_client_crl if settings.tls_crl_check and context.tls_client_ca() else None
    root = settings.csms_root_file.read_text() if settings.csms_root_file is not None else None
    service = SecurityUpgradeService(
        context.require(ProvisioningService),
        context.require(SecurityService),
        pki,
        door,
        UpgradeRepository(context.engine),
        context.require(CommandService),
        context.events,
        context.clock,
        step_timeout=settings.step_timeout,
        csms_root=root,
    )
    context.routes.extend(api.routes(service))
    context.jobs.append(service.fail_interrupted)
    context.on_stop.append(service.stop)
    pki.revocation_listeners.append(service.revoked)
    context.jobs.append(service.load_crl)
    context.every("security_upgrade.crl", settings.crl_refresh_interval, service.refresh_crl, each_node=True)
    context.on_ocpp_event.append(service.ocpp_event)
    context.on_connected.append(service.connected)
    context.provide(service)


BLOCK = Block(
    "security_upgrade",
    SecurityUpgradeSettings,
    install,
    requires=("provisioning", "security", "pki", "remote_control"),
    summary="A05 (CSMS side): security profile upgrade, no downgrade",
)
