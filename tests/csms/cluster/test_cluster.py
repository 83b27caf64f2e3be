"""Three CSMS nodes on one NATS (JetStream) and one PostgreSQL database, in one test process, with stations
of the independent ``ocpp`` package: commands through any node reach the node holding the socket, a station
that reconnects elsewhere is taken over, and SSE on any node sees every node's events (issue #19 item 1).

Needs NATS with JetStream (``CHARGEPLANE_TEST_NATS``, default nats://127.0.0.1:4222) and PostgreSQL: skipped
locally without them, failed in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import msgspec

from chargeplane.csms.app import Csms
from chargeplane.csms.cluster.presence import PresenceEntry, presence_key
from tests.csms.blocks.remote_control.test_remote_control import STATIONS, eventually
from tests.csms.conftest import RunningCsms, settings_for
from tests.csms.peers import boot, peer


@asynccontextmanager
async def node(
    database_url: str, nats_url: str, node_id: str, token: str | None = None, **overrides: Any
) -> AsyncIterator[RunningCsms]:
    """One started node; the first one creates the API token, the others share it through the database."""
    app = Csms(settings_for(database_url, node_id=node_id, nats_url=nats_url, **overrides))
    created = await app.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as client:
            yield RunningCsms(app, client, created or token or "")
    finally:
        await app.stop(deadline=1.0)


@asynccontextmanager
async def three_nodes(database_url: str, nats_url: str, **overrides: Any) -> AsyncIterator[list[RunningCsms]]:
    run = secrets.token_hex(3)  # other test runs may share this NATS: their own node names
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(node(database_url, nats_url, f"a-{run}", **overrides))
        nodes = [a]
        for name in ("b", "c"):
            nodes.append(
                await stack.enter_async_context(
                    node(database_url, nats_url, f"{name}-{run}", a.token, **overrides)
                )
            )
        yield nodes


def station_on(csms: RunningCsms, station_id: str, version: str = "2.0.1") -> Any:
    return peer(csms.ocpp_url, station_id, version, station_class=STATIONS[version])


async def command(csms: RunningCsms, station_id: str, action: str, body: object) -> httpx.Response:
    return await csms.api.post(
        f"/api/v1/stations/{station_id}/commands/{action}", json=body, headers=csms.auth
    )


def held_by(csms: RunningCsms, station_id: str) -> str | None:
    assert csms.app.cluster is not None
    entry = csms.app.cluster.presence.holder(station_id)
    return entry.node if entry is not None else None


async def test_a_command_through_node_b_reaches_the_station_on_node_a_and_follows_it_to_node_c(
    shared_database: str, nats_url: str
) -> None:
    station_id = f"CL-{secrets.token_hex(4)}"
    async with three_nodes(shared_database, nats_url) as (a, b, c):
        await a.add_station(station_id)
        assert (await command(b, station_id, "Reset", {"type": "OnIdle"})).status_code == 409  # offline

        async with station_on(a, station_id) as first:
            await boot(first, "2.0.1")
            await eventually(lambda: held_by(b, station_id) == a.app.settings.node_id)
            assert b.app.commands.version_of(station_id) is not None
            assert b.app.server.connection_for(station_id) is None  # the socket is on A

            answer = await command(b, station_id.lower(), "Reset", {"type": "OnIdle"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["response"] == {"status": "Scheduled"}
            assert first.received == [("Reset", {"type": "OnIdle"})]

            # The station's CALLERROR crosses the nodes as a 502 with its code.
            failed = await command(b, station_id, "ClearCache", {})
            assert failed.status_code == 502, failed.text
            assert failed.json()["extra"]["code"] == "GenericError"
            assert "cache on fire" in failed.json()["extra"]["description"]

            # 3: the station reconnects on node C while A still has its socket: A closes it.
            async with station_on(c, station_id) as second:
                await boot(second, "2.0.1")
                await eventually(lambda: held_by(b, station_id) == c.app.settings.node_id)
                await eventually(lambda: a.app.server.connection_for(station_id) is None)

                moved = await command(b, station_id, "Reset", {"type": "Immediate"})
                assert moved.status_code == 200, moved.text
                assert moved.json()["response"] == {"status": "Accepted"}
                assert second.received == [("Reset", {"type": "Immediate"})]
                assert first.received == [("Reset", {"type": "OnIdle"})]  # nothing more to the old socket

                # A's closed connection did not mark the station offline in the shared database.
                await asyncio.sleep(0.3)
                record = await b.api.get(f"/api/v1/stations/{station_id}", headers=b.auth)
                assert record.json()["connected"] is True, record.text

        # The station left C: no node holds it, commands through any node are 409.
        await eventually(lambda: held_by(b, station_id) is None)
        assert (await command(a, station_id, "Reset", {"type": "OnIdle"})).status_code == 409

        # A node that died leaves its entry until the TTL: nobody answers on its subject, so 409 at once.
        assert b.app.cluster is not None
        ghost = PresenceEntry(station_id, f"ghost-{secrets.token_hex(3)}", "2.0.1")
        await b.app.cluster.presence._bucket().put(presence_key(station_id), msgspec.json.encode(ghost))
        await eventually(lambda: held_by(a, station_id) == ghost.node)
        started = asyncio.get_running_loop().time()
        assert (await command(a, station_id, "Reset", {"type": "OnIdle"})).status_code == 409
        assert asyncio.get_running_loop().time() - started < 2.0
        await b.app.cluster.presence._bucket().delete(presence_key(station_id))


async def test_a_station_that_does_not_answer_in_time_is_a_504_on_the_asking_node(
    shared_database: str, nats_url: str
) -> None:
    station_id = f"CL-{secrets.token_hex(4)}"
    async with three_nodes(shared_database, nats_url, ocpp_call_timeout=0.3) as (a, b, _):
        await a.add_station(station_id)
        async with station_on(a, station_id) as slow:
            await boot(slow, "2.0.1")
            slow.slow_seconds = 0.6
            await eventually(lambda: held_by(b, station_id) == a.app.settings.node_id)
            body = {
                "getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
                ]
            }
            timed_out = await command(b, station_id, "GetVariables", body)
            assert timed_out.status_code == 504, timed_out.text


async def test_sse_on_node_b_sees_the_events_of_a_station_on_node_a(
    shared_database: str, nats_url: str
) -> None:
    station_id = f"CL-{secrets.token_hex(4)}"
    async with three_nodes(shared_database, nats_url) as (a, b, _):
        await a.add_station(station_id)
        seen: list[str] = []
        async with b.api.stream(
            "GET", f"/api/v1/events?station={station_id}", headers=b.auth, timeout=10
        ) as stream:
            lines = stream.aiter_lines()
            assert (await asyncio.wait_for(anext(lines), 5)).startswith(": subscribed")
            async with station_on(a, station_id) as station:
                await boot(station, "2.0.1")

                async def read_until_boot() -> None:
                    async for line in lines:
                        if line.startswith("event:"):
                            seen.append(line.split(":", 1)[1].strip())
                            if seen[-1] == "boot":
                                return

                await asyncio.wait_for(read_until_boot(), 5)
        assert seen[:2] == ["connected", "boot"], seen


async def test_the_holding_node_applies_the_session_rules_to_commands_of_other_nodes(
    shared_database: str, nats_url: str
) -> None:
    """B03.FR.03 (the CSMS initiates nothing towards a Rejected station) and the F06 trigger gate live in the
    session of the node holding the socket: a command through another node meets them there."""
    rejected_id, pending_id = f"CL-{secrets.token_hex(4)}", f"CL-{secrets.token_hex(4)}"
    async with three_nodes(shared_database, nats_url) as (a, b, _):
        await a.add_station(rejected_id, registrationStatus="Rejected")
        await a.add_station(pending_id, registrationStatus="Pending")
        async with station_on(a, rejected_id) as rejected, station_on(a, pending_id) as pending:
            assert (await boot(rejected, "2.0.1")).status == "Rejected"
            assert (await boot(pending, "2.0.1")).status == "Pending"
            await eventually(
                lambda: held_by(b, rejected_id) is not None and held_by(b, pending_id) is not None
            )

            refused = await command(b, rejected_id, "Reset", {"type": "OnIdle"})
            assert refused.status_code == 409, refused.text
            assert "B03.FR.03" in refused.json()["detail"]
            assert rejected.received == []  # nothing went to the station
            log = (await b.api.get(f"/api/v1/commands?station={rejected_id}", headers=b.auth)).json()
            assert log["items"][0]["errorCode"] == "StationRejected"

            # B02.FR.02/F06: the triggered message of a Pending station is accepted once, on node A.
            triggered = await command(b, pending_id, "TriggerMessage", {"requestedMessage": "Heartbeat"})
            assert triggered.status_code == 200, triggered.text
            await eventually(lambda: len(pending.triggered) == 1)
            assert not isinstance(pending.triggered[0], Exception), pending.triggered  # not a SecurityError
