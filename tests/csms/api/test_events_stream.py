"""``GET /api/v1/events``: station events as server-sent events (bearer auth, station filter, keep-alive)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any

from chargeplane.csms.api.events import EventStream
from chargeplane.csms.bus.events import EventBus, StationEvent
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer


async def read_events(
    lines: AsyncIterator[str], until: str, limit: float = 5.0
) -> list[tuple[str, dict[str, Any]]]:
    """Parse ``event:``/``data:`` pairs until an event of kind ``until`` arrives (bounded by ``limit`` s)."""
    events: list[tuple[str, dict[str, Any]]] = []
    kind = None
    async with asyncio.timeout(limit):
        async for line in lines:
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind is not None:
                events.append((kind, json.loads(line[len("data: ") :])))
                if kind == until:
                    return events
                kind = None
    raise AssertionError(f"the stream ended before a {until} event")


async def open_stream(lines: AsyncIterator[str]) -> None:
    """Wait for the comment that says the subscription is live."""
    async with asyncio.timeout(5):
        async for line in lines:
            if line == ": subscribed":
                return


async def test_sse_stream_sends_connected_and_boot_events_filtered_by_station(csms: RunningCsms) -> None:
    assert (await csms.api.get("/api/v1/events")).status_code == 401
    await csms.add_station("EV1")
    await csms.add_station("EV2")
    async with (
        csms.api.stream("GET", "/api/v1/events", headers=csms.auth) as everything,
        csms.api.stream("GET", "/api/v1/events?station=ev2", headers=csms.auth) as only_ev2,
    ):
        assert everything.status_code == 200
        assert everything.headers["content-type"].startswith("text/event-stream")
        all_lines, ev2_lines = everything.aiter_lines(), only_ev2.aiter_lines()
        await open_stream(all_lines)
        await open_stream(ev2_lines)
        async with peer(csms.ocpp_url, "EV1", "2.0.1") as first:
            await boot(first, "2.0.1")
            async with peer(csms.ocpp_url, "EV2", "1.6") as second:
                await boot(second, "1.6")
                seen = await read_events(all_lines, until="boot")
                assert seen[0] == (
                    "connected",
                    {"stationId": "EV1", "at": seen[0][1]["at"], "data": {"version": "2.0.1"}},
                )
                assert seen[-1][0] == "boot"
                boot_event = seen[-1][1]
                assert boot_event["stationId"] == "EV1"
                assert boot_event["data"]["status"] == "Accepted"
                assert boot_event["at"].endswith("Z")
                filtered = await read_events(ev2_lines, until="boot")
                assert {event["stationId"] for _, event in filtered} == {"EV2"}
                assert [kind for kind, _ in filtered] == ["connected", "boot"]
    for _ in range(200):  # a client that goes away unsubscribes
        if csms.app.events.subscriber_count == 0:
            break
        # The server cancels the response when its client goes away; a stream generator then suspended at a
        # yield is closed (and unsubscribes) when it is collected, which a reference cycle can delay until the
        # cyclic collector runs: run it, as the process would soon.
        gc.collect()
        await asyncio.sleep(0.01)
    assert csms.app.events.subscriber_count == 0


async def test_sse_keep_alive_comment_and_end_on_stop() -> None:
    bus = EventBus()
    stream = EventStream(bus, heartbeat=0.05)
    events = stream.events(None)
    first = await anext(events)
    assert first.comment == "subscribed"
    assert bus.subscriber_count == 1
    keep_alive = await asyncio.wait_for(anext(events), 1)
    assert keep_alive.comment == "keep-alive"
    bus.publish(StationEvent("status", "S1", {"evseId": 1}, at="2025-01-01T00:00:00Z"))
    event = await asyncio.wait_for(anext(events), 1)
    assert event.event == "status"
    assert json.loads(str(event.data)) == {
        "stationId": "S1",
        "at": "2025-01-01T00:00:00Z",
        "data": {"evseId": 1},
    }

    job = asyncio.create_task(stream.close_on_stop())
    await asyncio.sleep(0)
    job.cancel()  # what Csms.stop does to the jobs
    await asyncio.gather(job, return_exceptions=True)
    remaining = [message async for message in events]
    assert all(message.comment == "keep-alive" for message in remaining)
    assert bus.subscriber_count == 0
