"""Round trip between OUR 2.1 swap station runtime and OUR CSMS (in-process, loopback, SQLite), through the
HTTP API: a driver's app swap requested through the API (S02), the returned battery in and a charged one out
under that request's id (S03), both kept by the CSMS with the token and the slots' inventory, a local swap
with a card (S01), and the batteries charging in transactions of their own (S04)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from chargeplane.station.runtime import StationRuntime
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_tariff import until


async def test_S01_S02_S03_S04_swaps_between_our_station_and_our_csms(tmp_path: Path) -> None:
    tokens = [{"idToken": "APP-USER", "type": "Central"}, {"idToken": "CARD-9", "type": "ISO14443"}]
    variables = {
        ("BatterySwapCtrlr", "Enabled", None): "true",
        ("BatterySwapCtrlr", "IdToken", None): "BSS-001",
        ("TxCtrlr", "TxStartPoint", None): "EVConnected",
        ("TxCtrlr", "TxStopPoint", None): "EVConnected",
    }
    async with csms_and_station(tmp_path, "BSS", tokens, connectors=(1, 1, 1, 1), variables=variables) as (
        api,
        station,
    ):
        await _swaps(api, station)


async def _swaps(api: httpx.AsyncClient, station: StationRuntime) -> None:
    assert station.insert_battery(3, "BAT-3", 96.0, 99.0, stock=True)
    assert station.insert_battery(4, "BAT-4", 88.0, 98.0, stock=True)
    # S02: the app user's swap, through the API
    created = await api.post(
        "/stations/BSS/battery-swaps", json={"idToken": "APP-USER", "tokenType": "Central"}
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["request"]["requestId"]
    assert created.json()["stationAnswer"]["status"] == "Accepted"
    assert station.insert_battery(1, "OLD-1", 7.0, 81.0)
    assert station.remove_battery(3)  # the fullest one is offered

    async def swap_events(rid: int, count: int) -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.get(f"/battery-swaps?requestId={rid}")).json()["items"]
        return items if len(items) == count else None

    out, in_ = await until(lambda: swap_events(request_id, 2), "BatteryIn and BatteryOut")
    assert (in_["eventType"], in_["idToken"], in_["tokenStatus"]) == ("BatteryIn", "APP-USER", "Accepted")
    assert in_["batteries"][0]["serialNumber"] == "OLD-1"
    assert (out["eventType"], out["batteries"][0]["serialNumber"]) == ("BatteryOut", "BAT-3")
    slots = (await api.get("/stations/BSS/batteries")).json()
    assert [(s["evseId"], s["serialNumber"], s["present"]) for s in slots] == [
        (1, "OLD-1", True),
        (3, "BAT-3", False),
    ]
    # S01: a local swap with a card; the station numbers it itself
    station.swap_token("CARD-9")
    await until(lambda: station.core.battery_swap.session is not None, "the card authorized")
    opened = station.core.battery_swap.session
    assert opened is not None
    assert station.insert_battery(opened.opened[0], "OLD-2", 15.0, 90.0)
    local = await until(lambda: _events_of(api, "CARD-9"), "the local swap's BatteryIn")
    assert local[0]["eventType"] == "BatteryIn"

    # S04: the batteries in the slots charge in transactions under BatterySwapCtrlr.IdToken
    async def charging() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await api.get("/transactions?station=BSS")).json()["items"]
        return items if len(items) == 4 else None  # slots 3, 4, 1, then the local swap's

    transactions = await until(charging, "a transaction per battery inserted")
    assert {t["idToken"] for t in transactions} == {"BSS-001"}


async def _events_of(api: httpx.AsyncClient, id_token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/battery-swaps?stationId=BSS")).json()["items"]
    return [e for e in items if e["idToken"] == id_token]
