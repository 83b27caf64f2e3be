"""PKI (A02, A03, M03-M06), CSMS side: the built-in CA signs the stations' CSRs and renews their certificates,
publishes its CRL and answers OCSP; the stations' CA certificates are managed from the API; GetCertificateStatus
goes to the OCSP responder the certificate names."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.pki import api, handlers
from chargeplane.csms.blocks.pki.repository import PkiRepository
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: PkiSettings) -> None:
    def base_url() -> str:
        return context.api_base_url(settings.public_url)

    service = PkiService(
        PkiRepository(context.engine, context.committer),
        context.require(CommandService),
        settings,
        base_url,
        context.events,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.deliver)
    context.every("pki.renewal", settings.renewal_interval, service.renew)
    context.provide(service)


BLOCK = Block(
    "pki",
    PkiSettings,
    install,
    requires=("provisioning", "remote_control"),
    summary="A02, A03, M03-M06 (CSMS side)",
)
