"""The presence registry: which node holds each station's socket.

One JetStream key-value bucket; the key is the station identity (casefolded, base64url: identities may hold
characters a NATS key may not), the value the holding node and the negotiated version. The holder writes the
entry when the station connects and rewrites it every ``ttl / 3`` with a compare-and-set on the revision it
wrote last; the bucket's ``max_age`` (the TTL) removes the entries of a node that died. Every node mirrors the
bucket in memory through a watcher, so :meth:`PresenceRegistry.holder` is a dictionary lookup.

Takeover: a station that reconnects on another node gets a new entry written there (the newest connection
wins, as on one node). The old holder learns it from its watcher, or at its latest from its next refresh
(the compare-and-set fails), and calls ``on_taken`` so that its stale connection is closed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from chargeplane.csms.cluster.kv import delete_if_unchanged

log = logging.getLogger(__name__)

BUCKET = "chargeplane_presence"
REFRESH_CONCURRENCY = 64  # compare-and-set writes in flight at once during a refresh round


class PresenceEntry(msgspec.Struct, frozen=True):
    station_id: str
    node: str
    version: str


@dataclass(slots=True)
class _Mirrored:
    entry: PresenceEntry
    seen: float  # monotonic time this node last saw the entry written


def presence_key(station_id: str) -> str:
    """The bucket key of a station: identities compare case-insensitively, as on one node."""
    return base64.urlsafe_b64encode(station_id.casefold().encode()).decode().rstrip("=") or "_"


TakenCallback = Callable[[str, str], Awaitable[None]]  # (station id, the node that holds it now)


class PresenceRegistry:
    def __init__(self, node_id: str, ttl: float, on_taken: TakenCallback) -> None:
        self.node_id = node_id
        self.ttl = ttl
        self._on_taken = on_taken
        self._kv: KeyValue | None = None
        self._mirror: dict[str, _Mirrored] = {}
        self._held: dict[str, tuple[PresenceEntry, int]] = {}  # key -> (our entry, the revision we wrote)
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    async def start(self, js: JetStreamContext) -> None:
        try:
            self._kv = await js.key_value(BUCKET)
        except BucketNotFoundError:
            self._kv = await js.create_key_value(bucket=BUCKET, ttl=self.ttl, history=1)
        self._tasks = [
            asyncio.create_task(self._watch(self._kv), name="presence-watch"),
            asyncio.create_task(self._refresh_periodically(), name="presence-refresh"),
        ]
        await asyncio.wait_for(self._ready.wait(), timeout=10)  # the existing entries are mirrored

    async def stop(self) -> None:
        """Give up every station this node holds (their sockets are closed by now) and stop watching."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for key in list(self._held):
            await self._delete_own(key)

    # -- lookups ------------------------------------------------------------------------------------------

    def holder(self, station_id: str) -> PresenceEntry | None:
        """The node holding the station's socket as last written (and not older than the TTL), or ``None``."""
        mirrored = self._mirror.get(presence_key(station_id))
        if mirrored is None or time.monotonic() - mirrored.seen > self.ttl:
            return None
        return mirrored.entry

    def held_elsewhere(self, station_id: str) -> bool:
        entry = self.holder(station_id)
        return entry is not None and entry.node != self.node_id

    # -- this node's stations -----------------------------------------------------------------------------

    async def claim(self, station_id: str, version: str) -> None:
        """The station connected here: this node holds it now (whoever held it before)."""
        key = presence_key(station_id)
        entry = PresenceEntry(station_id, self.node_id, version)
        revision = await self._bucket().put(key, msgspec.json.encode(entry))
        self._held[key] = (entry, revision)
        self._mirror[key] = _Mirrored(entry, time.monotonic())

    async def release(self, station_id: str) -> None:
        """The station's socket here closed: remove the entry unless another node has written it since."""
        await self._delete_own(presence_key(station_id))

    async def _delete_own(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        await delete_if_unchanged(self._bucket(), key, held[1])
        mirrored = self._mirror.get(key)
        if mirrored is not None and mirrored.entry.node == self.node_id:
            del self._mirror[key]

    async def refresh(self) -> None:
        """Rewrite this node's entries (compare-and-set, :data:`REFRESH_CONCURRENCY` at a time, so that a
        round over thousands of stations stays well inside the TTL): an entry another node wrote meanwhile
        is theirs."""
        limit = asyncio.Semaphore(REFRESH_CONCURRENCY)

        async def one(key: str, entry: PresenceEntry, revision: int) -> None:
            async with limit:
                await self._refresh_one(key, entry, revision)

        await asyncio.gather(
            *(one(key, entry, revision) for key, (entry, revision) in list(self._held.items()))
        )

    async def _refresh_one(self, key: str, entry: PresenceEntry, revision: int) -> None:
        try:
            new_revision = await self._bucket().update(key, msgspec.json.encode(entry), last=revision)
        except KeyWrongLastSequenceError:
            await self._refresh_refused(key, entry, revision)
            return
        if self._held.get(key, (entry, -1))[1] == revision:  # not claimed again here meanwhile
            self._held[key] = (entry, new_revision)

    async def _refresh_refused(self, key: str, entry: PresenceEntry, revision: int) -> None:
        """The entry is not the one this node wrote last. Claimed again here meanwhile (a reconnect): that
        write stands. Gone (it expired: an event loop that ran late missed its refresh): the socket is still
        here, so the entry is created again. Another node's: the station is theirs now."""
        held = self._held.get(key)
        if held is None or held[1] != revision:
            return
        try:
            current = await self._bucket().get(key)
        except NotFoundError:
            current = None
        if current is None or current.value is None:
            try:
                created = await self._bucket().create(key, msgspec.json.encode(entry))
            except KeyWrongLastSequenceError:  # written by another node in between
                await self._lost(key, entry.station_id)
                return
            log.warning("%s: presence entry expired before its refresh; written again", entry.station_id)
            if self._held.get(key, (entry, -1))[1] == revision:
                self._held[key] = (entry, created)
            return
        await self._lost(key, entry.station_id)

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.refresh()
            except Exception:  # NATS briefly away: the next round tries again
                log.warning("presence refresh failed", exc_info=True)

    async def _lost(self, key: str, station_id: str) -> None:
        if self._held.pop(key, None) is None:
            return  # already given up (the watcher and a refresh may both notice)
        holder = self.holder(station_id)
        await self._on_taken(station_id, holder.node if holder is not None else "another node")

    async def _watch(self, kv: KeyValue) -> None:
        watcher = await kv.watchall()
        async for update in watcher:
            if update is None:  # the end of the entries that existed when the watch began
                self._ready.set()
                continue
            if update.operation in (KV_DEL, KV_PURGE) or update.value is None:
                mirrored = self._mirror.get(update.key)
                held = self._held.get(update.key)
                if mirrored is not None and (held is None or mirrored.entry.node != self.node_id):
                    del self._mirror[update.key]
                continue
            try:
                entry = msgspec.json.decode(update.value, type=PresenceEntry)
            except msgspec.DecodeError:
                log.warning("presence entry %s is not ours; ignored", update.key)
                continue
            self._mirror[update.key] = _Mirrored(entry, time.monotonic() - self._age(update.created))
            held = self._held.get(update.key)
            if held is not None and entry.node != self.node_id:
                await self._lost(update.key, entry.station_id)  # 3: a newer connection on another node

    def _age(self, created: object) -> float:
        """How old an entry was when it came (the entries that existed when the watch began may be near
        their end), within [0, ttl]: the nodes' clocks need not agree."""
        if not isinstance(created, datetime):  # nats-py gives the stream's timestamp as a datetime
            return 0.0
        age = (datetime.now(UTC) - created).total_seconds()
        return min(max(age, 0.0), self.ttl)

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("the presence registry is not started")
        return self._kv
