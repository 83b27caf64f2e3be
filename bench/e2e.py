"""End-to-end CSMS benchmarks (issue #6): our CSMS beside a baseline built on the ``ocpp`` package.

Every figure is measured in the same run for our CSMS (``chargeplane serve``, SQLite embedded default and
PostgreSQL) and for ``bench/baseline_csms.py`` (the ``ocpp`` package on ``websockets``, persists nothing),
with ``bench/loadgen.py`` as the load client; server, client and this orchestrator are separate processes,
everything on 127.0.0.1:

1. sustained TransactionEvents/s (closed loop, 2.0.1 TransactionEvent Updated with 4 sampled values, every
   one persisted by our CSMS before it answers) at 100 and 1,000 stations, and latency p50/p99/p99.9 in an
   open loop at half of each server's own maximum rate;
2. server CPU microseconds per CALL -> CALLRESULT by message type (utime+stime of the server process from
   /proc over the measurement window / messages answered);
3. many connected stations (10,000; 1,000 with ``--quick``) heartbeating on one server process: resident
   memory per station and CPU with no traffic and with a heartbeat per station per minute;
4. reconnection storm: K stations (5,000; 500 with ``--quick``) drop their TCP connection at once and
   reconnect (BootNotification, StatusNotification per EVSE) against our default admission control; time
   until all are Accepted and online, and the latency of live sessions meanwhile;
5. the codec and transport benchmarks (``bench/codec.py``, ``bench/transport.py``) rerun.

Run: ``.venv/bin/python bench/e2e.py`` (about 9 minutes with the transport benchmark; writes the
"## End-to-end (issue #6)" section of bench/RESULTS.md and the raw results to bench/e2e-results.json, which
``bench/plots.py`` draws; transport.py writes its own section) or ``--quick``
(under 2 minutes, prints only; transport skipped). PostgreSQL: a fresh database on 127.0.0.1:5432 (user
postgres, ``--pg-dsn``) is created and dropped; skipped if the server is unreachable. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import select
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procstat import cpu_model, cpu_seconds, rss_kib

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
CHARGEPLANE = str(Path(PYTHON).with_name("chargeplane"))
RESULTS = BENCH / "RESULTS.md"
RESULTS_JSON = BENCH / "e2e-results.json"  # full mode writes here unless --json says otherwise
SECTION = "## End-to-end (issue #6)"
HOST = "127.0.0.1"
BIG_ADMISSION = {
    "CHARGEPLANE_OCPP_ADMISSION_RATE": "1e9",
    "CHARGEPLANE_OCPP_ADMISSION_BURST": "1000000",
    "CHARGEPLANE_OCPP_MAX_CONNECTIONS": "100000",
    "CHARGEPLANE_OCPP_ADMISSION_MAX_OPENING": "0",
}
MESSAGE_TYPES = ("heartbeat", "status", "transaction", "metervalues")
# HTTP Basic auth of the registered stations (idle, storm): as the CSMS generates them (2.0.1 rules, 40 characters)
PASSWORD = "bench-Generated-Pass:0123456789abcdefXYZW"


@dataclass(frozen=True)
class Params:
    sizes: tuple[int, ...]
    warmup: float
    duration: float
    cpu_stations: int
    cpu_duration: float
    idle_stations: int
    idle_connect_timeout: float
    idle_window: float
    storm_stations: int
    storm_timeout: float
    storm_connect_timeout: float  # the first bring-up: every password is checked once


FULL = Params((100, 1_000), 1.5, 4.0, 50, 3.0, 10_000, 100.0, 5.0, 5_000, 120.0, 300.0)
QUICK = Params((100,), 1.0, 2.0, 50, 1.5, 1_000, 30.0, 2.0, 500, 30.0, 60.0)


def log(text: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


# -- servers --------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[Any]
    port: int
    url: str
    database: str | None = None  # SQLite file, for counting persisted rows

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def ours(
    name: str,
    database_url: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    registered: tuple[str, ...] = (),
) -> Iterator[Server]:
    """``chargeplane serve`` (``extra``: more options, e.g. ``--workers 2``) until its OCPP port listens.

    Without ``registered`` unknown stations come in without credentials (``--dev-allow-unauthenticated``);
    with it (SQLite only) nothing comes in but the stations registered under those identity prefixes, with
    :data:`PASSWORD` (security profile 1), as in production."""
    dev = () if registered else ("--dev-allow-unauthenticated", "--unknown-stations", "accept")
    port, api_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEPLANE_")} | (env or {})
    logfile = (workdir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [
            CHARGEPLANE,
            "serve",
            "--database-url",
            database_url,
            "--ocpp-port",
            str(port),
            "--api-port",
            str(api_port),
            *dev,
            *extra,
        ],
        cwd=workdir,
        env=environment,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(name, process, port, f"ws://{HOST}:{port}/ocpp")
    if database_url.startswith("sqlite"):
        server.database = database_url.split(":///", 1)[1]
    try:
        try:
            wait_port(port, process)
        except (RuntimeError, TimeoutError) as error:  # why, from its own words
            logfile.flush()
            tail = (workdir / f"{name}.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{name}: {error}; its output ends:\n{tail}") from None
        if registered:
            assert server.database is not None
            register(server.database, registered)
        yield server
    finally:
        server.stop()
        logfile.close()


def register(database: str, identities: tuple[str, ...]) -> None:
    """Register stations (security profile 1, Accepted) in the SQLite database of a running server, each with
    its own salted hash of :data:`PASSWORD` as the CSMS stores a password it generated (``POST /stations``
    without one): the server checks each station's password once (a SHA-256, no KDF)."""
    import sqlalchemy as sa

    from chargeplane.csms.blocks.provisioning.tables import stations
    from chargeplane.transport.security import hash_generated_password

    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "key": identity.casefold(),
            "station_id": identity,
            "registration_status": "Accepted",
            "security_profile": 1,
            "password_hash": hash_generated_password(PASSWORD),
            "created_at": now,
            "updated_at": now,
        }
        for identity in identities
    ]
    engine = sa.create_engine(f"sqlite:///{database}", connect_args={"timeout": 30})
    try:
        with engine.begin() as connection:
            connection.execute(stations.insert(), rows)
    finally:
        engine.dispose()


def identities(prefix: str, count: int, start: int = 0) -> tuple[str, ...]:
    """The identities ``bench/loadgen.py`` gives ``count`` stations under ``prefix``."""
    return tuple(f"{prefix}{index}" for index in range(start, start + count))


@contextlib.contextmanager
def baseline() -> Iterator[Server]:
    process = subprocess.Popen(
        [PYTHON, str(BENCH / "baseline_csms.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server = Server("baseline", process, 0, "")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"baseline did not start: {line!r}")
        server.port = int(line.split()[1])
        server.url = f"ws://{HOST}:{server.port}/ocpp"
        yield server
    finally:
        server.stop()


# -- the load client ------------------------------------------------------------------------------------


def loadgen_run(server: Server, timeout: float = 300.0, **options: Any) -> dict[str, Any]:
    argv = [PYTHON, str(BENCH / "loadgen.py"), "run", "--url", server.url, "--server-pid", str(server.pid)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if completed.returncode != 0 or not completed.stdout.strip():
        raise RuntimeError(f"loadgen failed: {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    if "error" in result:
        raise RuntimeError(f"loadgen: {result['error']}")
    if result["failures"]:
        log(f"  {result['failures']} failures, first: {result['first_failure']}")
    return result


class Controlled:
    """A loadgen ``hold`` / ``storm`` process driven with JSON lines."""

    def __init__(self, server: Server, command: str, timeout: float, **options: Any) -> None:
        argv = [PYTHON, str(BENCH / "loadgen.py"), command, "--url", server.url]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        self.timeout = timeout
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        if not ready:
            self.process.kill()
            raise TimeoutError(f"loadgen said nothing for {self.timeout:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"loadgen exited ({self.process.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- 1 + 2: throughput, latency, CPU per message type ---------------------------------------------------


def throughput(server: Server, params: Params, label: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in params.sizes:
        common = {
            "stations": size,
            "warmup": params.warmup,
            "duration": params.duration,
            "mix": "transaction",
        }
        closed = loadgen_run(server, prefix=f"{label}-c{size}-", **common)
        half = max(1.0, closed["rate"] / 2)
        opened = loadgen_run(server, prefix=f"{label}-o{size}-", rate=f"{half:.1f}", **common)
        rows[str(size)] = {"closed": closed, "open": opened}
        log(
            f"  {label} {size:5} stations: max {closed['rate']:7.0f} TE/s (p50 {fmt(closed['p50_ms'])} ms, "
            f"p99 {fmt(closed['p99_ms'])} ms, {fmt(closed['server_cpu_us_per_msg'], 0)} us CPU/msg); open "
            f"loop at {half:.0f}/s: {opened['rate']:.0f}/s, p50 {fmt(opened['p50_ms'])} ms, p99 "
            f"{fmt(opened['p99_ms'])} ms, p99.9 {fmt(opened['p999_ms'])} ms"
        )
    return rows


def cpu_by_type(server: Server, params: Params, label: str) -> dict[str, Any]:
    rows = {}
    for mix in MESSAGE_TYPES:
        result = loadgen_run(
            server,
            prefix=f"{label}-cpu-{mix}-",
            stations=params.cpu_stations,
            warmup=1.0,
            duration=params.cpu_duration,
            mix=mix,
        )
        rows[mix] = result
        log(
            f"  {label} {mix:12}: {result['server_cpu_us_per_msg']:7.0f} us server CPU/msg at "
            f"{result['rate']:.0f}/s"
        )
    return rows


def persisted_events(server: Server) -> int | None:
    if server.database is None:
        return None
    with contextlib.closing(sqlite3.connect(server.database)) as connection:
        return int(connection.execute("select count(*) from transaction_events").fetchone()[0])


async def _pg(dsn: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _pg_count(dsn: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await connection.fetchval("select count(*) from transaction_events"))
    finally:
        await connection.close()


def bench_throughput(params: Params, workdir: Path, pg_dsn: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {"throughput": {}, "cpu": {}, "persisted": {}}
    log("baseline (ocpp package) ...")
    with baseline() as server:
        results["throughput"]["baseline"] = throughput(server, params, "base")
        results["cpu"]["baseline"] = cpu_by_type(server, params, "base")
    log("ours, SQLite ...")
    with ours("sqlite", f"sqlite+aiosqlite:///{workdir}/throughput.db", workdir, BIG_ADMISSION) as server:
        results["throughput"]["sqlite"] = throughput(server, params, "sqlite")
        results["cpu"]["sqlite"] = cpu_by_type(server, params, "sqlite")
        results["persisted"]["sqlite"] = persisted_events(server)
    if pg_dsn is None:
        return results
    database = f"chargeplane_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(pg_dsn, f'CREATE DATABASE "{database}"'))
    except Exception as exc:
        log(f"PostgreSQL unavailable ({type(exc).__name__}: {exc}): skipped")
        results["pg_error"] = f"{type(exc).__name__}: {exc}"
        return results
    base, _, _ = pg_dsn.rpartition("/")
    url = f"{base}/{database}".replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        log(f"ours, PostgreSQL (database {database}) ...")
        with ours("postgres", url, workdir, BIG_ADMISSION) as server:
            results["throughput"]["postgres"] = throughput(server, params, "pg")
        results["persisted"]["postgres"] = asyncio.run(_pg_count(f"{base}/{database}"))
    finally:
        asyncio.run(_pg(pg_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    return results


# -- 3: many idle stations ------------------------------------------------------------------------------


def bench_idle(params: Params, workdir: Path) -> dict[str, Any]:
    results = {}
    for name in ("sqlite", "baseline"):
        # Ours as in production: registered stations with passwords, default admission control.
        context = (
            ours(
                "idle",
                f"sqlite+aiosqlite:///{workdir}/idle.db",
                workdir,
                registered=identities("warm-", 200) + identities("idle-", params.idle_stations),
            )
            if name == "sqlite"
            else baseline()
        )
        auth = {"password": PASSWORD} if name == "sqlite" else {}
        with context as server:
            log(f"{name}: {params.idle_stations:,} connected stations ...")
            warm = Controlled(
                server, "hold", 60, stations=200, prefix="warm-", connect_concurrency=100, **auth
            )
            warm.read()
            warm.send(cmd="stop")
            warm.read()
            warm.close()
            time.sleep(2.0)
            before = rss_kib(server.pid)
            up_cpu = cpu_seconds(server.pid)
            hold = Controlled(
                server,
                "hold",
                params.idle_connect_timeout + 60,
                stations=params.idle_stations,
                prefix="idle-",
                connect_concurrency=200,
                connect_timeout=params.idle_connect_timeout,
                **auth,
            )
            try:
                ready = hold.read()
                up_cpu = cpu_seconds(server.pid) - up_cpu
                time.sleep(2.0)
                idle_rss = rss_kib(server.pid)
                cpu_0 = cpu_seconds(server.pid)
                time.sleep(params.idle_window)
                idle_cpu = (cpu_seconds(server.pid) - cpu_0) / params.idle_window
                hold.send(cmd="beat", interval=60.0)
                hold.read()
                time.sleep(1.0)
                cpu_0 = cpu_seconds(server.pid)
                time.sleep(params.idle_window * 2)
                beat_cpu = (cpu_seconds(server.pid) - cpu_0) / (params.idle_window * 2)
                beating_rss = rss_kib(server.pid)
                hold.send(cmd="stop")
                done = hold.read()
            finally:
                hold.close()
        connected = ready["connected"]
        row = {
            "target": params.idle_stations,
            "connected": connected,
            "connect_s": ready["elapsed_s"],
            "connect_cpu_s": up_cpu,
            "cpu_ms_per_station": up_cpu / connected * 1e3 if connected else None,
            "refused": ready["refused"],
            "failures": ready["failures"],
            "first_failure": ready["first_failure"],
            "rss_before_kib": before,
            "rss_idle_kib": idle_rss,
            "rss_beating_kib": beating_rss,
            "kib_per_station": (idle_rss - before) / connected if connected else None,
            "kib_per_station_beating": (beating_rss - before) / connected if connected else None,
            "idle_cpu_pct": idle_cpu * 100,
            "beating_cpu_pct": beat_cpu * 100,
            "heartbeats": done["heartbeats"],
            "heartbeat_p99_ms": done["p99_ms"],
        }
        results[name] = row
        log(
            f"  {name}: {connected:,} up in {ready['elapsed_s']:.1f} s ({up_cpu:.1f} s of server CPU, "
            f"{ready['refused']:,} refused with 503), "
            f"{row['kib_per_station'] or 0:.1f} KiB/station, idle CPU {row['idle_cpu_pct']:.1f} %, "
            f"heartbeating (1/min/station) CPU {row['beating_cpu_pct']:.1f} %"
        )
    return results


# -- 4: reconnection storm ------------------------------------------------------------------------------


def bench_storm(params: Params, workdir: Path) -> dict[str, Any]:
    results = {}
    for name in ("sqlite", "baseline"):
        # Our CSMS with its default admission control and registered stations; the baseline has neither.
        context = (
            ours(
                "storm",
                f"sqlite+aiosqlite:///{workdir}/storm.db",
                workdir,
                registered=identities("storm-", params.storm_stations)
                + identities("storm-live-", 5, start=params.storm_stations),
            )
            if name == "sqlite"
            else baseline()
        )
        auth = {"password": PASSWORD} if name == "sqlite" else {}
        with context as server:
            log(f"{name}: reconnection storm of {params.storm_stations:,} stations ...")
            storm = Controlled(
                server,
                "storm",
                params.storm_connect_timeout + params.storm_timeout * 2,
                stations=params.storm_stations,
                prefix="storm-",
                evses=2,
                live=5,
                connect_concurrency=1000,
                connect_timeout=params.storm_connect_timeout,
                storm_timeout=params.storm_timeout,
                **auth,
            )
            try:
                ready = storm.read()
                log(f"  {ready['connected']:,} stations up in {ready['elapsed_s']:.1f} s; dropping them all")
                storm_cpu = cpu_seconds(server.pid)
                storm.send(cmd="go")
                done = storm.read()
                storm_cpu = cpu_seconds(server.pid) - storm_cpu
            finally:
                storm.close()
        done["initial_connect_s"] = ready["elapsed_s"]
        done["storm_cpu_s"] = storm_cpu
        results[name] = done
        log(
            f"  {name}: {done['online']:,}/{done['stations']:,} online again, all in "
            f"{done['all_online_s'] or float('nan'):.1f} s ({done['refused']} handshakes refused with 503); "
            f"live sessions p50 {done['live_p50_ms'] or 0:.1f} ms, p99 {done['live_p99_ms'] or 0:.1f} ms, "
            f"max {done['live_max_ms'] or 0:.1f} ms"
        )
    return results


# -- 5: codec and transport -----------------------------------------------------------------------------


def bench_codec(quick: bool) -> str:
    argv = [PYTHON, str(BENCH / "codec.py")] + (["--quick"] if quick else [])
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return completed.stdout


def bench_transport(quick: bool) -> str | None:
    argv = [PYTHON, str(BENCH / "transport.py")] + (["--quick"] if quick else [])
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=360, check=False)
    if completed.returncode != 0:
        log(f"transport benchmark failed: {completed.stderr[-1000:]}")
        return None
    return completed.stdout


# -- report ---------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import websockets

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "websockets": websockets.__version__,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "?",
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def verdict(met: bool) -> str:
    return "met" if met else "**NOT met**"


def render(params: Params, command: str, results: dict[str, Any], elapsed: float) -> str:
    info = machine()
    tp = results.get("throughput", {})
    lines = [
        SECTION,
        "",
        f"Command: `{command}` ({info['date']}, commit {info['git']} plus uncommitted work in the tree; "
        f"suite took {elapsed / 60:.1f} min)",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), shared and noisy VM; Python {info['python']}, "
        f"websockets {info['websockets']}. Everything on 127.0.0.1: the server under test, the load client "
        "(`bench/loadgen.py`, one process: pre-encoded frames on raw `websockets` connections, answers "
        "matched by message id) and this orchestrator are separate processes, so the client takes most of "
        "one of the two cores. **Baseline**: `bench/baseline_csms.py`, the `ocpp` package (PyPI, schema "
        "validation on, its default) on `websockets` with the same WebSocket settings; it persists nothing. "
        "**Ours**: `chargeplane serve --dev-allow-unauthenticated --unknown-stations accept` (idle and "
        "storm: registered stations with passwords instead), every TransactionEvent committed before it is "
        "answered. Server CPU = utime+stime of the server process "
        "from /proc (for PostgreSQL the database's own processes are not included).",
    ]
    if tp:
        lines += _throughput_lines(params, results)

    cpu = results.get("cpu", {})
    if cpu:
        names = {
            "heartbeat": "Heartbeat (2.0.1)",
            "status": "StatusNotification (2.0.1)",
            "transaction": "TransactionEvent Updated (2.0.1, 4 samples)",
            "metervalues": "MeterValues (1.6, 4 samples)",
        }
        lines += [
            "",
            f"### Server CPU per CALL -> CALLRESULT ({params.cpu_stations} stations, closed loop, "
            f"{params.cpu_duration:.1f} s)",
            "",
            "| message | baseline us | ours (SQLite) us | ours / baseline | ours msg/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for mix in MESSAGE_TYPES:
            base = cpu["baseline"][mix]["server_cpu_us_per_msg"]
            mine = cpu["sqlite"][mix]["server_cpu_us_per_msg"]
            lines.append(
                f"| {names[mix]} | {fmt(base, 0)} | {fmt(mine, 0)} | {mine / base:.2f} | "
                f"{cpu['sqlite'][mix]['rate']:,.0f} |"
            )

    idle = results.get("idle", {})
    if idle:
        lines += [
            "",
            f"### Connected stations on one process (target {params.idle_stations:,})",
            "",
            "Each station connects (ws, no compression), boots and sends one Heartbeat (200 at a time); ours "
            "with registered stations, each with HTTP Basic auth (profile 1; its password checked once, as "
            "none connected before), and its default admission control; the baseline without authentication. "
            "Server CPU while they come up (utime+stime). Server VmRSS after a warm-up (200 stations connected, "
            "booted and gone) vs with all stations connected, divided by the stations. CPU: "
            f"{params.idle_window:.0f} s with no traffic, then {params.idle_window * 2:.0f} s "
            "with each station heartbeating once a minute (random phase). Goal: at most 50 KiB per station.",
            "",
            "| server | stations up | up in (s) | server CPU s | ms CPU/station | 503 refusals | KiB/station | "
            "KiB/station heartbeating | idle CPU % | CPU % heartbeating | goal |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, row in idle.items():
            goal = verdict((row["kib_per_station"] or 1e9) <= 50) if name == "sqlite" else ""
            label = "ours, SQLite, Basic auth" if name == "sqlite" else "baseline (ocpp), no auth"
            lines.append(
                f"| {label} | {row['connected']:,} | {row['connect_s']:.1f} | {fmt(row.get('connect_cpu_s'))} | "
                f"{fmt(row.get('cpu_ms_per_station'), 2)} | {row.get('refused', 0):,} | "
                f"{fmt(row['kib_per_station'])} | "
                f"{fmt(row['kib_per_station_beating'])} | {row['idle_cpu_pct']:.1f} | "
                f"{row['beating_cpu_pct']:.1f} | {goal} |"
            )
        for name, row in idle.items():
            if row["connected"] < row["target"]:
                lines.append(
                    f"\n{name}: only {row['connected']:,} of {row['target']:,} stations came up within "
                    f"{params.idle_connect_timeout:.0f} s (first failure: {row['first_failure']})."
                )

    storm = results.get("storm", {})
    if storm:
        lines += [
            "",
            f"### Reconnection storm ({params.storm_stations:,} stations, 2 EVSEs each)",
            "",
            "All stations connected and booted, then every TCP connection is aborted at once; each station "
            "reconnects at once (on HTTP 503 it retries after Retry-After plus 0-100 % jitter), sends "
            "BootNotification and a StatusNotification per EVSE; a station whose connection is closed or whose "
            "boot is answered with an error starts again after 1-2 s (retried), as a station does. Ours runs "
            "with registered stations (HTTP Basic auth, profile 1) and its default admission control (adaptive "
            "rate from 200 connections/s up to 5,000/s while its event-loop lag stays under 0.1 s and its "
            "database writer's backlog under 2,000; at most 256 handshakes in progress, a request beyond them waiting up to 5 s for a place; no new connections "
            "while the loop lags by more than 0.5 s); the baseline has neither. Meanwhile 5 live sessions (not "
            "dropped; in a load-client process of their own) each send a TransactionEvent every 100 ms. Server CPU: from the drop until all are back.",
            "",
            "| server | stations | all online (s) | half online (s) | server CPU s | 503 refusals | retried | "
            "failures | live p50 ms | live p99 ms | live max ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in storm.items():
            label = "ours, SQLite, Basic auth" if name == "sqlite" else "baseline (ocpp), no auth"
            lines.append(
                f"| {label} | {row['online']:,}/{row['stations']:,} | {fmt(row['all_online_s'])} | "
                f"{fmt(row['half_online_s'])} | {fmt(row.get('storm_cpu_s'))} | {row['refused']:,} | "
                f"{row.get('retried', 0):,} | "
                f"{row['failures']} | "
                f"{fmt(row['live_p50_ms'])} | {fmt(row['live_p99_ms'])} | {fmt(row['live_max_ms'])} |"
            )

    codec = results.get("codec")
    if codec:
        lines += ["", "### Codec (`bench/codec.py`, this run)", "", *_table_lines(codec)]
    transport = results.get("transport")
    if transport:
        ratio = re.search(r"ours/bare.*?\*\*([0-9.]+x)\*\*", transport)
        memory = [line for line in transport.splitlines() if line.startswith("| ours | off |")]
        lines += [
            "",
            "### Transport (`bench/transport.py`, this run; full tables in the Transport section)",
            "",
            f"- per-message server CPU ours/bare WebSocket server: {ratio.group(1) if ratio else 'n/a'}",
        ]
        if memory:
            cells = [cell.strip() for cell in memory[0].strip("|").split("|")]
            lines.append(f"- idle memory per connection (transport only, no CSMS state): {cells[4]} KiB")
    lines.append("")
    return "\n".join(lines)


def _throughput_lines(params: Params, results: dict[str, Any]) -> list[str]:
    tp = results["throughput"]
    lines = [
        "",
        "### Sustained TransactionEvents",
        "",
        "Each station boots, sends TransactionEvent Started for its own transaction, then Updated events "
        "(seqNo 1, 2, ..., 4 sampled values). Closed loop: one CALL outstanding per station, as fast as "
        f"answered ({params.warmup:.1f} s warm-up, {params.duration:.0f} s measured); latency in the closed "
        "loop is queueing, the open-loop row is the one for the latency goal: each station sends on a fixed "
        "schedule (random phase) at a total of half of that server's own maximum, latency counted from the "
        "scheduled send time. Admission control set out of the way (rate 1e9/s).",
        "",
        "| server | stations | max TE/s (closed) | vs baseline | server CPU us/TE | open loop rate | "
        "p50 ms | p99 ms | p99.9 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("baseline", "sqlite", "postgres"):
        for size, row in tp.get(name, {}).items():
            closed, opened = row["closed"], row["open"]
            base_rate = tp["baseline"][size]["closed"]["rate"] if "baseline" in tp else None
            ratio = f"{closed['rate'] / base_rate:.2f}x" if base_rate else "n/a"
            label = {"baseline": "baseline (ocpp)", "sqlite": "ours, SQLite", "postgres": "ours, PostgreSQL"}[
                name
            ]
            lines.append(
                f"| {label} | {int(size):,} | {closed['rate']:,.0f} | {ratio} | "
                f"{fmt(closed['server_cpu_us_per_msg'], 0)} | {opened['rate']:,.0f} | {fmt(opened['p50_ms'])} | "
                f"{fmt(opened['p99_ms'])} | {fmt(opened['p999_ms'])} |"
            )
    persisted = results.get("persisted", {})
    if persisted:
        lines += [
            "",
            "Rows in `transaction_events` after the runs (every answered event, warm-up included): "
            + ", ".join(f"{name} {count:,}" for name, count in persisted.items() if count is not None)
            + ".",
        ]
    if "pg_error" in results:
        lines += ["", f"PostgreSQL skipped: {results['pg_error']}."]
    goals = []
    for name in ("sqlite", "postgres"):
        for size, row in tp.get(name, {}).items():
            ratio = row["closed"]["rate"] / tp["baseline"][size]["closed"]["rate"]
            p99 = row["open"]["p99_ms"]
            goals.append(
                f"- {name}, {int(size):,} stations: throughput {ratio:.2f}x baseline (goal >= 10x: "
                f"{verdict(ratio >= 10)}); p99 at half our max {fmt(p99)} ms (goal < 50 ms: "
                f"{verdict(p99 is not None and p99 < 50)})"
            )
    lines += ["", *goals]
    return lines


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def write_section(section: str, heading: str = SECTION) -> None:
    """Replace (or append) the section under ``heading`` of RESULTS.md, leaving every other section alone."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^" + re.escape(heading) + r"[ \t]*\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run under 2 minutes; prints only")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--only",
        default="throughput,idle,storm,codec,transport",
        help="comma-separated subset of throughput,idle,storm,codec,transport",
    )
    parser.add_argument(
        "--json",
        help=f"write the raw results here (default in full mode: {RESULTS_JSON.relative_to(REPO)}; "
        "read by bench/plots.py)",
    )
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    if args.quick:
        only.discard("transport")
    command = ".venv/bin/python bench/e2e.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    started = time.monotonic()
    results: dict[str, Any] = {}

    def watchdog(signum: int, frame: Any) -> None:
        raise TimeoutError("the suite overran its time limit")

    signal.signal(signal.SIGALRM, watchdog)  # everything stops by itself (servers stop in their finally)
    signal.alarm(240 if args.quick else 1500)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as temporary:
        workdir = Path(temporary)
        if "throughput" in only:
            results |= bench_throughput(params, workdir, None if args.no_postgres else args.pg_dsn)
        if "idle" in only:
            results["idle"] = bench_idle(params, workdir)
        if "storm" in only:
            results["storm"] = bench_storm(params, workdir)
    if "codec" in only:
        log("codec ...")
        results["codec"] = bench_codec(args.quick)
    if "transport" in only:
        log("transport (writes its own section) ...")
        results["transport"] = bench_transport(args.quick)
    elapsed = time.monotonic() - started
    section = render(params, command, results, elapsed)
    print(section)
    results["machine"] = machine() | {"command": command, "elapsed_s": f"{elapsed:.0f}"}
    json_path = args.json or (None if args.quick or args.no_write else RESULTS_JSON)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2), encoding="utf-8")
        log(f"wrote the raw results to {json_path}")
    if not args.quick and not args.no_write:
        write_section(section)
        log(f"wrote the {SECTION!r} section of {RESULTS}")
    log(f"total {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
