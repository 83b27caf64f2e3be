"""OCPP side of the device model: NotifyReport (B07/B08) for 2.0.1 and 2.1, allowed while Pending
(B02.FR.02, the session's gate)."""

from __future__ import annotations

from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DeviceModelService) -> None:
    async def notify_report(
        request: v2x.NotifyReportRequestT, conn: OcppConnection
    ) -> v2x.NotifyReportResponse:
        await service.report_part(conn.station_id, wire.read(request, wire.NotifyReport))
        return v2x.dialect_of(request).NotifyReportResponse()

    register_2x(routers, (v201.messages.NotifyReportRequest, v21.messages.NotifyReportRequest), notify_report)
