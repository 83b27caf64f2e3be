"""OCPP side of provisioning: BootNotification and Heartbeat for 1.6, 2.0.1 and 2.1.

2.0.1 and 2.1 share one code path (2.1 only adds optional fields); 1.6 has its own thin adapter.
"""

from __future__ import annotations

from typing import Any

from chargeplane.csms.blocks.provisioning.repository import BootData
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: ProvisioningService) -> None:
    _register_v16(routers[Version.V16], service)
    for version, module in ((Version.V201, v201), (Version.V21, v21)):
        _register_v2x(routers[version], service, module)


def _register_v16(router: Router[OcppConnection], service: ProvisioningService) -> None:
    messages = v16.messages

    async def boot(
        request: messages.BootNotificationRequest, conn: OcppConnection
    ) -> messages.BootNotificationResponse:
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
        return messages.BootNotificationResponse(
            current_time=utc_now(),
            interval=decision.interval,
            status=v16.enums.RegistrationStatus(decision.status),
        )

    def heartbeat(request: messages.HeartbeatRequest, conn: OcppConnection) -> messages.HeartbeatResponse:
        return messages.HeartbeatResponse(current_time=utc_now())

    router.register(messages.BootNotificationRequest, boot)
    router.register(messages.HeartbeatRequest, heartbeat)


def _register_v2x(router: Router[OcppConnection], service: ProvisioningService, module: Any) -> None:
    messages, enums = module.messages, module.enums

    async def boot(request: Any, conn: OcppConnection) -> Any:
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
        return messages.BootNotificationResponse(
            current_time=utc_now(),
            interval=decision.interval,
            status=enums.RegistrationStatusEnumType(decision.status),
        )

    def heartbeat(request: Any, conn: OcppConnection) -> Any:
        return messages.HeartbeatResponse(current_time=utc_now())

    router.register(messages.BootNotificationRequest, boot)
    router.register(messages.HeartbeatRequest, heartbeat)
