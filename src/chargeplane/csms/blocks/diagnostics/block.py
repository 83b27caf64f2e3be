"""Diagnostics (N01, N09, N10; 1.6 GetDiagnostics), CSMS side: log requests with one-time upload URLs and the
uploaded files, customer information reports and clears (with the cleared id token taken off the local list)."""

from __future__ import annotations

from chargeplane.csms.blocks.authorization.local_list import LocalListService
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.diagnostics import api, handlers
from chargeplane.csms.blocks.diagnostics.repository import DiagnosticsRepository
from chargeplane.csms.blocks.diagnostics.service import DiagnosticsService
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: DiagnosticsSettings) -> None:
    def base_url() -> str:
        return context.api_base_url(settings.public_url)

    service = DiagnosticsService(
        DiagnosticsRepository(context.engine, context.committer),
        context.require(CommandService),
        context.require(AuthorizationService),
        context.require(LocalListService),
        settings,
        base_url,
        context.events,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.remove_from_local_lists)
    context.provide(service)


BLOCK = Block(
    "diagnostics",
    DiagnosticsSettings,
    install,
    requires=("provisioning", "remote_control", "authorization"),
    summary="N01, N09, N10 (CSMS side)",
)
