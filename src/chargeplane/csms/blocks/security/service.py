"""Security events (A04): store what stations report and what the CSMS transport saw, publish each one.

Station events come from SecurityEventNotification (2.0.1, 2.1, and 1.6 with the security extension); CSMS
events from the OCPP server's security hook (a failed Basic authentication or TLS handshake). Both go to one
log with their ``source`` (``station`` or ``csms``) and are published on the event bus as ``security.event``.
"""

from __future__ import annotations

from datetime import datetime

from chargeplane.csms.blocks.security.catalog import is_critical
from chargeplane.csms.blocks.security.repository import (
    SecurityEventCount,
    SecurityEventRecord,
    SecurityRepository,
)
from chargeplane.csms.blocks.security.repository import (
    SecurityEventFilter as SecurityEventFilter,  # re-exported: the filter of find(), for other packages
)
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.transport.server import SecurityEvent

STATION, CSMS = "station", "csms"
SOURCES = frozenset({STATION, CSMS})
EVENT_KIND = "security.event"


class SecurityService:
    def __init__(self, repository: SecurityRepository, events: EventBus, clock: Clock) -> None:
        self.repository = repository
        self.events = events
        self.clock = clock

    async def reported(self, station_id: str, type: str, timestamp: datetime, tech_info: str | None) -> None:
        """A station's SecurityEventNotification: stored, then published."""
        await self._add(station_id, STATION, type, timestamp, tech_info)

    async def transport_event(self, event: SecurityEvent) -> None:
        """The OCPP server's hook: a failed handshake, stored as a CSMS-side event at the time it is seen."""
        await self._add(event.station_id[:48], CSMS, event.kind, self.clock.now(), _reason(event))

    async def csms_event(self, station_id: str, type: str, tech_info: str | None) -> None:
        """An event of the CSMS's own about a station (e.g. a password rotation, A01), as it happens."""
        await self._add(station_id, CSMS, type, self.clock.now(), tech_info)

    async def find(
        self, where: SecurityEventFilter, offset: int, limit: int
    ) -> tuple[list[SecurityEventRecord], int]:
        """Security events of both sources, newest first, and how many match."""
        return await self.repository.find(where, offset, limit)

    async def counts(self, where: SecurityEventFilter) -> list[SecurityEventCount]:
        """How many events of each type and source match the filter."""
        return await self.repository.count_by_type(where)

    async def _add(
        self, station_id: str, source: str, type: str, timestamp: datetime, tech_info: str | None
    ) -> None:
        await self.repository.add(
            station_id=station_id,
            source=source,
            type=type,
            timestamp=timestamp,
            tech_info=tech_info,
            now=self.clock.now(),
        )
        self.events.publish(
            StationEvent(
                EVENT_KIND,
                station_id,
                {
                    "source": source,
                    "type": type,
                    "critical": is_critical(type),
                    "timestamp": to_wire(timestamp),
                    "techInfo": tech_info,
                },
            )
        )


def _reason(event: SecurityEvent) -> str:
    """The transport's reason with where the attempt came from, cut to the column's 255 characters."""
    return f"{event.reason} (from {event.remote_address})"[:255]
