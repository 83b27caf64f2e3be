"""Monitoring (N02-N08, CSMS side) for OCPP 2.0.1 and 2.1: Set/ClearVariableMonitoring, SetMonitoringBase,
SetMonitoringLevel and GetMonitoringReport from the API, the monitors each station holds, every NotifyEvent
(through the availability block's listener) and the alerts the operator's rules open from them. OCPP 1.6 has
no monitoring: its stations are refused (422)."""

from __future__ import annotations

from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.monitoring import api, handlers
from chargeplane.csms.blocks.monitoring.repository import MonitoringRepository
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.monitoring.streams import StreamRepository, StreamService
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = MonitoringService(
        MonitoringRepository(context.engine, context.committer),
        context.require(CommandService),
        context.require(DeviceModelService),
        context.events,
        context.clock,
    )
    streams = StreamService(StreamRepository(context.engine, context.committer), service)
    handlers.register(context.routers, service, streams)
    context.require(AvailabilityService).add_event_listener(service.device_events)
    context.routes.extend(api.routes(service, streams))
    context.provide(service)


BLOCK = Block(
    "monitoring",
    NoSettings,
    install,
    requires=("provisioning", "remote_control", "availability", "device_model"),
    summary="N02-N08 (CSMS side): monitors, monitoring reports, events and alerts",
)
