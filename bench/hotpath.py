"""CSMS hot-path benchmark: persisted 2.0.1 TransactionEvents per second (issue #6, optimisation half).

N stations (separate client process) each connect over ws, boot, start one transaction and then stream
``TransactionEvent`` Updated messages (4 sampled values: energy register, power, current L1, voltage L1-N)
closed-loop: the next event leaves when the previous CALLRESULT arrived. Every event is persisted by the CSMS
(committed before it answers). The CSMS runs in its own process (``--role server``: a ``Csms`` without the
HTTP API, unknown stations accepted on loopback), on SQLite (a temporary file) or PostgreSQL (a fresh
database on ``CHARGEPLANE_TEST_POSTGRES``).

Reported per run: acknowledged events per second in the measurement window, latency p50/p99/p99.9 (ms, from
send to CALLRESULT, client side) and the server's CPU time per event (µs, from ``/proc/<pid>/stat``).

Run: ``.venv/bin/python bench/hotpath.py`` (defaults: SQLite and PostgreSQL, 100 and 1000 stations).
Options: ``--db sqlite,postgresql``, ``--stations 100,1000``, ``--seconds 8``, ``--loop auto|asyncio|uvloop``,
``--src DIR`` (import chargeplane from another checkout's ``src``, e.g. to measure a baseline:
``git archive HEAD | tar -x -C /tmp/base`` then ``--src /tmp/base/src``), ``--json`` (one JSON line per run).
Loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from procstat import cpu_seconds

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
POSTGRES_ADMIN_DSN = os.environ.get(
    "CHARGEPLANE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# -- server role ------------------------------------------------------------------------------------------


def _install_loop(choice: str) -> str:
    if choice in ("auto", "uvloop"):
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return "uvloop"
        except ImportError:
            if choice == "uvloop":
                raise
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    return "asyncio"


async def _serve(database_url: str, profile: str | None) -> None:
    from chargeplane.csms.app import Csms
    from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
    from chargeplane.csms.settings import CsmsSettings, UnknownStationPolicy
    from chargeplane.transport.server import ServerSettings

    settings = CsmsSettings(
        database_url=database_url,
        ocpp=ServerSettings(
            host=HOST,
            port=0,
            tls_port=None,
            allow_unauthenticated=True,
            admission_rate=100_000.0,
            admission_burst=100_000,
            ping_interval=None,
        ),
        api_port=0,
        blocks=(ProvisioningSettings(unknown_stations=UnknownStationPolicy.ACCEPT),),
    )
    csms = Csms(settings)
    await csms.start(serve_http=False)
    print(json.dumps({"port": csms.server.ports[0]}), flush=True)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the orchestrator closes it
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    await csms.stop(deadline=2.0)


# -- client role ------------------------------------------------------------------------------------------


def _sampled(value: float, measurand: str, unit: str, phase: str | None = None) -> str:
    phase_field = f',"phase":"{phase}"' if phase else ""
    return (
        f'{{"value":{value},"context":"Sample.Periodic","measurand":"{measurand}","location":"Outlet",'
        f'"unitOfMeasure":{{"unit":"{unit}"}}{phase_field}}}'
    )


def _event_frame(message_id: str, transaction_id: str, seq_no: int) -> str:
    timestamp = (T0 + timedelta(seconds=seq_no)).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = seq_no == 0
    samples = ",".join(
        (
            _sampled(10_000.0 + seq_no, "Energy.Active.Import.Register", "Wh"),
            _sampled(10980.0, "Power.Active.Import", "W"),
            _sampled(15.87, "Current.Import", "A", "L1"),
            _sampled(229.6, "Voltage", "V", "L1-N"),
        )
    )
    payload = (
        f'{{"eventType":"{"Started" if started else "Updated"}","timestamp":"{timestamp}",'
        f'"triggerReason":"{"CablePluggedIn" if started else "MeterValuePeriodic"}","seqNo":{seq_no},'
        f'"transactionInfo":{{"transactionId":"{transaction_id}","chargingState":"Charging"}},'
        f'"evse":{{"id":1,"connectorId":1}},'
        f'"meterValue":[{{"timestamp":"{timestamp}","sampledValue":[{samples}]}}]}}'
    )
    return f'[2,"{message_id}","TransactionEvent",{payload}]'


BOOT = '[2,"boot","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}]'


async def _client(port: int, stations: int, warmup: float, seconds: float) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    run = secrets.token_hex(3)
    latencies: list[float] = []
    acknowledged = 0
    errors = 0
    phase = {"measure": False, "stop": False}
    ready = asyncio.Event()
    connected = 0

    async def station(index: int) -> None:
        nonlocal acknowledged, errors, connected
        station_id = f"HP-{run}-{index}"
        async with connect(
            f"ws://{HOST}:{port}/ocpp/{station_id}",
            subprotocols=[Subprotocol("ocpp2.0.1")],
            ping_interval=None,
            max_queue=None,
            compression=None,
            open_timeout=60,
        ) as websocket:
            await websocket.send(BOOT)
            answer = await websocket.recv()
            assert '"Accepted"' in str(answer), answer
            connected += 1
            if connected == stations:
                ready.set()
            await ready.wait()
            transaction_id = f"TX-{run}-{index}"
            seq_no = 0
            clock = time.perf_counter
            while not phase["stop"]:
                frame = _event_frame(f"{seq_no}", transaction_id, seq_no)
                sent = clock()
                await websocket.send(frame)
                reply = await websocket.recv()
                elapsed = clock() - sent
                if not str(reply).startswith("[3,"):
                    errors += 1
                    if errors < 5:
                        print(json.dumps({"error": str(reply)[:300]}), file=sys.stderr, flush=True)
                elif phase["measure"]:
                    acknowledged += 1
                    latencies.append(elapsed)
                seq_no += 1

    tasks = [asyncio.create_task(station(i)) for i in range(stations)]
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(warmup)
    print(json.dumps({"phase": "measure"}), flush=True)
    phase["measure"] = True
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    phase["measure"] = False
    elapsed = time.perf_counter() - start
    print(json.dumps({"phase": "end"}), flush=True)
    phase["stop"] = True
    await asyncio.wait(tasks, timeout=10)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    print(
        json.dumps(
            {
                "events": acknowledged,
                "events_per_s": acknowledged / elapsed,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "p999_ms": pct(0.999),
                "errors": errors,
            }
        ),
        flush=True,
    )


# -- orchestrator -----------------------------------------------------------------------------------------


async def _create_postgres() -> str:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    name = f"chargeplane_bench_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _drop_postgres(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def _run_one(
    db: str, stations: int, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:  # pragma: no cover - a benchmark
    if db == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'hotpath-{secrets.token_hex(3)}.db'}"
    else:
        url = asyncio.run(_create_postgres())
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    server = subprocess.Popen(
        [sys.executable, __file__, "--role", "server", "--url", url, "--loop", args.loop]
        + (["--profile", args.profile] if args.profile else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdin is not None
        port = json.loads(server.stdout.readline())["port"]
        client = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "client",
                "--port",
                str(port),
                "--stations",
                str(stations),
                "--seconds",
                str(args.seconds),
                "--warmup",
                str(args.warmup),
                "--loop",
                "auto",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None
        cpu_start = cpu_end = 0.0
        result: dict[str, Any] = {}
        for line in client.stdout:
            message = json.loads(line)
            if message.get("phase") == "measure":
                cpu_start = cpu_seconds(server.pid)
            elif message.get("phase") == "end":
                cpu_end = cpu_seconds(server.pid)
            else:
                result = message
        client.wait(30)
        server.stdin.close()
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if db != "sqlite":
            asyncio.run(_drop_postgres(url))
    events = max(1, result.get("events", 0))
    result["server_cpu_us_per_event"] = (cpu_end - cpu_start) * 1e6 / events
    result |= {"db": db, "stations": stations}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", choices=["orchestrator", "server", "client"], default="orchestrator")
    parser.add_argument("--url")
    parser.add_argument("--port", type=int)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--stations", default="100,1000")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--src", help="import chargeplane from this directory (a baseline checkout's src)")
    parser.add_argument("--profile", help="server role: write cProfile stats of the run to this file")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (the median is shown)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per run")
    args = parser.parse_args()
    if args.role == "server":
        logging.basicConfig(level=logging.WARNING)
        loop = _install_loop(args.loop)
        print(f"server loop: {loop}", file=sys.stderr, flush=True)
        asyncio.run(_serve(args.url, args.profile))
        return 0
    if args.role == "client":
        _install_loop(args.loop)
        asyncio.run(_client(args.port, int(args.stations), args.warmup, args.seconds))
        return 0
    with tempfile.TemporaryDirectory() as directory:
        for db in args.db.split(","):
            for stations in (int(n) for n in args.stations.split(",")):
                runs = [_run_one(db, stations, args, Path(directory)) for _ in range(args.repeat)]
                if args.json:
                    for run in runs:
                        print(json.dumps(run), flush=True)
                best = sorted(runs, key=lambda r: r["events_per_s"])[len(runs) // 2]
                print(
                    f"{db:10} {stations:5} stations: {best['events_per_s']:8.0f} events/s  "
                    f"p50 {best['p50_ms']:7.2f} ms  p99 {best['p99_ms']:7.2f} ms  "
                    f"p99.9 {best['p999_ms']:7.2f} ms  server CPU {best['server_cpu_us_per_event']:6.0f} µs/event"
                    f"  errors {best['errors']}"
                    + (
                        f"  (median of {len(runs)}: {statistics.median(r['events_per_s'] for r in runs):.0f})"
                        if len(runs) > 1
                        else ""
                    ),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
