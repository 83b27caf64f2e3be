"""Scaling figures (issue #19): persisted TransactionEvents/s for 1, 2 and 3 cluster nodes and for
``serve --workers 1/2``, beside the peer CSMS built on the ``ocpp`` package, in one run on this machine.

Configurations, each on a fresh PostgreSQL database (127.0.0.1:5432, ``--pg-dsn``), everything on loopback:

- the peer: ``bench/baseline_csms.py`` (the ``ocpp`` package; answers without persisting anything);
- ``serve`` (one process, no NATS: ``--workers 1``, the default);
- 1, 2, 3 nodes: separate ``serve`` processes with their own ports and node ids on one NATS (JetStream,
  ``--nats-url``); the load client spreads the stations round-robin over their OCPP URLs;
- ``serve --workers 2``: two worker processes behind one OCPP port (SO_REUSEPORT), cluster nodes on NATS.

The load is ``bench/loadgen.py run`` in closed loop (each station sends its next TransactionEvent Updated, 4
sampled values, as soon as the previous one is answered; our CSMS answers after the commit), the same for
every configuration. The count of ``transaction_events`` rows afterwards is the check that the answered
events were persisted (it includes the warm-up, so it is at least the measured count).

Run: ``.venv/bin/python bench/scaling.py`` (about 2-3 minutes; part of ``make bench``): writes the
"## Scaling (issue #19)" section of bench/RESULTS.md; ``--no-write`` prints only. Without PostgreSQL or NATS
it says so and writes nothing. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from e2e import BIG_ADMISSION, PYTHON, Server, _pg, _pg_count, baseline, log, machine, ours, write_section

BENCH = Path(__file__).resolve().parent
HEADING = "## Scaling (issue #19)"
# Admission control out of the way, also its lag gate: on a shared machine a late event loop would refuse
# some of the stations in one row and not in another.
ADMISSION = BIG_ADMISSION | {"CHARGEPLANE_OCPP_ADMISSION_MAX_LAG": "none"}
STATIONS = 200
WARMUP = 2.0
DURATION = 6.0


def loadgen(urls: list[str], prefix: str) -> dict[str, Any]:
    argv = [
        PYTHON,
        str(BENCH / "loadgen.py"),
        "run",
        "--url",
        ",".join(urls),
        "--stations",
        str(STATIONS),
        "--prefix",
        prefix,
        "--mix",
        "transaction",
        "--warmup",
        str(WARMUP),
        "--duration",
        str(DURATION),
    ]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    if completed.returncode != 0 or not completed.stdout.strip():
        raise RuntimeError(f"loadgen failed: {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    if "error" in result:
        raise RuntimeError(f"loadgen: {result['error']}")
    return result


@contextlib.contextmanager
def database(admin_dsn: str) -> Iterator[tuple[str, str]]:
    """A fresh database: (SQLAlchemy URL, asyncpg DSN); dropped afterwards."""
    name = f"chargeplane_scaling_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg(admin_dsn, f'CREATE DATABASE "{name}"'))
    base = admin_dsn.rpartition("/")[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1), f"{base}/{name}"
    finally:
        asyncio.run(_pg(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def wait_workers(server: Server, log_file: Path, count: int, within: float = 60.0) -> None:
    """Until every worker of ``serve --workers`` listens (the port answers as soon as the first one does)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = log_file.read_text(errors="replace") if log_file.exists() else ""
        if all(f"worker {i}: node " in text for i in range(count)):
            return
        if server.process.poll() is not None:
            raise RuntimeError(f"serve --workers exited ({server.process.returncode})")
        time.sleep(0.2)
    raise TimeoutError(f"not all {count} workers up within {within:.0f} s")


def measure(label: str, urls: list[str], dsn: str | None) -> dict[str, Any]:
    result = loadgen(urls, f"{label}-")
    persisted = asyncio.run(_pg_count(dsn)) if dsn is not None else None
    log(
        f"  {label:10} {result['rate']:7.0f} TE/s answered ({result['connected']}/{STATIONS} stations, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms); rows after: {persisted}"
        + (f"; first failure: {result['first_failure']}" if result["first_failure"] else "")
    )
    return result | {"persisted_rows": persisted}


def run_all(admin_dsn: str, nats_url: str, workdir: Path, only: set[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "peer" in only:
        log("peer (ocpp package) ...")
        with baseline() as peer:
            results["peer"] = measure("peer", [peer.url], None)
    if "workers-1" in only:
        log("ours, serve (one process, no NATS) ...")
        with database(admin_dsn) as (url, dsn), ours("workers-1", url, workdir, ADMISSION) as server:
            results["workers-1"] = measure("workers-1", [server.url], dsn)
    run = uuid.uuid4().hex[:6]
    for count in (count for count in (1, 2, 3) if f"nodes-{count}" in only):
        log(f"ours, {count} node(s) on NATS ...")
        with database(admin_dsn) as (url, dsn), contextlib.ExitStack() as stack:
            nodes = [
                stack.enter_context(
                    ours(
                        f"node{i}",
                        url,
                        workdir,
                        ADMISSION
                        | {"CHARGEPLANE_NATS_URL": nats_url, "CHARGEPLANE_NODE_ID": f"s{run}-{count}-{i}"},
                    )
                )
                for i in range(count)  # one after the other: the first migrates the database
            ]
            results[f"nodes-{count}"] = measure(f"nodes-{count}", [node.url for node in nodes], dsn)
    if "workers-2" not in only:
        return results
    log("ours, serve --workers 2 ...")
    environment = ADMISSION | {"CHARGEPLANE_NATS_URL": nats_url, "CHARGEPLANE_NODE_ID": f"s{run}-w"}
    with (
        database(admin_dsn) as (url, dsn),
        ours("workers-2", url, workdir, environment, ("--workers", "2")) as server,
    ):
        wait_workers(server, workdir / "workers-2.log", 2)
        results["workers-2"] = measure("workers-2", [server.url], dsn)
    return results


ROWS = [
    ("peer", "peer: `ocpp` package (persists nothing)", "1 process"),
    ("workers-1", "ours, `serve` (`--workers 1`, no NATS)", "1 process"),
    ("nodes-1", "ours, 1 node on NATS", "1 process"),
    ("nodes-2", "ours, 2 nodes on NATS", "2 processes, 2 ports"),
    ("nodes-3", "ours, 3 nodes on NATS", "3 processes, 3 ports"),
    ("workers-2", "ours, `serve --workers 2` on NATS", "3 processes (supervisor + 2), 1 port"),
]


def ratio(rate: float, reference: float | None) -> str:
    return f"{rate / reference:.2f}x" if reference else "n/a"


def render(command: str, results: dict[str, Any], elapsed: float, load: tuple[float, float, float]) -> str:
    info = machine()
    lines = [
        HEADING,
        "",
        f"Command: `{command}` ({info['date']}, commit {info['git']}; took {elapsed / 60:.1f} min). Machine: "
        f"{info['nproc']} CPUs ({info['cpu']}), Python {info['python']}; load average before the run "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min). Everything on 127.0.0.1, "
        "PostgreSQL and NATS on the same machine."
        + (
            " **The machine was busy with other jobs** (load average above its CPU count): the figures are "
            "noisy and say little about scaling; compare the rows of one run only."
            if load[0] > (os.cpu_count() or 1)
            else ""
        ),
        "",
        f"{STATIONS} stations in closed loop (TransactionEvent Updated, 4 sampled values; {WARMUP:.0f} s "
        f"warm-up, {DURATION:.0f} s measured), the same load client for every row; admission control off. Our CSMS answers a "
        "TransactionEvent after its row is committed, so the answered rate is the persisted rate; the row "
        "count is read from the database afterwards (warm-up included).",
        "",
        "| configuration | processes | stations up | TE/s persisted | vs peer | vs `serve` | p50 ms | p99 ms | rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    peer = results.get("peer", {}).get("rate")
    single = results.get("workers-1", {}).get("rate")
    for key, label, processes in ROWS:
        row = results.get(key)
        if row is None:
            continue
        rate, rows = row["rate"], row["persisted_rows"]
        lines.append(
            f"| {label} | {processes} | {row['connected']} | {rate:,.0f} | {ratio(rate, peer)} | "
            f"{ratio(rate, single)} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {'n/a' if rows is None else f'{rows:,}'} |"
        )
    lost = [
        key
        for key, row in results.items()
        if row["persisted_rows"] is not None and row["persisted_rows"] < row["messages"]
    ]
    lines += [
        "",
        "Every answered event was found in the database."
        if not lost
        else f"**Fewer rows than answered events** in: {', '.join(lost)}.",
    ]
    return "\n".join(lines) + "\n"


def reachable(url: str, default_port: int) -> bool:
    address = urlsplit(url)
    try:
        with socket.create_connection(
            (address.hostname or "127.0.0.1", address.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--nats-url", default=os.environ.get("CHARGEPLANE_TEST_NATS", "nats://127.0.0.1:4222")
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--only", default=",".join(key for key, _, _ in ROWS), help="comma-separated subset of the rows"
    )
    args = parser.parse_args()
    for what, url, port in (("PostgreSQL", args.pg_dsn, 5432), ("NATS", args.nats_url, 4222)):
        if not reachable(url, port):
            log(f"{what} not reachable at {url}: scaling figures skipped")
            return 0
    command = ".venv/bin/python bench/scaling.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    load = os.getloadavg()
    started = time.monotonic()

    def watchdog(signum: int, frame: Any) -> None:
        raise TimeoutError("the scaling benchmark overran its time limit")

    signal.signal(signal.SIGALRM, watchdog)  # servers stop in their finally blocks
    signal.alarm(480)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as temporary:
        results = run_all(args.pg_dsn, args.nats_url, Path(temporary), set(args.only.split(",")))
    elapsed = time.monotonic() - started
    section = render(command, results, elapsed, load)
    print(section)
    if not args.no_write:
        write_section(section, HEADING)
        log(f"wrote the {HEADING!r} section of bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
