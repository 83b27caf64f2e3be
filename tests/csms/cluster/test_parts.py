"""The parts of a cluster node: the error kinds across nodes (no NATS), settings, node ids, and the presence
registry's takeover on a real NATS."""

from __future__ import annotations

import asyncio
import secrets

import msgspec
import pytest

from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.cluster import node as node_module
from chargeplane.csms.cluster.commands import CallReply, _reply_for, raise_reply_error
from chargeplane.csms.cluster.node import ClusterNode, ClusterUnavailable
from chargeplane.csms.cluster.presence import (
    BUCKET,
    PresenceEntry,
    PresenceRegistry,
    TakenCallback,
    presence_key,
)
from chargeplane.csms.settings import from_environment
from chargeplane.ocpp.endpoint import CallQueueFull, LocalProtocolError
from chargeplane.ocpp.errors import GenericError, UnknownErrorCode
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost
from tests.csms.blocks.remote_control.test_remote_control import eventually


class _NoConnections:
    def connection_for(self, station_id: str) -> None:
        return None


def _across(error: Exception) -> Exception:
    """``error`` raised on the holder, sent as a reply, raised again on the asking node."""
    wire = msgspec.json.encode(_reply_for(error, "Reset"))
    reply = msgspec.json.decode(wire, type=CallReply)
    try:
        raise_reply_error(reply, "CS1")
    except Exception as raised:  # what the asking node's caller sees
        return raised
    raise AssertionError("raise_reply_error returned")


def test_every_error_kind_of_a_call_is_raised_again_on_the_asking_node() -> None:
    offline = _across(StationOffline("CS1"))
    assert isinstance(offline, StationOffline)
    assert str(offline) == "CS1"

    failed = _across(CallFailed("Reset", GenericError("cache on fire", {"a": 1})))
    assert isinstance(failed, CallFailed)
    assert (type(failed.error), failed.error.description, failed.error.details) == (
        GenericError,
        "cache on fire",
        {"a": 1},
    )
    unknown = _across(CallFailed("Reset", UnknownErrorCode("VendorOops", "odd")))
    assert isinstance(unknown, CallFailed)
    assert isinstance(unknown.error, UnknownErrorCode)
    assert unknown.error.received_code == "VendorOops"  # the station's own code survives the hop

    assert isinstance(_across(CallTimeout("late")), CallTimeout)
    lost = _across(ConnectionLost("replaced", transmitted=False))
    assert isinstance(lost, ConnectionLost)
    assert lost.transmitted is False
    assert isinstance(_across(CallQueueFull("full")), CallQueueFull)
    protocol = _across(LocalProtocolError("not a request of OCPP 1.6"))
    assert type(protocol) is LocalProtocolError
    assert "1.6" in str(protocol)


def test_an_unexpected_error_on_the_holder_is_not_dressed_up_as_a_station_answer() -> None:
    with pytest.raises(RuntimeError):
        _reply_for(RuntimeError("bug"), "Reset")


def test_nats_url_node_id_and_presence_ttl_come_from_the_environment() -> None:
    settings = from_environment(
        {
            "CHARGEPLANE_NATS_URL": "nats://127.0.0.1:4222",
            "CHARGEPLANE_NODE_ID": "csms-2",
            "CHARGEPLANE_PRESENCE_TTL": "6",
        }
    )
    assert (settings.nats_url, settings.node_id, settings.presence_ttl) == (
        "nats://127.0.0.1:4222",
        "csms-2",
        6.0,
    )
    assert from_environment({}).nats_url is None  # the default: one node, no NATS


@pytest.mark.parametrize("node_id", ["a.b", "a b", "a*", ">", ""])
def test_a_node_id_that_cannot_name_a_nats_subject_is_refused(node_id: str) -> None:
    with pytest.raises(ValueError, match="node id"):
        ClusterNode("nats://127.0.0.1:4222", node_id, _NoConnections(), call_timeout=1, presence_ttl=3)


def test_presence_keys_accept_any_identity_case_insensitively() -> None:
    assert presence_key("CS/1 ü") == presence_key("cs/1 Ü")
    assert presence_key("CS1") != presence_key("CS2")
    assert set(presence_key("CS/1 ü.*>")) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


async def test_a_node_that_cannot_reach_nats_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_module, "CONNECT_WITHIN", 0.5)
    node = ClusterNode("nats://127.0.0.1:1", "lonely", _NoConnections(), call_timeout=1, presence_ttl=3)
    with pytest.raises(ClusterUnavailable, match="cannot reach NATS"):
        await node.start()


async def test_a_newer_claim_on_another_node_takes_the_station_over(nats_url: str) -> None:
    import nats

    client = await nats.connect(nats_url)
    taken: dict[str, list[tuple[str, str]]] = {"x": [], "y": []}

    def recorder(name: str) -> TakenCallback:
        async def record(station_id: str, holder: str) -> None:
            taken[name].append((station_id, holder))

        return record

    run = secrets.token_hex(3)
    x = PresenceRegistry(f"x-{run}", 3.0, recorder("x"))
    y = PresenceRegistry(f"y-{run}", 3.0, recorder("y"))
    station_id = f"PR-{run}"
    try:
        await x.start(client.jetstream())
        await y.start(client.jetstream())
        await x.claim(station_id, "2.0.1")
        await eventually(lambda: y.holder(station_id) is not None)
        assert y.holder(station_id) == x.holder(station_id)
        assert y.held_elsewhere(station_id)
        assert not x.held_elsewhere(station_id)

        await y.claim(station_id, "2.1")  # the station reconnected on y
        await eventually(lambda: taken["x"] == [(station_id, y.node_id)])
        await x.refresh()  # x's compare-and-set fails quietly: it holds nothing any more
        await asyncio.sleep(0.2)
        assert taken == {"x": [(station_id, y.node_id)], "y": []}
        holder = x.holder(station_id)
        assert holder is not None
        assert (holder.node, holder.version) == (y.node_id, "2.1")

        await x.release(station_id)  # not x's any more: y's entry stays
        await asyncio.sleep(0.2)
        assert y.holder(station_id) is not None
        await y.release(station_id)
        await eventually(lambda: x.holder(station_id) is None)
    finally:
        await x.stop()
        await y.stop()
        await client.drain()


async def test_an_entry_gone_before_its_refresh_is_written_again_not_given_up(nats_url: str) -> None:
    """An event loop running late can miss a refresh until the bucket's max_age removed the entry: the
    socket is still on this node, so the refresh writes the entry again instead of closing the connection
    as if another node had taken the station (seen under load in bench/scaling.py)."""
    import nats

    client = await nats.connect(nats_url)
    taken: list[tuple[str, str]] = []

    async def record(station_id: str, holder: str) -> None:
        taken.append((station_id, holder))

    run = secrets.token_hex(3)
    x = PresenceRegistry(f"x-{run}", 3.0, record)
    stations = [f"GONE-{run}-{i}" for i in range(3)]
    try:
        await x.start(client.jetstream())
        for station_id in stations:
            await x.claim(station_id, "2.0.1")
        bucket = await client.jetstream().key_value(BUCKET)
        await bucket.purge(presence_key(stations[0]))  # as max_age would (no entry at all)
        await bucket.delete(presence_key(stations[1]))  # a delete marker
        await x.refresh()
        await x.refresh()  # the rewritten revisions are the ones refreshed next
        assert taken == []
        for station_id in stations:
            entry = await bucket.get(presence_key(station_id))
            assert entry.value is not None
            assert msgspec.json.decode(entry.value, type=PresenceEntry).node == x.node_id
        await eventually(lambda: all(x.holder(s) is not None for s in stations))
    finally:
        await x.stop()
        await client.drain()


async def test_every_event_of_one_node_reaches_the_subscribers_of_another_in_order(nats_url: str) -> None:
    import nats

    from chargeplane.csms.bus.events import StationEvent
    from chargeplane.csms.cluster.events import ClusterEventBus

    client = await nats.connect(nats_url)
    run = secrets.token_hex(3)
    sender, receiver = ClusterEventBus(f"s-{run}"), ClusterEventBus(f"r-{run}")
    station_id = f"EV-{run}"
    try:
        await sender.start(client.jetstream())
        await receiver.start(client.jetstream())
        async with receiver.subscribe() as remote, sender.subscribe() as local:
            for number in range(600):  # more than one export batch
                sender.publish(StationEvent("meter_values", station_id, {"n": number}))
            assert local.qsize() == 600  # the node's own subscribers at once, not through the stream

            async def ours() -> list[int]:
                numbers: list[int] = []
                while len(numbers) < 600:
                    event = await remote.get()
                    if event.station_id == station_id:  # other test runs may share this NATS
                        numbers.append(event.data["n"])
                return numbers

            assert await asyncio.wait_for(ours(), 10) == list(range(600))
            await asyncio.sleep(0.2)
            assert local.qsize() == 600  # its own events do not come back to the sender a second time
    finally:
        await sender.stop()
        await receiver.stop()
        await client.drain()


def test_an_entry_mirrored_late_keeps_its_age_within_the_ttl() -> None:
    from datetime import UTC, datetime, timedelta

    async def ignore(station_id: str, holder: str) -> None:
        return None

    registry = PresenceRegistry("x", 15.0, ignore)
    now = datetime.now(UTC)
    assert 4.5 < registry._age(now - timedelta(seconds=5)) < 6.0
    assert registry._age(now + timedelta(seconds=30)) == 0.0  # another node's clock ahead
    assert registry._age(now - timedelta(hours=1)) == 15.0
    assert registry._age(None) == 0.0
