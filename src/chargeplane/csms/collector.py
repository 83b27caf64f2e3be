"""The garbage collector of a long-running server: frozen out of the way, with a full collection now and then.

CPython's cyclic collector walks every tracked object of the generations it collects. A server's heap is
mostly long-lived (modules, schemas, every connected station's state), and while thousands of stations
reconnect their new objects pile up in the young generations: a generation-1 collection then took 0.4-0.7 s
and a full one 0.3-0.8 s with 5,000 stations reconnecting (traced with ``gc.callbacks``), pauses that every live
session waited through, for almost no garbage (a lost connection's cycles are broken where it ends:
``transport.server._Connection``). So:

- after start-up everything is collected once and frozen (``gc.freeze``: out of every later collection), and
  young collections run every 50,000 allocations instead of 700;
- every ``freeze_interval`` what survived since is frozen too (constant time: CPython splices the
  generations' lists onto the permanent one), so a collection only ever walks the objects of the last moment;
- a cycle that forms among frozen objects is never found by those collections, so every ``full_interval``
  everything is unfrozen and collected once (one pause of the heap's full size, logged), then frozen again.

``CHARGEPLANE_GC=default`` keeps CPython's own settings.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000  # allocations between generation-0 collections (CPython: 700)


def enabled() -> bool:
    return os.environ.get("CHARGEPLANE_GC", "").lower() != "default"


class CollectorPacing:
    """Runs the policy above on the event loop (:meth:`start` once the server is up, :meth:`stop` at the end)."""

    def __init__(self, freeze_interval: float = 1.0, full_interval: float = 3600.0) -> None:
        if freeze_interval <= 0 or full_interval < freeze_interval:
            raise ValueError("collector pacing needs 0 < freeze_interval <= full_interval")
        self.freeze_interval = freeze_interval
        self.full_interval = full_interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not enabled():
            return
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
        self._task = asyncio.create_task(self._run(), name="collector-pacing")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_full = loop.time() + self.full_interval
        while True:
            await asyncio.sleep(self.freeze_interval)
            if loop.time() >= next_full:
                next_full = loop.time() + self.full_interval
                full_collection()
            gc.freeze()


def full_collection() -> int:
    """Unfreeze, collect everything, freeze again; returns the objects collected."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    log.info(
        "full garbage collection: %d objects collected in %.0f ms; %d frozen",
        collected,
        (time.perf_counter() - started) * 1e3,
        gc.get_freeze_count(),
    )
    return collected
