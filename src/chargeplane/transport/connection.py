"""One OCPP-J connection: the asyncio driver of an :class:`~chargeplane.ocpp.endpoint.RpcEndpoint` over a
``websockets`` connection, used by both the server and the client.

It feeds received text to the endpoint, writes what the endpoint produces (in order, as text frames), arms
one timer for the endpoint's deadline, runs the handlers of incoming CALLs in the connection's TaskGroup
(so a slow handler never blocks reading, and CALLs may cross), and completes the futures of :meth:`call`.

A peer's CALLs are handled one at a time, in the order they came (OCPP-J allows one outstanding CALL per
direction: 2.0.1 Part 4 §4.1.1). A peer that pipelines anyway gets its CALLs queued, not run side by side,
so it never holds more than one handler's share of the database; past :data:`MAX_QUEUED_CALLS` waiting
ones the connection stops reading until the queue drains (TCP back-pressure: nothing is dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from chargeplane.logs import current_station
from chargeplane.ocpp.endpoint import RpcEndpoint
from chargeplane.ocpp.errors import OcppError
from chargeplane.ocpp.events import (
    CallAborted,
    CallReceived,
    CallTimedOut,
    ErrorReceived,
    Event,
    ResultReceived,
    SendReceived,
)
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.security import SecurityProfile

log = logging.getLogger(__name__)

MAX_QUEUED_CALLS = 32  # incoming CALLs waiting behind the one being handled before reading pauses

# A watcher of a connection's frames: (connection, received, the frame's text). Set on a connection only while
# someone watches it (the console's message trace): unset, a frame costs one ``is None`` test.
FrameTap = Callable[["OcppConnection", bool, "str | bytes"], None]


class CallError(Exception):
    """A CALL we sent did not succeed."""


class CallFailed(CallError):
    """The peer answered with a CALLERROR, or with a CALLRESULT that broke the schema."""

    def __init__(self, action: str, error: OcppError) -> None:
        super().__init__(f"{action} failed: {error.code} {error.description}".rstrip())
        self.error = error


class CallTimeout(CallError):
    """No answer within the call timeout."""


class ConnectionLost(CallError):
    """The connection closed (or was replaced by a newer one) before the answer came.

    ``transmitted`` is False when the CALL never left this side (it was queued behind another), so sending
    it again cannot make the peer process it twice.
    """

    def __init__(self, reason: str, transmitted: bool = True) -> None:
        super().__init__(reason)
        self.transmitted = transmitted


EventListener = Callable[["OcppConnection", Event], None]
# Told (connection, the CALL, seconds) when the answer to a peer's CALL is ready to go out: the time from the
# frame read off the WebSocket to its CALLRESULT/CALLERROR, queueing behind earlier CALLs included.
AnswerListener = Callable[["OcppConnection", CallReceived, float], None]


class OcppConnection:
    """A live OCPP connection. ``state`` is free for the application (a session object, say)."""

    def __init__(
        self,
        websocket: Connection,
        endpoint: RpcEndpoint,
        station_id: str,
        *,
        router: Router[OcppConnection] | None = None,
        security_profile: SecurityProfile | None = None,
        on_event: EventListener | None = None,
        on_answered: AnswerListener | None = None,
    ) -> None:
        self.websocket = websocket
        self.endpoint = endpoint
        self.station_id = station_id
        self.security_profile = security_profile
        self.pending_password = (
            False  # the server admitted it with a rotated password not yet confirmed (A01)
        )
        self.router = router
        self.state: Any = None
        self._on_event = on_event
        self._on_answered = on_answered
        self._received_at = 0.0  # loop time of the frame being dispatched
        self._waiters: dict[str, asyncio.Future[Payload]] = {}
        self._write_lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._closed_reason: str | None = None
        # incoming CALLs behind the one being handled, with the loop time of their frame
        self._queued_calls: deque[tuple[CallReceived, float]] = deque()
        self._handling = False  # an asynchronous handler of this peer's CALLs is running
        self._accepting = asyncio.Event()  # cleared while too many CALLs wait: reading pauses
        self._accepting.set()
        self.idle = asyncio.Event()  # set while no CALL is in flight either way (see ``busy``)
        self.idle.set()
        self.tap: FrameTap | None = None  # see FrameTap

    @property
    def version(self) -> Version:
        return self.endpoint.version

    @property
    def remote_address(self) -> str:
        address = self.websocket.remote_address
        return (
            f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else str(address)
        )

    @property
    def is_open(self) -> bool:
        return self._closed_reason is None

    @property
    def busy(self) -> bool:
        """True while a CALL is outstanding or queued in either direction (graceful shutdown waits for it)."""
        endpoint = self.endpoint
        return bool(endpoint.outstanding_call or endpoint.queued_calls or endpoint.open_incoming_calls)

    async def call(self, request: Payload) -> Payload:
        """Send a CALL and return the peer's response Struct.

        Raises :class:`CallFailed`, :class:`CallTimeout`, :class:`ConnectionLost`, or the endpoint's
        :class:`~chargeplane.ocpp.endpoint.LocalProtocolError` for a request this side may not send.
        """
        if self._closed_reason is not None:
            raise ConnectionLost(self._closed_reason, transmitted=False)
        loop = asyncio.get_running_loop()
        message_id = self.endpoint.send_call(request, loop.time())
        future: asyncio.Future[Payload] = loop.create_future()
        self._waiters[message_id] = future
        self._arm_timer()
        self._update_idle()
        await self._flush()
        try:
            return await future
        finally:
            self._waiters.pop(message_id, None)

    async def send_message(self, payload: Payload) -> None:
        """Send a 2.1 SEND message (never answered)."""
        if self._closed_reason is not None:
            raise ConnectionLost(self._closed_reason, transmitted=False)
        self.endpoint.send_message(payload)
        await self._flush()

    async def run(self) -> None:
        """Serve the connection until it closes; then every pending call fails with :class:`ConnectionLost`."""
        reason = "connection closed"
        current_station.set(self.station_id)  # every line logged for this connection names the station
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                try:
                    async for message in self.websocket:
                        if isinstance(message, bytes):
                            reason = await self._refuse_binary()
                            break
                        if self.tap is not None:
                            self.tap(self, True, message)
                        self._received_at = now = asyncio.get_running_loop().time()
                        self.endpoint.receive(message, now)
                        self._dispatch()
                        await self._flush()
                        await self._accepting.wait()
                except ConnectionClosed as closed:
                    reason = f"connection closed ({closed.rcvd.code if closed.rcvd else 'no close frame'})"
        finally:
            self._tasks = None
            self._shut(reason)

    async def _refuse_binary(self) -> str:
        """OCPP-J messages are UTF-8 JSON in text frames (2.0.1 Part 4 §4.1, 1.6 §4.1.2); no conformant peer
        sends binary ones, so guessing their encoding would only hide a broken peer: close with 1003
        (RFC 6455 §7.4.1, data it cannot accept)."""
        log.warning("%s: binary WebSocket frame refused, closing with 1003", self.station_id)
        await self.websocket.close(1003, "OCPP-J messages are text frames")
        return "binary frame refused (1003)"

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket; :meth:`run` then returns."""
        await self.websocket.close(code, reason)

    def abort_calls(self, reason: str) -> None:
        """Fail every pending CALL now (the connection is being replaced)."""
        self.endpoint.abort_calls(reason)
        self._dispatch()

    # -- internals --------------------------------------------------------------------------------------

    def _shut(self, reason: str) -> None:
        if self._closed_reason is None:
            self._closed_reason = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queued_calls.clear()  # nobody is left to answer them
        self._accepting.set()
        self.endpoint.abort_calls(self._closed_reason)
        self._dispatch()

    def _dispatch(self) -> None:
        for event in self.endpoint.events():
            if isinstance(event, CallReceived):
                self._start_handler(event)
            elif isinstance(event, ResultReceived):
                future = self._waiters.get(event.message_id)
                if future is not None and not future.done():
                    future.set_result(event.payload)
            elif isinstance(event, ErrorReceived):
                self._fail(event.message_id, CallFailed(event.action, event.error))
            elif isinstance(event, CallTimedOut):
                self._fail(event.message_id, CallTimeout(f"{event.action} got no answer in time"))
            elif isinstance(event, CallAborted):
                self._fail(event.message_id, ConnectionLost(event.reason, event.transmitted))
            elif isinstance(event, SendReceived):  # 2.1: consumed, never answered (N15.FR.02)
                if self.router is not None and self._tasks is not None:
                    self._tasks.create_task(self.router.consume(event.action, event.payload, self))
            else:
                log.info("%s: %s", self.station_id, event)
            if self._on_event is not None:
                self._on_event(self, event)
        self._arm_timer()
        self._update_idle()

    def _start_handler(self, event: CallReceived) -> None:
        if self.router is None or self._tasks is None:
            log.error("%s: no router to handle %s", self.station_id, event.action)
            return
        self._queued_calls.append((event, self._received_at))
        if len(self._queued_calls) > MAX_QUEUED_CALLS:
            self._accepting.clear()
        if not self._handling:
            self._handle_queued()

    def _handle_queued(self) -> None:
        """Handle queued CALLs in order: synchronous handlers answer at once, an asynchronous one runs as a
        task and the rest wait for it."""
        router, tasks = self.router, self._tasks
        while self._queued_calls and router is not None and tasks is not None:
            call, received = self._queued_calls.popleft()
            pending = router.dispatch(self.endpoint, call, self)
            if pending is not None:
                self._handling = True
                tasks.create_task(self._complete(pending, call, received))
                break
            if self._on_answered is not None:
                self._on_answered(self, call, asyncio.get_running_loop().time() - received)
        if len(self._queued_calls) <= MAX_QUEUED_CALLS:
            self._accepting.set()

    async def _complete(
        self, pending: Coroutine[Any, Any, None], call: CallReceived, received: float
    ) -> None:
        try:
            await pending
        finally:
            self._handling = False
        if self._on_answered is not None:
            self._on_answered(self, call, asyncio.get_running_loop().time() - received)
        self._handle_queued()
        await self._flush()
        self._update_idle()

    def _update_idle(self) -> None:
        if self.busy:
            self.idle.clear()
        else:
            self.idle.set()

    def _fail(self, message_id: str, error: CallError) -> None:
        future = self._waiters.get(message_id)
        if future is not None and not future.done():
            future.set_exception(error)

    def _arm_timer(self) -> None:
        deadline = self.endpoint.get_timer()
        if self._timer is not None:
            if deadline is not None and self._timer.when() == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._closed_reason is None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.endpoint.handle_timer(asyncio.get_running_loop().time())
        self._dispatch()
        if self._tasks is not None:  # a queued CALL may have been released
            self._tasks.create_task(self._flush())

    async def _flush(self) -> None:
        if not self.endpoint.has_output:
            return
        async with self._write_lock:
            for data in self.endpoint.data_to_send():
                if self.tap is not None:
                    self.tap(self, False, data)
                try:
                    await self.websocket.send(data, text=True)
                except ConnectionClosed:
                    return  # the reader sees the close and shuts the connection down
