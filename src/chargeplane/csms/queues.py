"""Work queued by the OCPP side and done by a background job, in batches that follow the load."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


def with_queued(first: T, queue: asyncio.Queue[T], most: int | None = None) -> list[T]:
    """``first`` (just taken from ``queue``) and the items queued behind it, at most ``most`` in all: one item
    when the CSMS is idle, a storm's hundreds together (one read for all of them instead of one each)."""
    batch = [first]
    while not queue.empty() and (most is None or len(batch) < most):
        batch.append(queue.get_nowait())
    return batch
