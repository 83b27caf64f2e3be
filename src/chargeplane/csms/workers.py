"""``chargeplane serve --workers N``: N processes on one host, one cluster node each (issue #19).

The parent checks the settings, migrates the database and creates the first API token once (N workers
migrating one database at the same time would race), then starts N workers (``chargeplane serve ...
--worker-index I``) and supervises them. Each worker binds the OCPP and HTTP API ports with SO_REUSEPORT, so
the kernel spreads new connections over them, and joins the NATS cluster as node ``<node_id>-w<I>``: a
command or an event reaches the worker that holds the station as it would reach another host.

Supervision: SIGTERM or SIGINT is passed on to every worker, which stops gracefully (in-flight CALLs finish);
one that has not stopped after :data:`STOP_WITHIN` seconds is killed. A worker that dies on its own is logged
and started again after a back-off that doubles from :data:`FIRST_DELAY` up to :data:`MAX_DELAY` while it
keeps dying young, and starts afresh once it has run :data:`STEADY_AFTER` seconds. A worker that exits with
:data:`CONFIG_ERROR` refused its settings: starting it again would not help, so everything stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chargeplane.csms.settings import CsmsSettings

log = logging.getLogger(__name__)

CONFIG_ERROR = 2  # the exit code of a refused configuration, as argparse's
FIRST_DELAY = 0.5  # seconds before the first restart of a worker that died
MAX_DELAY = 30.0  # the longest back-off
STEADY_AFTER = 60.0  # a worker that ran this long before it died is restarted after FIRST_DELAY again
STOP_WITHIN = 30.0  # seconds the workers get to stop gracefully (their own deadline is 10 s)


def refusal(settings: CsmsSettings, workers: int) -> str | None:
    """Why these settings cannot run ``workers`` processes, or ``None``."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    if settings.database_url.startswith("sqlite"):
        return (
            f"--workers {workers} needs PostgreSQL (CHARGEPLANE_DATABASE_URL=postgresql+asyncpg://...): "
            "SQLite serves one process"
        )
    if not settings.nats_url:
        return (
            f"--workers {workers} joins the workers into a cluster: set CHARGEPLANE_NATS_URL "
            "(NATS with JetStream), see README 'Running several nodes'"
        )
    ocpp = settings.ocpp
    ports = [ocpp.port, settings.api_port] + ([ocpp.tls_port] if ocpp.tls is not None else [])
    if 0 in ports:
        return f"--workers {workers} needs fixed ports (the workers share them): port 0 is one per process"
    return None


def worker_settings(settings: CsmsSettings, index: int) -> CsmsSettings:
    """A worker's settings: its own node id, the ports shared."""
    return settings.with_overrides({"node_id": f"{settings.node_id}-w{index}", "ocpp_reuse_port": True})


async def prepare(settings: CsmsSettings) -> str | None:
    """Migrate the database and create the first API token, once for all workers; the token is returned
    when it was created now (to be shown once)."""
    from chargeplane.csms.api.tokens import TokenStore
    from chargeplane.csms.storage.engine import create_engine
    from chargeplane.csms.storage.migrate import migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        tokens = TokenStore(engine)
        await tokens.load()
        return await tokens.ensure_one()
    finally:
        await engine.dispose()


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restarts: int = 0


@dataclass
class Supervisor:
    """Runs ``command(index)`` for index 0..count-1 and keeps them running until :meth:`stop`."""

    command: Callable[[int], Sequence[str]]
    count: int
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY
    steady_after: float = STEADY_AFTER
    stop_within: float = STOP_WITHIN
    workers: list[_Worker] = field(init=False)
    _stopping: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.workers = [_Worker(index, delay=self.first_delay) for index in range(self.count)]

    def pids(self) -> list[int | None]:
        """The running workers' process ids (``None`` for one waiting to be restarted)."""
        return [
            w.process.pid if w.process is not None and w.process.returncode is None else None
            for w in self.workers
        ]

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        """Until :meth:`stop`: 0 after a graceful stop, :data:`CONFIG_ERROR` when a worker refused its
        settings."""
        code = 0
        watchers = [asyncio.create_task(self._keep(worker)) for worker in self.workers]
        try:
            done, _ = await asyncio.wait(
                [*watchers, asyncio.create_task(self._stopping.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                if task in watchers and task.result() == CONFIG_ERROR:
                    code = CONFIG_ERROR
        finally:
            self._stopping.set()
            await asyncio.gather(*watchers, return_exceptions=True)
        return code

    async def _spawn(self, worker: _Worker) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(*self.command(worker.index))
        worker.process = process
        worker.started = asyncio.get_running_loop().time()
        log.info("worker %d started (pid %d)", worker.index, process.pid)
        return process

    async def _keep(self, worker: _Worker) -> int:
        """Keep one worker running; returns when stopping (after the worker stopped), or the worker's exit
        code when it refused its settings."""
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            process = await self._spawn(worker)
            stopping = asyncio.create_task(self._stopping.wait())
            exited = asyncio.create_task(process.wait())
            await asyncio.wait([stopping, exited], return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                stopping.cancel()
                await self._terminate(worker, process, exited)
                return 0
            stopping.cancel()
            code = exited.result()
            if code == CONFIG_ERROR:
                log.error(
                    "worker %d (pid %d) refused its settings (exit code 2); stopping",
                    worker.index,
                    process.pid,
                )
                return code
            lived = loop.time() - worker.started
            if lived >= self.steady_after:
                worker.delay = self.first_delay
            worker.restarts += 1
            log.error(
                "worker %d (pid %d) exited with %s after %.1f s; restart %d in %.1f s",
                worker.index,
                process.pid,
                _describe(code),
                lived,
                worker.restarts,
                worker.delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), worker.delay)
            worker.delay = min(self.max_delay, worker.delay * 2)
        return 0

    async def _terminate(
        self, worker: _Worker, process: asyncio.subprocess.Process, exited: asyncio.Task[int]
    ) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(exited), self.stop_within)
        except TimeoutError:
            log.warning(
                "worker %d (pid %d) still running after %.0f s: killed",
                worker.index,
                process.pid,
                self.stop_within,
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await exited
        log.info("worker %d (pid %d) stopped (%s)", worker.index, process.pid, _describe(exited.result()))


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


async def watch_parent(parent: int, orphaned: asyncio.Event, interval: float = 1.0) -> None:
    """A worker whose supervisor died (killed: it could not pass a signal on) stops by itself: its parent
    is another process then."""
    while True:
        await asyncio.sleep(interval)
        if os.getppid() != parent:
            break
    log.error("the supervisor (pid %d) is gone: stopping", parent)
    orphaned.set()
