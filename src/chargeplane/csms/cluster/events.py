"""Station events of every node: the in-process :class:`EventBus`, plus a JetStream stream between nodes.

Each node delivers its own events to its subscribers at once (as on one node) and queues them for the stream
(subject ``chargeplane.events.<node>``); a background task publishes them in batches, so the OCPP path never
waits for NATS (past ``EXPORT_QUEUE`` waiting events the oldest are dropped, with a warning; after a failed
publish the batch goes again: at least once). Every node reads the
stream from its end (an ordered consumer) and hands the other nodes' events to its subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from chargeplane.csms.bus.events import EventBus, StationEvent

log = logging.getLogger(__name__)

STREAM = "CHARGEPLANE_EVENTS"
SUBJECT_PREFIX = "chargeplane.events."
STREAM_MAX_AGE = 3600.0  # seconds: events are for live consoles and integrations, not an archive
EXPORT_QUEUE = 10_000
EXPORT_BATCH = 256


class _WireEvent(msgspec.Struct, frozen=True):
    kind: str
    station_id: str
    at: str
    data: dict[str, Any]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_WireEvent)


class ClusterEventBus(EventBus):
    def __init__(self, node_id: str, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        self.node_id = node_id
        self._outbox: deque[StationEvent] = deque(maxlen=EXPORT_QUEUE)
        self.dropped = 0  # events the other nodes never got (the outbox was full)
        self._pending = asyncio.Event()
        self._drained = asyncio.Event()  # set while the outbox is empty
        self._drained.set()
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: JetStreamContext.PushSubscription | None = None

    def publish(self, event: StationEvent) -> None:
        super().publish(event)
        if len(self._outbox) == self._outbox.maxlen:
            log.warning(
                "the event stream is behind: an event of %s is not sent to other nodes", event.station_id
            )
        self._outbox.append(event)
        self._drained.clear()
        self._pending.set()

    async def start(self, js: JetStreamContext) -> None:
        self._js = js
        config = StreamConfig(name=STREAM, subjects=[SUBJECT_PREFIX + ">"], max_age=STREAM_MAX_AGE)
        try:
            await js.stream_info(STREAM)
        except NotFoundError:
            await js.add_stream(config)
        self._subscription = await js.subscribe(
            SUBJECT_PREFIX + ">",
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.NEW,
        )
        self._tasks = [asyncio.create_task(self._export(), name="events-export")]

    async def stop(self) -> None:
        await self.flush()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def flush(self, within: float = 2.0) -> None:
        """Wait (at most ``within`` seconds) until the queued events are on the stream."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._drained.wait()

    async def _export(self) -> None:
        subject = SUBJECT_PREFIX + self.node_id
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outbox:
                batch = list(itertools.islice(self._outbox, EXPORT_BATCH))
                bodies = [_encoder.encode(_WireEvent(e.kind, e.station_id, e.at, e.data)) for e in batch]
                # Published side by side (one round trip per batch, not per event), in order on the connection.
                results = await asyncio.gather(
                    *(self._stream().publish(subject, body) for body in bodies), return_exceptions=True
                )
                failed = next((result for result in results if isinstance(result, BaseException)), None)
                if failed is not None:  # NATS away: keep the batch, try again shortly (at least once)
                    log.warning("could not publish events to the stream: %s", failed)
                    await asyncio.sleep(1.0)
                    continue
                for event in batch:  # the outbox may have dropped some of them meanwhile
                    if self._outbox and self._outbox[0] is event:
                        self._outbox.popleft()
            self._drained.set()

    def _stream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the event stream is not started")
        return self._js

    async def _on_message(self, message: Msg) -> None:
        if message.subject == SUBJECT_PREFIX + self.node_id:
            return  # ours: delivered locally when published
        try:
            wire = _decoder.decode(message.data)
        except msgspec.DecodeError:
            log.warning("an event on %s that does not decode; ignored", message.subject)
            return
        EventBus.publish(self, StationEvent(wire.kind, wire.station_id, wire.data, wire.at))
