"""``serve --workers N``: the settings it refuses, and the supervisor (restart with back-off, stop)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chargeplane.cli import main
from chargeplane.csms.settings import CsmsSettings
from chargeplane.csms.workers import CONFIG_ERROR, Supervisor, refusal, worker_settings
from tests.csms.cluster.processes import free_port

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """main() routes the root logger to this test's captured stderr: put the handlers back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--database-url", "sqlite+aiosqlite:///x.db"], "needs PostgreSQL"),
        (["--database-url", PG], "set CHARGEPLANE_NATS_URL"),
        (["--database-url", PG, "--api-port", "0"], "needs fixed ports"),
    ],
)
def test_serve_refuses_workers_it_cannot_run(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("CHARGEPLANE_")]:
        monkeypatch.delenv(name)
    if "--api-port" in argv:
        monkeypatch.setenv("CHARGEPLANE_NATS_URL", "nats://127.0.0.1:4222")
    assert main(["serve", "--workers", "2", *argv]) == CONFIG_ERROR
    assert reason in capsys.readouterr().err


@pytest.mark.usefixtures("restored_logging")
def test_serve_workers_without_a_database_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARGEPLANE_NATS_URL", "nats://127.0.0.1:4222")
    closed = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # port 1: refused at once
    ports = [str(free_port()), str(free_port())]
    argv = [
        "serve",
        "--workers",
        "2",
        "--database-url",
        closed,
        "--ocpp-port",
        ports[0],
        "--api-port",
        ports[1],
    ]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("chargeplane serve: database: ")
    assert "Traceback" not in error


def test_refusal_and_worker_settings() -> None:
    sqlite = CsmsSettings()
    assert refusal(sqlite, 1) is None  # one process: today's default, nothing needed
    assert refusal(sqlite, 0) == "--workers must be at least 1"
    cluster = CsmsSettings(database_url=PG, nats_url="nats://127.0.0.1:4222", node_id="east")
    assert refusal(cluster, 3) is None
    assert "fixed ports" in (refusal(cluster.with_overrides({"ocpp_port": 0}), 2) or "")
    worker = worker_settings(cluster, 2)
    assert worker.node_id == "east-w2"
    assert worker.ocpp.reuse_port
    assert not cluster.ocpp.reuse_port


def _sleeper(marker: Path) -> Callable[[int], list[str]]:
    """A worker that writes its pid to ``marker/<index>.<pid>`` and sleeps until SIGTERM (then exits 0)."""
    code = (
        "import os, signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        f"pathlib.Path({str(marker)!r}, sys.argv[1] + '.' + str(os.getpid())).touch()\n"
        "time.sleep(60)\n"
    )
    return lambda index: [sys.executable, "-c", code, str(index)]


def _started(marker: Path, index: int) -> int:
    return len(list(marker.glob(f"{index}.*")))


async def test_supervisor_restarts_a_dead_worker_with_back_off_and_stops_all(tmp_path: Path) -> None:
    supervisor = Supervisor(_sleeper(tmp_path), 2, first_delay=0.05, steady_after=60.0, stop_within=10.0)
    running = asyncio.create_task(supervisor.run())
    await until(lambda: len(list(tmp_path.iterdir())) == 2 and None not in supervisor.pids())
    first = supervisor.pids()
    victim = first[0]
    assert victim is not None
    for round_ in (1, 2):  # it died young twice: the second back-off is twice the first
        os.kill(victim, signal.SIGKILL)
        dead = victim

        def replaced(dead: int = dead) -> bool:
            return supervisor.pids()[0] not in (None, dead)

        await until(replaced)
        victim = supervisor.pids()[0]
        assert victim is not None
        assert supervisor.workers[0].restarts == round_
        await until((tmp_path / f"0.{victim}").exists)  # up (its SIGTERM handler set)
    assert supervisor.workers[0].delay == pytest.approx(0.2)  # 0.05, 0.1, then 0.2 for a next death
    assert supervisor.pids()[1] == first[1]  # the other worker was left alone
    assert _started(tmp_path, 0) == 3

    supervisor.stop()
    assert await asyncio.wait_for(running, 10) == 0
    assert supervisor.pids() == [None, None]
    assert all(w.process is not None and w.process.returncode == 0 for w in supervisor.workers)  # SIGTERM


async def test_supervisor_stops_when_a_worker_refuses_its_settings() -> None:
    def command(index: int) -> list[str]:
        exit_code = CONFIG_ERROR if index == 1 else 0
        sleep = "import time; time.sleep(60)" if index == 0 else f"raise SystemExit({exit_code})"
        return [sys.executable, "-c", sleep]

    supervisor = Supervisor(command, 2, first_delay=0.05, stop_within=10.0)
    assert await asyncio.wait_for(supervisor.run(), 15) == CONFIG_ERROR
    assert supervisor.pids() == [None, None]  # worker 0 was stopped too
    assert supervisor.workers[1].restarts == 0
