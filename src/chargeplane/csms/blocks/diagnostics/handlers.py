"""OCPP side of diagnostics: LogStatusNotification (2.0.1, 2.1, the 1.6 security extension),
DiagnosticsStatusNotification (1.6) and NotifyCustomerInformation (2.0.1, 2.1); each stored before it is
answered."""

from __future__ import annotations

from chargeplane.csms.blocks.diagnostics.service import DiagnosticsService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DiagnosticsService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: DiagnosticsService) -> None:
    async def log_status(
        request: v16.messages.LogStatusNotificationRequest, conn: OcppConnection
    ) -> v16.messages.LogStatusNotificationResponse:
        await service.log_status(
            conn.station_id, "LogStatusNotification", str(request.status), present(request.request_id)
        )
        return v16.messages.LogStatusNotificationResponse()

    async def diagnostics_status(
        request: v16.messages.DiagnosticsStatusNotificationRequest, conn: OcppConnection
    ) -> v16.messages.DiagnosticsStatusNotificationResponse:
        await service.log_status(conn.station_id, "DiagnosticsStatusNotification", str(request.status), None)
        return v16.messages.DiagnosticsStatusNotificationResponse()

    router.register(v16.messages.LogStatusNotificationRequest, log_status)
    router.register(v16.messages.DiagnosticsStatusNotificationRequest, diagnostics_status)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: DiagnosticsService) -> None:
    async def log_status(
        request: v2x.LogStatusNotificationRequestT, conn: OcppConnection
    ) -> v2x.LogStatusNotificationResponse:
        await service.log_status(
            conn.station_id, "LogStatusNotification", str(request.status), present(request.request_id)
        )
        return v2x.dialect_of(request).LogStatusNotificationResponse()

    async def notify_customer_information(
        request: v2x.NotifyCustomerInformationRequestT, conn: OcppConnection
    ) -> v2x.NotifyCustomerInformationResponse:
        await service.customer_part(
            conn.station_id,
            request.request_id,
            request.seq_no,
            bool(present(request.tbc)),
            request.data,
            request.generated_at,
        )
        return v2x.dialect_of(request).NotifyCustomerInformationResponse()

    register_2x(
        routers,
        (v201.messages.LogStatusNotificationRequest, v21.messages.LogStatusNotificationRequest),
        log_status,
    )
    register_2x(
        routers,
        (v201.messages.NotifyCustomerInformationRequest, v21.messages.NotifyCustomerInformationRequest),
        notify_customer_information,
    )
