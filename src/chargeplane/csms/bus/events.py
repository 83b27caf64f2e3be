"""Station events (connected, boot, status, transactions, meter values...) for SSE consoles and integrations.

Publishing never blocks the OCPP path: each subscriber has a bounded queue, and a subscriber that falls
behind loses its oldest events rather than slowing stations down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from chargeplane.csms.clock import utc_now
from chargeplane.ocpp.timestamps import to_wire


@dataclass(frozen=True, slots=True)
class StationEvent:
    kind: str  # connected, disconnected, boot, status, transaction.started/updated/ended, meter_values, ...
    station_id: str
    data: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: to_wire(utc_now()))


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[StationEvent]] = set()

    def publish(self, event: StationEvent) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # the slow consumer loses its oldest event; the OCPP path never waits
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StationEvent]]:
        queue: asyncio.Queue[StationEvent] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
