"""The live message trace: frames parsed and redacted, answers named after their CALL, the tap set only while
someone watches, and a real station's frames seen through it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.response.sse import ServerSentEventMessage

from chargeplane.csms.clock import ManualClock
from chargeplane.csms.console.trace import IN, KEPT, OUT, MessageTrace
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

CLOCK = ManualClock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))


class FakeConnection:
    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.tap: Any = None


def frame(*parts: object) -> str:
    return json.dumps(list(parts))


def test_frames_are_parsed_and_answers_get_their_calls_action() -> None:
    trace = MessageTrace(lambda station_id: None, CLOCK)
    trace.record("CS1", OUT, frame(2, "m1", "GetVariables", {"getVariableData": []}))
    trace.record("CS1", IN, frame(2, "m1", "Heartbeat", {}))  # the station's own id space: not confused
    trace.record("CS1", IN, frame(3, "m1", {"getVariableResult": []}))
    trace.record("CS1", OUT, frame(3, "m1", {"currentTime": "2026-12-07T10:00:00Z"}))
    trace.record("cs1", IN, frame(4, "m9", "NotImplemented", "no", {}))  # ids compare case-insensitively
    trace.record("CS1", IN, "not json")
    shown = [(f.direction, f.kind, f.message_id, f.action) for f in trace.frames("CS1")]
    assert shown == [
        (OUT, "CALL", "m1", "GetVariables"),
        (IN, "CALL", "m1", "Heartbeat"),
        (IN, "CALLRESULT", "m1", "GetVariables"),
        (OUT, "CALLRESULT", "m1", "Heartbeat"),
        (IN, "CALLERROR", "m9", None),
        (IN, "unreadable", "", None),
    ]
    first = trace.frames("CS1")[0]
    assert first.at == "2026-12-07T10:00:00.000Z"
    assert json.loads(first.payload) == {"getVariableData": []}
    assert json.loads(trace.frames("CS1")[4].payload)["errorCode"] == "NotImplemented"
    assert [f.action for f in trace.frames("CS1", action="GetVariables")] == ["GetVariables"] * 2
    assert [f.kind for f in trace.frames("CS1", direction=OUT)] == ["CALL", "CALLRESULT"]


def test_secrets_are_hidden_and_the_buffer_is_bounded() -> None:
    trace = MessageTrace(lambda station_id: None, CLOCK)
    secret = {
        "setVariableData": [
            {
                "attributeValue": "a-very-secret-password",
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }
    traced = trace.record("CS1", OUT, frame(2, "p1", "SetVariables", secret))
    assert "a-very-secret-password" not in traced.payload
    assert json.loads(traced.payload)["setVariableData"][0]["attributeValue"] == "***"
    for index in range(KEPT + 10):
        trace.record("CS1", IN, frame(2, f"h{index}", "Heartbeat", {}))
    kept = trace.frames("CS1")
    assert len(kept) == KEPT
    assert kept[-1].message_id == f"h{KEPT + 9}"


async def test_the_tap_is_set_only_while_someone_watches() -> None:
    connection = FakeConnection("CS1")
    trace = MessageTrace(lambda station_id: connection if station_id == "CS1" else None, CLOCK)  # type: ignore[arg-type,return-value]
    await trace.on_connected(connection)  # type: ignore[arg-type]
    assert connection.tap is None  # nobody watches: the connection pays nothing
    trace.record("CS1", IN, frame(2, "old", "Heartbeat", {}))
    stream = trace.watch("CS1", direction=IN)
    opened = await anext(stream)
    assert isinstance(opened, ServerSentEventMessage)
    assert opened.comment == "subscribed"
    assert connection.tap == trace.tap
    kept = await anext(stream)  # the kept frames first
    assert json.loads(str(kept.data))["messageId"] == "old"
    connection.tap(connection, False, frame(2, "out1", "Reset", {"type": "OnIdle"}))  # filtered out
    connection.tap(connection, True, frame(2, "in1", "StatusNotification", {}))
    live = await asyncio.wait_for(anext(stream), 5)
    assert (live.event, json.loads(str(live.data))["messageId"]) == ("frame", "in1")
    replacement = FakeConnection("CS1")
    await trace.on_connected(replacement)  # type: ignore[arg-type]
    assert replacement.tap == trace.tap  # a reconnect of a watched station is traced at once
    await stream.aclose()
    assert connection.tap is None
    assert not trace.watched("CS1")


async def test_a_real_stations_frames_pass_through_the_trace(csms: RunningCsms) -> None:
    await csms.add_station("CS1")
    panel = csms.app.console.panel
    assert panel is not None
    async with peer(csms.ocpp_url, "CS1", "2.0.1") as station:
        await boot(station, "2.0.1")
        connection = csms.app.server.connection_for("CS1")
        assert connection is not None
        assert connection.tap is None
        stream = panel.trace.watch("CS1")
        assert (await anext(stream)).comment == "subscribed"
        assert connection.tap is not None
        await station.call(MODULES["2.0.1"].call.Heartbeat())
        seen: list[tuple[str, str, str | None]] = []
        while len(seen) < 2:
            event = await asyncio.wait_for(anext(stream), 5)
            if event.event == "frame":
                data = msgspec.json.decode(str(event.data))
                seen.append((data["direction"], data["kind"], data["action"]))
        assert seen == [(IN, "CALL", "Heartbeat"), (OUT, "CALLRESULT", "Heartbeat")]
        await stream.aclose()
        assert connection.tap is None
