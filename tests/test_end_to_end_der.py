"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
DER controls stated for a site reach the station, a control set on the station and a scheduled one come back
in its report and its start/stop notices, and the simulated grid's over-voltage during a charge shows as an
alarm and its end in the CSMS (R04, R05)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings
from chargeplane.transport.backoff import BackOffSettings
from tests.end_to_end import csms_and_api, running_station
from tests.test_end_to_end_tariff import until

PASSWORD = "e2e-password-0123456789"
CARD = "E2EDER01"
VOLT_WATT = {"priority": 1, "yUnit": "PctMaxW", "curveData": [{"x": 100, "y": 100}, {"x": 110, "y": 10}]}


async def _get(api: httpx.AsyncClient, url: str) -> Any:
    response = await api.get(url)
    assert response.status_code == 200, response.text
    return response.json()


async def test_R04_R05_our_station_with_our_csms(tmp_path: Path) -> None:
    async with csms_and_api(tmp_path) as (csms, api):
        assert (
            await api.post("/stations", json={"stationId": "E2EDER", "password": PASSWORD})
        ).status_code == 201
        assert (await api.post("/id-tokens", json={"idToken": CARD, "type": "ISO14443"})).status_code == 201
        tree = {
            "id": "grid",
            "limit": [100.0],
            "evses": [{"id": "n1", "stationId": "E2EDER", "evseId": 1, "limit": 32.0}],
        }
        assert (await api.put("/sites/home", json=tree)).status_code == 200
        body = {"controlType": "VoltWatt", "isDefault": True, "setting": VOLT_WATT}
        assert (await api.put("/sites/home/der-controls/site-vw", json=body)).status_code == 200
        settings = RuntimeSettings(
            url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
            station_id="E2EDER",
            version=Version.V21,
            password=PASSWORD,
            database=tmp_path / "station.db",
            meter_tick_s=0.2,
            backoff=BackOffSettings(0.1, 0.0, 1),
        )
        async with running_station(settings) as station:
            await until(lambda: "site-vw" in station.core.der.controls, "the site's control on boot")

            async def recorded() -> dict[str, Any] | None:  # the CSMS records the answer just after it came
                site = await _get(api, "/sites/home/der-controls")
                return site if site["stations"]["E2EDER"] else None

            site = await until(recorded, "the station's answer recorded")
            assert [(c["controlId"], c["status"]) for c in site["stations"]["E2EDER"]] == [
                ("site-vw", "Accepted")
            ]
            trip = {"priority": 1, "yUnit": "Not_Applicable", "curveData": [{"x": 120, "y": 0}]}
            control = {"controlId": "hv", "controlType": "HVMustTrip", "isDefault": True, "setting": trip}
            assert (await api.post("/stations/E2EDER/der-controls", json=control)).json()[
                "status"
            ] == "Accepted"
            start = to_wire(datetime.now(UTC) + timedelta(seconds=0.5))
            limit = {"priority": 1, "pctMaxDischargePower": 50, "startTime": start, "duration": 0.5}
            scheduled = {
                "controlId": "lim",
                "controlType": "LimitMaxDischarge",
                "isDefault": False,
                "setting": limit,
            }
            assert (await api.post("/stations/E2EDER/der-controls", json=scheduled)).json()[
                "status"
            ] == "Accepted"

            async def both_notices() -> bool:
                return (await _get(api, "/stations/E2EDER/der-start-stops"))["total"] == 2

            await until(both_notices, "the scheduled control started and stopped (R04.FR.20/22)")
            query = (await api.post("/stations/E2EDER/der-controls/query", json={})).json()

            async def complete() -> dict[str, Any] | None:
                report: dict[str, Any] = await _get(
                    api, f"/stations/E2EDER/der-controls/reports/{query['id']}"
                )
                return report if report["complete"] else None

            report = await until(complete, "the report")
            assert sorted(c["id"] for c in report["controls"]) == ["hv", "site-vw"]
            station.plug()
            station.present_token(CARD)
            await until(lambda: station.core.evses[1].meter.power_w > 5000, "charging")
            station.set_grid(253.0)  # 110 %: the VoltWatt curve allows 10 % of MaxW

            async def alarms(count: int) -> list[dict[str, Any]] | None:
                items: list[dict[str, Any]] = (await _get(api, "/stations/E2EDER/der-alarms"))["items"]
                return items if len(items) >= count else None

            [raised] = await until(lambda: alarms(1), "the alarm (R05.FR.01)")
            assert (raised["controlType"], raised["gridEventFault"], raised["alarmEnded"]) == (
                "VoltWatt",
                "OverVoltage",
                False,
            )
            station.set_grid(230.0)
            ended = (await until(lambda: alarms(2), "its end (R05.FR.02)"))[0]
            assert (ended["controlType"], ended["alarmEnded"]) == ("VoltWatt", True)
