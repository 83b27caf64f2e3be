"""The durability rule: every transaction message the CSMS acknowledged survives a hard crash (kill -9).

A real ``chargeplane serve`` runs as a subprocess on an SQLite file; a 2.0.1 peer station streams
TransactionEvents and records which ones got a CALLRESULT; the server is killed with SIGKILL mid-stream,
restarted on the same database, and every acknowledged event must be in the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import ocpp.v201
import pytest
from websockets.asyncio.client import connect

from tests.csms.conftest import PASSWORD, basic_auth

STATION = "CRASH-1"
TX = "TX-CRASH"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_for_port(port: int, process: asyncio.subprocess.Process, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"chargeplane serve exited with {process.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


@contextlib.asynccontextmanager
async def _server(
    database: Path, ocpp_port: int, api_port: int, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chargeplane.cli",
            "--log-level",
            "WARNING",
            "serve",
            "--database-url",
            f"sqlite+aiosqlite:///{database}",
            "--ocpp-host",
            "127.0.0.1",
            "--ocpp-port",
            str(ocpp_port),
            "--api-port",
            str(api_port),
            "--dev-allow-unauthenticated",
            "--unknown-stations",
            "accept",
            stdout=output,
            stderr=output,
        )
    try:
        await _wait_for_port(ocpp_port, process)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def _station(port: int) -> AsyncIterator[Any]:
    async with connect(
        f"ws://127.0.0.1:{port}/ocpp/{STATION}",
        subprotocols=["ocpp2.0.1"],
        additional_headers=basic_auth(STATION),
    ) as websocket:
        station = ocpp.v201.ChargePoint(STATION, websocket, response_timeout=3)
        task = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            task.cancel()


async def _register_station(log: Path, api_port: int) -> None:
    """Register the station through the API, with the token the first start printed."""
    marker = "API token (shown once, store it now): "
    for _ in range(200):
        text = await asyncio.to_thread(log.read_text)
        lines = [line for line in text.splitlines() if marker in line]
        if lines:
            break
        await asyncio.sleep(0.02)
    token = lines[0].split(marker, 1)[1].strip()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as api:
        for _ in range(200):  # the API may come up a moment after the OCPP port
            with contextlib.suppress(httpx.TransportError):
                response = await api.post(
                    "/api/v1/stations",
                    json={"stationId": STATION, "password": PASSWORD},
                    headers={"Authorization": f"Bearer {token}"},
                )
                break
            await asyncio.sleep(0.02)
    assert response.status_code == 201, response.text


def _event(seq_no: int) -> Any:
    timestamp = (T0 + timedelta(seconds=seq_no)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ocpp.v201.call.TransactionEvent(
        event_type="Started" if seq_no == 0 else "Updated",
        timestamp=timestamp,
        trigger_reason="Authorized" if seq_no == 0 else "MeterValuePeriodic",
        seq_no=seq_no,
        transaction_info={"transaction_id": TX, "charging_state": "Charging"},
        evse={"id": 1, "connector_id": 1} if seq_no == 0 else None,
        meter_value=[
            {
                "timestamp": timestamp,
                "sampled_value": [
                    {"value": 1000 + seq_no, "measurand": "Energy.Active.Import.Register"},
                    {"value": 7000, "measurand": "Power.Active.Import"},
                ],
            }
        ],
    )


def _stored(database: Path) -> tuple[set[int], int]:
    """The stored seqNos of the transaction and its number of sampled values, read from the file."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        seq_nos = {
            row[0]
            for row in db.execute(
                "SELECT e.seq_no FROM transaction_events e JOIN transactions t ON t.id = e.transaction_key "
                "WHERE t.station_id = ? AND t.transaction_id = ?",
                (STATION, TX),
            )
        }
        (samples,) = db.execute(
            "SELECT count(*) FROM meter_values WHERE station_id = ?", (STATION,)
        ).fetchone()
    return seq_nos, int(samples)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
async def test_acknowledged_transaction_events_survive_kill_9(tmp_path: Path) -> None:
    database, log = tmp_path / "csms.db", tmp_path / "serve.log"
    port, api_port = _free_port(), _free_port()
    acknowledged: list[int] = []
    kill_after = 25

    async with _server(database, port, api_port, log) as process:
        await _register_station(log, api_port)
        async with _station(port) as station:
            boot = await station.call(
                ocpp.v201.call.BootNotification(
                    charging_station={"model": "M1", "vendor_name": "Acme"}, reason="PowerUp"
                )
            )
            assert boot.status == "Accepted"

            enough = asyncio.Event()

            async def stream() -> None:
                for seq_no in range(10_000):
                    await station.call(_event(seq_no))
                    acknowledged.append(seq_no)
                    if len(acknowledged) >= kill_after:
                        enough.set()

            sender = asyncio.create_task(stream())
            waiter = asyncio.create_task(enough.wait())
            await asyncio.wait([sender, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            assert not sender.done(), sender.exception()
            process.send_signal(signal.SIGKILL)  # mid-stream: an event is usually in flight right now
            await process.wait()
            # A CALLRESULT already on its way before the kill still counts; then stop waiting.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(sender, 0.5)
            assert sender.done()

    assert len(acknowledged) >= kill_after
    stored, samples = _stored(database)
    missing = set(acknowledged) - stored
    assert not missing, f"acknowledged but lost: {sorted(missing)}"
    assert samples >= 2 * len(acknowledged)

    # The server restarts on the same database and carries on with the same transaction.
    async with _server(database, port, api_port, log), _station(port) as station:
        next_seq = max(stored) + 1
        ended = ocpp.v201.call.TransactionEvent(
            event_type="Ended",
            timestamp=(T0 + timedelta(seconds=next_seq)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            trigger_reason="EVDeparted",
            seq_no=next_seq,
            transaction_info={"transaction_id": TX, "stopped_reason": "EVDisconnected"},
        )
        await station.call(ended)
    stored_after, _ = _stored(database)
    assert stored_after == stored | {next_seq}
    with contextlib.closing(sqlite3.connect(database)) as db:
        status, gaps, energy = db.execute(
            "SELECT status, seq_gaps, energy_wh FROM transactions WHERE transaction_id = ?", (TX,)
        ).fetchone()
    assert (status, gaps, energy) == ("ended", "[]", float(max(stored)))
