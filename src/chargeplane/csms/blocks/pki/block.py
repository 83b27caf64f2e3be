"""PKI (A02, A03, M03-M06), CSMS side: the built-in CA signs the stations' CSRs and renews their certificates,
publishes its CRL and answers OCSP; the stations' CA certificates are managed from the API; GetCertificateStatus
goes to the OCSP responder the certificate names."""

from __future__ import annotations

import importlib

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.pki import api, handlers
from chargeplane.csms.blocks.pki.repository import PkiRepository
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import ExternalCa


def load_external_ca(settings: PkiSettings) -> ExternalCa:
    """The operator's CA named by ``external_ca`` (``module:factory``), made from the settings."""
    assert settings.external_ca is not None
    module_name, _, attribute = settings.external_ca.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise SettingsError(f"external_ca {settings.external_ca}: {error}") from None
    found = factory(settings)
    if not callable(getattr(found, "sign", None)):
        raise SettingsError(f"external_ca {settings.external_ca} made no ExternalCa (a sign method)")
    external: ExternalCa = found
    return external


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
        external=None if settings.external_ca is None else {"station": load_external_ca(settings)},
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
