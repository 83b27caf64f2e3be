"""``chargeplane serve --workers 2`` as a real process tree: both workers take stations on the one OCPP port
(SO_REUSEPORT) as two cluster nodes, a command through the shared API port reaches stations on either, a
worker killed with SIGKILL is restarted while its stations reconnect to the port, SIGTERM stops everything.

Needs PostgreSQL and NATS with JetStream: skipped locally without them, failed in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
from pathlib import Path

import httpx
import msgspec
import nats

from chargeplane.csms.cluster.presence import BUCKET, PresenceEntry, presence_key
from tests.csms.cluster.processes import NodeProcess, start_node, stopped_at_end, until
from tests.csms.cluster.streaming_station import StreamingStation, stop_all


def worker_pids(parent: NodeProcess, index: int) -> list[int]:
    """Every process id worker ``index`` had, in order (from the supervisor's log)."""
    return [int(pid) for pid in re.findall(rf"worker {index} started \(pid (\d+)\)", parent.text())]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def holders(nats_url: str, stations: list[StreamingStation]) -> set[str]:
    client = await nats.connect(nats_url)
    try:
        bucket = await client.jetstream().key_value(BUCKET)
        nodes = set()
        for station in stations:
            entry = await bucket.get(presence_key(station.station_id))
            assert entry.value is not None
            nodes.add(msgspec.json.decode(entry.value, type=PresenceEntry).node)
        return nodes
    finally:
        await client.close()


async def test_serve_workers_share_the_ports_as_nodes_and_are_supervised(
    shared_database: str, nats_url: str, tmp_path: Path
) -> None:
    node = f"w-{secrets.token_hex(3)}"
    parent = start_node(node, shared_database, nats_url, tmp_path, "--workers", "2")
    with stopped_at_end([parent]):
        await parent.ready()
        token = parent.token()
        assert token is not None, parent.text()
        # /healthz may have come from one worker while the other was still starting: both must listen.
        await until(lambda: all(f"worker {i}: node {node}-w{i}" in parent.text() for i in (0, 1)), "both up")

        # 16 stations on the one port: the kernel hashes each connection to one of the two listeners (both
        # on one worker by chance: 2 in 65,536).
        stations = [StreamingStation(f"{node.upper()}-{i}", [parent.ocpp_url]) for i in range(16)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(station.run(stop)) for station in stations]
        try:
            await until(lambda: all(len(s.acknowledged) >= 3 for s in stations), "every station streams")
            assert await holders(nats_url, stations) == {f"{node}-w0", f"{node}-w1"}

            async with httpx.AsyncClient(base_url=parent.api_url, timeout=15) as api:
                for station in stations[:6]:  # each request lands on either worker, the station too
                    answer = await api.post(
                        f"/api/v1/stations/{station.station_id}/commands/ClearCache",
                        json={},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert answer.status_code == 200, answer.text
                    assert [action for action, _ in station.received] == ["ClearCache"]

            first = worker_pids(parent, 0)[0]
            os.kill(first, signal.SIGKILL)
            await until(lambda: len(worker_pids(parent, 0)) == 2, "worker 0 restarted")
            assert re.search(rf"worker 0 \(pid {first}\) exited with signal SIGKILL", parent.text())
            before = {s.station_id: len(s.acknowledged) for s in stations}
            await until(
                lambda: all(len(s.acknowledged) >= before[s.station_id] + 3 for s in stations),
                "every station streams on (those of the dead worker reconnected to the port)",
            )
        finally:
            stop.set()
            await stop_all(tasks)
        assert all(not s.refused for s in stations)

        running = [worker_pids(parent, 0)[-1], worker_pids(parent, 1)[-1]]
        assert parent.stop() == 0
        assert "worker 1 (pid" in parent.text()
        assert re.search(rf"worker 1 \(pid {running[1]}\) stopped \(exit code 0\)", parent.text())
        await until(lambda: not any(alive(pid) for pid in running), "no worker left running")
