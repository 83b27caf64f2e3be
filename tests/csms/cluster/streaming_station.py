"""A raw 2.0.1 station that streams TransactionEvents and fails over between CSMS nodes.

It keeps one transaction open and sends Updated events (seqNo 1, 2, ...) one at a time. An event counts as
acknowledged once its CALLRESULT came back; when the connection breaks before that, the station moves to its
next URL and sends the same event again (as a station resends what was not confirmed). CALLs from the CSMS
are answered Accepted and recorded, with the URL they came through.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class StreamingStation:
    station_id: str
    urls: list[str]  # the first is where it connects first; then round-robin on every failure
    transaction_id: str = ""
    acknowledged: list[int] = field(default_factory=list)  # seqNo of every event answered by a CALLRESULT
    received: list[tuple[str, str]] = field(default_factory=list)  # (action, URL it came through)
    url: str = ""  # where it is connected now
    connections: int = 0
    refused: list[str] = field(default_factory=list)  # CALLERRORs: none expected
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.transaction_id = f"tx-{self.station_id}"

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop``; reconnect (next URL) whenever a connection breaks."""
        seq = 0  # Started; Updated from 1 on
        for attempt in itertools.count():
            if stop.is_set():
                return
            url = self.urls[attempt % len(self.urls)]
            try:
                async with connect(
                    f"{url}/{self.station_id}", subprotocols=["ocpp2.0.1"], open_timeout=5, close_timeout=1
                ) as ws:
                    self.url, self.connections = url, self.connections + 1
                    if self.connections == 1:
                        await self._call(ws, "BootNotification", _BOOT)
                    while not stop.is_set():
                        if await self._call(ws, "TransactionEvent", self._event(seq)):
                            self.acknowledged.append(seq)
                        seq += 1
            except (OSError, TimeoutError, WebSocketException):
                self.url = ""
                await asyncio.sleep(0.05)  # then the next node

    def _event(self, seq: int) -> dict[str, object]:
        return {
            "eventType": "Started" if seq == 0 else "Updated",
            "timestamp": _now(),
            "triggerReason": "CablePluggedIn" if seq == 0 else "MeterValuePeriodic",
            "seqNo": seq,
            "transactionInfo": {"transactionId": self.transaction_id, "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
        }

    async def _call(self, ws: ClientConnection, action: str, payload: dict[str, object]) -> bool:
        """True when the CSMS answered with a CALLRESULT; CSMS CALLs meanwhile are answered."""
        message_id = f"{self.station_id}-{next(self._ids)}"
        await ws.send(json.dumps([2, message_id, action, payload]))
        while True:
            frame = json.loads(await ws.recv())
            if frame[0] == 2:  # a command from the CSMS
                self.received.append((frame[2], self.url))
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                continue
            if frame[1] != message_id:
                continue
            if frame[0] == 4:
                self.refused.append(f"{action}: {frame[2]} {frame[3]}")
                return False
            return True


_BOOT = {"reason": "PowerUp", "chargingStation": {"model": "Stream", "vendorName": "Chargeplane tests"}}


async def stop_all(tasks: list[asyncio.Task[None]]) -> None:
    done, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    for task in done:
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
