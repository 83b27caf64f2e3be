"""OCPP side of smart charging (2.0.1, 2.1): ReportChargingProfiles (K09), NotifyChargingLimit /
ClearedChargingLimit (K11-K14), NotifyEVChargingNeeds / NotifyEVChargingSchedule (K15-K17); each stored
before it is answered. 1.6 stations send nothing of smart charging."""

from __future__ import annotations

from typing import Any

import msgspec

from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def _builtins(value: object) -> Any:
    return msgspec.to_builtins(value)


def register(routers: dict[Version, Router[OcppConnection]], service: SmartChargingService) -> None:
    async def report_profiles(
        request: v2x.ReportChargingProfilesRequestT, conn: OcppConnection
    ) -> v2x.ReportChargingProfilesResponse:
        await service.report_part(
            conn.station_id,
            conn.version,
            request.request_id,
            str(request.charging_limit_source),
            request.evse_id,
            [_builtins(p) for p in request.charging_profile],
            bool(present(request.tbc)),
        )
        return v2x.dialect_of(request).ReportChargingProfilesResponse()

    async def notify_limit(
        request: v2x.NotifyChargingLimitRequestT, conn: OcppConnection
    ) -> v2x.NotifyChargingLimitResponse:
        await service.limit_event(
            conn.station_id,
            conn.version,
            "NotifyChargingLimit",
            present(request.evse_id),
            str(request.charging_limit.charging_limit_source),
            msgspec.json.encode(request),
        )
        return v2x.dialect_of(request).NotifyChargingLimitResponse()

    async def cleared_limit(
        request: v2x.ClearedChargingLimitRequestT, conn: OcppConnection
    ) -> v2x.ClearedChargingLimitResponse:
        await service.limit_event(
            conn.station_id,
            conn.version,
            "ClearedChargingLimit",
            present(request.evse_id),
            str(request.charging_limit_source),
            msgspec.json.encode(request),
        )
        return v2x.dialect_of(request).ClearedChargingLimitResponse()

    async def ev_needs(
        request: v2x.NotifyEVChargingNeedsRequestT, conn: OcppConnection
    ) -> v2x.NotifyEVChargingNeedsResponse:
        status = await service.ev_charging_needs(
            conn.station_id,
            conn.version,
            request.evse_id,
            present(request.max_schedule_tuples),
            _builtins(request.charging_needs),
            msgspec.json.encode(request),
        )
        dialect = v2x.dialect_of(request)
        return dialect.NotifyEVChargingNeedsResponse(
            status=dialect.NotifyEVChargingNeedsStatusEnumType(status)
        )

    async def ev_schedule(
        request: v2x.NotifyEVChargingScheduleRequestT, conn: OcppConnection
    ) -> v2x.NotifyEVChargingScheduleResponse:
        status = await service.ev_charging_schedule(
            conn.station_id,
            conn.version,
            request.evse_id,
            request.time_base,
            _builtins(request.charging_schedule),
            msgspec.json.encode(request),
        )
        dialect = v2x.dialect_of(request)
        return dialect.NotifyEVChargingScheduleResponse(status=dialect.GenericStatusEnumType(status))

    register_2x(
        routers,
        (v201.messages.ReportChargingProfilesRequest, v21.messages.ReportChargingProfilesRequest),
        report_profiles,
    )
    register_2x(
        routers,
        (v201.messages.NotifyChargingLimitRequest, v21.messages.NotifyChargingLimitRequest),
        notify_limit,
    )
    register_2x(
        routers,
        (v201.messages.ClearedChargingLimitRequest, v21.messages.ClearedChargingLimitRequest),
        cleared_limit,
    )
    register_2x(
        routers,
        (v201.messages.NotifyEVChargingNeedsRequest, v21.messages.NotifyEVChargingNeedsRequest),
        ev_needs,
    )
    register_2x(
        routers,
        (v201.messages.NotifyEVChargingScheduleRequest, v21.messages.NotifyEVChargingScheduleRequest),
        ev_schedule,
    )
