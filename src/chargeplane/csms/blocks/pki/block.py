"""PKI (A02, A03, M03-M06), CSMS side: the built-in CA signs the stations' CSRs and renews their certificates,
publishes its CRL and answers OCSP; the stations' CA certificates are managed from the API; GetCertificateStatus
goes to the OCSP responder the certificate names."""

from __future__ import annotations

import importlib
from typing import cast

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.pki import api, contract_service, handlers, test_v2g_pki
from chargeplane.csms.blocks.pki.repository import PkiRepository
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import ExternalCa
from chargeplane.pki.contract import ContractCertificateBackend


def _plugin(settings: PkiSettings, name: str, method: str) -> object:
    """The object the ``module:factory`` setting ``name`` makes from the settings; it must have ``method``."""
    target = getattr(settings, name)
    assert isinstance(target, str)
    module_name, _, attribute = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise SettingsError(f"{name} {target}: {error}") from None
    found = factory(settings)
    if not callable(getattr(found, method, None)):
        raise SettingsError(f"{name} {target} made no object with a {method} method")
    return found


def load_external_ca(settings: PkiSettings) -> ExternalCa:
    """The operator's CA named by ``external_ca`` (``module:factory``)."""
    return cast(ExternalCa, _plugin(settings, "external_ca", "sign"))


def load_contract_backend(settings: PkiSettings) -> ContractCertificateBackend | None:
    """The contract-certificate backend named by ``contract_backend`` (``module:factory``); without one, the
    HTTP backend when a contract-certificate service is configured, else None."""
    if settings.contract_backend is None:
        return None if settings.contract_service_url is None else contract_service.from_settings(settings)
    return cast(ContractCertificateBackend, _plugin(settings, "contract_backend", "certificate"))


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
        contracts=load_contract_backend(settings),
    )
    if settings.test_v2g_pki:  # development and tests: the CSMS's own CAs answer M01 (needs the service)
        service.contracts = test_v2g_pki.backend(service, settings)
        context.jobs.append(test_v2g_pki.start_codec)
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.deliver)
    context.every("pki.renewal", settings.renewal_interval, service.renew)
    authorization = context.require(AuthorizationService)
    authorization.contract_check = service.contract_status  # C07.FR.05
    authorization.contract_chain_check = service.contract_chain_status  # C07.FR.06
    context.provide(service)


BLOCK = Block(
    "pki",
    PkiSettings,
    install,
    requires=("provisioning", "remote_control", "authorization"),
    summary="A02, A03, M03-M06 (CSMS side)",
)
