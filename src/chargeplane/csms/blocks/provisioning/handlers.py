"""OCPP side of provisioning: BootNotification and Heartbeat for 1.6, 2.0.1 and 2.1.

2.0.1 and 2.1 share one code path (2.1 only adds optional fields); 1.6 has its own thin adapter.
"""

from __future__ import annotations

from chargeplane.csms.blocks.provisioning.repository import BootData
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: ProvisioningService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: ProvisioningService) -> None:
    async def boot(
        request: v16.messages.BootNotificationRequest, conn: OcppConnection
    ) -> v16.messages.BootNotificationResponse:
        data = BootData(
            vendor=request.charge_point_vendor,
            model=request.charge_point_model,
            reason="PowerUp",  # 1.6 does not say why it booted
            serial_number=present(request.charge_point_serial_number)
            or present(request.charge_box_serial_number),
            firmware_version=present(request.firmware_version),
            iccid=present(request.iccid),
            imsi=present(request.imsi),
            meter_type=present(request.meter_type),
            meter_serial_number=present(request.meter_serial_number),
        )
        decision = await service.boot(conn, data)
        return v16.messages.BootNotificationResponse(
            current_time=to_wire(service.clock.now()),
            interval=decision.interval,
            status=v16.enums.RegistrationStatus(decision.status),
        )

    def heartbeat(
        request: v16.messages.HeartbeatRequest, conn: OcppConnection
    ) -> v16.messages.HeartbeatResponse:
        return v16.messages.HeartbeatResponse(current_time=to_wire(service.clock.now()))

    router.register(v16.messages.BootNotificationRequest, boot)
    router.register(v16.messages.HeartbeatRequest, heartbeat)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: ProvisioningService) -> None:
    async def boot(
        request: v2x.BootNotificationRequestT, conn: OcppConnection
    ) -> v2x.BootNotificationResponse:
        ns = v2x.dialect_of(request)
        station = request.charging_station
        modem = present(station.modem)
        data = BootData(
            vendor=station.vendor_name,
            model=station.model,
            reason=str(request.reason),
            serial_number=present(station.serial_number),
            firmware_version=present(station.firmware_version),
            iccid=present(modem.iccid) if modem else None,
            imsi=present(modem.imsi) if modem else None,
        )
        decision = await service.boot(conn, data)
        return ns.BootNotificationResponse(
            current_time=to_wire(service.clock.now()),
            interval=decision.interval,
            status=ns.RegistrationStatusEnumType(decision.status),
        )

    def heartbeat(request: v2x.HeartbeatRequestT, conn: OcppConnection) -> v2x.HeartbeatResponse:
        return v2x.dialect_of(request).HeartbeatResponse(current_time=to_wire(service.clock.now()))

    register_2x(routers, (v201.messages.BootNotificationRequest, v21.messages.BootNotificationRequest), boot)
    register_2x(routers, (v201.messages.HeartbeatRequest, v21.messages.HeartbeatRequest), heartbeat)
