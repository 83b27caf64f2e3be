"""Leader election (issue #19): the cluster-wide periodic jobs run on one node only, and another node takes
over when the leader stops or dies. The NATS tests skip locally without NATS and fail in CI."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from chargeplane.csms.blocks.context import PeriodicJob, Tick, run_periodic
from chargeplane.csms.cluster.leader import LeaderElection
from chargeplane.csms.cluster.node import ClusterNode
from tests.csms.blocks.remote_control.test_remote_control import eventually

TTL = 1.0  # seconds: short, so that a takeover is quick


class _NoConnections:
    def connection_for(self, station_id: str) -> None:
        return None


class _FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def _counting(counts: dict[str, int], name: str) -> Tick:
    async def tick(now: datetime) -> None:
        counts[name] += 1

    return tick


async def test_a_cluster_wide_job_passes_only_on_the_leader_a_node_job_everywhere() -> None:
    counts = {"cluster": 0, "node": 0}
    leader = False
    cluster_job = PeriodicJob("cluster", 0.01, _counting(counts, "cluster"))
    node_job = PeriodicJob("node", 0.01, _counting(counts, "node"), each_node=True)
    tasks = [
        asyncio.create_task(run_periodic(job, _FixedClock(), lambda: leader))
        for job in (cluster_job, node_job)
    ]
    try:
        await asyncio.sleep(0.1)
        assert counts["cluster"] == 0  # not the leader: never
        assert counts["node"] > 0
        leader = True
        await eventually(lambda: counts["cluster"] > 0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_a_lease_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LeaderElection("n1", 0)


@pytest.fixture
async def two_nodes(nats_url: str) -> AsyncIterator[tuple[LeaderElection, LeaderElection]]:
    """Two nodes with a NATS connection each, electing in a bucket of their own (tests run side by side)."""
    import nats

    run = secrets.token_hex(3)
    bucket = f"chargeplane_leader_test_{run}"
    async with AsyncExitStack() as stack:
        clients = [await nats.connect(nats_url) for _ in range(2)]
        for client in clients:
            stack.push_async_callback(client.close)
        stack.push_async_callback(clients[0].jetstream().delete_key_value, bucket)  # after the nodes stop
        nodes = (
            LeaderElection(f"a-{run}", TTL, bucket=bucket),
            LeaderElection(f"b-{run}", TTL, bucket=bucket),
        )
        for node in nodes:
            stack.push_async_callback(node.stop)
        for node, client in zip(nodes, clients, strict=True):
            await node.start(client.jetstream())
        yield nodes


def _is_leader(node: LeaderElection) -> Callable[[], bool]:
    return lambda: node.is_leader


def _leaders(nodes: tuple[LeaderElection, LeaderElection]) -> list[str]:
    return [node.node_id for node in nodes if node.is_leader]


async def test_two_nodes_run_a_periodic_job_on_one_node_only(
    two_nodes: tuple[LeaderElection, LeaderElection],
) -> None:
    a, b = two_nodes
    counts = {a.node_id: 0, b.node_id: 0}
    tasks = [
        asyncio.create_task(
            run_periodic(
                PeriodicJob("expiry", 0.02, _counting(counts, node.node_id)),
                _FixedClock(),
                _is_leader(node),
            )
        )
        for node in two_nodes
    ]
    try:
        await asyncio.sleep(2.5 * TTL)  # several renewals
        assert _leaders(two_nodes) == [a.node_id]  # the first node up leads, and keeps leading
        assert counts[a.node_id] > 10
        assert counts[b.node_id] == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_other_node_takes_over_when_the_leader_stops(
    two_nodes: tuple[LeaderElection, LeaderElection],
) -> None:
    a, b = two_nodes
    assert _leaders(two_nodes) == [a.node_id]
    await a.stop()  # hands the lease back
    assert not a.is_leader
    await eventually(lambda: b.is_leader, within=TTL)  # at b's next attempt (every TTL / 3)
    assert _leaders(two_nodes) == [b.node_id]


async def test_the_other_node_takes_over_within_the_ttl_when_the_leader_dies(
    two_nodes: tuple[LeaderElection, LeaderElection],
) -> None:
    a, b = two_nodes
    assert _leaders(two_nodes) == [a.node_id]
    a.abandon()  # dies: no renewal, the lease is not handed back
    loop = asyncio.get_running_loop()
    died = loop.time()
    await asyncio.sleep(TTL / 2)
    assert not b.is_leader  # the lease of a dead leader lasts its TTL: no two leaders at once
    # The bucket drops the lease TTL after the last renewal; b tries every TTL / 3 (plus the server's
    # expiry granularity).
    await eventually(lambda: b.is_leader, within=2 * TTL)
    assert loop.time() - died <= 2.5 * TTL
    assert _leaders(two_nodes) == [b.node_id]


async def test_a_leader_whose_lease_was_taken_steps_down(
    two_nodes: tuple[LeaderElection, LeaderElection],
) -> None:
    a, b = two_nodes
    assert a.is_leader
    # b took the lease after a (paused, not dead) missed its renewals: a's compare-and-set fails.
    kv = b._bucket()
    await kv.delete("leader")
    await b.attempt()
    assert b.is_leader
    await a.attempt()
    assert not a.is_leader
    assert _leaders(two_nodes) == [b.node_id]


async def test_a_leader_that_stops_after_its_lease_was_taken_leaves_the_new_lease_alone(
    two_nodes: tuple[LeaderElection, LeaderElection],
) -> None:
    """CI once failed here: a node paused past its TTL (NATS reconnecting) still held its old revision when
    stopped; the compare-and-delete of the lease found b's revision and NATS refused it with a bare
    BadRequestError (wrong last sequence), which escaped the node's shutdown."""
    a, b = two_nodes
    assert a.is_leader
    kv = b._bucket()
    await kv.delete("leader")
    await b.attempt()  # b leads; a has not noticed yet
    assert b.is_leader
    await a.stop()  # must not raise, and must not delete b's lease
    entry = await kv.get("leader")
    assert entry.value == b.node_id.encode()
    await b.attempt()
    assert b.is_leader


async def test_two_cluster_nodes_one_leader_and_a_takeover_within_the_ttl(nats_url: str) -> None:
    """Through ClusterNode (as the CSMS wires it): one of two nodes runs the job; when it stops, the other."""
    run = secrets.token_hex(3)
    bucket = f"chargeplane_leader_test_{run}"
    nodes = [
        ClusterNode(nats_url, f"{name}-{run}", _NoConnections(), call_timeout=1, presence_ttl=3)
        for name in ("a", "b")
    ]
    for node in nodes:
        node.leader = LeaderElection(node.node_id, TTL, bucket=bucket)  # a bucket of this test's own
    counts = {node.node_id: 0 for node in nodes}
    tasks = [
        asyncio.create_task(
            run_periodic(
                PeriodicJob("firmware campaigns", 0.02, _counting(counts, node.node_id)),
                _FixedClock(),
                node.is_leader,
            )
        )
        for node in nodes
    ]
    a, b = nodes
    try:
        await a.start()
        await b.start()
        await asyncio.sleep(TTL)
        assert (a.is_leader(), b.is_leader()) == (True, False)
        assert counts[a.node_id] > 0
        assert counts[b.node_id] == 0
        await a.stop()
        stopped = asyncio.get_running_loop().time()
        await eventually(b.is_leader, within=TTL)
        assert asyncio.get_running_loop().time() - stopped <= TTL
        ran = counts[a.node_id]
        await eventually(lambda: counts[b.node_id] > 0)
        assert counts[a.node_id] == ran  # a runs nothing any more
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await b.stop()
        await a.stop()
        await _drop_bucket(nats_url, bucket)


async def _drop_bucket(nats_url: str, bucket: str) -> None:
    import nats

    client = await nats.connect(nats_url)
    try:
        await client.jetstream().delete_key_value(bucket)
    finally:
        await client.close()


async def test_a_node_goes_by_the_lease_ttl_of_the_existing_bucket(
    two_nodes: tuple[LeaderElection, LeaderElection], nats_url: str
) -> None:
    import nats

    a, _ = two_nodes
    client = await nats.connect(nats_url)
    try:
        late = LeaderElection("late", 5 * TTL, bucket=a.bucket)  # configured otherwise than the first node
        await late.start(client.jetstream())
        assert late.ttl == TTL  # a longer belief than the bucket's expiry could make two leaders
        assert not late.is_leader
        await late.stop()
    finally:
        await client.close()
