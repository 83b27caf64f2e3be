"""OCPP side of firmware management: FirmwareStatusNotification (1.6, 2.0.1, 2.1), the 1.6 security
extension's SignedFirmwareStatusNotification and PublishFirmwareStatusNotification (2.0.1, 2.1); each stored
before it is answered."""

from __future__ import annotations

from chargeplane.csms.blocks.firmware.service import FirmwareService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: FirmwareService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: FirmwareService) -> None:
    async def firmware_status(
        request: v16.messages.FirmwareStatusNotificationRequest, conn: OcppConnection
    ) -> v16.messages.FirmwareStatusNotificationResponse:
        # 1.6 core carries no requestId: the station's latest open UpdateFirmware.
        await service.firmware_status(
            conn.station_id, "FirmwareStatusNotification", str(request.status), None, "UpdateFirmware"
        )
        return v16.messages.FirmwareStatusNotificationResponse()

    async def signed_firmware_status(
        request: v16.messages.SignedFirmwareStatusNotificationRequest, conn: OcppConnection
    ) -> v16.messages.SignedFirmwareStatusNotificationResponse:
        await service.firmware_status(
            conn.station_id,
            "SignedFirmwareStatusNotification",
            str(request.status),
            present(request.request_id),
            "SignedUpdateFirmware",
        )
        return v16.messages.SignedFirmwareStatusNotificationResponse()

    router.register(v16.messages.FirmwareStatusNotificationRequest, firmware_status)
    router.register(v16.messages.SignedFirmwareStatusNotificationRequest, signed_firmware_status)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: FirmwareService) -> None:
    async def firmware_status(
        request: v2x.FirmwareStatusNotificationRequestT, conn: OcppConnection
    ) -> v2x.FirmwareStatusNotificationResponse:
        # L01.FR.20: the requestId is there unless the status is Idle.
        await service.firmware_status(
            conn.station_id,
            "FirmwareStatusNotification",
            str(request.status),
            present(request.request_id),
            None,
        )
        return v2x.dialect_of(request).FirmwareStatusNotificationResponse()

    async def publish_status(
        request: v2x.PublishFirmwareStatusNotificationRequestT, conn: OcppConnection
    ) -> v2x.PublishFirmwareStatusNotificationResponse:
        locations = present(request.location)
        await service.publish_status(
            conn.station_id,
            str(request.status),
            present(request.request_id),
            None if locations is None else list(locations),
        )
        return v2x.dialect_of(request).PublishFirmwareStatusNotificationResponse()

    register_2x(
        routers,
        (v201.messages.FirmwareStatusNotificationRequest, v21.messages.FirmwareStatusNotificationRequest),
        firmware_status,
    )
    register_2x(
        routers,
        (
            v201.messages.PublishFirmwareStatusNotificationRequest,
            v21.messages.PublishFirmwareStatusNotificationRequest,
        ),
        publish_status,
    )
