"""Hostile clients against the CSMS (issue #13), with the protections off and on, in one run.

Three figures, each measured against a real CSMS (SQLite, its own process) on loopback while a legitimate
station keeps connecting:

1. **brute force**: ``--attempts`` wrong passwords for one registered station (8 at a time, from 127.0.0.2):
   how long, how many were really checked (a password hash computed), how they were answered, and whether
   the genuine station (verified before, from 127.0.0.1) still connects during the attack;
2. **enumeration**: ``--probes`` unknown identities and as many known ones with a wrong password, interleaved,
   each from its own loopback address: the status and body each group gets and their median / p90 time;
3. **flood**: a client without credentials opening handshakes for unknown identities as fast as it can
   (64 at a time, ``--flood-seconds``), once from one address and once spread over 200 loopback addresses,
   while the legitimate station connects 9 times: how many of its logins succeed.

"off" is the CSMS with every protection disabled by settings (no lockouts, no per-source failure budget, one
admission budget for everyone, 404 for unknown identities); "on" is the defaults. Loopback only; every phase
is bounded in time or count and the CSMS process is stopped at the end.

Run: ``.venv/bin/python bench/attack.py`` (about two minutes); ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as StopEvent
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
PASSWORD = "correct-horse-battery-staple-42"
OFF: dict[str, Any] = {
    "ocpp_lockout_station_failures": 0,
    "ocpp_lockout_source_failures": 0,
    "ocpp_source_failure_rate": 0.0,
    "ocpp_unknown_admission_rate": 0.0,
    "ocpp_uniform_auth_failures": False,
}
ON: dict[str, Any] = {}


# -- the CSMS in its own process ---------------------------------------------------------------------------


def _serve(overrides: dict[str, Any], database: str, ready: Any, stop: StopEvent) -> None:
    asyncio.run(_serve_async(overrides, database, ready, stop))


async def _serve_async(overrides: dict[str, Any], database: str, ready: Any, stop: StopEvent) -> None:
    from chargeplane.csms.app import Csms
    from chargeplane.csms.settings import CsmsSettings
    from chargeplane.transport.server import ServerSettings

    settings = CsmsSettings(
        database_url=f"sqlite+aiosqlite:///{database}",
        ocpp=ServerSettings(host=HOST, port=0, tls_port=None),
        api_host=HOST,
        api_port=0,
    ).with_overrides(overrides)
    app = Csms(settings)
    token = await app.start()
    ready.put((app.server.ports[0], app.api_port, token))
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    await app.stop(deadline=1.0)


@dataclass
class Target:
    ocpp_port: int
    api: httpx.AsyncClient

    def request(self, station_id: str, authorization: str | None) -> bytes:
        lines = [
            f"GET /ocpp/{station_id} HTTP/1.1",
            f"Host: {HOST}:{self.ocpp_port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: ocpp2.0.1",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def basic(station_id: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{station_id}:{password}".encode()).decode()


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer (connection refused or dropped)
    body: bytes
    seconds: float


async def handshake(target: Target, station_id: str, authorization: str | None, source: str) -> Answer:
    """One raw upgrade request; the status line and body of the answer, and how long it took."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, target.ocpp_port, local_addr=(source, 0)), 5
        )
    except (OSError, TimeoutError):
        return Answer(0, b"", time.perf_counter() - started)
    try:
        writer.write(target.request(station_id, authorization))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        elapsed = time.perf_counter() - started
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
        return Answer(status, body, elapsed)
    except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
        return Answer(0, b"", time.perf_counter() - started)
    finally:
        writer.close()


# -- phases -----------------------------------------------------------------------------------------------


@dataclass
class Figures:
    mode: str
    brute_force: dict[str, Any] = field(default_factory=dict)
    enumeration: dict[str, Any] = field(default_factory=dict)
    flood: dict[str, dict[str, Any]] = field(default_factory=dict)


async def guard_state(target: Target) -> dict[str, Any]:
    response = await target.api.get("/api/v1/security/lockouts")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


async def unlock_all(target: Target) -> None:
    for lockout in (await guard_state(target))["lockouts"]:
        await target.api.delete(f"/api/v1/security/lockouts/{lockout['kind']}/{lockout['key']}")


async def brute_force(target: Target, attempts: int) -> dict[str, Any]:
    """``attempts`` wrong passwords for BF1, 8 at a time, then the genuine station's login."""
    assert (await handshake(target, "BF1", basic("BF1", PASSWORD), HOST)).status == 101  # verified once
    before = await guard_state(target)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(attempts):
        queue.put_nowait(i)
    statuses: collections.Counter[int] = collections.Counter()

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            answer = await handshake(target, "BF1", basic("BF1", f"guess-{i:014d}"), "127.0.0.2")
            statuses[answer.status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(8)))
    duration = time.perf_counter() - started
    genuine = await handshake(target, "BF1", basic("BF1", PASSWORD), HOST)
    after = await guard_state(target)
    return {
        "attempts": attempts,
        "seconds": round(duration, 2),
        "statuses": dict(sorted(statuses.items())),
        "password_checks": after["failures"] - before["failures"],
        "refused_locked": after["refusedLocked"] - before["refusedLocked"],
        "refused_source": after["refusedSource"] - before["refusedSource"],
        "lockouts": [(lock["kind"], lock["key"], lock["failures"]) for lock in after["lockouts"]],
        "genuine_station_during_attack": genuine.status,
    }


async def enumeration(target: Target, probes: int) -> dict[str, Any]:
    """Known identities with a wrong password vs unknown identities, interleaved, one address per probe."""
    groups: dict[str, list[Answer]] = {"known": [], "unknown": []}
    for i in range(probes):
        for group, station_id in (("known", f"K{i}"), ("unknown", f"U{i}")):
            source = f"127.0.{2 + i // 200}.{10 + i % 200}"
            groups[group].append(await handshake(target, station_id, basic(station_id, "x" * 20), source))
    result: dict[str, Any] = {}
    for group, answers in groups.items():
        times = sorted(answer.seconds * 1000 for answer in answers)
        result[group] = {
            "statuses": dict(collections.Counter(answer.status for answer in answers)),
            "bodies": sorted({answer.body.decode(errors="replace").strip() for answer in answers}),
            "median_ms": round(statistics.median(times), 2),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2),
        }
    return result


async def flood(target: Target, seconds: float, sources: list[str]) -> dict[str, Any]:
    """Strangers without credentials on unknown identities for ``seconds``; the genuine station meanwhile."""
    statuses: collections.Counter[int] = collections.Counter()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def stranger(index: int) -> None:
        while time.monotonic() < deadline:
            n = next(counter)
            answer = await handshake(target, f"STRANGER{n}", None, sources[(index + n) % len(sources)])
            statuses[answer.status] += 1

    async def genuine() -> list[int]:
        outcomes = []
        await asyncio.sleep(seconds / 10)
        for _ in range(9):
            outcomes.append((await handshake(target, "LEGIT", basic("LEGIT", PASSWORD), HOST)).status)
            await asyncio.sleep(seconds / 12)
        return outcomes

    started = time.perf_counter()
    strangers = asyncio.gather(*(stranger(i) for i in range(64)))
    legit = await genuine()
    await strangers
    duration = time.perf_counter() - started
    return {
        "sources": len(sources),
        "handshakes_per_s": round(sum(statuses.values()) / duration),
        "stranger_statuses": dict(sorted(statuses.items())),
        "genuine_logins_ok": f"{legit.count(101)}/9",
        "genuine_statuses": legit,
    }


async def run_mode(mode: str, overrides: dict[str, Any], args: argparse.Namespace) -> Figures:
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    stop = context.Event()
    with tempfile.TemporaryDirectory() as directory:
        process = context.Process(
            target=_serve, args=(overrides, str(Path(directory) / "csms.db"), ready, stop), daemon=True
        )
        process.start()
        try:
            ocpp_port, api_port, token = await asyncio.get_running_loop().run_in_executor(
                None, lambda: ready.get(timeout=60)
            )
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=f"http://{HOST}:{api_port}", headers=headers, timeout=30
            ) as api:
                target = Target(ocpp_port, api)
                for station_id in ["BF1", "LEGIT", *(f"K{i}" for i in range(args.probes))]:
                    body = {"stationId": station_id, "password": PASSWORD}
                    (await api.post("/api/v1/stations", json=body)).raise_for_status()
                figures = Figures(mode)
                figures.brute_force = await brute_force(target, args.attempts)
                await unlock_all(target)
                figures.enumeration = await enumeration(target, args.probes)
                await unlock_all(target)
                for name, sources in (
                    ("one_address", ["127.0.0.2"]),
                    ("200_addresses", [f"127.0.9.{i}" for i in range(1, 201)]),
                ):
                    figures.flood[name] = await flood(target, args.flood_seconds, sources)
                    await unlock_all(target)
                    await asyncio.sleep(2)  # let the admission buckets refill between the two floods
                return figures
        finally:
            stop.set()
            process.join(timeout=15)
            if process.is_alive():
                process.kill()


def report(all_figures: list[Figures]) -> str:
    lines = ["| figure | protections off | protections on |", "|---|---|---|"]
    by_mode = {figures.mode: figures for figures in all_figures}
    off, on = by_mode.get("off"), by_mode.get("on")

    def row(label: str, pick: Any) -> None:
        cells = [str(pick(f)) if f is not None else "-" for f in (off, on)]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")

    row(
        "brute force: attempts / seconds",
        lambda f: f"{f.brute_force['attempts']} / {f.brute_force['seconds']}",
    )
    row("brute force: passwords really checked", lambda f: f.brute_force["password_checks"])
    row("brute force: answers", lambda f: f.brute_force["statuses"])
    row("brute force: genuine station meanwhile", lambda f: f.brute_force["genuine_station_during_attack"])
    for group in ("unknown", "known"):
        row(
            f"enumeration: {group} id (wrong password)",
            lambda f, g=group: (
                f"{f.enumeration[g]['statuses']} {f.enumeration[g]['bodies']} "
                f"median {f.enumeration[g]['median_ms']} ms, p90 {f.enumeration[g]['p90_ms']} ms"
            ),
        )
    for name in ("one_address", "200_addresses"):
        row(
            f"flood from {name.replace('_', ' ')}: handshakes/s",
            lambda f, n=name: f.flood[n]["handshakes_per_s"],
        )
        row(
            f"flood from {name.replace('_', ' ')}: answers", lambda f, n=name: f.flood[n]["stranger_statuses"]
        )
        row(
            f"flood from {name.replace('_', ' ')}: genuine logins OK",
            lambda f, n=name: f"{f.flood[n]['genuine_logins_ok']} {f.flood[n]['genuine_statuses']}",
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--flood-seconds", type=float, default=6.0)
    parser.add_argument("--modes", default="off,on")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for mode in args.modes.split(","):
        figures = await run_mode(mode, OFF if mode == "off" else ON, args)
        print(json.dumps(figures.__dict__, indent=1), flush=True)
        results.append(figures)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([figures.__dict__ for figures in results], indent=1))


if __name__ == "__main__":
    asyncio.run(main())
