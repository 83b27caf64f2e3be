"""Desired configuration for station groups (no OCPP message of its own): the values a group's stations must
have, applied after each accepted boot and on every change, with the drift per station and per group."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.desired_configuration import api
from chargeplane.csms.blocks.desired_configuration.repository import DesiredRepository
from chargeplane.csms.blocks.desired_configuration.service import DesiredConfigurationService
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.groups.service import StationGroupService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = DesiredConfigurationService(
        DesiredRepository(context.engine, context.committer),
        context.require(StationGroupService),
        context.require(DeviceModelService),
        context.require(CommandService),
        context.events,
        context.clock,
    )
    context.routes.extend(api.routes(service))
    context.require(ProvisioningService).add_accepted_listener(service.schedule)
    context.jobs.append(service.work)
    context.provide(service)


BLOCK = Block(
    "desired_configuration",
    NoSettings,
    install,
    requires=("provisioning", "groups", "device_model", "remote_control"),
    summary="desired configuration of station groups, drift",
)
