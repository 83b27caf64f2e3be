"""OCPP side of 2.1 dynamic schedules and priority charging: PullDynamicScheduleUpdate (K28.FR.07/12) and
NotifyPriorityCharging (K21.FR.09, K22.FR.06), each stored before it is answered."""

from __future__ import annotations

import msgspec

from chargeplane.csms.blocks.smart_charging.dynamic import DynamicChargingService
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DynamicChargingService) -> None:
    async def pull(
        request: v21.messages.PullDynamicScheduleUpdateRequest, conn: OcppConnection
    ) -> v21.messages.PullDynamicScheduleUpdateResponse:
        answer = await service.pull(conn.station_id, request.charging_profile_id)
        update = (
            msgspec.UNSET
            if answer.schedule_update is None
            else msgspec.convert(answer.schedule_update, v21.datatypes.ChargingScheduleUpdateType)
        )
        info = (
            msgspec.UNSET
            if answer.reason is None
            else v21.datatypes.StatusInfoType(reason_code=answer.reason)
        )
        return v21.messages.PullDynamicScheduleUpdateResponse(
            status=v21.enums.ChargingProfileStatusEnumType(answer.status),
            schedule_update=update,
            status_info=info,
        )

    async def priority(
        request: v21.messages.NotifyPriorityChargingRequest, conn: OcppConnection
    ) -> v21.messages.NotifyPriorityChargingResponse:
        await service.priority_notified(conn.station_id, request.transaction_id, request.activated)
        return v21.messages.NotifyPriorityChargingResponse()

    router = routers[Version.V21]
    router.register(v21.messages.PullDynamicScheduleUpdateRequest, pull)
    router.register(v21.messages.NotifyPriorityChargingRequest, priority)
