"""Firmware management (L01-L04; 1.6 UpdateFirmware and SignedUpdateFirmware), CSMS side: the image repository
with the operator's signing key, the images served to stations, updates and publications with their status
notifications, and rollout campaigns driven by a periodic job."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.diagnostics.service import DiagnosticsService
from chargeplane.csms.blocks.firmware import api, handlers
from chargeplane.csms.blocks.firmware.campaigns import CampaignService
from chargeplane.csms.blocks.firmware.repository import FirmwareRepository
from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: FirmwareSettings) -> None:
    diagnostics = context.require(DiagnosticsService)

    def base_url() -> str:  # the same public URL as the log uploads, unless set apart
        return settings.public_url if settings.public_url is not None else diagnostics.base_url()

    repository = FirmwareRepository(context.engine, context.committer)
    service = FirmwareService(
        repository, context.require(CommandService), settings, base_url, context.events, context.clock
    )
    campaigns = CampaignService(
        repository, service, context.require(StationGroupService), context.events, context.clock
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service, campaigns))
    context.every("firmware campaigns", settings.campaign_interval, campaigns.tick)
    context.provide(service)
    context.provide(campaigns)


BLOCK = Block(
    "firmware",
    FirmwareSettings,
    install,
    requires=("provisioning", "remote_control", "diagnostics", "groups"),
    summary="L01-L04 and rollout campaigns (CSMS side)",
)
