"""OCPP side of security events: SecurityEventNotification for 1.6 (security extension), 2.0.1 and 2.1."""

from __future__ import annotations

from chargeplane.csms.blocks.security.service import SecurityService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: SecurityService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: SecurityService) -> None:
    async def security_event(
        request: v16.messages.SecurityEventNotificationRequest, conn: OcppConnection
    ) -> v16.messages.SecurityEventNotificationResponse:
        await service.reported(
            conn.station_id, request.type, from_wire(request.timestamp), present(request.tech_info)
        )
        return v16.messages.SecurityEventNotificationResponse()

    router.register(v16.messages.SecurityEventNotificationRequest, security_event)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: SecurityService) -> None:
    async def security_event(
        request: v2x.SecurityEventNotificationRequestT, conn: OcppConnection
    ) -> v2x.SecurityEventNotificationResponse:
        await service.reported(
            conn.station_id, request.type, from_wire(request.timestamp), present(request.tech_info)
        )
        return v2x.dialect_of(request).SecurityEventNotificationResponse()

    register_2x(
        routers,
        (v201.messages.SecurityEventNotificationRequest, v21.messages.SecurityEventNotificationRequest),
        security_event,
    )
