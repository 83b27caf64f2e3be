"""Leader election among the CSMS nodes: one lease key in a JetStream key-value bucket (issue #19).

The cluster-wide periodic jobs (reservation expiry, firmware campaigns, certificate renewal, cost updates...)
must run on one node only. The node that holds the lease key is the leader:

* a node that is not the leader tries every ``ttl / 3`` to *create* the key (it fails while another node
  holds it);
* the leader rewrites the key every ``ttl / 3`` with a compare-and-set on the revision it wrote last; a
  failed compare-and-set (another node wrote it after the lease had run out) or a renewal that does not
  succeed within the TTL ends its leadership at once;
* the bucket's ``max_age`` (the TTL) removes the key of a leader that died, so that another node takes over
  at most ``ttl + ttl / 3`` after the last renewal; a leader that stops cleanly deletes the key, and the next
  node takes over at its next attempt.

A node never believes itself the leader longer than the TTL since its last successful write, and the others
only take over once the key is gone: two leaders cannot overlap as long as the clocks run at the same rate.
"""

from __future__ import annotations

import asyncio
import logging
import time

import nats.errors
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from chargeplane.csms.cluster.kv import delete_if_unchanged

log = logging.getLogger(__name__)

BUCKET = "chargeplane_leader"
KEY = "leader"


class LeaderElection:
    def __init__(self, node_id: str, ttl: float, *, bucket: str = BUCKET) -> None:
        if ttl <= 0:
            raise ValueError("the leader lease TTL must be positive")
        self.node_id = node_id
        self.ttl = ttl
        self.bucket = bucket
        self._kv: KeyValue | None = None
        self._revision: int | None = None  # the revision of the lease we wrote last, while we hold it
        self._renewed = 0.0  # monotonic time of our last successful write of the lease
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()  # set on every change of leadership (tests and logs)

    @property
    def is_leader(self) -> bool:
        """True while this node holds the lease (and its last renewal is younger than the TTL)."""
        return self._revision is not None and time.monotonic() - self._renewed < self.ttl

    async def start(self, js: JetStreamContext) -> None:
        try:
            self._kv = await js.key_value(self.bucket)
        except BucketNotFoundError:
            self._kv = await js.create_key_value(bucket=self.bucket, ttl=self.ttl, history=1)
        else:
            # The bucket's TTL is what removes a dead leader's lease: believing in a longer one here could
            # make two leaders, so the node goes by the bucket's (created by the first node up).
            bucket_ttl = (await self._kv.status()).ttl
            if bucket_ttl and abs(bucket_ttl - self.ttl) > 1e-3:
                log.warning(
                    "leader lease: the bucket %s has a TTL of %.1f s, not %.1f s; using the bucket's",
                    self.bucket,
                    bucket_ttl,
                    self.ttl,
                )
                self.ttl = bucket_ttl
        await self.attempt()  # the first node up leads at once
        self._task = asyncio.create_task(self._run(), name="leader-election")

    async def stop(self) -> None:
        """Stop renewing and hand the lease back, so that another node takes over at its next attempt."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        revision = self._revision
        if revision is not None and self._kv is not None:
            self._lose("stopping")
            try:
                await delete_if_unchanged(self._kv, KEY, revision)
            except nats.errors.Error:  # NATS away: the lease runs out with the bucket's TTL instead
                log.warning("leader lease of node %s not handed back: NATS unavailable", self.node_id)

    def abandon(self) -> None:
        """Stop renewing without handing the lease back, as a node that died (tests of the takeover)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._revision is not None:
            self._lose("abandoned")

    async def attempt(self) -> None:
        """One round: renew the lease we hold, or try to take a free one."""
        kv = self._bucket()
        value = self.node_id.encode()
        if self._revision is not None:
            try:
                self._revision = await kv.update(KEY, value, last=self._revision)
            except KeyWrongLastSequenceError:
                self._lose("the lease was taken by another node")
                return
            self._renewed = time.monotonic()
            return
        try:
            revision = await kv.create(KEY, value)
        except KeyWrongLastSequenceError:
            return  # another node holds it
        self._revision = revision
        self._renewed = time.monotonic()
        log.info("node %s is the leader now", self.node_id)
        self.changed.set()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.attempt()
            except Exception:  # NATS briefly away: leadership runs out with the TTL unless renewed
                log.warning("leader election round failed", exc_info=True)
            if self._revision is not None and not self.is_leader:
                self._lose("the lease could not be renewed within its TTL")

    def _lose(self, why: str) -> None:
        self._revision = None
        log.warning("node %s is no longer the leader: %s", self.node_id, why)
        self.changed.set()

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("the leader election is not started")
        return self._kv
