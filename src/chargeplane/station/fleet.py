"""A bounded fleet of simulated stations (``chargeplane simulate``): stations connect at a bounded rate,
boot, heartbeat, and some run charging sessions (plug, card, charge, card, unplug) until the duration ends;
the result is a JSON-ready summary.

Names: station ``n`` (from 1) is ``<prefix><n:04d>`` (SIM0001, ...); its card is ``CARD-<station id>``
(CARD-SIM0001, type ISO14443), or, with ``token``, one card shared by every station. A CSMS that knows
neither the stations nor the cards refuses them: register both first (``chargeplane simulate --register``,
or :func:`station_ids` and :func:`cards` through the CSMS's own means).

A session counts once the CSMS accepted its transaction (the start answered, its token Accepted), and
completes when the end is answered too; an EV arrival whose card was refused is an arrival, not a session.

Theory of operation
-------------------
Every station is a :class:`~chargeplane.station.runtime.StationRuntime` (one task each: its connection);
all of them share one SQLite connection (:class:`~chargeplane.station.runtime.SqliteFleetStore`) and one
:class:`~chargeplane.station.runtime.CallStats`. The EV arrivals of the whole fleet are one heap of timed
events driven by a single task: a station waits an exponentially distributed idle time (mean ``idle_s``),
then a session of about ``session_s`` seconds, and so on; ``charging_share`` of the stations take part,
the others stay idle (boot, status, heartbeats).

The end is orderly, so that what the summary counts as failed really failed: when the duration is over no
session starts any more, the running ones end (card, unplug), and the fleet waits up to ``drain_s`` for
every answer and every queued transaction message before it closes the connections. A CALL that still
goes unanswered then is counted in ``calls_lost_at_stop``, apart from the errors of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import (
    CallStats,
    LatencyHistogram,
    RuntimeSettings,
    SqliteFleetStore,
    StationRuntime,
)
from chargeplane.transport.backoff import BackOffSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetSettings:
    url: str
    stations: int = 10
    versions: tuple[Version, ...] = (Version.V201,)
    duration_s: float = 60.0  # activity, from the moment every station had its chance to connect
    prefix: str = "SIM"
    token: str | None = None  # one card for every station; None: each its own, CARD-<station id>
    password: str | None = None
    session_s: float = 20.0  # mean session length (uniform 0.5x to 1.5x)
    idle_s: float = 1.25  # mean time between sessions of a charging station (exponential)
    charging_share: float = 1.0  # the share of stations that run sessions at all
    meter_interval_s: int | None = None  # SampledDataCtrlr.TxUpdatedInterval / MeterValueSampleInterval
    connect_rate: float = 500.0  # new connections per second
    connect_wait_s: float = 60.0  # how long to wait for every station to be accepted
    drain_s: float = 30.0  # how long the end waits for outstanding answers and queued messages
    ping_interval: float | None = None  # station-side WebSocket pings (the CSMS pings anyway)
    database: str | Path = ":memory:"  # one SQLite database for the fleet's device models and queues
    manufacturer_roots: tuple[
        str, ...
    ] = ()  # PEM: every station's factory ManufacturerRootCertificates (L01)
    seed: int = 1
    progress: Callable[[str], None] | None = None  # gets a one-line status every progress_interval_s
    progress_interval_s: float = 2.0


def rss_bytes() -> int | None:
    """The resident set size of this process now."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def station_ids(settings: FleetSettings) -> list[str]:
    return [f"{settings.prefix}{index + 1:04d}" for index in range(settings.stations)]


def card_of(station_id: str, settings: FleetSettings) -> str:
    return settings.token if settings.token is not None else f"CARD-{station_id}"


def cards(settings: FleetSettings) -> list[str]:
    """Every card the fleet presents (one when shared)."""
    return sorted({card_of(station_id, settings) for station_id in station_ids(settings)})


@dataclass
class _Stats:
    arrivals: int = 0  # an EV plugged in and a card presented
    sessions_cut_short: int = 0  # no transaction when the EV left (card refused, or the answers late)


class _Sessions:
    """The EV arrivals of the fleet: one heap of (when, station index, start or end), one task."""

    def __init__(
        self, runtimes: list[StationRuntime], settings: FleetSettings, rng: random.Random, stats: _Stats
    ) -> None:
        self.runtimes = runtimes
        self.settings = settings
        self.rng = rng
        self.stats = stats
        self.heap: list[tuple[float, int, bool]] = []
        self.charging: set[int] = set()  # stations in a session

    def schedule(self, now: float, indexes: list[int]) -> None:
        """Start in the steady state: a station is in a session with probability session / (session +
        idle) (those start within the first second), the others arrive within one idle time."""
        session, idle = self.settings.session_s, self.settings.idle_s
        in_session = session / (session + idle) if session + idle > 0 else 1.0
        for index in indexes:
            if self.rng.random() < in_session:
                heapq.heappush(self.heap, (now + self.rng.uniform(0.0, 1.0), index, True))
            else:
                heapq.heappush(self.heap, (now + self.rng.uniform(0.0, idle), index, True))

    def _idle(self) -> float:
        return self.rng.expovariate(1.0 / self.settings.idle_s) if self.settings.idle_s > 0 else 0.0

    async def run(self, end: float) -> None:
        loop = asyncio.get_running_loop()
        while self.heap:
            when = self.heap[0][0]
            if when >= end:
                break
            if when > loop.time():
                await asyncio.sleep(min(when, end) - loop.time())
                continue
            _, index, start = heapq.heappop(self.heap)
            runtime = self.runtimes[index]
            if start:
                if not runtime.accepted.is_set():
                    heapq.heappush(self.heap, (when + 1.0, index, True))  # try again later
                    continue
                self._start(index, runtime)
                length = self.settings.session_s * self.rng.uniform(0.5, 1.5)
                heapq.heappush(self.heap, (when + length, index, False))
            else:
                self._end(index, runtime)
                heapq.heappush(self.heap, (loop.time() + self._idle(), index, True))
        if loop.time() < end:
            await asyncio.sleep(end - loop.time())

    def _start(self, index: int, runtime: StationRuntime) -> None:
        self.charging.add(index)
        runtime.plug(1)
        runtime.present_token(card_of(runtime.settings.station_id, self.settings))
        self.stats.arrivals += 1

    def _end(self, index: int, runtime: StationRuntime) -> None:
        if index not in self.charging:
            return
        self.charging.discard(index)
        if runtime.core.evses[1].tx is None:
            self.stats.sessions_cut_short += 1
        runtime.present_token(card_of(runtime.settings.station_id, self.settings))
        runtime.unplug(1)

    def end_all(self) -> None:
        for index in list(self.charging):
            self._end(index, self.runtimes[index])


async def _wait_until(done: Callable[[], bool], within: float, interval: float = 0.1) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if done() or loop.time() >= deadline:
            return
        await asyncio.sleep(interval)


async def _report_progress(
    settings: FleetSettings, runtimes: list[StationRuntime], stats: _Stats, calls: CallStats, started: float
) -> None:
    """The live progress line of ``chargeplane simulate``."""
    assert settings.progress is not None
    while True:
        await asyncio.sleep(settings.progress_interval_s)
        online = sum(1 for r in runtimes if r.connected.is_set())
        accepted = sum(1 for r in runtimes if r.accepted.is_set())
        settings.progress(
            f"{time.monotonic() - started:6.0f}s  online {online}/{len(runtimes)}  accepted {accepted}"
            f"  EVs {stats.arrivals}  sessions {calls.sessions_started} started / {calls.sessions_completed}"
            f" completed  calls {calls.sent} sent / {calls.answered} answered"
            f"  refused {calls.rejected}  errors {calls.errors}  timeouts {calls.timeouts}"
        )


async def run_fleet(settings: FleetSettings) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rng = random.Random(settings.seed)
    rss_before = rss_bytes()
    store = SqliteFleetStore(settings.database)
    calls = CallStats()
    variables: dict[tuple[str, str, str | None], str] = {}
    if settings.meter_interval_s is not None:
        variables[("SampledDataCtrlr", "TxUpdatedInterval", None)] = str(settings.meter_interval_s)
    backoff = BackOffSettings(3.0, 2.0, 5)
    runtimes: list[StationRuntime] = []
    for index, station_id in enumerate(station_ids(settings)):
        runtimes.append(
            StationRuntime(
                RuntimeSettings(
                    url=settings.url,
                    station_id=station_id,
                    version=settings.versions[index % len(settings.versions)],
                    password=settings.password,
                    meter_tick_s=1.0,
                    backoff=backoff,
                    variables=variables,
                    ping_interval=settings.ping_interval,
                    manufacturer_roots=settings.manufacturer_roots,
                ),
                storage=store.station(station_id),
                stats=calls,
            )
        )
    rss_built = rss_bytes()
    stats = _Stats()
    started = time.monotonic()
    reporter = (
        asyncio.create_task(_report_progress(settings, runtimes, stats, calls, started))
        if settings.progress is not None
        else None
    )

    # Connect at a bounded rate (a CSMS admits so many connections per second), then wait for the boots.
    tasks: list[asyncio.Task[None]] = []
    step = 1.0 / settings.connect_rate if settings.connect_rate > 0 else 0.0
    for index, runtime in enumerate(runtimes):
        tasks.append(asyncio.create_task(runtime.run()))
        if step and index % 10 == 9:
            await asyncio.sleep(10 * step)
    await _wait_until(lambda: all(r.accepted.is_set() for r in runtimes), settings.connect_wait_s)
    connect_s = time.monotonic() - started
    accepted_after_connect = sum(1 for r in runtimes if r.accepted.is_set())

    # Activity.
    activity_started = loop.time()
    cpu_activity = _cpu_s()
    sent_activity, answered_activity = calls.sent, calls.answered
    connect_latency, calls.latency = calls.latency, LatencyHistogram()  # the boot burst apart
    end = activity_started + settings.duration_s
    sessions = _Sessions(runtimes, settings, rng, stats)
    share = max(0.0, min(1.0, settings.charging_share))
    chosen = sorted(rng.sample(range(len(runtimes)), round(share * len(runtimes))))
    sessions.schedule(activity_started, chosen)
    await sessions.run(end)
    rss_running = rss_bytes()
    cpu_used = _cpu_s() - cpu_activity
    active_s = loop.time() - activity_started
    sent_in_activity = calls.sent - sent_activity
    answered_in_activity = calls.answered - answered_activity
    connected = sum(1 for r in runtimes if r.connected.is_set())
    accepted = sum(1 for r in runtimes if r.core.registration.value == "Accepted")

    # Orderly end: finish the sessions, wait for the answers and the queues, then close.
    sessions.end_all()
    await _wait_until(lambda: not any(r.busy for r in runtimes), settings.drain_s)
    for runtime in runtimes:
        runtime.quiesce()  # no heartbeat may slip out between the drain and the stop
    await _wait_until(lambda: not any(r.in_flight for r in runtimes), 5.0)
    queued = sum(len(r.core.queue) for r in runtimes)
    # The counts of the summary, all taken now: sent == answered + failed + in flight (lost at stop).
    sent, answered, failed, errors, timeouts = (
        calls.sent,
        calls.answered,
        calls.failed + calls.abandoned,
        calls.errors,
        calls.timeouts,
    )
    sessions_started, sessions_completed = calls.sessions_started, calls.sessions_completed
    in_flight = sum(r.in_flight for r in runtimes)
    await asyncio.gather(*(r.stop() for r in runtimes), return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)
    store.close()
    if reporter is not None:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter

    def per_station(after: int | None) -> int | None:
        if rss_before is None or after is None or not settings.stations:
            return None
        return (after - rss_before) // settings.stations

    def ms(histogram: LatencyHistogram) -> dict[str, float | None]:
        def at(fraction: float) -> float | None:
            value = histogram.percentile(fraction)
            return None if value is None else round(value * 1000, 1)

        return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)}

    return {
        "stations": settings.stations,
        "versions": [v.value for v in settings.versions],
        "connect_s": round(connect_s, 1),
        "accepted_after_connect": accepted_after_connect,
        "activity_s": round(active_s, 1),
        "duration_s": round(time.monotonic() - started, 1),
        "connected_at_end": connected,
        "accepted": accepted,
        "cards": "shared" if settings.token is not None else "one per station",
        "ev_arrivals": stats.arrivals,
        "sessions_started": sessions_started,
        "sessions_completed": sessions_completed,
        "sessions_cut_short": stats.sessions_cut_short,
        "transactions_started": calls.transactions_started,
        "transactions_ended": calls.transactions_ended,
        "calls_sent": sent,
        "calls_answered": answered,
        "calls_failed": failed,
        "calls_lost_at_stop": in_flight,
        "calls_sent_during_activity": sent_in_activity,
        "calls_answered_during_activity": answered_in_activity,
        "calls_per_s_during_activity": round(sent_in_activity / active_s, 1) if active_s > 0 else None,
        "answers_per_s_during_activity": round(answered_in_activity / active_s, 1) if active_s > 0 else None,
        "calls_by_action": dict(sorted(calls.by_action.items())),
        "calls_refused_by_action": dict(sorted(calls.refused_by_action.items())),
        "call_errors": errors,
        "call_timeouts": timeouts,
        "calls_rejected": calls.rejected,
        "connection_lost_during_run": failed - errors - timeouts,
        "transaction_messages_still_queued": queued,
        "latency_ms": ms(calls.latency),  # from the start of the activity to the stop
        "latency_ms_connecting": ms(connect_latency),  # boots and first statuses
        "cpu_s_during_activity": round(cpu_used, 2),
        "cpu_share_during_activity": round(cpu_used / active_s, 3) if active_s > 0 else None,
        "rss_bytes_before": rss_before,
        "rss_bytes_running": rss_running,
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "memory_bytes_per_station": per_station(rss_running),
        "memory_bytes_per_station_idle": per_station(rss_built),
    }
