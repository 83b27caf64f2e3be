"""OCPP side of DER control (2.1 only): ReportDERControl parts, NotifyDERAlarm and NotifyDERStartStop, each
stored before it is answered."""

from __future__ import annotations

from typing import Any

import msgspec

from chargeplane.csms.blocks.der_control.service import DerService
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

m21 = v21.messages


def _item(
    control_id: str, control_type: str, default: bool, superseded: bool, setting: msgspec.Struct
) -> dict[str, Any]:
    return {
        "id": control_id,
        "controlType": control_type,
        "isDefault": default,
        "isSuperseded": superseded,
        "setting": msgspec.to_builtins(setting),
    }


def flatten(request: m21.ReportDERControlRequest) -> list[dict[str, Any]]:
    """The controls of one report, whatever list carries them, in one shape (EnterService and Gradients
    exist as defaults only: their get types carry no flags)."""
    out = [
        _item(c.id, str(c.curve_type), c.is_default, c.is_superseded, c.curve)
        for c in present(request.curve) or []
    ]
    out += [
        _item(e.id, "EnterService", True, False, e.enter_service)
        for e in present(request.enter_service) or []
    ]
    out += [_item(g.id, "Gradients", True, False, g.gradient) for g in present(request.gradient) or []]
    for name, items in (
        ("FixedPFAbsorb", request.fixed_pf_absorb),
        ("FixedPFInject", request.fixed_pf_inject),
    ):
        out += [_item(p.id, name, p.is_default, p.is_superseded, p.fixed_pf) for p in present(items) or []]
    out += [
        _item(v.id, "FixedVar", v.is_default, v.is_superseded, v.fixed_var)
        for v in present(request.fixed_var) or []
    ]
    out += [
        _item(d.id, "FreqDroop", d.is_default, d.is_superseded, d.freq_droop)
        for d in present(request.freq_droop) or []
    ]
    out += [
        _item(x.id, "LimitMaxDischarge", x.is_default, x.is_superseded, x.limit_max_discharge)
        for x in present(request.limit_max_discharge) or []
    ]
    return out


def register(routers: dict[Version, Router[OcppConnection]], service: DerService) -> None:
    router = routers[Version.V21]

    async def report_der_control(
        request: m21.ReportDERControlRequest, conn: OcppConnection
    ) -> m21.ReportDERControlResponse:
        await service.report_part(
            conn.station_id, request.request_id, bool(present(request.tbc)), flatten(request)
        )
        return m21.ReportDERControlResponse()

    async def notify_der_alarm(
        request: m21.NotifyDERAlarmRequest, conn: OcppConnection
    ) -> m21.NotifyDERAlarmResponse:
        fault = present(request.grid_event_fault)
        await service.alarm(
            conn.station_id,
            str(request.control_type),
            str(fault) if fault is not None else None,
            bool(present(request.alarm_ended)),
            request.timestamp,
            present(request.extra_info),
        )
        return m21.NotifyDERAlarmResponse()

    async def notify_der_start_stop(
        request: m21.NotifyDERStartStopRequest, conn: OcppConnection
    ) -> m21.NotifyDERStartStopResponse:
        superseded = list(present(request.superseded_ids) or [])
        await service.start_stop(
            conn.station_id, request.control_id, request.started, request.timestamp, superseded
        )
        return m21.NotifyDERStartStopResponse()

    router.register(m21.ReportDERControlRequest, report_der_control)
    router.register(m21.NotifyDERAlarmRequest, notify_der_alarm)
    router.register(m21.NotifyDERStartStopRequest, notify_der_start_stop)
