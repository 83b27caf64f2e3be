"""One brute-force budget for the whole cluster: each node's :class:`AttackGuard` (station logins) and console
login throttle tell the others of their failed logins, of a success that cleared a record and of an operator's
unlock, over core NATS (subject ``chargeplane.guard``), so that an attacker spreading attempts over N nodes (or
``--workers N``) is locked out after the same number of failures as on one node.

Core NATS, not JetStream: a notice matters for the minutes of a lockout, a node that joins later starts
with a clean table (as after a restart), and a notice lost while NATS reconnects costs at most a few extra
attempts. Notices are queued (bounded) and published by a background task: the handshake never waits for NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

import msgspec
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chargeplane.transport.guard import AttackGuard

log = logging.getLogger(__name__)

SUBJECT = "chargeplane.guard"
OUTBOX = 10_000  # notices waiting for NATS at most (under attack the oldest go first)


class GuardNotice(msgspec.Struct, frozen=True):
    node: str
    what: str  # transport.guard FAILED | SUCCEEDED | UNLOCKED, or a console login notice (login-...)
    station_id: str | None = None
    source: str = ""
    keys: tuple[str, ...] = ()  # a console login notice's throttle keys


class LoginThrottle(Protocol):
    """The console's login throttle as this module sees it (console/users.py)."""

    shared: Callable[[str, tuple[str, ...]], None] | None

    def apply(self, what: str, keys: tuple[str, ...]) -> None: ...


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(GuardNotice)


class ClusterGuard:
    """Carries the notices of this node's guard to the other nodes and theirs to it."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._guard: AttackGuard | None = None
        self._logins: LoginThrottle | None = None
        self._nats: Nats | None = None
        self._subscription: Subscription | None = None
        self._outbox: deque[GuardNotice] = deque(maxlen=OUTBOX)
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def attach(self, guard: AttackGuard) -> None:
        """Share ``guard`` (the OCPP server's) with the cluster."""
        self._guard = guard
        guard.shared = self._tell

    def attach_logins(self, throttle: LoginThrottle) -> None:
        """Share the console's login throttle with the cluster."""
        self._logins = throttle
        throttle.shared = self._tell_login

    async def start(self, nats: Nats) -> None:
        self._nats = nats
        self._subscription = await nats.subscribe(SUBJECT, cb=self._on_message)
        self._task = asyncio.create_task(self._publish_loop(), name="cluster-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._subscription is not None:
            with contextlib.suppress(Exception):  # the connection may be gone already
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._guard is not None:
            self._guard.shared = None
        if self._logins is not None:
            self._logins.shared = None

    def _tell(self, what: str, station_id: str | None, source: str) -> None:
        self._outbox.append(GuardNotice(self.node_id, what, station_id, source))
        self._pending.set()

    def _tell_login(self, what: str, keys: tuple[str, ...]) -> None:
        self._outbox.append(GuardNotice(self.node_id, what, keys=keys))
        self._pending.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outbox and self._nats is not None:
                notice = self._outbox[0]
                try:
                    await self._nats.publish(SUBJECT, _encoder.encode(notice))
                except Exception as error:  # NATS reconnecting: try again shortly
                    log.info("guard notice not published yet: %s", error)
                    await asyncio.sleep(0.5)
                    continue
                self._outbox.popleft()

    async def _on_message(self, message: Msg) -> None:
        try:
            notice = _decoder.decode(message.data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            log.warning("a malformed guard notice on %s ignored", SUBJECT)
            return
        if notice.node == self.node_id:
            return
        if notice.keys:
            if self._logins is not None:
                self._logins.apply(notice.what, notice.keys)
        elif self._guard is not None:
            self._guard.apply(
                notice.what, notice.station_id, notice.source, asyncio.get_running_loop().time()
            )
