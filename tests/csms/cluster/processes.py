"""CSMS nodes as real processes (``python -m chargeplane.cli serve``) on loopback, for the tests that kill one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

WITHIN = 20.0  # seconds any one phase of a test may take on a busy machine
START_WITHIN = 45.0  # seconds: imports and the first migration on a busy shared machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NodeProcess:
    name: str
    process: subprocess.Popen[bytes]
    ocpp_port: int
    api_port: int
    output: Path

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def token(self) -> str | None:
        found = re.search(r"API token \(shown once, store it now\): (\S+)", self.text())
        return found.group(1) if found else None

    async def ready(self, within: float = START_WITHIN) -> None:
        """Until /healthz answers 200; fails with the node's output when it exits or takes too long."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.api_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"node {self.name} exited ({self.process.returncode}):\n{self.text()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"node {self.name} not ready after {within:.0f} s:\n{self.text()[-3000:]}")

    def stop(self, within: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_node(
    name: str,
    database_url: str,
    nats_url: str | None,
    workdir: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    ocpp_port: int | None = None,
    api_port: int | None = None,
) -> NodeProcess:
    """``chargeplane serve`` as a child process, its output in ``workdir/<name>.log``; this tree's code."""
    ocpp_port = ocpp_port or free_port()
    api_port = api_port or free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEPLANE_")}
    environment["PYTHONPATH"] = os.pathsep.join(sys.path)
    environment |= {
        "CHARGEPLANE_NODE_ID": name,
        "CHARGEPLANE_PRESENCE_TTL": "3",
        "CHARGEPLANE_OCPP_ADMISSION_MAX_LAG": "none",  # a busy test machine must not shed these stations
        **({"CHARGEPLANE_NATS_URL": nats_url} if nats_url else {}),
        **(env or {}),
    }
    output = workdir / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chargeplane.cli",
                "serve",
                "--database-url",
                database_url,
                "--ocpp-host",
                "127.0.0.1",
                "--ocpp-port",
                str(ocpp_port),
                "--api-port",
                str(api_port),
                "--dev-allow-unauthenticated",
                "--unknown-stations",
                "accept",
                *extra,
            ],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal for the test run does not reach the nodes
        )
    return NodeProcess(name, process, ocpp_port, api_port, output)


async def until(condition: Callable[[], bool], what: str, within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.05)


@contextmanager
def stopped_at_end(nodes: list[NodeProcess]) -> Iterator[None]:
    try:
        yield
    finally:
        for node in nodes:
            node.stop()
