"""What the console's message trace costs a connection (issue #18): off (nobody watches) and on.

One CSMS-side :class:`OcppConnection` over an in-memory WebSocket is fed N 2.0.1 Heartbeat CALLs, answered by
a synchronous handler; the time per frame (received CALL + sent CALLRESULT) is measured with the tap unset
(what every connection nobody watches runs) and set to a watched :class:`MessageTrace` (parse, redact, ring
buffer, one watcher queue). Repeated rounds, the best of each kept (the least disturbed by the shared machine).

Baseline without the tap at all: ``--src DIR`` imports chargeplane from another checkout's ``src`` (e.g.
``git archive <commit> | tar -x -C /tmp/base`` then ``--src /tmp/base/src``; ``--off-only`` there, as it has no
trace). Run: ``.venv/bin/python bench/trace_tap.py [--frames 20000] [--rounds 7]``. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class MemorySocket:
    """Just what OcppConnection uses of a websockets connection."""

    remote_address = ("127.0.0.1", 1)

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.sent = 0

    def __aiter__(self) -> AsyncIterator[str]:
        return self._read()

    async def _read(self) -> AsyncIterator[str]:
        for frame in self.frames:
            yield frame

    async def send(self, data: Any, text: bool = True) -> None:
        self.sent += 1

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


async def one_round(frames: int, traced: bool) -> float:
    from chargeplane.csms.clock import SystemClock
    from chargeplane.ocpp.catalog import CSMS
    from chargeplane.ocpp.endpoint import RpcEndpoint
    from chargeplane.ocpp.messages import v201
    from chargeplane.ocpp.router import Router
    from chargeplane.ocpp.versions import Version
    from chargeplane.transport.connection import OcppConnection

    router: Router[Any] = Router(Version.V201, CSMS)

    def heartbeat(
        request: v201.messages.HeartbeatRequest, connection: Any
    ) -> v201.messages.HeartbeatResponse:
        return v201.messages.HeartbeatResponse(current_time="2026-12-07T10:00:00Z")

    router.register(v201.messages.HeartbeatRequest, heartbeat)
    socket = MemorySocket([json.dumps([2, f"m{i}", "Heartbeat", {}]) for i in range(frames)])
    endpoint = RpcEndpoint(Version.V201, CSMS, handled_actions=router.handled_actions)
    connection = OcppConnection(socket, endpoint, "BENCH", router=router)  # type: ignore[arg-type]
    watcher: Any = None
    if traced:
        from chargeplane.csms.console.trace import MessageTrace

        trace = MessageTrace(lambda station_id: connection, SystemClock())
        watcher = trace.watch("BENCH")
        await anext(watcher)  # subscribed: the tap is set
        assert connection.tap is not None
    started = time.perf_counter()
    await connection.run()
    elapsed = time.perf_counter() - started
    if watcher is not None:
        await watcher.aclose()
    assert socket.sent == frames, socket.sent
    return elapsed / frames * 1e6  # µs per CALL (in) + CALLRESULT (out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--off-only", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src))
    modes = [False] if args.off_only else [False, True]
    best = {mode: min([await one_round(args.frames, mode) for _ in range(args.rounds)]) for mode in modes}
    for mode, micros in best.items():
        print(f"{'trace on ' if mode else 'trace off'}: {micros:.2f} µs per CALL+CALLRESULT ({args.src})")


if __name__ == "__main__":
    asyncio.run(main())
