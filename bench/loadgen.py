"""Lean OCPP load generator for the end-to-end benchmarks (issue #6).

Drives N simulated stations against any OCPP-J CSMS over raw ``websockets`` connections. It is deliberately
cheap, so that on a 2-core machine the server under test and not the client is the bottleneck: no message
classes, no JSON encoder and no validation on the client side. Frames are pre-encoded templates (only the
message id, the seqNo, the timestamp and the register value are formatted in), and answers are matched to
their CALL by message id, read by slicing the frame (each station has one CALL outstanding, as OCPP-J
requires). A CALL from the CSMS is answered with a CALLERROR NotImplemented.

Every station first connects (retrying on HTTP 503 after ``Retry-After`` plus jitter, as stations do after an
outage), sends BootNotification (must be Accepted), and for the mixes with transactions a 2.x station sends a
TransactionEvent Started (seqNo 0) for its own transaction; then Updated events with seqNo 1, 2, ... each with
4 sampled values (energy register, power, current L1, voltage L1-N), so that a CSMS that persists
transactions stores real ones.

Message mixes (``--mix``):

=============  =====================================================================================
transaction    2.0.1 TransactionEvent Updated only
heartbeat      Heartbeat only
status         StatusNotification only
metervalues    1.6 MeterValues (4 sampled values) only; all stations speak 1.6
mixed          4 stations in 5 on 2.0.1 cycle TransactionEvent x6, Heartbeat, StatusNotification; every 5th
               station on 1.6 cycles MeterValues x6, Heartbeat, StatusNotification
=============  =====================================================================================

Subcommands (each prints JSON on stdout; progress on stderr):

- ``run``: closed loop (each station sends its next CALL as soon as the previous one is answered: maximum
  rate) or open loop (``--rate``: each station sends on a fixed schedule with a random phase; latency is
  measured from the *scheduled* send time, so a server that falls behind cannot hide it). After a warm-up,
  counts answers and latencies over ``--duration`` seconds; with ``--server-pid`` also the server's CPU time
  (utime+stime from /proc) over that window. Prints one JSON object: throughput, p50/p99/p99.9 latency, ...
- ``hold``: connects and boots N stations, sends one Heartbeat each, prints ``{"event": "ready", ...}``, then
  obeys JSON-line commands on stdin: ``{"cmd": "beat", "interval": s}`` (every station heartbeats every
  ``interval`` seconds, random phase), ``{"cmd": "stop"}`` (prints heartbeat statistics and exits).
- ``storm``: connects K stations (boot + one StatusNotification per EVSE) and L live ones, prints ready, waits
  for ``{"cmd": "go"}``; then the live stations send a TransactionEvent every 100 ms while all K stations drop
  their TCP connection at once and reconnect (boot, StatusNotification per EVSE). Prints the time until all
  are Accepted and online, how many handshakes were refused (503), and the live sessions' latency. The live
  stations run in a child process (``live``), so that the reconnecting thousands keeping this process's event
  loop busy do not count in the live latency.

With ``--password`` every station authenticates with HTTP Basic auth (security profile 1), its identity as
the user name. Run ``.venv/bin/python bench/loadgen.py run --help``. Loopback only. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from procstat import cpu_seconds
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

V201, V16 = "2.0.1", "1.6"

# -- pre-encoded frames ---------------------------------------------------------------------------------
# Placeholders: %(id)s message id, %(ts)s timestamp, %(seq)d seqNo, %(wh)d energy register, %(tx)s
# transaction id, %(sn)s serial number, %(evse)d EVSE id.

BOOT_201 = (
    '[2,"%(id)s","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"Bench",'
    '"vendorName":"Chargeplane","serialNumber":"%(sn)s","firmwareVersion":"1.0.0"}}]'
)
BOOT_16 = (
    '[2,"%(id)s","BootNotification",{"chargePointVendor":"Chargeplane","chargePointModel":"Bench",'
    '"chargePointSerialNumber":"%(sn)s","firmwareVersion":"1.0.0"}]'
)
HEARTBEAT = '[2,"%(id)s","Heartbeat",{}]'
STATUS_201 = (
    '[2,"%(id)s","StatusNotification",{"timestamp":"%(ts)s","connectorStatus":"Occupied",'
    '"evseId":%(evse)d,"connectorId":1}]'
)
STATUS_16 = (
    '[2,"%(id)s","StatusNotification",{"connectorId":%(evse)d,"errorCode":"NoError","status":"Charging",'
    '"timestamp":"%(ts)s"}]'
)
STARTED_201 = (
    '[2,"%(id)s","TransactionEvent",{"eventType":"Started","timestamp":"%(ts)s",'
    '"triggerReason":"CablePluggedIn","seqNo":0,"transactionInfo":{"transactionId":"%(tx)s",'
    '"chargingState":"EVConnected"},"evse":{"id":1,"connectorId":1}}]'
)


def _sampled_201(value: str, measurand: str, unit: str, phase: str = "") -> str:
    phase_field = f',"phase":"{phase}"' if phase else ""
    return (
        f'{{"value":{value},"context":"Sample.Periodic","measurand":"{measurand}"{phase_field},'
        f'"location":"Outlet","unitOfMeasure":{{"unit":"{unit}"}}}}'
    )


def _sampled_16(value: str, measurand: str, unit: str, phase: str = "") -> str:
    phase_field = f',"phase":"{phase}"' if phase else ""
    return (
        f'{{"value":"{value}","context":"Sample.Periodic","measurand":"{measurand}"{phase_field},'
        f'"location":"Outlet","unit":"{unit}"}}'
    )


def _samples(make: Callable[..., str]) -> str:
    return ",".join(
        (
            make("%(wh)d", "Energy.Active.Import.Register", "Wh"),
            make("10980.0", "Power.Active.Import", "W"),
            make("15.87", "Current.Import", "A", "L1"),
            make("229.6", "Voltage", "V", "L1-N"),
        )
    )


UPDATED_201 = (
    '[2,"%(id)s","TransactionEvent",{"eventType":"Updated","timestamp":"%(ts)s",'
    '"triggerReason":"MeterValuePeriodic","seqNo":%(seq)d,"offline":false,"transactionInfo":'
    '{"transactionId":"%(tx)s","chargingState":"Charging"},"evse":{"id":1,"connectorId":1},'
    '"meterValue":[{"timestamp":"%(ts)s","sampledValue":[' + _samples(_sampled_201) + "]}]}]"
)
METER_VALUES_16 = (
    '[2,"%(id)s","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"%(ts)s","sampledValue":['
    + _samples(_sampled_16)
    + "]}]}]"
)

# The per-version cycles of each mix: (label, template) pairs.
PATTERNS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "transaction": {V201: (("TransactionEvent", UPDATED_201),)},
    "heartbeat": {V201: (("Heartbeat", HEARTBEAT),)},
    "status": {V201: (("StatusNotification", STATUS_201),)},
    "metervalues": {V16: (("MeterValues16", METER_VALUES_16),)},
    "mixed": {
        V201: (("TransactionEvent", UPDATED_201),) * 6
        + (("Heartbeat", HEARTBEAT), ("StatusNotification", STATUS_201)),
        V16: (("MeterValues16", METER_VALUES_16),) * 6
        + (("Heartbeat", HEARTBEAT), ("StatusNotification", STATUS_16)),
    },
}


def version_of(mix: str, index: int) -> str:
    if mix == "metervalues":
        return V16
    if mix == "mixed" and index % 5 == 4:
        return V16
    return V201


class Clock:
    """An RFC 3339 UTC timestamp refreshed at most every 100 ms (formatting one per message costs more)."""

    def __init__(self) -> None:
        self._at = 0.0
        self._text = ""

    def now(self) -> str:
        wall = time.time()
        if wall - self._at >= 0.1:
            self._at = wall
            self._text = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}Z"
            )
        return self._text


CLOCK = Clock()


class CallFailed(Exception):
    pass


@dataclass
class Stats:
    refused: int = 0  # HTTP 503 (admission control)
    connect_errors: int = 0
    retried: int = (
        0  # bring-ups started again, as a station does: connection closed or boot answered in error
    )
    failures: int = 0  # CALLERROR or unexpected answer
    first_failure: str | None = None

    def fail(self, text: str) -> None:
        self.failures += 1
        if self.first_failure is None:
            self.first_failure = text[:300]


@dataclass(eq=False)
class Station:
    index: int
    station_id: str
    version: str
    run: str
    ws: ClientConnection | None = None
    counter: int = 0
    seq: int = 0
    wh: int = 15_000
    tx: str = ""
    step: int = 0
    sent_by_type: Counter[str] = field(default_factory=Counter)

    @property
    def subprotocol(self) -> Subprotocol:
        return Subprotocol(f"ocpp{self.version}")

    def frame(self, template: str, evse: int = 1) -> tuple[str, str]:
        self.counter += 1
        message_id = f"{self.index}.{self.counter}"
        if template is UPDATED_201:  # seqNo only counts TransactionEvents (E01.FR.07: no gaps)
            self.seq += 1
            self.wh += 7
        values = {
            "id": message_id,
            "ts": CLOCK.now(),
            "seq": self.seq,
            "wh": self.wh,
            "tx": self.tx,
            "sn": self.station_id,
            "evse": evse,
        }
        return template % values, message_id

    async def call(self, frame: str, message_id: str) -> str:
        """Send one CALL and return its answer (CALLRESULT or CALLERROR), answering CSMS CALLs meanwhile."""
        ws = self.ws
        assert ws is not None
        await ws.send(frame)
        while True:
            answer = await ws.recv()
            assert isinstance(answer, str)
            first = answer.index('"')
            answered_id = answer[first + 1 : answer.index('"', first + 1)]
            kind = answer[1] if answer[1] in "234" else answer.lstrip("[ \t\r\n")[0]
            if kind == "2":  # the CSMS asks something (TriggerMessage, GetBaseReport...): not implemented
                await ws.send(f'[4,"{answered_id}","NotImplemented","",{{}}]')
                continue
            if answered_id != message_id:
                raise CallFailed(f"answer to another message: {answer[:200]}")
            return answer


def ok(answer: str) -> bool:
    return answer[1] == "3"


# -- connecting -----------------------------------------------------------------------------------------


PASSWORD: str | None = None  # --password: every station sends HTTP Basic auth (security profile 1)


def authorization(station_id: str) -> dict[str, str]:
    if PASSWORD is None:
        return {}
    token = base64.b64encode(f"{station_id}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def open_connection(url: str, station: Station, stats: Stats, deadline: float) -> None:
    """Connect, retrying on 503 (after Retry-After plus up to 100% jitter) and on socket errors; no attempt
    starts after the deadline (a station still waiting for its turn then fails)."""
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{station.station_id} could not connect in time")
        try:
            station.ws = await connect(
                f"{url}/{station.station_id}",
                additional_headers=authorization(station.station_id),
                subprotocols=[station.subprotocol],
                compression=None,
                ping_interval=None,  # keepalive is the server's job here; keeps the client cheap
                max_size=1 << 20,
                open_timeout=30,
                close_timeout=1,
                user_agent_header=None,
            )
            return
        except InvalidStatus as exc:
            if exc.response.status_code != 503:
                raise
            stats.refused += 1
            retry_after = float(exc.response.headers.get("Retry-After", "1"))
            delay = retry_after * (1 + random.random())
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:  # as a station: retry
            stats.connect_errors += 1
            if stats.connect_errors == 1:
                print(f"loadgen: connect error {type(exc).__name__}: {exc}", file=sys.stderr)
            delay = 0.5 + random.random()
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"{station.station_id} could not connect in time")
        await asyncio.sleep(delay)


async def boot(station: Station, stats: Stats, evses: int = 0, transaction: bool = False) -> None:
    """BootNotification (must be Accepted), StatusNotification per EVSE, TransactionEvent Started."""
    answer = await station.call(*station.frame(BOOT_201 if station.version == V201 else BOOT_16))
    if not ok(answer) or '"Accepted"' not in answer:
        raise CallFailed(f"boot of {station.station_id} not accepted: {answer[:200]}")
    for evse in range(1, evses + 1):
        answer = await station.call(
            *station.frame(STATUS_201 if station.version == V201 else STATUS_16, evse)
        )
        if not ok(answer):
            raise CallFailed(f"StatusNotification refused: {answer[:200]}")
    if transaction and station.version == V201:
        station.tx = f"{station.run}-{station.index}"[:36]
        station.seq = -1  # Started is seqNo 0 (in the template); the first Updated is 1
        answer = await station.call(*station.frame(STARTED_201))
        if not ok(answer):
            raise CallFailed(f"TransactionEvent Started refused: {answer[:200]}")


async def bring_up(
    url: str,
    stations: list[Station],
    stats: Stats,
    *,
    concurrency: int,
    deadline: float,
    evses: int = 0,
    transaction: bool = False,
    heartbeat: bool = False,
) -> list[Station]:
    """Connect and boot stations (``concurrency`` at a time); returns those that made it before the deadline.

    ``url`` may list several servers, comma-separated (nodes of a cluster): station i goes to the i-th modulo."""
    urls = url.split(",")
    semaphore = asyncio.Semaphore(concurrency)
    up: list[Station] = []

    async def one(station: Station) -> None:
        async with semaphore:
            try:
                await open_connection(urls[station.index % len(urls)], station, stats, deadline)
                await boot(station, stats, evses, transaction)
                if heartbeat:
                    answer = await station.call(*station.frame(HEARTBEAT))
                    if not ok(answer):
                        raise CallFailed(answer[:200])
            except Exception as exc:
                stats.fail(f"{type(exc).__name__}: {exc}")
                return
            up.append(station)

    await asyncio.gather(*(one(station) for station in stations))
    return up


def make_stations(count: int, prefix: str, mix: str, start: int = 0) -> list[Station]:
    run = uuid.uuid4().hex[:8]
    return [
        Station(index, f"{prefix}{index}", version_of(mix, index), run)
        for index in range(start, start + count)
    ]


def drop(stations: list[Station]) -> None:
    """Abort every TCP connection at once (no closing handshake), as a power or network failure does."""
    for station in stations:
        if station.ws is not None:
            station.ws.transport.abort()
            station.ws = None


async def timed_call(
    station: Station, template: str, latencies: list[float], stats: Stats, label: str = ""
) -> bool:
    """One CALL, its latency recorded; False if the connection failed (the station's loop should end)."""
    sent = time.perf_counter()
    try:
        answer = await station.call(*station.frame(template))
    except Exception as exc:
        stats.fail(f"{label}{type(exc).__name__}: {exc}")
        return False
    latencies.append(time.perf_counter() - sent)
    if not ok(answer):
        stats.fail(answer)
    return True


# -- measurement helpers --------------------------------------------------------------------------------


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}
    ordered = sorted(latencies)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1e3

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999), "max_ms": ordered[-1] * 1e3}


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def log(text: str) -> None:
    print(f"loadgen: {text}", file=sys.stderr, flush=True)


_background: set[asyncio.Task[None]] = set()


async def read_commands() -> asyncio.Queue[dict[str, Any]]:
    """JSON-line commands from stdin into a queue (EOF: ``stop``)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    commands: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        while True:
            line = await reader.readline()
            if not line:
                await commands.put({"cmd": "stop"})
                return
            await commands.put(json.loads(line))

    _background.add(asyncio.get_running_loop().create_task(pump()))  # a strong reference: no GC mid-read
    return commands


# -- run: closed / open loop ----------------------------------------------------------------------------


async def cmd_run(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    stations = make_stations(args.stations, args.prefix, args.mix)
    started = time.monotonic()
    up = await bring_up(
        args.url,
        stations,
        stats,
        concurrency=args.connect_concurrency,
        deadline=started + args.connect_timeout,
        transaction=args.mix in ("transaction", "mixed"),
    )
    connect_s = time.monotonic() - started
    log(f"{len(up)}/{len(stations)} stations up in {connect_s:.1f} s ({stats.refused} refused)")
    if not up:
        return {"error": stats.first_failure or "no station connected", "connected": 0}

    patterns = PATTERNS[args.mix]
    latencies: list[float] = []
    done_by_type: Counter[str] = Counter()
    recording = False
    stopping = False
    perf_counter = time.perf_counter
    period = len(up) / args.rate if args.rate else 0.0

    async def worker(station: Station) -> None:
        pattern = patterns[station.version]
        step = station.index % len(pattern)
        scheduled = perf_counter() + random.random() * period
        while not stopping:
            label, template = pattern[step % len(pattern)]
            step += 1
            frame, message_id = station.frame(template)
            if period:
                scheduled += period
                delay = scheduled - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                    if stopping:
                        return
                sent = scheduled
            else:
                sent = perf_counter()
            try:
                answer = await station.call(frame, message_id)
            except Exception as exc:
                stats.fail(f"{type(exc).__name__}: {exc}")
                return
            if recording:
                latencies.append(perf_counter() - sent)
                done_by_type[label] += 1
                if not ok(answer):
                    stats.fail(answer)

    tasks = [asyncio.create_task(worker(station)) for station in up]
    await asyncio.sleep(args.warmup)
    recording = True
    server_cpu_0 = cpu_seconds(args.server_pid) if args.server_pid else 0.0
    client_cpu_0 = own_cpu()
    window_0 = perf_counter()
    await asyncio.sleep(args.duration)
    recording = False
    elapsed = perf_counter() - window_0
    server_cpu = cpu_seconds(args.server_pid) - server_cpu_0 if args.server_pid else None
    client_cpu = own_cpu() - client_cpu_0
    stopping = True
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    drop(up)
    count = sum(done_by_type.values())
    result: dict[str, Any] = {
        "mode": "open" if args.rate else "closed",
        "mix": args.mix,
        "stations": args.stations,
        "connected": len(up),
        "connect_s": connect_s,
        "target_rate": args.rate,
        "duration_s": elapsed,
        "messages": count,
        "rate": count / elapsed,
        "by_type": dict(done_by_type),
        "failures": stats.failures,
        "first_failure": stats.first_failure,
        "refused": stats.refused,
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_msg": server_cpu / count * 1e6 if server_cpu is not None and count else None,
        "client_cpu_us_per_msg": client_cpu / count * 1e6 if count else None,
        **percentiles(latencies),
    }
    return result


# -- hold: many idle stations ---------------------------------------------------------------------------


async def cmd_hold(args: argparse.Namespace) -> dict[str, Any]:
    commands = await read_commands()
    stats = Stats()
    stations = make_stations(args.stations, args.prefix, "heartbeat")
    started = time.monotonic()
    up = await bring_up(
        args.url,
        stations,
        stats,
        concurrency=args.connect_concurrency,
        deadline=started + args.connect_timeout,
        heartbeat=True,
    )
    emit(
        {
            "event": "ready",
            "connected": len(up),
            "elapsed_s": time.monotonic() - started,
            "refused": stats.refused,
            "failures": stats.failures,
            "first_failure": stats.first_failure,
        }
    )
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []

    async def beat(station: Station, interval: float) -> None:
        await asyncio.sleep(random.random() * interval)
        while True:
            if not await timed_call(station, HEARTBEAT, latencies, stats):
                return
            await asyncio.sleep(interval)

    while True:
        command = await commands.get()
        if command["cmd"] == "beat":
            tasks = [asyncio.create_task(beat(station, command["interval"])) for station in up]
            emit({"event": "beating"})
        elif command["cmd"] == "stop":
            break
    for task in tasks:
        task.cancel()
    drop(up)
    return {
        "event": "done",
        "heartbeats": len(latencies),
        "failures": stats.failures,
        **percentiles(latencies),
    }


# -- storm: drop and reconnect at once ------------------------------------------------------------------


async def cmd_live(args: argparse.Namespace) -> dict[str, Any]:
    """The live sessions of a storm, in a process of their own (started by ``storm``): the storm's thousands of
    reconnecting stations busy the load client's own event loop, which would otherwise count in the live
    latency. Brings its stations up (transaction started), prints ready; on ``go`` each sends a
    TransactionEvent every 100 ms until ``stop``, then prints the latencies."""
    commands = await read_commands()
    stats = Stats()
    live = make_stations(args.stations, args.prefix, "transaction", start=args.start)
    deadline = time.monotonic() + args.connect_timeout
    up = await bring_up(
        args.url, live, stats, concurrency=args.connect_concurrency, deadline=deadline, transaction=True
    )
    emit(
        {"event": "ready", "live": len(up), "failures": stats.failures, "first_failure": stats.first_failure}
    )
    while (await commands.get())["cmd"] != "go":
        pass
    latencies: list[float] = []
    sessions = [asyncio.create_task(live_session(station, latencies, stats)) for station in up]
    while (await commands.get())["cmd"] != "stop":
        pass
    for session in sessions:
        session.cancel()
    await asyncio.gather(*sessions, return_exceptions=True)
    drop(up)
    return {
        "event": "done",
        "calls": len(latencies),
        "failures": stats.failures,
        "first_failure": stats.first_failure,
        **percentiles(latencies),
    }


async def live_session(station: Station, latencies: list[float], stats: Stats) -> None:
    """A TransactionEvent every 100 ms (from one send to the next), each latency recorded."""
    while True:
        sent = time.perf_counter()
        if not await timed_call(station, UPDATED_201, latencies, stats, "live: "):
            return
        await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - sent)))


class LiveProcess:
    """``loadgen.py live`` as a child process driven with JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, args: argparse.Namespace) -> LiveProcess:
        argv = [sys.executable, __file__, "live", "--url", args.url, "--stations", str(args.live)]
        argv += ["--prefix", args.prefix + "live-", "--start", str(args.stations)]
        argv += ["--connect-timeout", str(args.connect_timeout)]
        if PASSWORD is not None:
            argv += ["--password", PASSWORD]
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        return cls(process)

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"live sessions' process exited ({await self.process.wait()})")
        message: dict[str, Any] = json.loads(line)
        return message

    async def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": command}).encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def cmd_storm(args: argparse.Namespace) -> dict[str, Any]:
    commands = await read_commands()
    stats = Stats()
    stations = make_stations(args.stations, args.prefix, "heartbeat")
    started = time.monotonic()
    deadline = started + args.connect_timeout
    live = await LiveProcess.start(args)  # first: a few, and the storm means nothing without them
    try:
        return await _storm(args, commands, stats, stations, live, started, deadline)
    finally:
        await live.close()


async def _storm(
    args: argparse.Namespace,
    commands: asyncio.Queue[dict[str, Any]],
    stats: Stats,
    stations: list[Station],
    live: LiveProcess,
    started: float,
    deadline: float,
) -> dict[str, Any]:
    live_ready = await live.read()
    up = await bring_up(
        args.url, stations, stats, concurrency=args.connect_concurrency, deadline=deadline, evses=args.evses
    )
    emit(
        {
            "event": "ready",
            "connected": len(up),
            "live": live_ready["live"],
            "elapsed_s": time.monotonic() - started,
            "refused": stats.refused,
            "failures": stats.failures + live_ready["failures"],
            "first_failure": stats.first_failure or live_ready["first_failure"],
        }
    )
    while (await commands.get())["cmd"] != "go":
        pass

    storm_stats = Stats()
    online_at: list[float] = []
    await live.send("go")
    await asyncio.sleep(0.5)  # live latency before the storm is part of the sample
    t0 = time.monotonic()
    drop(up)

    async def reconnect(station: Station) -> None:
        deadline = t0 + args.storm_timeout
        while True:
            try:
                await open_connection(args.url, station, storm_stats, deadline)
                await boot(station, storm_stats, args.evses)
                break
            except (ConnectionClosed, CallFailed) as exc:
                # A real station reconnects after a close (1013 try again later, ...) and boots again after a
                # CALLERROR; counted apart from failures.
                if station.ws is not None:
                    station.ws.transport.abort()
                if time.monotonic() + 2.0 > deadline:
                    storm_stats.fail(f"{type(exc).__name__}: {exc}")
                    return
                storm_stats.retried += 1
                await asyncio.sleep(1.0 + random.random())
            except Exception as exc:
                storm_stats.fail(f"{type(exc).__name__}: {exc}")
                return
        online_at.append(time.monotonic() - t0)

    await asyncio.gather(*(reconnect(station) for station in up))
    total = time.monotonic() - t0
    await asyncio.sleep(0.5)
    await live.send("stop")
    lived = await live.read()
    drop(up)
    online_at.sort()
    return {
        "event": "done",
        "stations": len(up),
        "online": len(online_at),
        "all_online_s": total if len(online_at) == len(up) else None,
        "half_online_s": online_at[len(online_at) // 2] if online_at else None,
        "refused": storm_stats.refused,
        "connect_errors": storm_stats.connect_errors,
        "retried": storm_stats.retried,
        "failures": storm_stats.failures,
        "first_failure": storm_stats.first_failure,
        "live_calls": lived["calls"],
        "live_failures": lived["failures"],
        **{f"live_{key}": lived[key] for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms")},
    }


# -- command line ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        required=True,
        help="e.g. ws://127.0.0.1:9000/ocpp (station id appended); run: several comma-separated, round-robin",
    )
    common.add_argument("--stations", type=int, default=100)
    common.add_argument("--prefix", default="lg-", help="station id prefix (unique per run)")
    common.add_argument("--connect-concurrency", type=int, default=200)
    common.add_argument("--connect-timeout", type=float, default=120.0, help="seconds to bring stations up")
    common.add_argument("--password", help="HTTP Basic auth password of every station (profile 1)")
    run = commands.add_parser("run", parents=[common], help="closed or open loop load")
    run.add_argument("--mix", choices=sorted(PATTERNS), default="transaction")
    run.add_argument("--rate", type=float, default=0.0, help="open loop at this total rate (0: closed loop)")
    run.add_argument("--warmup", type=float, default=2.0)
    run.add_argument("--duration", type=float, default=5.0)
    run.add_argument("--server-pid", type=int, help="report this process's CPU time over the window")
    commands.add_parser("hold", parents=[common], help="many idle stations, controlled on stdin")
    storm = commands.add_parser("storm", parents=[common], help="reconnection storm, controlled on stdin")
    storm.add_argument("--evses", type=int, default=2)
    storm.add_argument("--live", type=int, default=5)
    storm.add_argument("--storm-timeout", type=float, default=180.0)
    live = commands.add_parser("live", parents=[common], help="a storm's live sessions (started by storm)")
    live.add_argument("--start", type=int, default=0, help="index of the first station")
    args = parser.parse_args()
    global PASSWORD
    PASSWORD = args.password
    handler = {"run": cmd_run, "hold": cmd_hold, "storm": cmd_storm, "live": cmd_live}[args.command]
    with contextlib.suppress(KeyboardInterrupt):
        emit(asyncio.run(handler(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
