"""OCPP side of monitoring: NotifyMonitoringReport (N02) for 2.0.1 and 2.1, stored before it is answered.
NotifyEvent (N07, N08) belongs to the availability block, which hands its data to this block's listener."""

from __future__ import annotations

from chargeplane.csms.blocks.device_model import wire as dm
from chargeplane.csms.blocks.monitoring import wire
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: MonitoringService) -> None:
    async def notify_monitoring_report(
        request: v2x.NotifyMonitoringReportRequestT, conn: OcppConnection
    ) -> v2x.NotifyMonitoringReportResponse:
        await service.report_part(conn.station_id, dm.read(request, wire.NotifyMonitoringReport))
        return v2x.dialect_of(request).NotifyMonitoringReportResponse()

    register_2x(
        routers,
        (v201.messages.NotifyMonitoringReportRequest, v21.messages.NotifyMonitoringReportRequest),
        notify_monitoring_report,
    )
