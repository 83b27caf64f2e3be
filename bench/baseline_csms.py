"""Baseline CSMS for the end-to-end benchmarks: the ``ocpp`` package (PyPI) on ``websockets``.

The comparison point of issue #6: what a typical Python back office built from the public library does. It
accepts every BootNotification, answers Heartbeat, acknowledges StatusNotification, TransactionEvent,
MeterValues (2.0.1 and 2.1) and StatusNotification, MeterValues, Start/StopTransaction (1.6). It persists
nothing and keeps one ``ChargePoint`` object per connection (the library's model). Validation of every
message against the OCA JSON schemas is the library's default and stays on.

WebSocket settings match the CSMS defaults (no permessage-deflate, ping every 60 s with a 30 s timeout, 1 MiB
frames), so that memory and CPU compare like for like.

Run: ``.venv/bin/python bench/baseline_csms.py --port 9100`` (prints ``listening <port>`` once bound; stops
on SIGTERM / SIGINT). Loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import os
import signal
import sys
from typing import Any

import ocpp.v16
import ocpp.v21
import ocpp.v201
from ocpp.routing import on
from websockets.asyncio.server import ServerConnection, serve

HOST = "127.0.0.1"
HEARTBEAT_INTERVAL = 300


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Csms201(ocpp.v201.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, **_: Any) -> Any:
        return ocpp.v201.call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[misc]
    async def on_heartbeat(self, **_: Any) -> Any:
        return ocpp.v201.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[misc]
    async def on_status(self, **_: Any) -> Any:
        return ocpp.v201.call_result.StatusNotification()

    @on("TransactionEvent")  # type: ignore[misc]
    async def on_transaction_event(self, **_: Any) -> Any:
        return ocpp.v201.call_result.TransactionEvent()

    @on("MeterValues")  # type: ignore[misc]
    async def on_meter_values(self, **_: Any) -> Any:
        return ocpp.v201.call_result.MeterValues()


class Csms21(ocpp.v21.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, **_: Any) -> Any:
        return ocpp.v21.call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[misc]
    async def on_heartbeat(self, **_: Any) -> Any:
        return ocpp.v21.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[misc]
    async def on_status(self, **_: Any) -> Any:
        return ocpp.v21.call_result.StatusNotification()

    @on("TransactionEvent")  # type: ignore[misc]
    async def on_transaction_event(self, **_: Any) -> Any:
        return ocpp.v21.call_result.TransactionEvent()

    @on("MeterValues")  # type: ignore[misc]
    async def on_meter_values(self, **_: Any) -> Any:
        return ocpp.v21.call_result.MeterValues()


_transaction_ids = itertools.count(1)


class Csms16(ocpp.v16.ChargePoint):  # type: ignore[misc]
    @on("BootNotification")  # type: ignore[misc]
    async def on_boot(self, **_: Any) -> Any:
        return ocpp.v16.call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted"
        )

    @on("Heartbeat")  # type: ignore[misc]
    async def on_heartbeat(self, **_: Any) -> Any:
        return ocpp.v16.call_result.Heartbeat(current_time=now())

    @on("StatusNotification")  # type: ignore[misc]
    async def on_status(self, **_: Any) -> Any:
        return ocpp.v16.call_result.StatusNotification()

    @on("MeterValues")  # type: ignore[misc]
    async def on_meter_values(self, **_: Any) -> Any:
        return ocpp.v16.call_result.MeterValues()

    @on("StartTransaction")  # type: ignore[misc]
    async def on_start(self, **_: Any) -> Any:
        return ocpp.v16.call_result.StartTransaction(
            transaction_id=next(_transaction_ids), id_tag_info={"status": "Accepted"}
        )

    @on("StopTransaction")  # type: ignore[misc]
    async def on_stop(self, **_: Any) -> Any:
        return ocpp.v16.call_result.StopTransaction()


CLASSES: dict[str, Any] = {"ocpp2.1": Csms21, "ocpp2.0.1": Csms201, "ocpp1.6": Csms16}


async def handler(websocket: ServerConnection) -> None:
    station_id = websocket.request.path.rstrip("/").rsplit("/", 1)[-1] if websocket.request else "unknown"
    station = CLASSES[websocket.subprotocol or "ocpp1.6"](station_id, websocket)
    with contextlib.suppress(Exception):  # the library ends start() with ConnectionClosed
        await station.start()


async def main(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(
        handler,
        HOST,
        port,
        subprotocols=list(CLASSES),  # type: ignore[arg-type]
        compression=None,
        ping_interval=60.0,
        ping_timeout=30.0,
        max_size=1 << 20,
        backlog=4096,
        server_header=None,
    ) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"listening {bound}", flush=True)
        await stop.wait()
        os._exit(0)  # no closing handshakes with thousands of stations: the benchmark is over


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    sys.exit(asyncio.run(main(parser.parse_args().port)))
