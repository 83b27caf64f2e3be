"""The live message trace of a station: the OCPP-J frames in and out of its connection, for the console.

The tap (:data:`chargeplane.transport.connection.FrameTap`) is set on a station's connection only while at
least one console page watches that station, and taken off when the last one leaves: a connection nobody
watches pays one ``is None`` test per frame (``bench/trace_tap.py`` measures it). A watched station keeps its
last :data:`KEPT` frames in a ring buffer (shown first to the next watcher, also after a reconnect).

Frames are parsed only here, off the protocol path: the kind, message id, action (results and errors get the
action of their CALL) and the payload with its secrets redacted (:mod:`chargeplane.ocpp.redaction`). A slow
watcher loses frames (its queue is bounded) rather than slowing the connection.

Several CSMS nodes: the trace shows the frames of the connections held by the node that serves the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.response.sse import ServerSentEventMessage

from chargeplane.csms.clock import Clock
from chargeplane.ocpp.redaction import redact
from chargeplane.transport.connection import OcppConnection

log = logging.getLogger(__name__)

KEPT = 200  # frames kept per watched station
QUEUE = 500  # frames a watcher may fall behind before it loses some
MAX_PAYLOAD_CHARS = 20_000  # a larger payload is shown cut
_MAX_CALLS = 256  # message ids remembered per station to name the action of an answer
HEARTBEAT_SECONDS = 15.0
KINDS = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR", 5: "CALLRESULTERROR", 6: "SEND"}
IN, OUT = "in", "out"

ConnectionFinder = Callable[[str], OcppConnection | None]


@dataclass(frozen=True, slots=True)
class TracedFrame:
    seq: int
    at: str  # UTC, ISO 8601
    direction: str  # in: from the station; out: to the station
    kind: str  # CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND, or unreadable
    message_id: str
    action: str | None
    payload: str  # JSON text, secrets redacted, cut at MAX_PAYLOAD_CHARS

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "direction": self.direction,
            "kind": self.kind,
            "messageId": self.message_id,
            "action": self.action,
            "payload": self.payload,
        }

    def matches(self, action: str | None, direction: str | None) -> bool:
        return (not action or self.action == action) and (not direction or self.direction == direction)


def _payload_text(payload: Any) -> str:
    text = msgspec.json.encode(redact(payload)).decode()
    return text if len(text) <= MAX_PAYLOAD_CHARS else text[:MAX_PAYLOAD_CHARS] + "…"


def parse_frame(data: str | bytes) -> tuple[str, str, str | None, str]:
    """(kind, message id, action of a CALL or SEND, redacted payload text) of one frame's text; never raises."""
    try:
        frame = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return "unreadable", "", None, '"(not JSON)"'
    if not isinstance(frame, list) or len(frame) < 3 or not isinstance(frame[0], int):
        return "unreadable", "", None, '"(not an OCPP-J frame)"'
    kind = KINDS.get(frame[0], "unreadable")
    message_id = str(frame[1])[:64]
    if kind in ("CALL", "SEND") and len(frame) >= 4:
        return kind, message_id, str(frame[2])[:64], _payload_text(frame[3])
    if kind == "CALLRESULT":
        return kind, message_id, None, _payload_text(frame[2])
    if kind in ("CALLERROR", "CALLRESULTERROR"):
        error = {"errorCode": frame[2], "description": frame[3] if len(frame) > 3 else ""}
        error["details"] = frame[4] if len(frame) > 4 else {}
        return kind, message_id, None, _payload_text(error)
    return "unreadable", message_id, None, _payload_text(frame)


class _Station:
    """What the trace holds for one station: its last frames, its watchers, its CALLs' actions by id."""

    __slots__ = ("calls", "frames", "watchers")

    def __init__(self) -> None:
        self.frames: deque[TracedFrame] = deque(maxlen=KEPT)
        self.watchers: set[asyncio.Queue[TracedFrame]] = set()
        self.calls: OrderedDict[str, str] = OrderedDict()

    def action_for(self, direction: str, kind: str, message_id: str, action: str | None) -> str | None:
        """The action of a CALL remembered by its direction and id; an answer (the other way) gets it."""
        if kind == "CALL" and action is not None:
            self.calls[f"{direction}:{message_id}"] = action
            if len(self.calls) > _MAX_CALLS:
                self.calls.popitem(last=False)
            return action
        if kind in ("CALLRESULT", "CALLERROR"):
            return self.calls.pop(f"{OUT if direction == IN else IN}:{message_id}", None)
        return action


class MessageTrace:
    def __init__(self, connections: ConnectionFinder, clock: Clock) -> None:
        self._connections = connections
        self._clock = clock
        self._stations: dict[str, _Station] = {}
        self._seq = 0
        self._closing = asyncio.Event()

    def watched(self, station_id: str) -> bool:
        held = self._stations.get(station_id.casefold())
        return held is not None and bool(held.watchers)

    def frames(
        self, station_id: str, action: str | None = None, direction: str | None = None
    ) -> list[TracedFrame]:
        """The kept frames of a station, oldest first, filtered by action and direction."""
        held = self._stations.get(station_id.casefold())
        return [frame for frame in held.frames if frame.matches(action, direction)] if held else []

    # -- the tap ------------------------------------------------------------------------------------------

    async def on_connected(self, connection: OcppConnection) -> None:
        """Connection hook: a watched station's new connection is traced from its first frame on."""
        if self.watched(connection.station_id):
            connection.tap = self.tap

    def tap(self, connection: OcppConnection, received: bool, data: str | bytes) -> None:
        try:
            self.record(connection.station_id, IN if received else OUT, data)
        except Exception:  # the trace must never break the connection it watches
            log.exception("%s: the message trace failed on a frame", connection.station_id)

    def record(self, station_id: str, direction: str, data: str | bytes) -> TracedFrame:
        held = self._stations.setdefault(station_id.casefold(), _Station())
        kind, message_id, action, payload = parse_frame(data)
        self._seq += 1
        at = self._clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        action = held.action_for(direction, kind, message_id, action)
        frame = TracedFrame(self._seq, at, direction, kind, message_id, action, payload)
        held.frames.append(frame)
        for queue in held.watchers:
            if not queue.full():  # a watcher too slow loses frames; the connection never waits
                queue.put_nowait(frame)
        return frame

    def _attach(self, station_id: str) -> None:
        connection = self._connections(station_id)
        if connection is not None:
            connection.tap = self.tap

    def _detach(self, station_id: str) -> None:
        connection = self._connections(station_id)
        if connection is not None and connection.tap == self.tap:
            connection.tap = None

    # -- watching -----------------------------------------------------------------------------------------

    async def watch(
        self, station_id: str, action: str | None = None, direction: str | None = None
    ) -> AsyncIterator[ServerSentEventMessage]:
        """The station's kept frames, then its frames as they pass, as server-sent events ``frame``."""
        held = self._stations.setdefault(station_id.casefold(), _Station())
        queue: asyncio.Queue[TracedFrame] = asyncio.Queue(QUEUE)
        held.watchers.add(queue)
        self._attach(station_id)
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            yield ServerSentEventMessage(data=None, comment="subscribed")
            for frame in list(held.frames):
                if frame.matches(action, direction):
                    yield _event(frame)
            while not self._closing.is_set():
                getting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getting, closing}, timeout=HEARTBEAT_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if getting not in done:
                    getting.cancel()
                    if closing in done:
                        return
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                frame = getting.result()
                if frame.matches(action, direction):
                    yield _event(frame)
        finally:
            closing.cancel()
            held.watchers.discard(queue)
            if not held.watchers:
                self._detach(station_id)

    async def close_on_stop(self) -> None:
        """Background job: ends every trace stream when the CSMS stops (so the HTTP server can finish)."""
        try:
            await asyncio.Event().wait()
        finally:
            self._closing.set()


_encoder = msgspec.json.Encoder()


def _event(frame: TracedFrame) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=_encoder.encode(frame.to_json()).decode(), event="frame")
