"""The event loop's lag: how late a short timer fires. A loop busy with CPU work (a boot storm, a slow
handler that does not await) answers every station late; this is the figure that shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def watch_loop_lag(observe: Callable[[float], None], interval: float) -> None:
    """Every ``interval`` seconds, tell ``observe`` how many seconds late the timer fired; until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(interval)
        observe(max(0.0, loop.time() - started - interval))
