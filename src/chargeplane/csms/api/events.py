"""``GET /api/v1/events``: the EventBus as server-sent events, for consoles and integrations.

Each event is ``event: <kind>`` with ``data: {"stationId", "at", "data"}``; ``?station=`` keeps one station's
events (identities compare case-insensitively), ``?kind=`` one kind of event or a family of them
(``kind=security`` keeps ``security.event``: the security events of both sources, each with its critical
flag). A comment line opens the stream (the subscription is live
from then on) and another one goes out every ``heartbeat`` seconds without events, so that proxies keep the
connection open. Streams end when the CSMS stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import get
from litestar.params import FromQuery
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from chargeplane.csms.bus.events import EventBus, StationEvent

HEARTBEAT_SECONDS = 15.0


class _EventData(msgspec.Struct, rename="camel"):
    station_id: str
    at: str
    data: dict[str, Any]


_encoder = msgspec.json.Encoder()


def encode_event(event: StationEvent) -> ServerSentEventMessage:
    body = _encoder.encode(_EventData(event.station_id, event.at, event.data)).decode()
    return ServerSentEventMessage(data=body, event=event.kind)


class EventStream:
    def __init__(self, bus: EventBus, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.bus = bus
        self.heartbeat = heartbeat
        self._closing = asyncio.Event()

    async def events(
        self, station: str | None, kind: str | None = None
    ) -> AsyncIterator[ServerSentEventMessage]:
        wanted = station.casefold() if station else None
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            async with self.bus.subscribe() as queue:
                yield ServerSentEventMessage(data=None, comment="subscribed")
                while not self._closing.is_set():
                    getting = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getting, closing}, timeout=self.heartbeat, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getting not in done:
                        getting.cancel()
                        if closing in done:
                            return
                        yield ServerSentEventMessage(data=None, comment="keep-alive")
                        continue
                    event = getting.result()
                    if (wanted is None or event.station_id.casefold() == wanted) and _of_kind(event, kind):
                        yield encode_event(event)
        finally:
            closing.cancel()

    def route(self) -> Any:
        @get("/events", summary="Station events as server-sent events")
        async def stream_events(
            station: FromQuery[str | None] = None, kind: FromQuery[str | None] = None
        ) -> ServerSentEvent:
            """Server-sent events: ``event: <kind>``, ``data: {"stationId", "at", "data"}``; ``station`` keeps
            one station's events, ``kind`` one kind (``security.event``) or family (``security``)."""
            return ServerSentEvent(self.events(station, kind))

        return stream_events

    async def close_on_stop(self) -> None:
        """Background job: when the CSMS stops (this job is cancelled), end every open stream so that the
        HTTP server can finish."""
        try:
            await asyncio.Event().wait()
        finally:
            self._closing.set()


def _of_kind(event: StationEvent, kind: str | None) -> bool:
    return kind is None or event.kind == kind or event.kind.startswith(kind + ".")
