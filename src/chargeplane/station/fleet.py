"""A bounded fleet of simulated stations (``chargeplane simulate``): each one boots and runs charging
sessions (plug, card, charge, card, unplug) until the duration ends; the result is a JSON-ready summary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetSettings:
    url: str
    stations: int = 10
    versions: tuple[Version, ...] = (Version.V201,)
    duration_s: float = 60.0
    prefix: str = "SIM"
    password: str | None = None
    session_s: float = 20.0
    seed: int = 1


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class _Stats:
    sessions_started: int = 0
    sessions_completed: int = 0


async def _drive(
    runtime: StationRuntime, settings: FleetSettings, stats: _Stats, end: float, rng: random.Random
) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(runtime.accepted.wait(), timeout=max(0.1, end - loop.time()))
    number = 0
    while loop.time() < end:
        number += 1
        token = f"{runtime.settings.station_id[-8:]}T{number}"
        runtime.plug(1)
        runtime.present_token(token)
        stats.sessions_started += 1
        await asyncio.sleep(min(settings.session_s * rng.uniform(0.5, 1.5), max(0.0, end - loop.time())))
        runtime.present_token(token)
        runtime.unplug(1)
        stats.sessions_completed += 1
        await asyncio.sleep(min(rng.uniform(0.5, 2.0), max(0.0, end - loop.time())))


async def run_fleet(settings: FleetSettings) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rng = random.Random(settings.seed)
    rss_before = _rss_bytes()
    runtimes: list[StationRuntime] = []
    for index in range(settings.stations):
        version = settings.versions[index % len(settings.versions)]
        runtimes.append(
            StationRuntime(
                RuntimeSettings(
                    url=settings.url,
                    station_id=f"{settings.prefix}{index + 1:04d}",
                    version=version,
                    password=settings.password,
                    meter_tick_s=1.0,
                )
            )
        )
    rss_built = _rss_bytes()
    stats = _Stats()
    started = time.monotonic()
    end = loop.time() + settings.duration_s
    tasks = [asyncio.create_task(r.run()) for r in runtimes]
    drivers = [asyncio.create_task(_drive(r, settings, stats, end, rng)) for r in runtimes]
    await asyncio.gather(*drivers, return_exceptions=True)
    rss_running = _rss_bytes()
    connected = sum(1 for r in runtimes if r.connected.is_set())
    accepted = sum(1 for r in runtimes if r.core.registration.value == "Accepted")
    queued = sum(len(r.core.queue) for r in runtimes)
    for runtime in runtimes:
        await runtime.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    per_station = None
    if rss_before is not None and rss_running is not None and settings.stations:
        per_station = (rss_running - rss_before) // settings.stations
    return {
        "stations": settings.stations,
        "versions": [v.value for v in settings.versions],
        "duration_s": round(time.monotonic() - started, 1),
        "connected_at_end": connected,
        "accepted": accepted,
        "sessions_started": stats.sessions_started,
        "sessions_completed": stats.sessions_completed,
        "calls_sent": sum(r.calls_sent for r in runtimes),
        "calls_failed": sum(r.calls_failed for r in runtimes),
        "transaction_messages_still_queued": queued,
        "memory_bytes_per_station": per_station,
        "memory_bytes_per_station_idle": None
        if rss_before is None or rss_built is None or not settings.stations
        else (rss_built - rss_before) // settings.stations,
    }
