"""OCPP side of availability: StatusNotification (1.6, 2.0.1, 2.1) and NotifyEvent (2.0.1, 2.1).

2.0.1 and 2.1 share one code path; 1.6 has its own thin adapter. The storage addressing (station, EVSE,
connector) is described in :mod:`chargeplane.csms.blocks.availability.tables`.
"""

from __future__ import annotations

from typing import TypeVar

from chargeplane.csms.blocks.availability.repository import DeviceEvent, StatusReport
from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.ocpp.errors import PropertyConstraintViolation
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

# 2.x ConnectorStatusEnumType: the values AvailabilityState may carry (G01 alternative scenario).
CONNECTOR_STATUSES = frozenset(str(s) for s in v201.enums.ConnectorStatusEnumType)
# B01.FR.05 / G01: NotifyEvent AvailabilityState on these components stands for a status notification.
_AVAILABILITY_COMPONENTS = frozenset({"Connector", "EVSE", "ChargingStation"})
# Checked by mypy once per version (a union would lose the field types of the nested EVSE).
EventData = TypeVar("EventData", v201.datatypes.EventDataType, v21.datatypes.EventDataType)


def register(routers: dict[Version, Router[OcppConnection]], service: AvailabilityService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: AvailabilityService) -> None:
    async def status_notification(
        request: v16.messages.StatusNotificationRequest, conn: OcppConnection
    ) -> v16.messages.StatusNotificationResponse:
        if request.connector_id < 0:
            raise PropertyConstraintViolation("connectorId must be 0 (the charge point) or a connector id")
        timestamp = present(request.timestamp)
        evse = request.connector_id
        report = StatusReport(
            station_id=conn.station_id,
            evse_id=evse,
            connector_id=1 if evse > 0 else 0,  # 1.6 connector N is EVSE N, connector 1; 0 is the station
            status=str(request.status),
            source="StatusNotification",
            status_at=from_wire(timestamp) if timestamp else service.clock.now(),
            error_code=str(request.error_code),
            info=present(request.info),
            vendor_id=present(request.vendor_id),
            vendor_error_code=present(request.vendor_error_code),
        )
        await service.report([report])
        return v16.messages.StatusNotificationResponse()

    router.register(v16.messages.StatusNotificationRequest, status_notification)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: AvailabilityService) -> None:
    async def status_notification(
        request: v2x.StatusNotificationRequestT, conn: OcppConnection
    ) -> v2x.StatusNotificationResponse:
        # G01: a connector is addressed by its EVSE (ids from 1) and its id within the EVSE (from 1).
        if request.evse_id < 1 or request.connector_id < 1:
            raise PropertyConstraintViolation("evseId and connectorId of a connector start at 1")
        await service.report(
            [
                StatusReport(
                    station_id=conn.station_id,
                    evse_id=request.evse_id,
                    connector_id=request.connector_id,
                    status=str(request.connector_status),
                    source="StatusNotification",
                    status_at=from_wire(request.timestamp),
                )
            ]
        )
        return v2x.dialect_of(request).StatusNotificationResponse()

    async def notify_event(request: v2x.NotifyEventRequestT, conn: OcppConnection) -> v2x.NotifyEventResponse:
        reports: list[StatusReport] = []
        others: list[DeviceEvent] = []
        every: list[DeviceEvent] = []
        for event in request.event_data:
            report = _availability_report(conn.station_id, event)
            every.append(_device_event(conn.station_id, event))
            if report is not None:
                reports.append(report)
            else:
                others.append(every[-1])
        await service.report(reports)
        await service.device_events(conn.station_id, others, every)
        return v2x.dialect_of(request).NotifyEventResponse()

    register_2x(
        routers,
        (v201.messages.StatusNotificationRequest, v21.messages.StatusNotificationRequest),
        status_notification,
    )
    register_2x(routers, (v201.messages.NotifyEventRequest, v21.messages.NotifyEventRequest), notify_event)


def _availability_report(station_id: str, event: EventData) -> StatusReport | None:
    """The status an AvailabilityState event reports (G01 alternative, H01 S2, B01.FR.05), else ``None``
    (other variables, values outside ConnectorStatusEnumType, a Connector without its EVSE address)."""
    component, variable = event.component, event.variable
    if variable.name != "AvailabilityState" or component.name not in _AVAILABILITY_COMPONENTS:
        return None
    if event.actual_value not in CONNECTOR_STATUSES:
        return None
    evse = present(component.evse)
    if component.name == "ChargingStation":
        address = (0, 0)
    elif evse is None or evse.id < 1:
        return None
    elif component.name == "EVSE":
        address = (evse.id, 0)
    else:
        connector = present(evse.connector_id)
        if connector is None or connector < 1:
            return None
        address = (evse.id, connector)
    return StatusReport(
        station_id=station_id,
        evse_id=address[0],
        connector_id=address[1],
        status=event.actual_value,
        source="NotifyEvent",
        status_at=from_wire(event.timestamp),
    )


def _device_event(station_id: str, event: EventData) -> DeviceEvent:
    evse = present(event.component.evse)
    return DeviceEvent(
        station_id=station_id,
        event_id=event.event_id,
        trigger=str(event.trigger),
        component=event.component.name,
        component_instance=present(event.component.instance),
        evse_id=evse.id if evse is not None else None,
        connector_id=present(evse.connector_id) if evse is not None else None,
        variable=event.variable.name,
        variable_instance=present(event.variable.instance),
        actual_value=event.actual_value,
        cleared=present(event.cleared),
        tech_code=present(event.tech_code),
        tech_info=present(event.tech_info),
        transaction_id=present(event.transaction_id),
        event_at=from_wire(event.timestamp),
        cause=present(event.cause),
        variable_monitoring_id=present(event.variable_monitoring_id),
        event_notification_type=str(event.event_notification_type),
        severity=present(event.severity) if isinstance(event, v21.datatypes.EventDataType) else None,
    )
