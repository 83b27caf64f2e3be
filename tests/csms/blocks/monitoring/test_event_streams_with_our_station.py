"""N11-N15 end to end: our CSMS sets a 2.1 periodic monitor with periodicEventStream on our own station runtime;
the station opens the stream, the CSMS accepts it, the station's NotifyPeriodicEventStream SEND frames arrive
and become the monitor's Periodic events; clearing the monitor closes the stream (N13.FR.05)."""

from __future__ import annotations

import asyncio
from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from tests.csms.blocks.monitoring.test_monitoring import STATION_POWER, _json
from tests.csms.conftest import PASSWORD, RunningCsms


async def _until(check: Any, within: float = 10.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)


async def test_N11_N15_N13_our_station_streams_to_our_csms(csms: RunningCsms) -> None:
    await csms.add_station("E2ESTREAM", password=PASSWORD)
    runtime = StationRuntime(
        RuntimeSettings(
            url=csms.ocpp_url,
            station_id="E2ESTREAM",
            version=Version.V21,
            password=PASSWORD,
            backoff=BackOffSettings(0.2, 0.1, 1),
        )
    )
    task = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.accepted.wait(), 10)
        [result] = await _json(
            csms,
            "POST",
            "/stations/E2ESTREAM/monitoring/monitors",
            json={
                "setMonitoringData": [
                    STATION_POWER
                    | {"type": "Periodic", "value": 1, "severity": 7, "periodicEventStream": {"values": 2}}
                ]
            },
        )
        assert result["status"] == "Accepted"

        async def open_stream() -> list[Any]:
            found = await _json(csms, "GET", "/stations/E2ESTREAM/monitoring/streams")
            return [s for s in found if s["status"] == "Open"]

        [stream] = await _until(open_stream)
        assert stream["variableMonitoringId"] == result["id"]

        async def events() -> list[Any]:
            page = await _json(csms, "GET", "/stations/E2ESTREAM/monitoring/events")
            return [e for e in page["items"] if e["monitorId"] == result["id"]]

        streamed = await _until(events)  # the values come by the stream (two at a time), not NotifyEvent
        assert {(e["trigger"], e["severity"]) for e in streamed} == {("Periodic", 7)}
        assert len(streamed) % 2 == 0

        await _json(csms, "POST", "/stations/E2ESTREAM/monitoring/clear", json={"ids": [result["id"]]})

        async def closed() -> bool:
            found = await _json(csms, "GET", "/stations/E2ESTREAM/monitoring/streams")
            return bool(found) and found[0]["status"] == "Closed"

        assert await _until(closed)
    finally:
        await runtime.stop()
        await asyncio.wait_for(task, timeout=5)
