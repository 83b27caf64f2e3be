"""The batches of queued work a background job takes (``csms/queues.py``)."""

from __future__ import annotations

import asyncio

from chargeplane.csms.queues import with_queued


async def test_the_first_item_and_those_queued_behind_it_at_most_as_many_as_asked() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for item in range(5):
        queue.put_nowait(item)
    assert with_queued(await queue.get(), queue, 3) == [0, 1, 2]
    assert with_queued(await queue.get(), queue) == [3, 4]  # no bound: all that waits
    assert queue.empty()
    queue.put_nowait(9)
    assert with_queued(await queue.get(), queue, 3) == [9]  # idle: one at a time
