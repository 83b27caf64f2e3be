"""Availability (G01, G03-G05): the status of stations, EVSEs and connectors, and ChangeAvailability."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from msgspec import UNSET

from chargeplane.csms.blocks.availability.calls import InvalidRequest, checked, status_reason
from chargeplane.csms.blocks.availability.repository import (
    AvailabilityRepository,
    ConnectorRecord,
    HistoryRecord,
)
from chargeplane.csms.blocks.availability.repository import DeviceEvent as DeviceEvent  # for listeners
from chargeplane.csms.blocks.availability.repository import StatusReport as StatusReport  # for listeners
from chargeplane.csms.bus.commands import CommandRouter, StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import unset_if_none
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

EventListener = Callable[[str, list[DeviceEvent]], Awaitable[None]]
StatusListener = Callable[[list[StatusReport]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """The station's answer to ChangeAvailability: Accepted, Rejected or Scheduled (G03.FR.05, G04.FR.06)."""

    status: str
    reason_code: str | None = None
    additional_info: str | None = None


class AvailabilityService:
    def __init__(
        self, repository: AvailabilityRepository, events: EventBus, commands: CommandRouter, clock: Clock
    ) -> None:
        self.repository = repository
        self.events = events
        self.commands = commands
        self.clock = clock
        self._listeners: list[EventListener] = []
        self._status_listeners: list[StatusListener] = []

    def add_event_listener(self, listener: EventListener) -> None:
        """Let a later block see the NotifyEvent data this block does not use (the router has one handler
        per action, and this block owns NotifyEvent)."""
        self._listeners.append(listener)

    def add_status_listener(self, listener: StatusListener) -> None:
        """Let a later block act on reported statuses once they are stored (the transactions block closes
        transactions on an EVSE that reports Available)."""
        self._status_listeners.append(listener)

    # -- OCPP -------------------------------------------------------------------------------------------

    async def report(self, reports: list[StatusReport]) -> None:
        """Store reported statuses (history + current state) and tell the consoles."""
        await self.repository.record(reports, self.clock.now())
        for report in reports:
            data: dict[str, object] = {
                "evseId": report.evse_id,
                "connectorId": report.connector_id,
                "status": report.status,
                "source": report.source,
                "timestamp": to_wire(report.status_at),
            }
            if report.error_code is not None:
                data["errorCode"] = report.error_code
            if report.vendor_error_code is not None:
                data["vendorErrorCode"] = report.vendor_error_code
            self.events.publish(StationEvent("status", report.station_id, data))
        for listener in self._status_listeners:
            try:
                await listener(reports)
            except Exception:  # the station's answer matters more
                log.exception("a status listener failed")

    async def device_events(
        self, station_id: str, events: list[DeviceEvent], every: list[DeviceEvent] | None = None
    ) -> None:
        """Keep the other NotifyEvent data as a log, tell the consoles about problems (G05 lock failure),
        and pass the whole NotifyEvent (``every``: the status events too, a monitor may watch them) on to the
        listeners."""
        await self.repository.log_events(events, self.clock.now())
        for event in events:
            if event.variable == "Problem" and event.actual_value.lower() == "true" and not event.cleared:
                self.events.publish(
                    StationEvent(
                        "problem",
                        station_id,
                        {
                            "component": event.component,
                            "evseId": event.evse_id,
                            "connectorId": event.connector_id,
                            "techCode": event.tech_code,
                        },
                    )
                )
        for listener in self._listeners:
            try:
                await listener(station_id, events if every is None else every)
            except Exception:
                log.exception("NotifyEvent listener failed for %s", station_id)

    # -- reads ------------------------------------------------------------------------------------------

    async def connectors(self, station_id: str) -> list[ConnectorRecord]:
        """The current status of the station, its EVSEs and connectors."""
        return await self.repository.current(station_id)

    async def faulted_station_count(self) -> int:
        """Stations with a Faulted status now (the whole station, an EVSE or a connector)."""
        return await self.repository.faulted_station_count()

    async def status_history(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[HistoryRecord], int]:
        """Every reported status, newest first, and how many there are."""
        return await self.repository.history(station_id, offset, limit)

    # -- operator actions -------------------------------------------------------------------------------

    async def change_availability(
        self, station_id: str, evse_id: int | None, connector_id: int | None, operational: bool
    ) -> ChangeResult:
        """Send ChangeAvailability (G03 for an EVSE/connector, G04 for the whole station).

        2.x: no EVSE (or EVSE 0) is the whole station (G04.FR.01); a connector needs its EVSE.
        1.6: the target ``connectorId`` is ``evse_id`` if given, else ``connector_id``, else 0 (the whole
        charge point), following the storage mapping of 1.6 connectors to EVSEs.
        """
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        if version is Version.V16:
            if evse_id is not None and connector_id is not None and connector_id not in (evse_id, 1, 0):
                raise InvalidRequest("a 1.6 station has one connector per connectorId: give one of the two")
            target = evse_id if evse_id is not None else connector_id if connector_id is not None else 0
            kind = (
                v16.enums.AvailabilityType.OPERATIVE
                if operational
                else v16.enums.AvailabilityType.INOPERATIVE
            )
            response = await self.commands.call(
                station_id, checked(v16.messages.ChangeAvailabilityRequest(connector_id=target, type=kind))
            )
            assert isinstance(response, v16.messages.ChangeAvailabilityResponse)
            result = ChangeResult(str(response.status))
        else:
            if connector_id is not None and not evse_id:
                raise InvalidRequest("a connectorId needs the evseId of its EVSE")

            def request(ns: v2x.Dialect) -> v2x.ChangeAvailabilityRequest:
                status = ns.OperationalStatusEnumType
                return ns.ChangeAvailabilityRequest(
                    operational_status=status.OPERATIVE if operational else status.INOPERATIVE,
                    evse=ns.EVSEType(id=evse_id, connector_id=unset_if_none(connector_id))
                    if evse_id
                    else UNSET,
                )

            response = await self.commands.call(station_id, checked(v2x.with_dialect(version, request)))
            assert isinstance(response, v2x.ChangeAvailabilityResponse)
            result = ChangeResult(str(response.status), *status_reason(response.status_info))
        self.events.publish(
            StationEvent(
                "availability",
                station_id,
                {
                    "evseId": evse_id,
                    "connectorId": connector_id,
                    "operational": operational,
                    "result": result.status,
                },
            )
        )
        return result
