"""OCPP side of monitoring: NotifyMonitoringReport (N02) for 2.0.1 and 2.1, stored before it is answered.
NotifyEvent (N07, N08) belongs to the availability block, which hands its data to this block's listener."""

from __future__ import annotations

from chargeplane.csms.blocks.device_model import wire as dm
from chargeplane.csms.blocks.monitoring import wire
from chargeplane.csms.blocks.monitoring.service import MonitoringService
from chargeplane.csms.blocks.monitoring.streams import StreamService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(
    routers: dict[Version, Router[OcppConnection]], service: MonitoringService, streams: StreamService
) -> None:
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

    # 2.1 periodic event streams (N11, N13, N15)
    async def open_stream(
        request: v21.messages.OpenPeriodicEventStreamRequest, conn: OcppConnection
    ) -> v21.messages.OpenPeriodicEventStreamResponse:
        status = v21.enums.GenericStatusEnumType
        if await streams.opened(conn.station_id, request):
            return v21.messages.OpenPeriodicEventStreamResponse(status=status.ACCEPTED)  # N11.FR.06
        return v21.messages.OpenPeriodicEventStreamResponse(  # N11.FR.05
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="DuplicateId")
        )

    async def close_stream(
        request: v21.messages.ClosePeriodicEventStreamRequest, conn: OcppConnection
    ) -> v21.messages.ClosePeriodicEventStreamResponse:
        await streams.closed(conn.station_id, request.id)  # N13.FR.02
        return v21.messages.ClosePeriodicEventStreamResponse()

    async def stream_values(message: v21.messages.NotifyPeriodicEventStream, conn: OcppConnection) -> None:
        await streams.notified(conn.station_id, message)  # N15.FR.02: never answered

    router = routers[Version.V21]
    router.register(v21.messages.OpenPeriodicEventStreamRequest, open_stream)
    router.register(v21.messages.ClosePeriodicEventStreamRequest, close_stream)
    router.register_send(v21.messages.NotifyPeriodicEventStream, stream_values)
