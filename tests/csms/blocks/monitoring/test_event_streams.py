"""2.1 periodic event streams on the CSMS side (N11-N15) against an ``ocpp`` package 2.1 peer station: a monitor
set with periodicEventStream, the stream the station opens (answered Accepted, N11.FR.06) and closes (N13.FR.02),
its NotifyPeriodicEventStream SEND values (sent as a raw SEND frame: the package has no SEND) stored as the
monitor's Periodic events and never answered (N15.FR.02, N15.FR.03), the API's refresh (N12) and adjust (N14)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ocpp.routing import on

from tests.csms.blocks.monitoring.test_monitoring import STATION_POWER, _json, station_class
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

V21 = MODULES["2.1"]


def stream_station() -> Any:
    base = station_class("2.1")

    class StreamStation(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.adjusted: list[tuple[int, dict[str, Any]]] = []
            self.streams: list[dict[str, Any]] = []

        @on("GetPeriodicEventStream")
        def get_streams(self, **_: Any) -> Any:
            return V21.call_result.GetPeriodicEventStream(constant_stream_data=self.streams or None)

        @on("AdjustPeriodicEventStream")
        def adjust(self, id: int, params: dict[str, Any], **_: Any) -> Any:
            self.adjusted.append((id, params))
            known = any(s["id"] == id for s in self.streams)
            return V21.call_result.AdjustPeriodicEventStream(status="Accepted" if known else "Rejected")

    return StreamStation


async def _send(station: Any, payload: dict[str, Any]) -> None:
    """A 2.1 SEND frame (message type 6): never answered."""
    await station._connection.send(json.dumps([6, "s-1", "NotifyPeriodicEventStream", payload]))


async def _events(csms: RunningCsms, station_id: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(5):
        while True:
            page = await _json(csms, "GET", f"/stations/{station_id}/monitoring/events")
            if page["total"] >= count:
                return list(page["items"])
            await asyncio.sleep(0.05)


async def test_N11_N13_N15_stream_opened_values_stored_as_periodic_events_then_closed(
    csms: RunningCsms,
) -> None:
    await csms.add_station("STR1")
    async with peer(csms.ocpp_url, "STR1", "2.1", station_class=stream_station()) as station:
        await boot(station, "2.1")
        [result] = await _json(
            csms,
            "POST",
            "/stations/STR1/monitoring/monitors",
            json={
                "setMonitoringData": [
                    STATION_POWER
                    | {"type": "Periodic", "value": 1, "severity": 6, "periodicEventStream": {"values": 2}}
                ]
            },
        )
        monitor_id = result["id"]
        sent = [data for name, data in station.calls if name == "SetVariableMonitoring"]
        assert sent[-1][0]["periodic_event_stream"] == {"values": 2}

        constant = {"id": 7, "variable_monitoring_id": monitor_id, "params": {"values": 2}}
        opened = await station.call(V21.call.OpenPeriodicEventStream(constant_stream_data=constant))
        assert opened.status == "Accepted"  # N11.FR.06
        other = {"id": 7, "variable_monitoring_id": monitor_id + 1, "params": {"values": 2}}
        refused = await station.call(V21.call.OpenPeriodicEventStream(constant_stream_data=other))
        assert refused.status == "Rejected"  # N11.FR.05: that id is open for another monitor

        await _send(
            station,
            {
                "id": 7,
                "pending": 0,
                "basetime": "2026-12-07T05:00:00Z",
                "data": [{"t": 0, "v": "1200"}, {"t": 1.5, "v": "1300"}],
            },
        )
        events = await _events(csms, "STR1", 2)
        assert sorted((e["actualValue"], e["timestamp"]) for e in events) == [
            ("1200", "2026-12-07T05:00:00Z"),
            ("1300", "2026-12-07T05:00:01.500000Z"),
        ]
        assert {(e["trigger"], e["severity"], e["monitorId"]) for e in events} == {
            ("Periodic", 6, monitor_id)
        }  # N15.FR.03
        assert events[0]["component"] == {"name": "ChargingStation"}
        async with asyncio.timeout(5):  # the stream's counters are written after the events
            while True:
                [stream] = await _json(csms, "GET", "/stations/STR1/monitoring/streams")
                if stream["received"] >= 2:
                    break
                await asyncio.sleep(0.05)
        assert (stream["id"], stream["status"], stream["received"], stream["values"]) == (7, "Open", 2, 2)

        await station.call(V21.call.ClosePeriodicEventStream(id=7))  # N13.FR.02
        [stream] = await _json(csms, "GET", "/stations/STR1/monitoring/streams")
        assert stream["status"] == "Closed"
        await _send(
            station, {"id": 7, "pending": 0, "basetime": "2026-12-07T05:01:00Z", "data": [{"t": 0, "v": "9"}]}
        )
        await asyncio.sleep(0.2)
        page = await _json(csms, "GET", "/stations/STR1/monitoring/events")
        assert page["total"] == 2  # a closed stream's values are dropped


async def test_N12_N14_refresh_and_adjust_from_the_api(csms: RunningCsms) -> None:
    await csms.add_station("STR2")
    async with peer(csms.ocpp_url, "STR2", "2.1", station_class=stream_station()) as station:
        await boot(station, "2.1")
        station.streams = [{"id": 3, "variable_monitoring_id": 1, "params": {"interval": 60}}]
        [stream] = await _json(csms, "POST", "/stations/STR2/monitoring/streams/refresh", json={})
        assert (stream["id"], stream["variableMonitoringId"], stream["interval"], stream["status"]) == (
            3,
            1,
            60,
            "Open",
        )
        answer = await _json(
            csms, "POST", "/stations/STR2/monitoring/streams/3/adjust", json={"interval": 5, "values": 10}
        )
        assert answer == {"status": "Accepted"}
        assert station.adjusted == [(3, {"interval": 5, "values": 10})]
        [stream] = await _json(csms, "GET", "/stations/STR2/monitoring/streams")
        assert (stream["interval"], stream["values"]) == (5, 10)
        await _json(csms, "POST", "/stations/STR2/monitoring/streams/4/adjust", 404, json={"values": 1})
        await _json(csms, "POST", "/stations/STR2/monitoring/streams/3/adjust", 400, json={})
        station.streams = []
        assert [
            s["status"]
            for s in await _json(csms, "POST", "/stations/STR2/monitoring/streams/refresh", json={})
        ] == ["Closed"]
