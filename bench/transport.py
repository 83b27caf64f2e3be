"""Transport benchmark: the OCPP-J WebSocket server (``chargeplane.transport``) on loopback.

Measures, against a bare ``websockets`` server run with the same settings in the same run:

1. connection set-up rate (connections/s) for ws (profile 1: Basic auth) and wss (profile 2: TLS + Basic
   auth), cold (distinct stations on their first connection: one scrypt check each) and warm (the same
   stations reconnecting: the verified-password cache answers);
2. server memory per idle connection (VmRSS before and after N stations connected), compression off and on;
3. CALL -> CALLRESULT round trips per second (closed loop, K connections, a Heartbeat handler that answers at
   once) and the server's CPU time per message, beside a bare echo server driven by the same lean client.

The orchestrator (this process) starts the servers and the load-generating client as separate processes
(this script with ``--role server`` / ``--role client``) and talks to them with JSON lines on stdin/stdout.
Server CPU time is read from ``/proc/<pid>/stat`` (all threads, so scrypt in worker threads counts).

Run: ``.venv/bin/python bench/transport.py`` (about 3 minutes; writes the "## Transport" section of
bench/RESULTS.md) or ``--quick`` (under a minute, prints only). Loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import datetime as dt
import hashlib
import io
import ipaddress
import json
import os
import platform
import pstats
import queue
import re
import secrets
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from procstat import cpu_model, cpu_seconds, rss_kib
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

HOST = "127.0.0.1"
SUBPROTOCOL = Subprotocol("ocpp2.0.1")
PASSWORD = "bench-Password-0123456789.abcdef"  # a valid 2.0.1 passwordString
PING_INTERVAL = 3600.0  # keepalive tasks exist (as in production) but never fire during a run
PING_TIMEOUT = 30.0
MAX_SIZE = 1 << 20  # chargeplane.ocpp.endpoint.DEFAULT_MAX_MESSAGE_SIZE, for the bare server too
ADMISSION_RATE = 1e9  # admission control must not throttle the benchmark
ADMISSION_BURST = 1_000_000
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# -- parameters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    handshakes: int  # connections per set-up run
    handshake_concurrency: int
    handshake_reps: int
    idle_connections: int
    idle_concurrency: int
    idle_settle: float  # seconds idle before reading VmRSS
    rtt_connections: int  # K
    rtt_warmup: float
    rtt_duration: float
    rtt_reps: int


FULL = Params(500, 50, 3, 5_000, 100, 2.0, 32, 0.5, 3.0, 5)
QUICK = Params(100, 25, 2, 1_000, 100, 1.0, 32, 0.3, 1.0, 2)


# -- helpers shared by all roles ------------------------------------------------------------------------


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def command_loop(handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """Answer JSON-line commands from stdin until ``stop`` or EOF (the orchestrator died)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        command = json.loads(line)
        if command["cmd"] == "stop":
            return
        try:
            result = await handle(command)
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        reply(result)


def event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    if event_loop_name() == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


# -- certificates ---------------------------------------------------------------------------------------


def make_certificates(directory: Path) -> None:
    """A throwaway CA (ca.pem) and a server certificate for 127.0.0.1/localhost (server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench transport CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(certificate.public_bytes(pem))
    (directory / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


# -- server role ----------------------------------------------------------------------------------------


def cheap_password_hash(password: str) -> str:
    """A hash in the stored format of chargeplane.transport.security with tiny scrypt parameters.

    Used for the stations of the memory and round-trip runs, so that connecting thousands of them does not
    spend minutes in scrypt; the authentication path (header parsing, verification in a worker thread,
    the verified-password cache) is the same as with production parameters.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2, r=1, p=1, dklen=32)
    return f"scrypt$2$1$1${salt.hex()}${digest.hex()}"


async def server_main(args: argparse.Namespace) -> None:
    from chargeplane.ocpp.catalog import CSMS
    from chargeplane.ocpp.messages import v201
    from chargeplane.ocpp.router import Router
    from chargeplane.ocpp.timestamps import utc_now
    from chargeplane.ocpp.versions import Version
    from chargeplane.transport.connection import OcppConnection
    from chargeplane.transport.security import (
        CertificateFiles,
        SecurityProfile,
        StationSecurity,
        TlsSettings,
        hash_password,
        server_tls_context,
    )
    from chargeplane.transport.server import OcppServer, ServerSettings

    tls_dir = Path(args.tls_dir)
    tls = TlsSettings(certificates=(CertificateFiles(tls_dir / "server.pem", tls_dir / "server.key"),))
    heartbeat = v201.messages.HeartbeatResponse(current_time=utc_now())  # the handler answers at once

    class App:
        def __init__(self) -> None:
            self.router = Router[OcppConnection](Version.V201, CSMS)
            self.router.register(v201.messages.HeartbeatRequest, lambda request, connection: heartbeat)

        def router_for(self, version: Version) -> Router[OcppConnection]:
            return self.router

        async def connected(self, connection: OcppConnection) -> None:
            pass

        async def disconnected(self, connection: OcppConnection) -> None:
            pass

    # One production-strength hash for all "real" stations (same scrypt cost as distinct hashes: the cache
    # is per station), a cheap one for the bulk stations. "tls*" stations are profile 2 (wss only).
    real = hash_password(PASSWORD)
    cheap = cheap_password_hash(PASSWORD)
    profiles: dict[tuple[bool, bool], StationSecurity] = {
        (tls_only, bulk): StationSecurity(
            SecurityProfile.TLS_BASIC_AUTH if tls_only else SecurityProfile.BASIC_AUTH,
            cheap if bulk else real,
        )
        for tls_only in (False, True)
        for bulk in (False, True)
    }

    class Directory:
        async def security_for(self, station_id: str) -> StationSecurity | None:
            return profiles[station_id.startswith("tls"), "bulk" in station_id]

    servers: list[Server] = []
    if args.kind == "ours":
        settings = ServerSettings(
            host=HOST,
            port=0,
            tls_port=0,
            tls=tls,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            compression=args.compression,
            max_message_size=MAX_SIZE,
            admission_rate=ADMISSION_RATE,
            admission_burst=ADMISSION_BURST,
            admission_max_opening=0,
            max_connections=100_000,
        )
        ocpp = OcppServer(settings, App(), Directory())
        await ocpp.start()
        ports = ocpp.ports

        def connections() -> int:
            return len(ocpp.connections)

    else:

        async def echo(websocket: ServerConnection) -> None:
            async for message in websocket:
                await websocket.send(message)

        for context in (None, server_tls_context(tls)):
            servers.append(
                await serve(
                    echo,
                    HOST,
                    0,
                    ssl=context,
                    subprotocols=[SUBPROTOCOL],
                    compression="deflate" if args.compression else None,
                    ping_interval=PING_INTERVAL,
                    ping_timeout=PING_TIMEOUT,
                    max_size=MAX_SIZE,
                    open_timeout=10.0,
                    close_timeout=5.0,
                    server_header=None,
                )
            )
        ports = [server.sockets[0].getsockname()[1] for server in servers]

        def connections() -> int:
            return sum(len(server.connections) for server in servers)

    profiler: cProfile.Profile | None = None

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        nonlocal profiler
        if command["cmd"] == "stats":
            return {"connections": connections()}
        if command["cmd"] == "profile_start":
            profiler = cProfile.Profile()
            profiler.enable()
            return {}
        if command["cmd"] == "profile_stop":
            assert profiler is not None
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(command.get("sort", "tottime")).print_stats(command.get("top", 30))
            return {"profile": out.getvalue()}
        raise ValueError(f"unknown command {command['cmd']}")

    reply({"pid": os.getpid(), "ports": ports})
    await command_loop(handle)
    if args.kind == "ours":
        await ocpp.shutdown(deadline=1.0)
    for server in servers:
        server.close()
        await server.wait_closed()


# -- client role ----------------------------------------------------------------------------------------


class LoadClient:
    """A lean raw-websockets station population: the same code drives our server and the bare one."""

    def __init__(self, ca_file: Path) -> None:
        self.tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self.held: list[ClientConnection] = []

    async def connect(self, port: int, secure: bool, station: str, compression: bool) -> ClientConnection:
        scheme = "wss" if secure else "ws"
        return await connect(
            f"{scheme}://{HOST}:{port}/ocpp/{station}",
            subprotocols=[SUBPROTOCOL],
            additional_headers={"Authorization": basic_auth(station, PASSWORD)},
            ssl=self.tls if secure else None,
            compression="deflate" if compression else None,
            ping_interval=None,
            max_size=MAX_SIZE,
            open_timeout=60.0,
            close_timeout=10.0,
            proxy=None,
            user_agent_header=None,
        )

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        name = command["cmd"]
        if name == "open":
            return await self.open(command)
        if name == "heartbeat_all":
            return await self.heartbeat_all(command["concurrency"])
        if name == "close_all":
            return await self.close_all(command["concurrency"])
        if name == "rtt":
            return await self.round_trips(command)
        raise ValueError(f"unknown command {name}")

    async def open(self, command: dict[str, Any]) -> dict[str, Any]:
        """Open ``count`` connections (``concurrency`` at a time) and keep them; time the whole lot."""
        prefix, count, server_pid = command["prefix"], command["count"], command["server_pid"]
        semaphore = asyncio.Semaphore(command["concurrency"])
        errors: list[str] = []

        async def one(index: int) -> None:
            async with semaphore:
                try:
                    websocket = await self.connect(
                        command["port"], command["secure"], f"{prefix}{index}", command["compression"]
                    )
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    self.held.append(websocket)

        cpu_before = cpu_seconds(server_pid)
        start = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(count)))
        elapsed = time.perf_counter() - start
        server_cpu = cpu_seconds(server_pid) - cpu_before
        return {
            "opened": count - len(errors),
            "elapsed": elapsed,
            "server_cpu": server_cpu,
            "errors": len(errors),
            "first_error": errors[0] if errors else None,
        }

    async def heartbeat_all(self, concurrency: int) -> dict[str, Any]:
        """One Heartbeat CALL on every held connection (a station's first message after connecting)."""
        semaphore = asyncio.Semaphore(concurrency)
        failures = 0

        async def one(index: int, websocket: ClientConnection) -> None:
            nonlocal failures
            async with semaphore:
                await websocket.send(f'[2,"hb-{index}","Heartbeat",{{}}]')
                answer = await websocket.recv(decode=False)
                if f'"hb-{index}"'.encode() not in answer or answer.startswith(b"[4"):
                    failures += 1

        await asyncio.gather(*(one(index, websocket) for index, websocket in enumerate(self.held)))
        return {"sent": len(self.held), "failures": failures}

    async def close_all(self, concurrency: int) -> dict[str, Any]:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(websocket: ClientConnection) -> None:
            async with semaphore:
                await websocket.close()

        held, self.held = self.held, []
        await asyncio.gather(*(one(websocket) for websocket in held), return_exceptions=True)
        return {"closed": len(held)}

    async def round_trips(self, command: dict[str, Any]) -> dict[str, Any]:
        """K connections, each a closed loop of pre-encoded Heartbeat CALLs, for warm-up + duration."""
        k, server_pid = command["connections"], command["server_pid"]
        connections = await asyncio.gather(
            *(
                self.connect(command["port"], False, f"{command['prefix']}{index}", False)
                for index in range(k)
            )
        )
        recording = False
        stopping = False
        latencies: list[float] = []
        failures = 0

        async def worker(index: int, websocket: ClientConnection) -> None:
            nonlocal failures
            frames = []
            for number in range(64):
                token = f'"c{index}-{number}"'.encode()
                frames.append((b"[2," + token + b',"Heartbeat",{}]', token))
            number = 0
            perf_counter = time.perf_counter
            while not stopping:
                frame, token = frames[number & 63]
                number += 1
                sent = perf_counter()
                await websocket.send(frame, text=True)
                answer = await websocket.recv(decode=False)
                received = perf_counter()
                if token not in answer or answer.startswith(b"[4"):
                    failures += 1
                if recording:
                    latencies.append(received - sent)

        tasks = [asyncio.create_task(worker(index, ws)) for index, ws in enumerate(connections)]
        await asyncio.sleep(command["warmup"])
        server_before, client_before, start = (
            cpu_seconds(server_pid),
            time.process_time(),
            time.perf_counter(),
        )
        recording = True
        await asyncio.sleep(command["duration"])
        recording = False
        elapsed = time.perf_counter() - start
        server_cpu = cpu_seconds(server_pid) - server_before
        client_cpu = time.process_time() - client_before
        stopping = True
        await asyncio.gather(*tasks)
        await asyncio.gather(*(websocket.close() for websocket in connections))
        latencies.sort()
        count = len(latencies)
        return {
            "count": count,
            "elapsed": elapsed,
            "server_cpu": server_cpu,
            "client_cpu": client_cpu,
            "p50": latencies[count // 2] if count else 0.0,
            "p99": latencies[min(count - 1, int(count * 0.99))] if count else 0.0,
            "failures": failures,
        }


async def client_main(args: argparse.Namespace) -> None:
    client = LoadClient(Path(args.tls_dir) / "ca.pem")
    reply({"pid": os.getpid()})
    await command_loop(client.handle)
    await client.close_all(200)


# -- orchestrator ---------------------------------------------------------------------------------------


class Peer:
    """A child process of this script, driven by JSON lines."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self._answer(timeout=60.0)
        self.pid: int = self.hello["pid"]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self._lines.put(line)
            else:
                sys.stderr.write(line)
        self._lines.put(None)

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"peer {self.process.args} did not answer in {timeout} s") from None
        if line is None:
            raise RuntimeError(f"peer {self.process.args} exited with {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"peer failed: {answer['error']}")
        return answer

    def request(self, cmd: str, timeout: float = 120.0, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        return self._answer(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write('{"cmd": "stop"}\n')
                self.process.stdin.close()
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def peers(*argvs: tuple[str, ...]) -> Iterator[list[Peer]]:
    started: list[Peer] = []
    try:
        for argv in argvs:
            started.append(Peer(*argv))
        yield started
    finally:
        for peer in reversed(started):
            peer.close()


def server_argv(kind: str, tls_dir: Path, compression: bool = False) -> tuple[str, ...]:
    argv = ("--role", "server", "--kind", kind, "--tls-dir", str(tls_dir))
    return (*argv, "--compression") if compression else argv


def wait_for_connections(server: Peer, expected: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (count := server.request("stats")["connections"]) != expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"server has {count} connections, expected {expected}")
        time.sleep(0.05)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class HandshakeRow:
    server: str
    scheme: str
    run: str
    rates: list[float]
    cpu_ms: list[float]


def bench_handshakes(params: Params, tls_dir: Path) -> list[HandshakeRow]:
    rows = {
        key: HandshakeRow(key[0], key[1], key[2], [], [])
        for key in [
            (server, scheme, run)
            for scheme in ("ws", "wss")
            for server, run in (("bare", "no auth"), ("ours", "cold"), ("ours", "warm"))
        ]
    }
    argvs = (
        server_argv("bare", tls_dir),
        server_argv("ours", tls_dir),
        ("--role", "client", "--tls-dir", str(tls_dir)),
    )
    with peers(*argvs) as (bare, ours, client):
        for rep in range(params.handshake_reps):
            for scheme in ("ws", "wss"):
                secure = scheme == "wss"
                port_index = 1 if secure else 0
                prefix = f"{'tls' if secure else 'pw'}-r{rep}-"
                runs = [("bare", "no auth"), ("ours", "cold"), ("ours", "warm")]
                if rep % 2:  # alternate which server goes first (cold must precede warm)
                    runs = runs[1:] + runs[:1]
                for server, run in runs:
                    peer = bare if server == "bare" else ours
                    result = client.request(
                        "open",
                        port=peer.hello["ports"][port_index],
                        secure=secure,
                        prefix=prefix,
                        count=params.handshakes,
                        concurrency=params.handshake_concurrency,
                        compression=False,
                        server_pid=peer.pid,
                    )
                    if result["errors"]:
                        raise RuntimeError(f"{server} {scheme} {run}: {result['first_error']}")
                    client.request("close_all", concurrency=params.handshake_concurrency)
                    wait_for_connections(peer, 0)
                    row = rows[server, scheme, run]
                    row.rates.append(result["opened"] / result["elapsed"])
                    row.cpu_ms.append(result["server_cpu"] / result["opened"] * 1e3)
                    log(
                        f"  set-up rep {rep} {server:4} {scheme:3} {run:7}: {row.rates[-1]:7.0f} conn/s, "
                        f"server {row.cpu_ms[-1]:.2f} ms CPU/conn"
                    )
    return list(rows.values())


@dataclass
class MemoryRow:
    server: str
    compression: bool
    before_kib: int
    idle_kib: int
    after_call_kib: int
    connections: int


def bench_memory(params: Params, tls_dir: Path) -> list[MemoryRow]:
    rows = []
    client_argv = ("--role", "client", "--tls-dir", str(tls_dir))
    for server_kind, compression in (("ours", False), ("bare", False), ("ours", True), ("bare", True)):
        with peers(server_argv(server_kind, tls_dir, compression), client_argv) as (server, client):
            row = measure_memory(params, server_kind, server, client, compression)
        rows.append(row)
        log(
            f"  memory {server_kind:4} compression={'on' if compression else 'off':3}: "
            f"{(row.idle_kib - row.before_kib) / row.connections:5.1f} KiB/conn idle, "
            f"{(row.after_call_kib - row.before_kib) / row.connections:5.1f} after one Heartbeat"
        )
    return rows


def measure_memory(params: Params, kind: str, server: Peer, client: Peer, compression: bool) -> MemoryRow:
    def populate(prefix: str, count: int) -> None:
        result = client.request(
            "open",
            port=server.hello["ports"][0],
            secure=False,
            prefix=prefix,
            count=count,
            concurrency=params.idle_concurrency,
            compression=compression,
            server_pid=server.pid,
        )
        if result["errors"]:
            raise RuntimeError(f"memory run: {result['first_error']}")

    # Warm-up: imports, caches, the password-check worker threads, allocator arenas.
    populate("bulk-warmup-", 200)
    client.request("heartbeat_all", concurrency=params.idle_concurrency)
    client.request("close_all", concurrency=params.idle_concurrency)
    wait_for_connections(server, 0)
    time.sleep(params.idle_settle)
    before = rss_kib(server.pid)
    count = params.idle_connections
    populate("bulk-idle-", count)
    wait_for_connections(server, count)
    time.sleep(params.idle_settle)
    idle = rss_kib(server.pid)
    answered = client.request("heartbeat_all", concurrency=params.idle_concurrency)
    if answered["failures"]:
        raise RuntimeError(f"memory run: {answered['failures']} heartbeats failed")
    time.sleep(params.idle_settle)
    after_call = rss_kib(server.pid)
    client.request("close_all", concurrency=params.idle_concurrency)
    return MemoryRow(kind, compression, before, idle, after_call, count)


@dataclass
class RoundTripRow:
    server: str
    rates: list[float]
    server_us: list[float]
    client_us: list[float]
    p50_ms: list[float]
    p99_ms: list[float]


def bench_round_trips(
    params: Params, tls_dir: Path, profile: bool
) -> tuple[dict[str, RoundTripRow], list[float], str | None]:
    rows = {name: RoundTripRow(name, [], [], [], [], []) for name in ("bare", "ours")}
    ratios: list[float] = []
    profile_text = None
    argvs = (
        server_argv("bare", tls_dir),
        server_argv("ours", tls_dir),
        ("--role", "client", "--tls-dir", str(tls_dir)),
    )
    with peers(*argvs) as (bare, ours, client):

        def run(peer: Peer, duration: float) -> dict[str, Any]:
            result = client.request(
                "rtt",
                port=peer.hello["ports"][0],
                prefix="bulk-rtt-",
                connections=params.rtt_connections,
                warmup=params.rtt_warmup,
                duration=duration,
                server_pid=peer.pid,
            )
            if result["failures"]:
                raise RuntimeError(f"round trips: {result['failures']} bad answers")
            wait_for_connections(peer, 0)
            return result

        for peer in (bare, ours):  # discarded: the first run of a fresh client process is slower
            run(peer, params.rtt_warmup)
        for rep in range(params.rtt_reps):
            per_message = {}
            order = ("bare", "ours") if rep % 2 == 0 else ("ours", "bare")
            for name in order:
                result = run(bare if name == "bare" else ours, params.rtt_duration)
                row = rows[name]
                row.rates.append(result["count"] / result["elapsed"])
                row.server_us.append(result["server_cpu"] / result["count"] * 1e6)
                row.client_us.append(result["client_cpu"] / result["count"] * 1e6)
                row.p50_ms.append(result["p50"] * 1e3)
                row.p99_ms.append(result["p99"] * 1e3)
                per_message[name] = row.server_us[-1]
                log(
                    f"  round trips rep {rep} {name:4}: {row.rates[-1]:7.0f}/s, server {row.server_us[-1]:6.1f} "
                    f"us CPU/msg, client {row.client_us[-1]:6.1f} us, p50 {row.p50_ms[-1]:.2f} ms, "
                    f"p99 {row.p99_ms[-1]:.2f} ms"
                )
            ratios.append(per_message["ours"] / per_message["bare"])
        if profile:
            ours.request("profile_start")
            run(ours, params.rtt_duration)
            profile_text = ours.request("profile_stop", top=40)["profile"]
    return rows, ratios, profile_text


def machine() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "websockets": websockets.__version__,
        "loop": event_loop_name(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render(
    params: Params,
    command: str,
    handshakes: list[HandshakeRow],
    memory: list[MemoryRow],
    round_trips: dict[str, RoundTripRow],
    ratios: list[float],
) -> str:
    info = machine()
    lines = [
        "## Transport",
        "",
        f"Command: `{command}` ({info['date']})",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, websockets "
        f"{info['websockets']}, event loop: {info['loop']}. Loopback (127.0.0.1); server and load client "
        "in separate processes; shared, noisy machine, so each figure is the median of the repetitions and "
        "ours is compared with a bare `websockets` server run in the same session with the same settings "
        f"(ping interval {PING_INTERVAL:.0f} s, max size 1 MiB, same TLS context). Server CPU is utime+stime "
        "of the server process (all threads) from /proc. Admission control set to "
        f"rate={ADMISSION_RATE:.0e}/s, burst={ADMISSION_BURST} so that it never throttles.",
        "",
        f"### Connection set-up ({params.handshakes} connections, {params.handshake_concurrency} concurrent, "
        f"median of {params.handshake_reps})",
        "",
        "Cold: distinct stations, first connection, one scrypt check each (production parameters, in a worker "
        "thread). Warm: the same stations reconnecting (verified-password cache). Bare: `websockets` server "
        "without authentication. Connections stay open until all N are up (closing is not timed). Where the "
        "server CPU per connection is well below 1/rate, the single load-client process is the bottleneck "
        "and the CPU column is the better comparison.",
        "",
        "| server | scheme | run | connections/s | server CPU ms/conn | rate vs bare |",
        "|---|---|---|---:|---:|---:|",
    ]
    bare_rate = {row.scheme: median(row.rates) for row in handshakes if row.server == "bare"}
    for row in handshakes:
        rate = median(row.rates)
        lines.append(
            f"| {row.server} | {row.scheme} | {row.run} | {rate:,.0f} | {median(row.cpu_ms):.2f} | "
            f"{rate / bare_rate[row.scheme]:.2f} |"
        )
    count = memory[0].connections if memory else 0
    lines += [
        "",
        f"### Idle memory ({count:,} connected stations, ws, profile 1)",
        "",
        "Server VmRSS after a warm-up (200 connections opened, used and closed) vs after all stations are "
        f"connected and idle for {params.idle_settle:.0f} s, divided by the number of connections; then again "
        "after each station has made one Heartbeat CALL (what a real station does at once). One run each, a "
        "fresh server process per row. Goal: at most 30 KiB per connection without compression.",
        "",
        "| server | compression | RSS before (MiB) | RSS idle (MiB) | KiB/conn idle | KiB/conn after 1 call | goal |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in memory:
        idle = (row.idle_kib - row.before_kib) / row.connections
        after = (row.after_call_kib - row.before_kib) / row.connections
        goal = ("met" if idle <= 30 else "NOT met") if row.server == "ours" and not row.compression else ""
        lines.append(
            f"| {row.server} | {'on' if row.compression else 'off'} | {row.before_kib / 1024:.1f} | "
            f"{row.idle_kib / 1024:.1f} | {idle:.1f} | {after:.1f} | {goal} |"
        )
    ratio = median(ratios)
    lines += [
        "",
        f"### CALL -> CALLRESULT round trips ({params.rtt_connections} connections, closed loop, median of "
        f"{params.rtt_reps} runs of {params.rtt_duration:.0f} s)",
        "",
        'Lean raw `websockets` client sending pre-encoded `[2,"<id>","Heartbeat",{}]` text frames and matching '
        "the answer by id; ours answers with a HeartbeatResponse from a Router handler (2.0.1, full decode "
        "and validation of both directions), the bare server echoes the frame. Runs alternate between the "
        "two servers, after one discarded run against each. Compression off.",
        "",
        "| server | round trips/s | server CPU us/msg | client CPU us/msg | p50 latency (ms) | p99 latency (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in round_trips.values():
        lines.append(
            f"| {row.server} | {median(row.rates):,.0f} | {median(row.server_us):.1f} | "
            f"{median(row.client_us):.1f} | {median(row.p50_ms):.2f} | {median(row.p99_ms):.2f} |"
        )
    throughput = median(round_trips["bare"].rates) / median(round_trips["ours"].rates)
    lines += [
        "",
        f"Per-message server overhead ours/bare (server CPU per round trip, median of paired runs): "
        f"**{ratio:.2f}x** (goal at most 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}); throughput "
        f"bare/ours: {throughput:.2f}x.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace (or append) the "## Transport" section of RESULTS.md, leaving every other section alone."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## Transport[ \t]*\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(text, encoding="utf-8")


def orchestrate(args: argparse.Namespace) -> int:
    params = QUICK if args.quick else FULL
    command = ".venv/bin/python bench/transport.py" + "".join(
        f" {shlex.quote(argument)}" for argument in sys.argv[1:]
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as temporary:
        tls_dir = Path(temporary)
        make_certificates(tls_dir)
        log(f"event loop: {event_loop_name()}; connection set-up ...")
        handshakes = bench_handshakes(params, tls_dir)
        log("idle memory ...")
        memory = bench_memory(params, tls_dir)
        log("round trips ...")
        round_trips, ratios, profile_text = bench_round_trips(params, tls_dir, args.profile)
    section = render(params, command, handshakes, memory, round_trips, ratios)
    print(section)
    if profile_text:
        print("cProfile of our server during one extra round-trip run (profiling inflates Python calls):")
        print(profile_text)
    if not args.quick and not args.no_write:
        write_section(section)
        log(f"wrote the Transport section of {RESULTS}")
    log(f"total {time.monotonic() - started:.0f} s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (under a minute, prints only)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile our server during one extra round-trip run"
    )
    parser.add_argument("--role", choices=("orchestrator", "server", "client"), default="orchestrator")
    parser.add_argument("--kind", choices=("ours", "bare"), default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--compression", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tls-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        run_loop(server_main(args))
        return 0
    if args.role == "client":
        run_loop(client_main(args))
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
